//! OSS on the wire: how a request names its bucket, key and operation, and the XML answers.
//!
//! The sim is reached path-style, `/<bucket>/<key>`, as clients do for an IP endpoint. The key
//! is the rest of the path after the bucket, percent-decoded, so `/b/a%2Fb` and `/b/a/b` both
//! name key `a/b` (the official `oss2` SDK sends the first form). Query values are decoded
//! with `+` as a space, the way form encoding (and so `requests`, under `oss2`) writes them.

use reimage_cloud::aliyun::sign::oss as sign;
use reimage_cloud::aliyun::sign::rpc::percent_encode;

use super::errors::{OssError, xml_escape};
use super::state::{ListQuery, Listing};

/// The operations the sim emulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `PUT /<bucket>`.
    PutBucket,
    /// `GET /<bucket>/?list-type=2`.
    ListObjectsV2,
    /// `PUT /<bucket>/<key>`.
    PutObject,
    /// `GET /<bucket>/<key>`.
    GetObject,
    /// `HEAD /<bucket>/<key>`.
    HeadObject,
    /// `DELETE /<bucket>/<key>`.
    DeleteObject,
    /// `HEAD /<bucket>/<key>?objectMeta` (what `oss2`'s `object_exists` sends).
    GetObjectMeta,
}

impl Operation {
    /// The operation's name in OSS's API reference, as faults and call counts name it.
    pub fn name(self) -> &'static str {
        match self {
            Operation::PutBucket => "PutBucket",
            Operation::ListObjectsV2 => "ListObjectsV2",
            Operation::PutObject => "PutObject",
            Operation::GetObject => "GetObject",
            Operation::HeadObject => "HeadObject",
            Operation::DeleteObject => "DeleteObject",
            Operation::GetObjectMeta => "GetObjectMeta",
        }
    }
}

/// A request, decoded.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The HTTP method, upper case.
    pub method: String,
    /// The bucket; empty for service-level requests (`/`).
    pub bucket: String,
    /// The key, decoded; empty for bucket-level requests.
    pub key: String,
    /// The query, decoded, in the order sent.
    pub query: Vec<(String, String)>,
}

impl Parsed {
    /// The value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes `%XY` escapes (and `+` as a space when `plus_is_space`).
pub fn decode(raw: &str, plus_is_space: bool) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let byte = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad percent escape in {raw:?}"))?;
                out.push(byte);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{raw:?} does not decode to UTF-8"))
}

/// Splits and decodes the path and query of a request.
pub fn parse(method: &str, path: &str, query: Option<&str>) -> Result<Parsed, OssError> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    let (bucket_raw, key_raw) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket = decode(bucket_raw, false)
        .map_err(|e| OssError::invalid_bucket_name(&format!("{bucket_raw} ({e})")))?;
    let key = decode(key_raw, false).map_err(OssError::invalid_object_name)?;
    let mut pairs = Vec::new();
    for part in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = decode(k, true).map_err(|e| OssError::invalid_argument(k, v, e))?;
        let v = decode(v, true).map_err(|e| OssError::invalid_argument(&k, v, e))?;
        pairs.push((k, v));
    }
    Ok(Parsed {
        method: method.to_ascii_uppercase(),
        bucket,
        key,
        query: pairs,
    })
}

/// Which operation `request` asks for; sub-resources the sim does not emulate (`?acl`,
/// `?append`, …) are refused rather than mistaken for a plain object operation.
pub fn operation(request: &Parsed) -> Result<Operation, OssError> {
    if request.method == "HEAD"
        && !request.key.is_empty()
        && request.query.len() == 1
        && request.param("objectMeta").is_some()
    {
        return Ok(Operation::GetObjectMeta);
    }
    if let Some((name, _)) = request
        .query
        .iter()
        .find(|(k, _)| sign::is_signed_sub_resource(k) && k != "continuation-token")
    {
        return Err(OssError::not_implemented(&format!(
            "{} with the `{name}` sub-resource",
            request.method
        )));
    }
    if request.bucket.is_empty() {
        return Err(OssError::not_implemented(&format!(
            "{} on the service (ListBuckets and the like)",
            request.method
        )));
    }
    let op = match (request.method.as_str(), request.key.is_empty()) {
        ("PUT", true) => Operation::PutBucket,
        ("GET", true) if request.param("list-type") == Some("2") => Operation::ListObjectsV2,
        ("GET", true) => {
            return Err(OssError::not_implemented(
                "ListObjects (version 1); use ListObjectsV2 (list-type=2)",
            ));
        }
        ("PUT", false) => Operation::PutObject,
        ("GET", false) => Operation::GetObject,
        ("HEAD", false) => Operation::HeadObject,
        ("DELETE", false) => Operation::DeleteObject,
        (method, true) => {
            return Err(OssError::not_implemented(&format!("{method} on a bucket")));
        }
        (method, false) => {
            return Err(OssError::not_implemented(&format!("{method} on an object")));
        }
    };
    Ok(op)
}

