//! OSS signature V1 (header form), as OSS verifies it and as the sim checks it.
//!
//! ```text
//! Authorization: OSS <AccessKeyId>:<Signature>
//! Signature     = base64(HMAC-SHA1(AccessKeySecret, StringToSign))
//! StringToSign  = VERB "\n" Content-MD5 "\n" Content-Type "\n" Date "\n"
//!                 CanonicalizedOSSHeaders CanonicalizedResource
//! ```
//!
//! - Content-MD5 and Content-Type are empty when absent; the line breaks stay.
//! - Date is the `x-oss-date` header if sent, else the `Date` header (what the official SDKs do).
//! - CanonicalizedOSSHeaders: every `x-oss-*` header, name lower-cased, value trimmed, as
//!   `name:value\n`, sorted by name. The STS token travels as `x-oss-security-token` and is
//!   signed this way, and so is `x-oss-forbid-overwrite`.
//! - CanonicalizedResource: `/<bucket>/<key>` with the key as raw UTF-8 (not percent-encoded),
//!   `/<bucket>/` for bucket operations, `/` for the service; then `?` and the signed
//!   sub-resources present in the query, sorted by name, as `name=value` (value not encoded)
//!   or a bare `name` when the value is empty. Which query parameters are sub-resources is
//!   [`SIGNED_SUB_RESOURCES`]: `continuation-token` is one, `list-type`, `prefix` and
//!   `max-keys` are not.
//!
//! Every stage is a public function so that the vectors in `shared/tests/vectors/oss_v1*.json`
//! can check them one by one. Nothing here reads a clock: the date is an input.

/// Query parameters that are part of the canonicalized resource.
///
/// The list of the official `oss2` Python SDK (2.19, `ProviderAuth._subresource_key_set`),
/// which is what real OSS expects; everything else in the query is left out of the signature.
pub const SIGNED_SUB_RESOURCES: &[&str] = &[
    "accessPoint",
    "accessPointPolicy",
    "acl",
    "append",
    "asyncFetch",
    "bucketArchiveDirectRead",
    "bucketInfo",
    "callback",
    "callback-var",
    "cname",
    "comp",
    "continuation-token",
    "cors",
    "delete",
    "encryption",
    "endTime",
    "group",
    "httpsConfig",
    "inventory",
    "inventoryId",
    "lifecycle",
    "link",
    "live",
    "location",
    "logging",
    "metaQuery",
    "objectInfo",
    "objectMeta",
    "partNumber",
    "policy",
    "position",
    "publicAccessBlock",
    "qos",
    "qosInfo",
    "qosRequester",
    "redundancyTransition",
    "referer",
    "regionList",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "requestPayment",
    "requesterQosInfo",
    "resourceGroup",
    "resourcePool",
    "resourcePoolBuckets",
    "resourcePoolInfo",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "security-token",
    "sequential",
    "startTime",
    "stat",
    "status",
    "style",
    "styleName",
    "symlink",
    "tagging",
    "transferAcceleration",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "vod",
    "website",
    "worm",
    "wormExtend",
    "wormId",
    "x-oss-ac-forward-allow",
    "x-oss-ac-source-ip",
    "x-oss-ac-subnet-mask",
    "x-oss-ac-vpc-id",
    "x-oss-access-point-name",
    "x-oss-async-process",
    "x-oss-process",
    "x-oss-redundancy-transition-taskid",
    "x-oss-request-payer",
    "x-oss-target-redundancy-type",
    "x-oss-traffic-limit",
    "x-oss-write-get-object-response",
];

/// Whether the query parameter `name` is a signed sub-resource.
pub fn is_signed_sub_resource(name: &str) -> bool {
    SIGNED_SUB_RESOURCES.contains(&name)
}

/// What a V1 signature covers: one request, with its query and headers already decoded.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `PUT`, … (upper case).
    pub method: &'a str,
    /// The bucket, or `None` for service-level operations.
    pub bucket: Option<&'a str>,
    /// The object key as UTF-8 (not percent-encoded); empty for bucket operations.
    pub key: &'a str,
    /// Every query parameter, decoded; a parameter without `=` has an empty value.
    pub query: &'a [(&'a str, &'a str)],
    /// Every header sent; names in any case.
    pub headers: &'a [(&'a str, &'a str)],
}

impl Request<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// The `x-oss-*` headers, lower-cased, trimmed, sorted, each as `name:value\n`.
///
/// A header sent twice keeps both values, in the order sent, each on its own line (OSS itself
/// joins them with `,`; reimage never sends a header twice).
pub fn canonicalized_oss_headers(headers: &[(&str, &str)]) -> String {
    let mut picked: Vec<(String, &str)> = headers
        .iter()
        .filter_map(|(name, value)| {
            let lower = name.to_ascii_lowercase();
            lower.starts_with("x-oss-").then_some((lower, value.trim()))
        })
        .collect();
    picked.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    for (name, value) in picked {
        out.push_str(&name);
        out.push(':');
        out.push_str(value);
        out.push('\n');
    }
    out
}

