//! KMS (API version 2016-01-20): `Encrypt` and `Decrypt`, with which reimage seals the secrets
//! its records hold (see the core crate's `secrets` module).
//!
//! - Encrypt: <https://www.alibabacloud.com/help/en/kms/developer-reference/api-kms-2016-01-20-encrypt>
//! - Decrypt: <https://www.alibabacloud.com/help/en/kms/developer-reference/api-kms-2016-01-20-decrypt>
//! - EncryptionContext: <https://www.alibabacloud.com/help/doc-detail/42975.htm> (a JSON object
//!   of strings, at most 8,192 characters; Decrypt needs an equivalent one: the same pairs in
//!   any order).
//!
//! `Plaintext` and the answer's `Plaintext` are kept out of every `Debug` output, and out of
//! every error message.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use super::error::{Error, RequestError};
use super::{Client, Params, RpcMethod, Service, validate};

/// The longest `Plaintext` Encrypt accepts (6 KiB).
pub const MAX_PLAINTEXT: usize = 6 * 1024;

/// The longest `EncryptionContext` (as JSON text).
pub const MAX_ENCRYPTION_CONTEXT: usize = 8192;

/// `Encrypt`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EncryptRequest {
    /// `KeyId` (required): the key's globally unique id, an `alias/…` name, or an ARN.
    pub key_id: String,
    /// `Plaintext` (required): what to encrypt, 1 to 6,144 bytes.
    pub plaintext: String,
    /// `EncryptionContext`: pairs bound to the ciphertext; Decrypt must present the same.
    pub encryption_context: BTreeMap<String, String>,
}

impl fmt::Debug for EncryptRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptRequest")
            .field("key_id", &self.key_id)
            .field("plaintext", &"<redacted>")
            .field("encryption_context", &self.encryption_context)
            .finish()
    }
}

fn context_param(context: &BTreeMap<String, String>) -> Result<Option<String>, RequestError> {
    if context.is_empty() {
        return Ok(None);
    }
    let json = serde_json::to_string(context)
        .map_err(|e| RequestError::new("EncryptionContext", e.to_string()))?;
    if json.chars().count() > MAX_ENCRYPTION_CONTEXT {
        return Err(RequestError::new(
            "EncryptionContext",
            format!("must be at most {MAX_ENCRYPTION_CONTEXT} characters of JSON"),
        ));
    }
    Ok(Some(json))
}

impl EncryptRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self) -> Result<Params, RequestError> {
        validate::non_empty("KeyId", &self.key_id)?;
        if self.plaintext.is_empty() || self.plaintext.len() > MAX_PLAINTEXT {
            return Err(RequestError::new(
                "Plaintext",
                format!("must be 1 to {MAX_PLAINTEXT} bytes"),
            ));
        }
        let context = context_param(&self.encryption_context)?;
        let mut p = Params::new();
        p.put("KeyId", &self.key_id)
            .put("Plaintext", &self.plaintext)
            .opt_str("EncryptionContext", context.as_deref());
        Ok(p)
    }
}

/// `Encrypt` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EncryptResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyId`: the key's globally unique id (also when the request named an alias).
    pub key_id: String,
    /// `KeyVersionId`: the key version that encrypted.
    pub key_version_id: String,
    /// `CiphertextBlob`: Base64, for Decrypt.
    pub ciphertext_blob: String,
}

/// `Decrypt`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecryptRequest {
    /// `CiphertextBlob` (required): as Encrypt returned it.
    pub ciphertext_blob: String,
    /// `EncryptionContext`: the pairs given to Encrypt.
    pub encryption_context: BTreeMap<String, String>,
}

impl DecryptRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self) -> Result<Params, RequestError> {
        validate::non_empty("CiphertextBlob", &self.ciphertext_blob)?;
        let context = context_param(&self.encryption_context)?;
        let mut p = Params::new();
        p.put("CiphertextBlob", &self.ciphertext_blob)
            .opt_str("EncryptionContext", context.as_deref());
        Ok(p)
    }
}

