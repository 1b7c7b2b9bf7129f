//! Sharing the account's images: ModifyImageSharePermission and DescribeImageSharePermission
//! (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-modifyimagesharepermission>,
//! <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeimagesharepermission>).
//!
//! An image is shared with accounts (`AddAccount.N`, `RemoveAccount.N`, at most
//! [`MAX_SHARED_ACCOUNTS`] in all) or published as a community image (`IsPublic=true`).
//! The sim holds no other accounts: any id of digits is taken as an account that exists.
//! DescribeImages shows a shared image as `IsSelfShared` `"True"` and a published one as
//! `IsPublic` `true`; DeleteImage refuses both (`super::state`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::errors;
use super::protocol::iso;
use super::state::Ecs;
use crate::ctx::Ctx;
use crate::error::RpcError;
use crate::params::{Params, page};

/// Most accounts one call adds or removes ("If you specify more than 10 Alibaba Cloud account
/// IDs, the system processes only the first 10").
pub const MAX_ACCOUNTS_PER_CALL: usize = 10;
/// Most accounts an image is shared with.
pub const MAX_SHARED_ACCOUNTS: usize = 50;
/// Largest `PageSize` of DescribeImageSharePermission.
pub const MAX_PAGE_SIZE: i64 = 100;

/// A list index far beyond the documented limit: the accounts past the first ten are
/// ignored, as documented, up to this index; past it the index is malformed.
const INDEX_CEILING: usize = 1000;

/// Who an image is shared with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImageShares {
    /// Accounts and when the image was shared with each, in that order.
    pub accounts: Vec<(String, DateTime<Utc>)>,
    /// Published as a community image (`ShareGroups.ShareGroup[].Group` `all`).
    pub public: bool,
}

/// An account id the sim takes: 1 to 20 digits.
pub fn account_ok(account: &str) -> bool {
    (1..=20).contains(&account.len()) && account.bytes().all(|b| b.is_ascii_digit())
}

impl Ecs {
    /// The account's image `id`; a public image, or none, is 404 `InvalidImageId.NotFound`.
    fn own_image(&self, id: &str) -> Result<(), RpcError> {
        self.images
            .iter()
            .any(|m| m.image_id == id && m.owner_alias == "self")
            .then_some(())
            .ok_or_else(|| errors::image_not_found(id))
    }

    /// Whether the image `id` is shared with any account.
    pub fn is_shared(&self, id: &str) -> bool {
        self.shares.get(id).is_some_and(|s| !s.accounts.is_empty())
    }

    /// Whether the image `id` is publicly available: a public (`system`) image, or one of the
    /// account's published as a community image.
    pub fn is_public(&self, image: &super::state::Image) -> bool {
        image.owner_alias == "system" || self.shares.get(&image.image_id).is_some_and(|s| s.public)
    }

    /// Removes then adds accounts to the image's shares, all or nothing: an account that is
    /// not an id is 404 `InvalidAccount.NotFound`, the account itself 404
    /// `InvalidAccount.Forbbiden`, more than [`MAX_SHARED_ACCOUNTS`] in all 403
    /// `QuotaExceed.ShareImageUser`, any account on a community image 403 `Image.Public`.
    /// Removing an account the image is not shared with, or adding one it is, changes
    /// nothing.
    pub fn share_image(
        &mut self,
        image_id: &str,
        add: &[&str],
        remove: &[&str],
        now: DateTime<Utc>,
    ) -> Result<(), RpcError> {
        self.own_image(image_id)?;
        for account in add.iter().chain(remove) {
            if !account_ok(account) {
                return Err(errors::account_not_found(account));
            }
            if *account == self.account_id {
                return Err(errors::account_is_self());
            }
        }
        let mut shares = self.shares.get(image_id).cloned().unwrap_or_default();
        if shares.public && !add.is_empty() {
            return Err(errors::image_public());
        }
        shares
            .accounts
            .retain(|(a, _)| !remove.contains(&a.as_str()));
        for account in add {
            if !shares.accounts.iter().any(|(a, _)| a == account) {
                shares.accounts.push(((*account).to_owned(), now));
            }
        }
        if shares.accounts.len() > MAX_SHARED_ACCOUNTS {
            return Err(errors::share_quota(MAX_SHARED_ACCOUNTS));
        }
        self.set_shares(image_id, shares);
        Ok(())
    }

