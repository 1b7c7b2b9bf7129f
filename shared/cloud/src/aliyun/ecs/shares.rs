//! Who the account's images are shared with: ModifyImageSharePermission and
//! DescribeImageSharePermission
//! (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-modifyimagesharepermission>,
//! <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeimagesharepermission>).
//!
//! An image is shared with at most 50 accounts, ten added or removed a call, or published to
//! every account as a community image (`IsPublic`). DeleteImage refuses a shared image
//! (`ImageUseShared`, `Force` or not) and a published one (`ImageIsPublic`).

use serde::Deserialize;

use super::super::error::{Error, RequestError};
use super::super::{Params, RpcMethod, all_pages, lenient, validate};
use super::{Acknowledged, Ecs};

/// Most accounts one ModifyImageSharePermission adds (or removes): ECS ignores the others.
pub const MAX_SHARE_ACCOUNTS_PER_CALL: usize = 10;
/// Most accounts an image is shared with.
pub const MAX_SHARED_ACCOUNTS: usize = 50;
/// Largest `PageSize` of DescribeImageSharePermission (the `_all` helper's).
pub const MAX_SHARE_PAGE_SIZE: u32 = 100;

/// An account id: digits.
fn check_accounts(name: &str, accounts: &[String]) -> Result<(), RequestError> {
    validate::repeat_list(name, accounts, MAX_SHARE_ACCOUNTS_PER_CALL)?;
    if let Some(bad) = accounts
        .iter()
        .find(|a| !a.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(RequestError::new(
            name,
            format!("{bad:?} is not an account id (digits)"),
        ));
    }
    Ok(())
}

/// `ModifyImageSharePermission`: adds and removes accounts, or publishes or unpublishes the
/// image as a community image (`is_public`, which goes with no account).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModifyImageSharePermissionRequest {
    /// `ImageId` (required): one of the account's own images.
    pub image_id: String,
    /// `AddAccount.N` (at most 10).
    pub add_accounts: Vec<String>,
    /// `RemoveAccount.N` (at most 10).
    pub remove_accounts: Vec<String>,
    /// `IsPublic`: publish (true) or unpublish (false) as a community image.
    pub is_public: Option<bool>,
}

impl ModifyImageSharePermissionRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::non_empty("ImageId", &self.image_id)?;
        check_accounts("AddAccount.N", &self.add_accounts)?;
        check_accounts("RemoveAccount.N", &self.remove_accounts)?;
        let accounts = !self.add_accounts.is_empty() || !self.remove_accounts.is_empty();
        match (self.is_public, accounts) {
            (Some(_), true) => {
                return Err(RequestError::new(
                    "IsPublic",
                    "cannot go with AddAccount.N or RemoveAccount.N",
                ));
            }
            (None, false) => {
                return Err(RequestError::new(
                    "AddAccount.N",
                    "at least one account to add or remove, or IsPublic",
                ));
            }
            _ => {}
        }
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("ImageId", &self.image_id)
            .list("AddAccount", &self.add_accounts)
            .list("RemoveAccount", &self.remove_accounts)
            .opt("IsPublic", self.is_public);
        Ok(p)
    }
}

/// `DescribeImageSharePermission`: one page of the accounts an image is shared with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeImageSharePermissionRequest {
    /// `ImageId` (required).
    pub image_id: String,
    /// `PageNumber`.
    pub page_number: Option<u32>,
    /// `PageSize` (1 to 100).
    pub page_size: Option<u32>,
}

impl DescribeImageSharePermissionRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::non_empty("ImageId", &self.image_id)?;
        validate::page_number(self.page_number)?;
        validate::page_size(self.page_size, MAX_SHARE_PAGE_SIZE)?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("ImageId", &self.image_id)
            .opt("PageNumber", self.page_number)
            .opt("PageSize", self.page_size);
        Ok(p)
    }
}

/// `DescribeImageSharePermission` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeImageSharePermissionResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `RegionId`.
    pub region_id: String,
    /// `ImageId`.
    pub image_id: String,
    /// `TotalCount`: the accounts the image is shared with.
    #[serde(deserialize_with = "lenient::number")]
    pub total_count: i64,
    /// `PageNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub page_number: i64,
    /// `PageSize`.
    #[serde(deserialize_with = "lenient::number")]
    pub page_size: i64,
    /// `ShareGroups`: `all` when the image is published as a community image.
    pub share_groups: ShareGroups,
    /// `Accounts`.
    pub accounts: SharedAccounts,
}

/// `ShareGroups: {ShareGroup: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ShareGroups {
    /// `ShareGroup`.
    pub share_group: Vec<ShareGroup>,
}

/// One group the image is shared with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ShareGroup {
    /// `Group`: `all`.
    pub group: String,
}

/// `Accounts: {Account: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SharedAccounts {
    /// `Account`.
    pub account: Vec<SharedAccount>,
}

/// One account the image is shared with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SharedAccount {
    /// `AliyunId` (a string, a number in the page's example).
    #[serde(deserialize_with = "lenient::string")]
    pub aliyun_id: String,
    /// `SharedTime`.
    pub shared_time: String,
}

/// Everyone an image is shared with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSharing {
    /// The accounts.
    pub accounts: Vec<SharedAccount>,
    /// The groups: `all` for a community image.
    pub groups: Vec<String>,
}