/// `Decrypt` answer. Its `Debug` output hides the plaintext.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DecryptResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyId`.
    pub key_id: String,
    /// `KeyVersionId`.
    pub key_version_id: String,
    /// `Plaintext`: what was given to Encrypt.
    pub plaintext: String,
}

impl fmt::Debug for DecryptResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptResponse")
            .field("request_id", &self.request_id)
            .field("key_id", &self.key_id)
            .field("key_version_id", &self.key_version_id)
            .field("plaintext", &"<redacted>")
            .finish()
    }
}

/// KMS operations of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Kms<'a> {
    client: &'a Client,
}

impl<'a> Kms<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// `Encrypt` (sent as `POST`, as the official SDK does).
    pub async fn encrypt(&self, req: &EncryptRequest) -> Result<EncryptResponse, Error> {
        self.client
            .call_checked(Service::Kms, RpcMethod::Post, "Encrypt", req.to_params())
            .await
    }

    /// `Decrypt` (sent as `POST`).
    pub async fn decrypt(&self, req: &DecryptRequest) -> Result<DecryptResponse, Error> {
        self.client
            .call_checked(Service::Kms, RpcMethod::Post, "Decrypt", req.to_params())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> BTreeMap<String, String> {
        BTreeMap::from([("task".to_owned(), "task-1".to_owned())])
    }

    #[test]
    fn requests_check_their_parameters_and_hide_the_plaintext() {
        let req = EncryptRequest {
            key_id: "alias/reimage".into(),
            plaintext: "c2VjcmV0LXZhbHVl".into(),
            encryption_context: context(),
        };
        let p = req.to_params().expect("valid");
        assert_eq!(p.get("KeyId"), Some("alias/reimage"));
        assert_eq!(p.get("EncryptionContext"), Some(r#"{"task":"task-1"}"#));
        assert!(!format!("{req:?}").contains("c2VjcmV0LXZhbHVl"));
        let cases = [
            (
                EncryptRequest {
                    key_id: String::new(),
                    ..req.clone()
                },
                "KeyId",
            ),
            (
                EncryptRequest {
                    plaintext: String::new(),
                    ..req.clone()
                },
                "Plaintext",
            ),
            (
                EncryptRequest {
                    plaintext: "x".repeat(MAX_PLAINTEXT + 1),
                    ..req.clone()
                },
                "Plaintext",
            ),
            (
                EncryptRequest {
                    encryption_context: BTreeMap::from([("k".into(), "v".repeat(9000))]),
                    ..req.clone()
                },
                "EncryptionContext",
            ),
        ];
        for (bad, param) in cases {
            let err = bad.to_params().expect_err(param);
            assert_eq!(err.parameter, param);
            assert!(!err.to_string().contains("c2VjcmV0LXZhbHVl"));
        }
        let d = DecryptRequest {
            ciphertext_blob: String::new(),
            encryption_context: BTreeMap::new(),
        };
        assert_eq!(
            d.to_params().expect_err("empty").parameter,
            "CiphertextBlob"
        );
        let d = DecryptRequest {
            ciphertext_blob: "blob".into(),
            encryption_context: BTreeMap::new(),
        };
        assert_eq!(d.to_params().unwrap().get("EncryptionContext"), None);
    }

    #[test]
    fn decrypt_answer_hides_the_plaintext() {
        let r: DecryptResponse = serde_json::from_str(
            r#"{"RequestId":"R","KeyId":"k","KeyVersionId":"v","Plaintext":"top-secret"}"#,
        )
        .unwrap();
        assert_eq!(r.plaintext, "top-secret");
        let shown = format!("{r:?}");
        assert!(
            shown.contains("\"k\"") && !shown.contains("top-secret"),
            "{shown}"
        );
    }
}