impl ListQuery {
    /// Reads and checks the ListObjectsV2 parameters of `request`.
    pub fn from_request(request: &Parsed) -> Result<Self, OssError> {
        let get = |name| request.param(name).unwrap_or("").to_owned();
        let max_keys = match request.param("max-keys").filter(|v| !v.is_empty()) {
            None => 100,
            Some(v) => match v.parse::<usize>() {
                Ok(n @ 1..=1000) => n,
                _ => {
                    return Err(OssError::invalid_argument(
                        "max-keys",
                        v,
                        "max-keys must be a number between 1 and 1000.",
                    ));
                }
            },
        };
        let url_encoded = match request.param("encoding-type").unwrap_or("") {
            "" => false,
            "url" => true,
            other => {
                return Err(OssError::invalid_argument(
                    "encoding-type",
                    other,
                    "The only encoding type is url.",
                ));
            }
        };
        Ok(Self {
            prefix: get("prefix"),
            delimiter: get("delimiter"),
            start_after: get("start-after"),
            continuation_token: get("continuation-token"),
            max_keys,
            url_encoded,
        })
    }
}

/// The `<ListBucketResult>` of ListObjectsV2.
pub fn list_result_xml(bucket: &str, query: &ListQuery, listing: &Listing) -> String {
    let enc = |s: &str| {
        if query.url_encoded {
            percent_encode(s)
        } else {
            xml_escape(s)
        }
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult>\n");
    out.push_str(&format!("  <Name>{}</Name>\n", xml_escape(bucket)));
    out.push_str(&format!("  <Prefix>{}</Prefix>\n", enc(&query.prefix)));
    if !query.start_after.is_empty() {
        out.push_str(&format!(
            "  <StartAfter>{}</StartAfter>\n",
            enc(&query.start_after)
        ));
    }
    if !query.continuation_token.is_empty() {
        out.push_str(&format!(
            "  <ContinuationToken>{}</ContinuationToken>\n",
            enc(&query.continuation_token)
        ));
    }
    out.push_str(&format!("  <MaxKeys>{}</MaxKeys>\n", query.max_keys));
    out.push_str(&format!(
        "  <Delimiter>{}</Delimiter>\n",
        enc(&query.delimiter)
    ));
    if query.url_encoded {
        out.push_str("  <EncodingType>url</EncodingType>\n");
    }
    out.push_str(&format!(
        "  <IsTruncated>{}</IsTruncated>\n",
        listing.next_token.is_some()
    ));
    if let Some(token) = &listing.next_token {
        out.push_str(&format!(
            "  <NextContinuationToken>{}</NextContinuationToken>\n",
            enc(token)
        ));
    }
    out.push_str(&format!(
        "  <KeyCount>{}</KeyCount>\n",
        listing.objects.len() + listing.common_prefixes.len()
    ));
    for object in &listing.objects {
        out.push_str("  <Contents>\n");
        out.push_str(&format!("    <Key>{}</Key>\n", enc(&object.key)));
        out.push_str(&format!(
            "    <LastModified>{}</LastModified>\n",
            object.last_modified.format("%Y-%m-%dT%H:%M:%S.000Z")
        ));
        out.push_str(&format!("    <ETag>{}</ETag>\n", xml_escape(&object.etag)));
        out.push_str("    <Type>Normal</Type>\n");
        out.push_str(&format!("    <Size>{}</Size>\n", object.size));
        out.push_str("    <StorageClass>Standard</StorageClass>\n");
        out.push_str("  </Contents>\n");
    }
    for prefix in &listing.common_prefixes {
        out.push_str(&format!(
            "  <CommonPrefixes>\n    <Prefix>{}</Prefix>\n  </CommonPrefixes>\n",
            enc(prefix)
        ));
    }
    out.push_str("</ListBucketResult>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_may_carry_encoded_or_literal_slashes() {
        let a = parse("get", "/b/a%2Fb%20c", None).expect("parses");
        let b = parse("GET", "/b/a/b c", None).expect("parses");
        assert_eq!((a.bucket.as_str(), a.key.as_str()), ("b", "a/b c"));
        assert_eq!(b.key, "a/b c");
        assert_eq!(a.method, "GET");
        let bucket_only = parse("GET", "/b/", Some("list-type=2&prefix=a+b%2B")).expect("ok");
        assert_eq!(bucket_only.key, "");
        assert_eq!(bucket_only.param("prefix"), Some("a b+"));
        let no_slash = parse("PUT", "/b", None).expect("parses");
        assert_eq!((no_slash.bucket.as_str(), no_slash.key.as_str()), ("b", ""));
    }

    #[test]
    fn malformed_escapes_are_errors_not_panics() {
        assert_eq!(
            parse("GET", "/b/%zz", None).expect_err("bad").code,
            "InvalidObjectName"
        );
        assert_eq!(
            parse("GET", "/b/%C3", None).expect_err("bad utf-8").code,
            "InvalidObjectName"
        );
        assert_eq!(
            parse("GET", "/b/", Some("prefix=%")).expect_err("bad").code,
            "InvalidArgument"
        );
        assert_eq!(
            parse("GET", "/b%ff/k", None).expect_err("bad").code,
            "InvalidBucketName"
        );
    }

    #[test]
    fn operations_are_picked_by_method_key_and_query() {
        let op = |m: &str, p: &str, q: Option<&str>| {
            operation(&parse(m, p, q).expect("parses")).map_err(|e| e.code)
        };
        assert_eq!(op("PUT", "/b/k", None), Ok(Operation::PutObject));
        assert_eq!(op("GET", "/b/k", None), Ok(Operation::GetObject));
        assert_eq!(op("HEAD", "/b/k", None), Ok(Operation::HeadObject));
        assert_eq!(op("DELETE", "/b/k", None), Ok(Operation::DeleteObject));
        assert_eq!(
            op("GET", "/b/", Some("list-type=2&continuation-token=x")),
            Ok(Operation::ListObjectsV2)
        );
        assert_eq!(op("PUT", "/b", None), Ok(Operation::PutBucket));
        assert_eq!(
            op("HEAD", "/b/k", Some("objectMeta")),
            Ok(Operation::GetObjectMeta)
        );
        assert_eq!(
            op("GET", "/b/k", Some("objectMeta")),
            Err("NotImplemented".to_owned())
        );
        assert_eq!(op("GET", "/b/", None), Err("NotImplemented".to_owned()));
        assert_eq!(
            op("PUT", "/b/k", Some("acl")),
            Err("NotImplemented".to_owned())
        );
        assert_eq!(
            op("POST", "/b/k", Some("append&position=0")),
            Err("NotImplemented".to_owned())
        );
        assert_eq!(op("GET", "/", None), Err("NotImplemented".to_owned()));
    }

    #[test]
    fn list_parameters_are_checked() {
        let q = |query: &str| {
            ListQuery::from_request(&parse("GET", "/b/", Some(query)).expect("parses"))
        };
        let ok = q("list-type=2&prefix=p%2F&max-keys=7&encoding-type=url").expect("valid");
        assert_eq!(
            (ok.prefix.as_str(), ok.max_keys, ok.url_encoded),
            ("p/", 7, true)
        );
        assert_eq!(q("list-type=2").expect("valid").max_keys, 100);
        assert_eq!(q("list-type=2&max-keys=").expect("valid").max_keys, 100);
        for bad in [
            "max-keys=0",
            "max-keys=1001",
            "max-keys=ten",
            "encoding-type=base64",
        ] {
            let err = q(bad).expect_err(bad);
            assert_eq!(err.code, "InvalidArgument", "{bad}");
        }
    }

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
    }
}
