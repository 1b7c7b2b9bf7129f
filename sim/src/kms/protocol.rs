//! KMS Encrypt and Decrypt on the wire.
//!
//! A key's material is derived from the account and the key id, so a ciphertext outlives a
//! restart of the sim. A `CiphertextBlob` is Base64 of: `RSK1`, the key id's length (one
//! byte) and the key id, a 12-byte nonce, then AES-256-GCM of the plaintext with the
//! encryption context (as canonical JSON: keys sorted) as associated data. So Decrypt needs no
//! KeyId, and an equivalent context (the same pairs in any order) decrypts.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::KmsRegion;
use super::{KmsKey, errors};
use crate::error::RpcError;
use crate::params::Params;

/// The longest Plaintext Encrypt takes (6 KiB).
pub const MAX_PLAINTEXT: usize = 6 * 1024;

/// The longest EncryptionContext (characters of JSON).
pub const MAX_CONTEXT: usize = 8192;

const MAGIC: &[u8; 4] = b"RSK1";

fn material(account_id: &str, key_id: &str) -> Result<LessSafeKey, RpcError> {
    let mut h = Sha256::new();
    h.update(b"reimage-sim kms key material\0");
    h.update(account_id.as_bytes());
    h.update(b"\0");
    h.update(key_id.as_bytes());
    let bytes = h.finalize();
    // A SHA-256 digest is exactly an AES-256 key.
    UnboundKey::new(&AES_256_GCM, &bytes)
        .map(LessSafeKey::new)
        .map_err(|_| {
            RpcError::internal("The request processing has failed due to some unknown error.")
        })
}

/// The key's version: one per key in the sim.
pub fn key_version_id(key_id: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, key_id.as_bytes()).to_string()
}

/// The key `KeyId` names: its id, `alias/<name>`, or an ARN
/// (`acs:kms:<region>:<account>:key/<id>` or `…:alias/<name>`).
fn find_key<'a>(region: &KmsRegion<'a>, key_id: &str) -> Result<&'a KmsKey, RpcError> {
    let prefix = format!("acs:kms:{}:{}:", region.region_id, region.account_id);
    let name = key_id.strip_prefix(&prefix).unwrap_or(key_id);
    if let Some(alias) = name.strip_prefix("alias/") {
        return region
            .kms_keys
            .iter()
            .find(|k| k.alias.as_deref() == Some(&format!("alias/{alias}")))
            .ok_or_else(errors::alias_not_found);
    }
    let id = name.strip_prefix("key/").unwrap_or(name);
    region
        .kms_keys
        .iter()
        .find(|k| k.key_id == id)
        .ok_or_else(errors::key_not_found)
}

/// The EncryptionContext as canonical JSON (keys sorted); empty when absent.
fn context(p: &Params) -> Result<Vec<u8>, RpcError> {
    let Some(raw) = p.get("EncryptionContext") else {
        return Ok(Vec::new());
    };
    if raw.chars().count() > MAX_CONTEXT {
        return Err(errors::invalid("EncryptionContext"));
    }
    let map: BTreeMap<String, String> =
        serde_json::from_str(raw).map_err(|_| errors::invalid("EncryptionContext"))?;
    if map.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::to_vec(&map).map_err(|_| errors::invalid("EncryptionContext"))
}

fn usable(key: &KmsKey) -> Result<(), RpcError> {
    if key.enabled {
        Ok(())
    } else {
        Err(errors::disabled())
    }
}

/// Encrypt: KeyId, Plaintext, EncryptionContext → CiphertextBlob, KeyId, KeyVersionId.
pub fn encrypt(region: &KmsRegion<'_>, p: &Params) -> Result<Value, RpcError> {
    let key_id = p.required("KeyId")?;
    let plaintext = p.required("Plaintext")?;
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(errors::invalid("Plaintext"));
    }
    let aad = context(p)?;
    let key = find_key(region, key_id)?;
    usable(key)?;
    let id = key.key_id.as_bytes();
    let id_len = u8::try_from(id.len()).map_err(|_| errors::invalid("KeyId"))?;
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..NONCE_LEN]);
    let mut sealed = plaintext.as_bytes().to_vec();
    material(region.account_id, &key.key_id)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&aad),
            &mut sealed,
        )
        .map_err(|_| {
            RpcError::internal("The request processing has failed due to some unknown error.")
        })?;
    let mut blob = MAGIC.to_vec();
    blob.push(id_len);
    blob.extend_from_slice(id);
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&sealed);
    Ok(json!({
        "CiphertextBlob": BASE64.encode(blob),
        "KeyId": key.key_id,
        "KeyVersionId": key_version_id(&key.key_id),
    }))
}

/// Decrypt: CiphertextBlob, EncryptionContext → Plaintext, KeyId, KeyVersionId.
pub fn decrypt(region: &KmsRegion<'_>, p: &Params) -> Result<Value, RpcError> {
    let blob = p.required("CiphertextBlob")?;
    let aad = context(p)?;
    let bytes = BASE64
        .decode(blob.trim().as_bytes())
        .map_err(|_| errors::invalid("CiphertextBlob"))?;
    let rest = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| errors::invalid("CiphertextBlob"))?;
    let (&id_len, rest) = rest
        .split_first()
        .ok_or_else(|| errors::invalid("CiphertextBlob"))?;
    let id_len = usize::from(id_len);
    if rest.len() < id_len + NONCE_LEN {
        return Err(errors::invalid("CiphertextBlob"));
    }
    let (id, rest) = rest.split_at(id_len);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let key_id = std::str::from_utf8(id).map_err(|_| errors::invalid("CiphertextBlob"))?;
    let key = region
        .kms_keys
        .iter()
        .find(|k| k.key_id == key_id)
        .ok_or_else(errors::key_not_found)?;
    usable(key)?;
    let nonce =
        Nonce::try_assume_unique_for_key(nonce).map_err(|_| errors::invalid("CiphertextBlob"))?;
    let mut buf = sealed.to_vec();
    let plain = material(region.account_id, &key.key_id)?
        .open_in_place(nonce, Aad::from(&aad), &mut buf)
        .map_err(|_| errors::invalid("CiphertextBlob"))?;
    let plaintext =
        String::from_utf8(plain.to_vec()).map_err(|_| errors::invalid("CiphertextBlob"))?;
    Ok(json!({
        "Plaintext": plaintext,
        "KeyId": key.key_id,
        "KeyVersionId": key_version_id(&key.key_id),
    }))
}
