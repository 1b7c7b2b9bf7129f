//! STS (API version 2015-04-01): AssumeRole, and GetCallerIdentity, which says who signed the
//! request. The tokens AssumeRole issues live in [`crate::keys`].

pub mod errors;
pub mod protocol;

use serde_json::Value;

use crate::ctx::Ctx;
use crate::error::RpcError;
use crate::keys::Keys;
use crate::params::Params;
use crate::seed::SeedRole;

/// The API version STS answers to.
pub const VERSION: &str = "2015-04-01";

/// Every action the sim's STS implements.
pub const ACTIONS: &[&str] = &["AssumeRole", "GetCallerIdentity"];

/// Runs `action`; `None` if STS has no such action.
pub fn handle(
    action: &str,
    p: &Params,
    account_id: &str,
    roles: &[SeedRole],
    keys: &Keys,
    ctx: &Ctx,
) -> Option<Result<Value, RpcError>> {
    Some(match action {
        "AssumeRole" => protocol::assume_role(account_id, roles, keys, p, ctx),
        "GetCallerIdentity" => Ok(protocol::get_caller_identity(account_id, ctx)),
        _ => return None,
    })
}
