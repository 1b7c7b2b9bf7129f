//! KMS error codes and HTTP statuses, from KMS's public error code table
//! (<https://error-center.alibabacloud.com/status/product/Kms>): `Forbidden.KeyNotFound` and
//! `Forbidden.AliasNotFound` 404, `Rejected.Disabled` 409, `InvalidParameter` and
//! `MissingParameter` 400. KMS documents no code of its own for a ciphertext that does not
//! decrypt; the sim answers 400 `InvalidParameter` naming `CiphertextBlob` (sim/README.md).

use crate::error::RpcError;
use crate::params::truncate;
use http::StatusCode;

/// 404 `Forbidden.KeyNotFound`.
pub fn key_not_found() -> RpcError {
    RpcError::not_found("Forbidden.KeyNotFound", "The specified Key is not found.")
}

/// 404 `Forbidden.AliasNotFound`.
pub fn alias_not_found() -> RpcError {
    RpcError::not_found(
        "Forbidden.AliasNotFound",
        "The specified Alias is not found.",
    )
}

/// 409 `Rejected.Disabled`.
pub fn disabled() -> RpcError {
    RpcError::new(
        StatusCode::CONFLICT,
        "Rejected.Disabled",
        "The request was rejected because the key state is Disabled.",
    )
}

/// 400 `InvalidParameter` naming `name`.
pub fn invalid(name: &str) -> RpcError {
    RpcError::bad_request(
        "InvalidParameter",
        format!(
            "The specified parameter \"{}\" is not valid.",
            truncate(name, 40)
        ),
    )
}
