//! STS AssumeRole and GetCallerIdentity on the wire.

use serde_json::{Value, json};

use super::errors;
use crate::ctx::Ctx;
use crate::error::RpcError;
use crate::keys::{IssuedToken, Keys, Principal};
use crate::params::Params;
use crate::seed::SeedRole;

/// A RAM role's id (`RoleId`; AssumeRole's `AssumedRoleId` is `<RoleId>:<RoleSessionName>`):
/// 18 digits, the first `3`, as real role ids are.
pub fn role_id(account_id: &str, role_name: &str) -> String {
    derived_id('3', account_id, role_name)
}

/// A RAM user's id (`UserId`): 18 digits, the first `2`, as real user ids are.
pub fn user_id(account_id: &str, user_name: &str) -> String {
    derived_id('2', account_id, user_name)
}

/// `first` and 17 digits of a hash (FNV-1a) of the account and the name: the same across
/// restarts of the sim.
fn derived_id(first: char, account_id: &str, name: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in account_id.bytes().chain([b'/']).chain(name.bytes()) {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{first}{:017}", hash % 100_000_000_000_000_000)
}

fn random_alnum(len: usize) -> String {
    let mut out = String::with_capacity(len + 32);
    while out.len() < len {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(len);
    out
}

/// AssumeRole: checks the role and the caller, issues STS credentials valid until
/// `now + DurationSeconds` of the sim's clock.
pub fn assume_role(
    account_id: &str,
    roles: &[SeedRole],
    keys: &Keys,
    p: &Params,
    ctx: &Ctx,
) -> Result<Value, RpcError> {
    let arn = p.required("RoleArn")?;
    let session = p.required("RoleSessionName")?;
    let (account, name) = arn
        .strip_prefix("acs:ram::")
        .and_then(|rest| rest.split_once(":role/"))
        .filter(|(account, name)| {
            !account.is_empty() && account.chars().all(|c| c.is_ascii_digit()) && !name.is_empty()
        })
        .ok_or_else(|| errors::role_arn_malformed(arn))?;
    let session_ok = (2..=64).contains(&session.len())
        && session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '@' | '-' | '_'));
    if !session_ok {
        return Err(errors::session_name_malformed());
    }
    if ctx.principal == Principal::Root {
        return Err(errors::root_may_not_assume());
    }
    let role = roles
        .iter()
        .find(|r| account == account_id && r.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| errors::role_not_found(arn))?;
    let max = role.max_session_duration;
    let duration = match p.get("DurationSeconds") {
        None => 3600.min(max),
        Some(raw) => {
            let n: u32 = raw
                .trim()
                .parse()
                .map_err(|_| errors::duration_out_of_range(max))?;
            if !(900..=max).contains(&n) {
                return Err(errors::duration_out_of_range(max));
            }
            n
        }
    };
    if let Some(policy) = p.get("Policy") {
        if policy.len() > 2048
            || serde_json::from_str::<serde_json::Value>(policy)
                .map(|v| !v.is_object())
                .unwrap_or(true)
        {
            return Err(errors::policy_grammar());
        }
    }
    let expiration =
        crate::ecs::state::later(ctx.now, chrono::Duration::seconds(i64::from(duration)));
    let role_arn = format!("acs:ram::{account}:role/{}", role.name);
    let token = IssuedToken {
        access_key_id: format!("STS.{}", random_alnum(24)),
        access_key_secret: random_alnum(40),
        security_token: format!("CAIS{}", random_alnum(200)),
        expiration,
        role_arn: role_arn.clone(),
        session_name: session.to_owned(),
    };
    let body = json!({
        "AssumedRoleUser": {
            "Arn": format!("{role_arn}/{session}"),
            "AssumedRoleId": format!("{}:{session}", role_id(account_id, &role.name)),
        },
        "Credentials": {
            "AccessKeyId": token.access_key_id,
            "AccessKeySecret": token.access_key_secret,
            "SecurityToken": token.security_token,
            "Expiration": expiration.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        },
    });
    keys.issue(token);
    Ok(body)
}

/// GetCallerIdentity: who signed the request. It takes no parameters (others are ignored) and
/// needs no permission: every identity may ask, the root account too.
///
/// - the root account's key: `IdentityType` `Account`, `UserId` and `PrincipalId` the account
///   id, `Arn` `acs:ram::<account>:root`;
/// - a RAM user's key: `RAMUser`, `UserId` and `PrincipalId` the user's id ([`user_id`]),
///   `Arn` `acs:ram::<account>:user/<name>`;
/// - STS credentials from AssumeRole: `AssumedRoleUser`, `RoleId` the role's id
///   ([`role_id`]), `PrincipalId` `<RoleId>:<RoleSessionName>` (AssumeRole's
///   `AssumedRoleId`), `Arn` `acs:ram::<account>:assumed-role/<role>/<RoleSessionName>`.
///
/// `UserId` is answered only for the account and RAM users, `RoleId` only for roles, as
/// documented.
pub fn get_caller_identity(account_id: &str, ctx: &Ctx) -> Value {
    match &ctx.principal {
        Principal::Root => json!({
            "IdentityType": "Account",
            "AccountId": account_id,
            "UserId": account_id,
            "PrincipalId": account_id,
            "Arn": format!("acs:ram::{account_id}:root"),
        }),
        Principal::User { user_name } => {
            let id = user_id(account_id, user_name);
            json!({
                "IdentityType": "RAMUser",
                "AccountId": account_id,
                "UserId": id,
                "PrincipalId": id,
                "Arn": format!("acs:ram::{account_id}:user/{user_name}"),
            })
        }
        Principal::Role {
            role_arn,
            session_name,
        } => {
            let (account, role) = role_arn
                .strip_prefix("acs:ram::")
                .and_then(|rest| rest.split_once(":role/"))
                .unwrap_or((account_id, role_arn.as_str()));
            let id = role_id(account, role);
            json!({
                "IdentityType": "AssumedRoleUser",
                "AccountId": account,
                "RoleId": id,
                "PrincipalId": format!("{id}:{session_name}"),
                "Arn": format!("acs:ram::{account}:assumed-role/{role}/{session_name}"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_role_ids_are_eighteen_digits_and_stable() {
        for (id, first) in [
            (user_id("1234567890123456", "reimage"), '2'),
            (role_id("1234567890123456", "reimage"), '3'),
        ] {
            assert_eq!(id.len(), 18, "{id}");
            assert!(id.starts_with(first), "{id}");
            assert!(id.chars().all(|c| c.is_ascii_digit()), "{id}");
        }
        let a = user_id("1234567890123456", "reimage");
        assert_eq!(a, user_id("1234567890123456", "reimage"));
        assert_ne!(a, user_id("1234567890123456", "ops"));
        assert_ne!(a, user_id("1234567890123457", "reimage"));
        assert_ne!(
            role_id("1234567890123456", "a"),
            role_id("1234567890123456", "b")
        );
    }
}