/// `/<bucket>/<key>` (or `/<bucket>/`, or `/`) followed by the signed sub-resources.
pub fn canonicalized_resource(bucket: Option<&str>, key: &str, query: &[(&str, &str)]) -> String {
    let mut out = String::from("/");
    if let Some(bucket) = bucket {
        out.push_str(bucket);
        out.push('/');
        out.push_str(key);
    }
    let mut subs: Vec<(&str, &str)> = query
        .iter()
        .copied()
        .filter(|(name, _)| is_signed_sub_resource(name))
        .collect();
    subs.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (name, value)) in subs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(name);
        if !value.is_empty() {
            out.push('=');
            out.push_str(value);
        }
    }
    out
}

/// The whole string to sign of `request`.
pub fn string_to_sign(request: &Request<'_>) -> String {
    let date = request
        .header("x-oss-date")
        .or_else(|| request.header("date"))
        .unwrap_or("");
    format!(
        "{}\n{}\n{}\n{}\n{}{}",
        request.method.to_ascii_uppercase(),
        request.header("content-md5").unwrap_or(""),
        request.header("content-type").unwrap_or(""),
        date,
        canonicalized_oss_headers(request.headers),
        canonicalized_resource(request.bucket, request.key, request.query),
    )
}

/// `base64(HMAC-SHA1(secret, string_to_sign))`.
pub fn signature(access_key_secret: &str, string_to_sign: &str) -> String {
    super::base64(&super::hmac_sha1(
        access_key_secret.as_bytes(),
        string_to_sign.as_bytes(),
    ))
}

/// The `Authorization` header value: `OSS <AccessKeyId>:<Signature>`.
pub fn authorization(access_key_id: &str, signature: &str) -> String {
    format!("OSS {access_key_id}:{signature}")
}

/// All stages at once: the `Authorization` header value for `request`.
pub fn sign(request: &Request<'_>, access_key_id: &str, access_key_secret: &str) -> String {
    authorization(
        access_key_id,
        &signature(access_key_secret, &string_to_sign(request)),
    )
}

/// Splits an `Authorization: OSS <AccessKeyId>:<Signature>` value; `None` if it is not of
/// that form (another scheme, no colon, an empty part).
pub fn parse_authorization(value: &str) -> Option<(&str, &str)> {
    let rest = value.trim().strip_prefix("OSS ")?;
    let (id, sig) = rest.trim_start().split_once(':')?;
    (!id.is_empty() && !sig.is_empty()).then_some((id, sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of OSS's "Add signatures to headers" page.
    #[test]
    fn official_documentation_example() {
        let headers = [
            (
                "Content-MD5",
                "ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=",
            ),
            ("Content-Type", "text/html"),
            ("Date", "Thu, 17 Nov 2005 18:49:58 GMT"),
            ("X-OSS-Meta-Author", "foo@bar.com"),
            ("X-OSS-Magic", "abracadabra"),
            ("Host", "oss-example.oss-cn-hangzhou.aliyuncs.com"),
        ];
        let request = Request {
            method: "PUT",
            bucket: Some("oss-example"),
            key: "nelson",
            query: &[],
            headers: &headers,
        };
        let sts = string_to_sign(&request);
        assert_eq!(
            sts,
            "PUT\nODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=\ntext/html\n\
             Thu, 17 Nov 2005 18:49:58 GMT\nx-oss-magic:abracadabra\n\
             x-oss-meta-author:foo@bar.com\n/oss-example/nelson"
        );
        assert_eq!(
            sign(
                &request,
                "44CF9590006BF252F707",
                "OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV"
            ),
            "OSS 44CF9590006BF252F707:26NBxoKdsyly4EDv6inkoDft/yA="
        );
    }

    #[test]
    fn only_sub_resources_are_signed_and_empty_values_stay_bare() {
        let query = [
            ("list-type", "2"),
            ("prefix", "a/"),
            ("max-keys", "10"),
            ("continuation-token", "tok=="),
            ("acl", ""),
        ];
        assert_eq!(
            canonicalized_resource(Some("b"), "", &query),
            "/b/?acl&continuation-token=tok=="
        );
        assert_eq!(canonicalized_resource(None, "", &[]), "/");
    }

    #[test]
    fn header_values_are_trimmed_and_names_lower_cased() {
        assert_eq!(
            canonicalized_oss_headers(&[
                ("X-Oss-Z", " z "),
                ("x-oss-a", "a"),
                ("Content-Type", "x")
            ]),
            "x-oss-a:a\nx-oss-z:z\n"
        );
    }

    #[test]
    fn x_oss_date_takes_the_place_of_date() {
        let headers = [
            ("Date", "Thu, 01 Jan 2026 00:00:00 GMT"),
            ("x-oss-date", "Fri, 02 Jan 2026 00:00:00 GMT"),
        ];
        let request = Request {
            method: "get",
            bucket: Some("b"),
            key: "k",
            query: &[],
            headers: &headers,
        };
        assert!(
            string_to_sign(&request).starts_with("GET\n\n\nFri, 02 Jan 2026 00:00:00 GMT\n"),
            "{}",
            string_to_sign(&request)
        );
    }

    #[test]
    fn authorization_header_round_trips_and_refuses_other_forms() {
        assert_eq!(parse_authorization("OSS ak:c2ln"), Some(("ak", "c2ln")));
        assert_eq!(parse_authorization("OSS ak:"), None);
        assert_eq!(parse_authorization("OSS :sig"), None);
        assert_eq!(parse_authorization("OSS aksig"), None);
        assert_eq!(parse_authorization("OSS4-HMAC-SHA256 Credential=x"), None);
        assert_eq!(parse_authorization(""), None);
    }
}
