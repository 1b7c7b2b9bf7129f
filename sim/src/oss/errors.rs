//! OSS's error answers: an HTTP status, a `Code`, a `Message`, and the XML body OSS sends.
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <Error>
//!   <Code>NoSuchKey</Code>
//!   <Message>The specified key does not exist.</Message>
//!   <RequestId>…</RequestId>
//!   <HostId>reimage-state.oss-cn-hangzhou.aliyuncs.com</HostId>
//!   <Key>…</Key>
//!   <EC>0026-00000001</EC>
//! </Error>
//! ```
//!
//! with the headers `x-oss-request-id` and `x-oss-ec`. HEAD answers carry no body.
//! `SignatureDoesNotMatch` adds `<StringToSign>` and `<StringToSignBytes>` as OSS does, so a
//! client author can see what the server signed.

use http::StatusCode;

/// One OSS error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OssError {
    /// The HTTP status.
    pub status: StatusCode,
    /// OSS's code.
    pub code: String,
    /// The human message.
    pub message: String,
    /// OSS's detailed error code (`EC`), where the sim knows it.
    pub ec: &'static str,
    /// Extra elements after `HostId`, e.g. `Key`, `BucketName`, `StringToSign`.
    pub extra: Vec<(&'static str, String)>,
}

impl OssError {
    /// An error with any status, code and message (injected faults use this).
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            ec: "",
            extra: Vec::new(),
        }
    }

    fn ec(mut self, ec: &'static str) -> Self {
        self.ec = ec;
        self
    }

    fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    /// 404 `NoSuchBucket`.
    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist.",
        )
        .ec("0015-00000101")
        .with("BucketName", bucket)
    }

    /// 404 `NoSuchKey`.
    pub fn no_such_key(key: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        )
        .ec("0026-00000001")
        .with("Key", key)
    }

    /// 409 `FileAlreadyExists`: PutObject with `x-oss-forbid-overwrite: true` on a taken key.
    pub fn file_already_exists(key: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "FileAlreadyExists",
            "The object you specified already exists and can not be overwritten.",
        )
        .ec("0016-00000708")
        .with("Key", key)
    }

    /// 409 `BucketAlreadyExists`.
    pub fn bucket_already_exists(bucket: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "BucketAlreadyExists",
            "The requested bucket name is not available.",
        )
        .with("BucketName", bucket)
    }

    /// 403 `AccessDenied`.
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDenied", message).ec("0003-00000001")
    }

    /// 403 `InvalidAccessKeyId`.
    pub fn invalid_access_key_id(access_key_id: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The OSS Access Key Id you provided does not exist in our records.",
        )
        .ec("0002-00000902")
        .with("OSSAccessKeyId", access_key_id)
    }

    /// 403 `InvalidSecurityToken`: an STS key without its token, or with another one.
    ///
    /// Not documented (<https://www.alibabacloud.com/help/en/document_detail/32005.html>): the exact code OSS uses; `InvalidSecurityToken` is the
    /// most plausible.
    pub fn invalid_security_token(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "InvalidSecurityToken", message)
    }

    /// 403 `SecurityTokenExpired`.
    ///
    /// UNCONFIRMED (reference, consolidated list item 14): the exact code of an expired token.
    pub fn security_token_expired() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "SecurityTokenExpired",
            "The security token you provided has expired.",
        )
    }

    /// 403 `SignatureDoesNotMatch`, with the string the sim signed.
    pub fn signature_does_not_match(access_key_id: &str, string_to_sign: &str) -> Self {
        let bytes = string_to_sign
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ");
        Self::new(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method.",
        )
        .ec("0002-00000040")
        .with("OSSAccessKeyId", access_key_id)
        .with("StringToSign", string_to_sign)
        .with("StringToSignBytes", bytes)
    }

    /// 403 `RequestTimeTooSkewed`.
    pub fn request_time_too_skewed(request_time: &str, server_time: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )
        .ec("0002-00000504")
        .with("RequestTime", request_time)
        .with("ServerTime", server_time)
    }

    /// 400 `InvalidArgument` naming the argument.
    pub fn invalid_argument(name: &str, value: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
            .with("ArgumentName", name)
            .with("ArgumentValue", value)
    }

    /// 400 `InvalidObjectName`.
    pub fn invalid_object_name(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidObjectName", message).ec("0016-00000005")
    }

    /// 400 `InvalidBucketName`.
    pub fn invalid_bucket_name(bucket: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidBucketName",
            "The specified bucket is not valid.",
        )
        .with("BucketName", bucket)
    }

    /// 400 `InvalidDigest`: a Content-MD5 that is not base64 of 16 bytes.
    pub fn invalid_digest(given: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidDigest",
            "The Content-MD5 you specified is not valid.",
        )
        .with("ContentMD5", given)
    }

    /// 400 `BadDigest`: the body does not match its Content-MD5.
    pub fn bad_digest(expected: &str, calculated: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
        )
        .with("ExpectedDigest", expected)
        .with("CalculatedDigest", calculated)
    }

    /// 400 `EntityTooLarge`.
    pub fn entity_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            format!("Your proposed upload exceeds the sim's limit of {limit} bytes."),
        )
    }

    /// 501 `NotImplemented`: an operation the sim does not emulate.
    pub fn not_implemented(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!("{what} is not implemented by the reimage sim (see sim/README.md)."),
        )
    }

    /// The XML body, with the request id and host id of this answer.
    pub fn to_xml(&self, request_id: &str, host_id: &str) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n");
        let mut field = |name: &str, value: &str| {
            out.push_str(&format!("  <{name}>{}</{name}>\n", xml_escape(value)));
        };
        field("Code", &self.code);
        field("Message", &self.message);
        field("RequestId", request_id);
        field("HostId", host_id);
        for (name, value) in &self.extra {
            field(name, value);
        }
        if !self.ec.is_empty() {
            field("EC", self.ec);
        }
        out.push_str("</Error>\n");
        out
    }
}

/// Escapes text for an XML element.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
