//! Function Compute 2.0 request signature (HMAC-SHA256), as FC verifies it on
//! `InvokeFunction` and on HTTP triggers whose auth type is `function`.
//!
//! 1. Canonical FC headers: every header whose lower-cased name starts with `x-fc-`, written
//!    `name:value\n` with the lower-cased name, sorted by name (byte order).
//! 2. Canonical resource: the URL path, *unescaped*. Only for HTTP-trigger paths (those with
//!    a `/proxy/` segment) the query is signed too: each parameter as `key=value` (a key
//!    without a value as `key`), a repeated key as separate entries, sorted as whole strings
//!    and appended after the path, each after a `\n`.
//! 3. `StringToSign = METHOD\nContent-MD5\nContent-Type\nDate\n` + canonical headers +
//!    canonical resource; a missing Content-MD5 or Content-Type leaves its line empty.
//! 4. `Signature = base64(HMAC-SHA256(AccessKeySecret, StringToSign))`, sent as
//!    `Authorization: FC <AccessKeyId>:<Signature>`.
//!
//! The STS security token travels as `x-fc-security-token` and so is signed with the other
//! `x-fc-*` headers. Pure: the `Date` header is an input like any other.

/// The header prefix whose members are signed.
const FC_HEADER_PREFIX: &str = "x-fc-";

/// Step 1: the canonical `x-fc-*` headers, each line ending in `\n`.
pub fn canonical_headers<'a, I>(headers: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut fc: Vec<(String, &str)> = headers
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .filter(|(k, _)| k.starts_with(FC_HEADER_PREFIX))
        .collect();
    fc.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    for (k, v) in fc {
        out.push_str(&k);
        out.push(':');
        out.push_str(v);
        out.push('\n');
    }
    out
}

/// The path followed by the sorted query entries, whatever the path: the form FC uses for
/// HTTP-trigger (`/proxy/`) requests. `None` as a value is a key given without `=`.
pub fn resource_with_queries<'a, I>(path: &str, query: I) -> String
where
    I: IntoIterator<Item = (&'a str, Option<&'a str>)>,
{
    let mut entries: Vec<String> = query
        .into_iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.to_owned(),
        })
        .collect();
    entries.sort();
    // `path + "\n" + entries joined by "\n"`, as the official SDKs build it: a path with an
    // empty query is signed as `path\n`.
    format!("{path}\n{}", entries.join("\n"))
}

/// Whether FC signs the query of a request to `path`: only HTTP-trigger paths.
pub fn signs_query(path: &str) -> bool {
    path.contains("/proxy/")
}

/// Step 2: the canonical resource of a request to the unescaped `path` with `query`.
pub fn canonical_resource<'a, I>(path: &str, query: I) -> String
where
    I: IntoIterator<Item = (&'a str, Option<&'a str>)>,
{
    if signs_query(path) {
        resource_with_queries(path, query)
    } else {
        path.to_owned()
    }
}

/// Step 3: the string to sign. `headers` are all the request's headers; Content-MD5,
/// Content-Type and Date are picked from them by case-insensitive name.
pub fn string_to_sign<'a, I>(method: &str, headers: I, canonical_resource: &str) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
{
    let pick = |name: &str| {
        headers
            .clone()
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v)
    };
    format!(
        "{}\n{}\n{}\n{}\n{}{}",
        method.to_ascii_uppercase(),
        pick("content-md5"),
        pick("content-type"),
        pick("date"),
        canonical_headers(headers),
        canonical_resource
    )
}

/// Step 4: `base64(HMAC-SHA256(secret, string_to_sign))`.
pub fn signature(access_key_secret: &str, string_to_sign: &str) -> String {
    super::base64(&super::hmac_sha256(
        access_key_secret.as_bytes(),
        string_to_sign.as_bytes(),
    ))
}

/// The `Authorization` header value: `FC <AccessKeyId>:<Signature>`.
pub fn authorization(access_key_id: &str, signature: &str) -> String {
    format!("FC {access_key_id}:{signature}")
}

/// Splits an `Authorization` header value into AccessKeyId and signature; `None` when it is
/// not of the form `FC <id>:<signature>`.
pub fn parse_authorization(value: &str) -> Option<(&str, &str)> {
    let rest = value.strip_prefix("FC ")?;
    let (id, sig) = rest.split_once(':')?;
    if id.is_empty() || sig.is_empty() {
        return None;
    }
    Some((id, sig))
}

/// All stages at once: the signature of a request with these headers to the unescaped
/// `path` with `query`.
pub fn sign<'a, H, Q>(
    method: &str,
    path: &str,
    query: Q,
    headers: H,
    access_key_secret: &str,
) -> String
where
    H: IntoIterator<Item = (&'a str, &'a str)> + Clone,
    Q: IntoIterator<Item = (&'a str, Option<&'a str>)>,
{
    let resource = canonical_resource(path, query);
    signature(
        access_key_secret,
        &string_to_sign(method, headers, &resource),
    )
}

