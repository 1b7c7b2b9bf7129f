//! KMS (API version 2016-01-20): Encrypt and Decrypt with the region's keys, which come from
//! the seed ([`crate::seed::SeedKmsKey`]).
//!
//! - Encrypt: <https://www.alibabacloud.com/help/en/kms/developer-reference/api-kms-2016-01-20-encrypt>
//! - Decrypt: <https://www.alibabacloud.com/help/en/kms/developer-reference/api-kms-2016-01-20-decrypt>
//! - EncryptionContext: <https://www.alibabacloud.com/help/doc-detail/42975.htm>
//! - Error codes: <https://error-center.alibabacloud.com/status/product/Kms>

pub mod errors;
pub mod protocol;

use serde_json::Value;

use crate::error::RpcError;
use crate::params::Params;

/// The API version KMS answers to.
pub const VERSION: &str = "2016-01-20";

/// Every action the sim's KMS implements.
pub const ACTIONS: &[&str] = &["Encrypt", "Decrypt"];

/// A key of the region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKey {
    /// The key's globally unique id.
    pub key_id: String,
    /// `alias/…`, if it has one.
    pub alias: Option<String>,
    /// `Enabled` or `Disabled`.
    pub enabled: bool,
}

/// What KMS reads of the region: where it is, whose it is, and its keys.
#[derive(Debug, Clone, Copy)]
pub struct KmsRegion<'a> {
    /// The region id.
    pub region_id: &'a str,
    /// The owner account.
    pub account_id: &'a str,
    /// The keys.
    pub kms_keys: &'a [KmsKey],
}

/// Runs `action`; `None` if KMS has no such action.
pub fn handle(action: &str, p: &Params, region: &KmsRegion<'_>) -> Option<Result<Value, RpcError>> {
    Some(match action {
        "Encrypt" => protocol::encrypt(region, p),
        "Decrypt" => protocol::decrypt(region, p),
        _ => return None,
    })
}