impl ImageSharing {
    /// Whether the image is shared with anyone, or published.
    pub fn is_shared(&self) -> bool {
        !self.accounts.is_empty() || !self.groups.is_empty()
    }
}

impl Ecs<'_> {
    /// `ModifyImageSharePermission`.
    pub async fn modify_image_share_permission(
        &self,
        req: &ModifyImageSharePermissionRequest,
    ) -> Result<Acknowledged, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "ModifyImageSharePermission", params)
            .await
    }

    /// `DescribeImageSharePermission` (one page).
    pub async fn describe_image_share_permission(
        &self,
        req: &DescribeImageSharePermissionRequest,
    ) -> Result<DescribeImageSharePermissionResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeImageSharePermission", params)
            .await
    }

    /// Every account and group the image `image_id` is shared with, 100 a page.
    pub async fn image_sharing(&self, image_id: &str) -> Result<ImageSharing, Error> {
        let groups = std::sync::Mutex::new(Vec::new());
        let accounts = all_pages(|page| {
            let groups = &groups;
            async move {
                let answer = self
                    .describe_image_share_permission(&DescribeImageSharePermissionRequest {
                        image_id: image_id.to_owned(),
                        page_number: Some(page),
                        page_size: Some(MAX_SHARE_PAGE_SIZE),
                    })
                    .await?;
                if page == 1 {
                    *groups
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = answer
                        .share_groups
                        .share_group
                        .into_iter()
                        .map(|g| g.group)
                        .collect();
                }
                Ok((answer.accounts.account, answer.total_count))
            }
        })
        .await?;
        Ok(ImageSharing {
            accounts,
            groups: groups
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_go_as_add_and_remove_lists_or_the_image_is_published() {
        let p = ModifyImageSharePermissionRequest {
            image_id: "m-1".into(),
            add_accounts: vec!["1234567890123456".into(), "2234567890123456".into()],
            remove_accounts: vec!["3234567890123456".into()],
            is_public: None,
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        for (name, want) in [
            ("RegionId", "cn-hangzhou"),
            ("ImageId", "m-1"),
            ("AddAccount.1", "1234567890123456"),
            ("AddAccount.2", "2234567890123456"),
            ("RemoveAccount.1", "3234567890123456"),
        ] {
            assert_eq!(p.get(name), Some(want), "{name}");
        }
        assert_eq!(p.get("IsPublic"), None);
        let p = ModifyImageSharePermissionRequest {
            image_id: "m-1".into(),
            is_public: Some(false),
            ..Default::default()
        }
        .to_params("r")
        .expect("unpublish");
        assert_eq!(p.get("IsPublic"), Some("false"));
        let refused = |req: ModifyImageSharePermissionRequest| {
            req.to_params("r").expect_err("refused").parameter
        };
        let image = || ModifyImageSharePermissionRequest {
            image_id: "m-1".into(),
            ..Default::default()
        };
        assert_eq!(refused(image()), "AddAccount.N");
        assert_eq!(
            refused(ModifyImageSharePermissionRequest {
                add_accounts: (0..11).map(|n| format!("{n}")).collect(),
                ..image()
            }),
            "AddAccount.N"
        );
        assert_eq!(
            refused(ModifyImageSharePermissionRequest {
                remove_accounts: vec!["me".into()],
                ..image()
            }),
            "RemoveAccount.N"
        );
        assert_eq!(
            refused(ModifyImageSharePermissionRequest {
                add_accounts: vec!["1".into()],
                is_public: Some(true),
                ..image()
            }),
            "IsPublic"
        );
        assert_eq!(
            refused(ModifyImageSharePermissionRequest {
                image_id: String::new(),
                add_accounts: vec!["1".into()],
                ..Default::default()
            }),
            "ImageId"
        );
    }

    #[test]
    fn describing_pages_at_most_100_and_reads_accounts_and_groups() {
        let p = DescribeImageSharePermissionRequest {
            image_id: "m-1".into(),
            page_number: Some(2),
            page_size: Some(100),
        }
        .to_params("r")
        .expect("valid");
        assert_eq!(
            (p.get("ImageId"), p.get("PageNumber"), p.get("PageSize")),
            (Some("m-1"), Some("2"), Some("100"))
        );
        let e = DescribeImageSharePermissionRequest {
            image_id: "m-1".into(),
            page_size: Some(101),
            ..Default::default()
        }
        .to_params("r")
        .expect_err("too big");
        assert_eq!(e.parameter, "PageSize");
        let r: DescribeImageSharePermissionResponse = serde_json::from_str(
            r#"{"RequestId":"R","PageNumber":1,"PageSize":10,"TotalCount":1,"ImageId":"m-1","RegionId":"cn-hangzhou",
            "ShareGroups":{"ShareGroup":[{"Group":"all"}]},
            "Accounts":{"Account":[{"AliyunId":1234567890,"SharedTime":"2023-01-01T12:05:00Z"}]}}"#,
        )
        .expect("parses");
        assert_eq!(r.accounts.account[0].aliyun_id, "1234567890");
        assert_eq!(r.share_groups.share_group[0].group, "all");
        assert_eq!(r.total_count, 1);
    }
}
