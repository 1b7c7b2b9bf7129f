//! RPC signature v1 (HMAC-SHA1), as ECS, ESS and STS verify it.
//!
//! 1. Every parameter except `Signature` is percent-encoded (RFC 3986: unreserved
//!    `A-Z a-z 0-9 - _ . ~` kept, everything else `%XY` in upper-case hex per UTF-8 byte, so a
//!    space is `%20`, `*` is `%2A` and `~` stays literal), sorted by encoded name and joined
//!    as `name=value` with `&`: the canonical query.
//! 2. `StringToSign = METHOD & %2F & percent_encode(canonical query)`.
//! 3. `Signature = base64(HMAC-SHA1(secret + "&", StringToSign))`.
//!
//! The SecurityToken of STS credentials is an ordinary parameter and so is signed.

use std::fmt::Write as _;

/// Percent-encodes `input` the way the RPC signature wants it.
pub fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len() * 3);
    for &byte in input.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The canonical query: every parameter but `Signature`, encoded, sorted, joined.
///
/// Parameters are sorted by their encoded names (byte order); a name given twice keeps
/// both values, in the order given.
pub fn canonical_query<'a, I>(params: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut pairs: Vec<(String, String)> = params
        .into_iter()
        .filter(|(k, _)| *k != "Signature")
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// `METHOD&%2F&percent_encode(canonical_query)`.
pub fn string_to_sign(method: &str, canonical_query: &str) -> String {
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode("/"),
        percent_encode(canonical_query)
    )
}

/// `base64(HMAC-SHA1(secret + "&", string_to_sign))`.
pub fn signature(access_key_secret: &str, string_to_sign: &str) -> String {
    let key = format!("{access_key_secret}&");
    super::base64(&super::hmac_sha1(key.as_bytes(), string_to_sign.as_bytes()))
}

/// All three stages at once: the signature of `params` sent with `method`.
pub fn sign<'a, I>(method: &str, params: I, access_key_secret: &str) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    signature(
        access_key_secret,
        &string_to_sign(method, &canonical_query(params)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The official DescribeRegions example (ECS API reference, "Request signatures").
    const OFFICIAL: &[(&str, &str)] = &[
        ("AccessKeyId", "testid"),
        ("Action", "DescribeRegions"),
        ("Format", "XML"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2016-02-23T12:46:24Z"),
        ("Version", "2014-05-26"),
    ];

    #[test]
    fn official_describe_regions_vector_stage_by_stage() {
        let query = canonical_query(OFFICIAL.iter().copied());
        assert_eq!(
            query,
            "AccessKeyId=testid&Action=DescribeRegions&Format=XML&SignatureMethod=HMAC-SHA1\
             &SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0\
             &Timestamp=2016-02-23T12%3A46%3A24Z&Version=2014-05-26"
        );
        let sts = string_to_sign("GET", &query);
        assert_eq!(
            sts,
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML\
             %26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf\
             %26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
        );
        assert_eq!(
            signature("testsecret", &sts),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }

    #[test]
    fn method_is_part_of_the_signature() {
        let post = sign("POST", OFFICIAL.iter().copied(), "testsecret");
        assert_eq!(post, "MxbnVAM4w6sft9xjVpe/GCKueuk=");
    }

    #[test]
    fn percent_encoding_follows_rfc3986_with_the_rpc_quirks() {
        assert_eq!(percent_encode("a b*c~d/e"), "a%20b%2Ac~d%2Fe");
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode("[\"i-a\"]"), "%5B%22i-a%22%5D");
    }

    #[test]
    fn signature_parameter_is_never_signed() {
        let mut with_sig: Vec<(&str, &str)> = OFFICIAL.to_vec();
        with_sig.push(("Signature", "whatever"));
        assert_eq!(
            canonical_query(with_sig),
            canonical_query(OFFICIAL.iter().copied())
        );
    }

    proptest::proptest! {
        /// Any string encodes to unreserved characters and upper-case `%XY` only, and decodes
        /// back to itself.
        #[test]
        fn percent_encoding_is_reversible_and_uses_only_the_allowed_alphabet(s in "\\PC*") {
            let enc = percent_encode(&s);
            let bytes = enc.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                let b = bytes[i];
                if b == b'%' {
                    proptest::prop_assert!(i + 2 < bytes.len(), "truncated escape in {}", enc);
                    let hex = &enc[i + 1..i + 3];
                    proptest::prop_assert!(hex.chars().all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)), "{}", enc);
                    i += 3;
                } else {
                    proptest::prop_assert!(b.is_ascii_alphanumeric() || b"-_.~".contains(&b), "{}", enc);
                    i += 1;
                }
            }
            let decoded: Vec<u8> = url::form_urlencoded::parse(format!("k={enc}").as_bytes())
                .map(|(_, v)| v.into_owned())
                .next()
                .unwrap_or_default()
                .into_bytes();
            proptest::prop_assert_eq!(decoded, s.as_bytes().to_vec());
        }
    }
}