/// Decodes `%XY` escapes in a URL path, as FC does before signing it. Returns `None` when
/// an escape is malformed or the result is not UTF-8.
pub fn unescape_path(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        let text = include_str!("../../../tests/vectors/fc.json");
        serde_json::from_str(text).expect("fc.json is valid JSON")
    }

    fn pairs(v: &Value) -> Vec<(String, Option<String>)> {
        v.as_array()
            .expect("an array of pairs")
            .iter()
            .map(|p| {
                (
                    p[0].as_str().expect("a name").to_owned(),
                    p[1].as_str().map(str::to_owned),
                )
            })
            .collect()
    }

    #[test]
    fn fc_go_sdk_vector_stage_by_stage() {
        let all = vectors();
        let v = &all["signature"];
        let query = pairs(&v["query"]);
        let headers: Vec<(String, String)> = pairs(&v["headers"])
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect();
        let headers_ref = headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let query_ref = query.iter().map(|(k, v)| (k.as_str(), v.as_deref()));
        let path = v["path"].as_str().unwrap_or_default();

        assert_eq!(
            canonical_headers(headers_ref.clone()),
            v["canonical_headers"].as_str().unwrap_or_default()
        );
        let resource = canonical_resource(path, query_ref.clone());
        assert_eq!(
            resource,
            v["canonical_resource"].as_str().unwrap_or_default()
        );
        let method = v["method"].as_str().unwrap_or_default();
        let sts = string_to_sign(method, headers_ref.clone(), &resource);
        assert_eq!(sts, v["string_to_sign"].as_str().unwrap_or_default());
        let secret = v["access_key_secret"].as_str().unwrap_or_default();
        let expected = v["signature"].as_str().unwrap_or_default();
        assert_eq!(signature(secret, &sts), expected);
        assert_eq!(sign(method, path, query_ref, headers_ref, secret), expected);
    }

    #[test]
    fn fc_go_sdk_resource_with_queries_vector() {
        let all = vectors();
        let v = &all["resource_with_queries"];
        let query = pairs(&v["query"]);
        let resource = resource_with_queries(
            v["path"].as_str().unwrap_or_default(),
            query.iter().map(|(k, v)| (k.as_str(), v.as_deref())),
        );
        assert_eq!(
            resource,
            v["canonical_resource"].as_str().unwrap_or_default()
        );
    }

    #[test]
    fn a_proxy_path_with_an_empty_query_signs_the_path_and_a_newline() {
        let all = vectors();
        let v = &all["proxy_empty_query"];
        let path = v["path"].as_str().unwrap_or_default();
        let no_query = std::iter::empty::<(&str, Option<&str>)>();
        let resource = canonical_resource(path, no_query.clone());
        assert_eq!(resource, format!("{path}\n"));
        assert_eq!(
            resource,
            v["canonical_resource"].as_str().unwrap_or_default()
        );
        let headers = [("Date", "1583221068")];
        let sts = string_to_sign("GET", headers.iter().copied(), &resource);
        assert_eq!(sts, v["string_to_sign"].as_str().unwrap_or_default());
        let secret = v["access_key_secret"].as_str().unwrap_or_default();
        assert_eq!(
            sign("GET", path, no_query, headers.iter().copied(), secret),
            v["signature"].as_str().unwrap_or_default()
        );
    }

    #[test]
    fn query_of_an_invocation_path_is_not_signed() {
        let path = "/2016-08-15/services/reimage/functions/wait-image/invocations";
        assert_eq!(
            canonical_resource(path, [("qualifier", Some("LATEST"))]),
            path
        );
    }

    #[test]
    fn missing_md5_and_content_type_leave_empty_lines() {
        let sts = string_to_sign(
            "post",
            [
                ("Date", "Wed, 08 May 2024 10:00:00 GMT"),
                ("x-fc-invocation-type", "Async"),
                ("X-Fc-Account-Id", "123"),
            ],
            "/r",
        );
        assert_eq!(
            sts,
            "POST\n\n\nWed, 08 May 2024 10:00:00 GMT\nx-fc-account-id:123\nx-fc-invocation-type:Async\n/r"
        );
    }

    #[test]
    fn security_token_header_changes_the_signature() {
        let base = [("Date", "d"), ("x-fc-account-id", "1")];
        let with_token = [
            ("Date", "d"),
            ("x-fc-account-id", "1"),
            ("x-fc-security-token", "tok"),
        ];
        let no_query: [(&str, Option<&str>); 0] = [];
        let a = sign("POST", "/p", no_query, base, "secret");
        let b = sign("POST", "/p", no_query, with_token, "secret");
        assert_ne!(a, b);
    }

    #[test]
    fn authorization_round_trips_and_rejects_other_schemes() {
        let value = authorization("LTAIexample", "c2lnbmF0dXJl");
        assert_eq!(value, "FC LTAIexample:c2lnbmF0dXJl");
        assert_eq!(
            parse_authorization(&value),
            Some(("LTAIexample", "c2lnbmF0dXJl"))
        );
        assert_eq!(parse_authorization("acs LTAI:sig"), None);
        assert_eq!(parse_authorization("FC :sig"), None);
        assert_eq!(parse_authorization("FC LTAI"), None);
    }

    #[test]
    fn unescape_path_decodes_percent_escapes_and_rejects_broken_ones() {
        assert_eq!(
            unescape_path("/func/abc%20123").as_deref(),
            Some("/func/abc 123")
        );
        assert_eq!(unescape_path("/a%2Fb").as_deref(), Some("/a/b"));
        assert_eq!(unescape_path("/bad%2"), None);
        assert_eq!(unescape_path("/bad%zz"), None);
        assert_eq!(unescape_path("/bad%ff"), None);
    }
}
