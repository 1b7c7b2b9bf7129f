//! Pure request signers: no I/O, no clock, no randomness. Time and nonce are inputs.
//!
//! Each signer exposes its stages (canonical form, string to sign, signature) so that tests
//! can check them one by one against the vectors kept in `shared/cloud/tests/vectors/`.

pub mod acs3;
pub mod fc;
pub mod oss;
pub mod rpc;

use hmac::{Hmac, KeyInit, Mac};

/// HMAC-SHA1 of `data` under `key`.
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
