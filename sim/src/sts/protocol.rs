//! STS AssumeRole on the wire.

use serde_json::{Value, json};

use super::errors;
use crate::ctx::Ctx;
use crate::error::RpcError;
use crate::keys::{IssuedToken, Keys, Principal};
use crate::params::Params;
use crate::seed::SeedRole;

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
    };
    let body = json!({
        "AssumedRoleUser": {
            "Arn": format!("{role_arn}/{session}"),
            "AssumedRoleId": format!("3{}{}:{session}", account_id, role.name.len()),
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