    /// Publishes the image as a community image, or unpublishes it (403 `Image.NotPublic`
    /// if it is not one).
    pub fn publish_image(&mut self, image_id: &str, public: bool) -> Result<(), RpcError> {
        self.own_image(image_id)?;
        let mut shares = self.shares.get(image_id).cloned().unwrap_or_default();
        if !public && !shares.public {
            return Err(errors::image_not_public());
        }
        shares.public = public;
        self.set_shares(image_id, shares);
        Ok(())
    }

    fn set_shares(&mut self, image_id: &str, shares: ImageShares) {
        if shares == ImageShares::default() {
            self.shares.remove(image_id);
        } else {
            self.shares.insert(image_id.to_owned(), shares);
        }
    }
}

/// `AddAccount.N` or `RemoveAccount.N`: the first ten, repeats counted once.
fn accounts<'a>(p: &'a Params, name: &str) -> Result<Vec<&'a str>, RpcError> {
    let mut out: Vec<&str> = Vec::new();
    for account in p.list(name, INDEX_CEILING)? {
        if out.len() == MAX_ACCOUNTS_PER_CALL {
            break;
        }
        if !out.contains(&account) {
            out.push(account);
        }
    }
    Ok(out)
}

/// ModifyImageSharePermission: `AddAccount.N` / `RemoveAccount.N`, or `IsPublic`.
/// `LaunchPermission` is in invitational preview: with accounts 400
/// `UnnecessaryParameter.LaunchPermission`, alone 400 `ForbiddenParameter.LaunchPermission`;
/// `IsPublic` with accounts is 403 `InvalidParameter.IsPublic`. Answers only `RequestId`.
pub fn modify_image_share_permission(
    ecs: &mut Ecs,
    p: &Params,
    ctx: &Ctx,
) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let image_id = p.required("ImageId")?;
    let add = accounts(p, "AddAccount")?;
    let remove = accounts(p, "RemoveAccount")?;
    let with_accounts = !add.is_empty() || !remove.is_empty();
    if p.get("LaunchPermission").is_some() {
        return Err(if with_accounts {
            errors::launch_permission_unnecessary()
        } else {
            errors::launch_permission_forbidden()
        });
    }
    let public = p
        .get("IsPublic")
        .map(|_| p.bool("IsPublic", false))
        .transpose()?;
    match public {
        Some(_) if with_accounts => Err(errors::is_public_conflict()),
        Some(public) => ecs.publish_image(image_id, public),
        None => ecs.share_image(image_id, &add, &remove, ctx.now),
    }?;
    Ok(json!({}))
}

/// DescribeImageSharePermission: the accounts the image is shared with, in the order they
/// were added (`PageSize` 1 to 100), and `ShareGroups` (`all` for a community image).
pub fn describe_image_share_permission(
    ecs: &Ecs,
    p: &Params,
    ctx: &Ctx,
) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let image_id = p.required("ImageId")?;
    let (number, size) = p.paging(MAX_PAGE_SIZE)?;
    ecs.own_image(image_id)?;
    let shares = ecs.shares.get(image_id).cloned().unwrap_or_default();
    let total = shares.accounts.len();
    let accounts: Vec<Value> = page(shares.accounts, number, size)
        .into_iter()
        .map(|(account, at)| json!({"AliyunId": account, "SharedTime": iso(at)}))
        .collect();
    let groups: Vec<Value> = if shares.public {
        vec![json!({"Group": "all"})]
    } else {
        Vec::new()
    };
    Ok(json!({
        "RegionId": ctx.region_id,
        "ImageId": image_id,
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
        "ShareGroups": {"ShareGroup": groups},
        "Accounts": {"Account": accounts},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_digits() {
        assert!(account_ok("1234567890123456"));
        for bad in ["", "12a4", "-1", &"1".repeat(21)] {
            assert!(!account_ok(bad), "{bad}");
        }
    }

    #[test]
    fn only_the_first_ten_accounts_count_and_repeats_once() {
        let pairs: Vec<(String, String)> = (1..=12)
            .map(|n| (format!("AddAccount.{n}"), format!("{}", 100 + n % 11)))
            .collect();
        let p = Params::from_strs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let got = accounts(&p, "AddAccount").unwrap();
        assert_eq!(got.len(), 10);
        assert_eq!(got[0], "101");
        assert_eq!(got[9], "110");
    }
}
