//! Launch templates: CreateLaunchTemplate, CreateLaunchTemplateVersion,
//! DescribeLaunchTemplates, DescribeLaunchTemplateVersions, DeleteLaunchTemplate,
//! DeleteLaunchTemplateVersion and ModifyLaunchTemplateDefaultVersion (each operation's page,
//! e.g. <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describelaunchtemplateversions>).
//!
//! DescribeLaunchTemplateVersions lists the versions of **one** template, named by
//! `LaunchTemplateId` or `LaunchTemplateName` (one of them is required; there is no
//! `LaunchTemplateId.N`), with each version's `LaunchTemplateData` (its `ImageId` among them)
//! unless `DetailFlag` is false. Every image the region's templates name is therefore one
//! DescribeLaunchTemplates listing (50 a page) and one DescribeLaunchTemplateVersions per
//! template (a template holds at most 30 versions: one page of 50):
//! [`Ecs::launch_template_images`].

use serde::{Deserialize, Deserializer};

use super::super::error::{Error, RequestError};
use super::super::{Params, ResourceTags, RpcMethod, Tag, all_pages, lenient, validate};
use super::{Ecs, validate_description};

/// Most templates a region holds through the API (CreateLaunchTemplate).
pub const MAX_LAUNCH_TEMPLATES: usize = 30;
/// Most versions a template holds.
pub const MAX_LAUNCH_TEMPLATE_VERSIONS: usize = 30;
/// The page size the `_all` helpers ask for: DescribeLaunchTemplates and
/// DescribeLaunchTemplateVersions document none beyond the default of 10; 50 is what the
/// clouds' own tools page at.
pub const LAUNCH_TEMPLATE_PAGE_SIZE: u32 = 50;
/// Most `LaunchTemplateId.N` or `LaunchTemplateName.N` of DescribeLaunchTemplates.
pub const MAX_DESCRIBED_LAUNCH_TEMPLATES: usize = 100;
/// Most `DeleteVersion.N` of DeleteLaunchTemplateVersion.
pub const MAX_DELETED_VERSIONS: usize = 29;
/// Most `TemplateTag.N`.
pub const MAX_TEMPLATE_TAGS: usize = 20;

/// The template an operation acts on: `LaunchTemplateId` or `LaunchTemplateName`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchTemplateRef {
    /// `LaunchTemplateId` (`lt-…`).
    Id(String),
    /// `LaunchTemplateName`.
    Name(String),
}

impl Default for LaunchTemplateRef {
    fn default() -> Self {
        Self::Id(String::new())
    }
}

impl LaunchTemplateRef {
    fn put(&self, p: &mut Params) -> Result<(), RequestError> {
        match self {
            Self::Id(id) => {
                validate::non_empty("LaunchTemplateId", id)?;
                p.put("LaunchTemplateId", id);
            }
            Self::Name(name) => {
                validate_launch_template_name(name)?;
                p.put("LaunchTemplateName", name);
            }
        }
        Ok(())
    }
}

/// A template name as ECS takes it: 2 to 128 characters, starting with a letter, not with
/// `http://` or `https://`; letters, digits, `:`, `_` and `-`.
pub fn validate_launch_template_name(name: &str) -> Result<(), RequestError> {
    let err = |problem: String| Err(RequestError::new("LaunchTemplateName", problem));
    let count = name.chars().count();
    if !(2..=128).contains(&count) {
        return err(format!("is {count} characters long; must be 2 to 128"));
    }
    if !name.chars().next().is_some_and(char::is_alphabetic) {
        return err("must start with a letter".into());
    }
    if name.starts_with("http://") || name.starts_with("https://") {
        return err("must not start with http:// or https://".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_alphanumeric() || matches!(c, ':' | '_' | '-')))
    {
        return err(format!(
            "holds {bad:?}; only letters, digits, ':', '_' and '-' are allowed"
        ));
    }
    Ok(())
}

/// The launch parameters of a version, as CreateLaunchTemplate and
/// CreateLaunchTemplateVersion take them (those reimage sets; ECS checks none of them until
/// an instance is launched from the version).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchTemplateData {
    /// `ImageId`.
    pub image_id: Option<String>,
    /// `InstanceType`.
    pub instance_type: Option<String>,
    /// `SecurityGroupId` (one) or `SecurityGroupIds.N` (several).
    pub security_group_ids: Vec<String>,
    /// `VpcId`.
    pub vpc_id: Option<String>,
    /// `VSwitchId`.
    pub vswitch_id: Option<String>,
    /// `ZoneId`.
    pub zone_id: Option<String>,
    /// `SystemDisk.Category`.
    pub system_disk_category: Option<String>,
    /// `SystemDisk.Size`, GiB.
    pub system_disk_size: Option<u32>,
    /// `KeyPairName`.
    pub key_pair_name: Option<String>,
    /// `InstanceName`.
    pub instance_name: Option<String>,
    /// `VersionDescription` (2 to 256 characters).
    pub version_description: Option<String>,
}

impl LaunchTemplateData {
    fn put(&self, p: &mut Params) -> Result<(), RequestError> {
        validate::repeat_list(
            "SecurityGroupIds.N",
            &self.security_group_ids,
            self.security_group_ids.len(),
        )?;
        if let Some(d) = &self.version_description {
            validate_description(d)
                .map_err(|e| RequestError::new("VersionDescription", e.problem))?;
        }
        if let Some(size) = self.system_disk_size {
            if !(1..=super::MAX_SYSTEM_DISK_GIB).contains(&size) {
                return Err(RequestError::new(
                    "SystemDisk.Size",
                    format!("is {size} GiB; must be 1 to {}", super::MAX_SYSTEM_DISK_GIB),
                ));
            }
        }
        p.opt_str("ImageId", self.image_id.as_deref())
            .opt_str("InstanceType", self.instance_type.as_deref());
        if let [one] = self.security_group_ids.as_slice() {
            p.put("SecurityGroupId", one);
        } else {
            p.list("SecurityGroupIds", &self.security_group_ids);
        }
        p.opt_str("VpcId", self.vpc_id.as_deref())
            .opt_str("VSwitchId", self.vswitch_id.as_deref())
            .opt_str("ZoneId", self.zone_id.as_deref())
            .opt_str("SystemDisk.Category", self.system_disk_category.as_deref())
            .opt("SystemDisk.Size", self.system_disk_size)
            .opt_str("KeyPairName", self.key_pair_name.as_deref())
            .opt_str("InstanceName", self.instance_name.as_deref())
            .opt_str("VersionDescription", self.version_description.as_deref());
        Ok(())
    }
}

/// `TemplateTag.N.Key` / `.Value`.
fn put_template_tags(p: &mut Params, tags: &[Tag]) -> Result<(), RequestError> {
    if tags.len() > MAX_TEMPLATE_TAGS {
        return Err(RequestError::new(
            "TemplateTag.N",
            format!("{} tags; at most {MAX_TEMPLATE_TAGS}", tags.len()),
        ));
    }
    validate::tags(tags).map_err(|e| {
        RequestError::new(e.parameter.replacen("Tag.", "TemplateTag.", 1), e.problem)
    })?;
    for (i, t) in tags.iter().enumerate() {
        p.put(format!("TemplateTag.{}.Key", i + 1), &t.key);
        if !t.value.is_empty() {
            p.put(format!("TemplateTag.{}.Value", i + 1), &t.value);
        }
    }
    Ok(())
}

/// `CreateLaunchTemplate`: a template and its version 1, the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateLaunchTemplateRequest {
    /// `LaunchTemplateName` (required; see [`validate_launch_template_name`]).
    pub launch_template_name: String,
    /// `TemplateTag.N`: the template's own tags (at most 20).
    pub template_tags: Vec<Tag>,
    /// Version 1's parameters.
    pub data: LaunchTemplateData,
}

impl CreateLaunchTemplateRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate_launch_template_name(&self.launch_template_name)?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("LaunchTemplateName", &self.launch_template_name);
        put_template_tags(&mut p, &self.template_tags)?;
        self.data.put(&mut p)?;
        Ok(p)
    }
}

/// `CreateLaunchTemplate` and `CreateLaunchTemplateVersion` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateVersionCreated {
    /// `RequestId`.
    pub request_id: String,
    /// `LaunchTemplateId`.
    pub launch_template_id: String,
    /// `LaunchTemplateVersionNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub launch_template_version_number: i64,
}

/// `CreateLaunchTemplateVersion`: a new version of a template (numbered after its highest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateLaunchTemplateVersionRequest {
    /// The template.
    pub template: LaunchTemplateRef,
    /// The version's parameters.
    pub data: LaunchTemplateData,
}

impl CreateLaunchTemplateVersionRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        let mut p = Params::new();
        p.put("RegionId", region_id);
        self.template.put(&mut p)?;
        self.data.put(&mut p)?;
        Ok(p)
    }
}

/// `DescribeLaunchTemplates`: the region's templates, or those named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeLaunchTemplatesRequest {
    /// `LaunchTemplateId.N` (at most 100).
    pub launch_template_ids: Vec<String>,
    /// `LaunchTemplateName.N` (at most 100).
    pub launch_template_names: Vec<String>,
    /// `TemplateTag.N`: templates holding every one of these tags (an empty value: any).
    pub template_tags: Vec<Tag>,
    /// `PageNumber`.
    pub page_number: Option<u32>,
    /// `PageSize` (the client sends at most 50).
    pub page_size: Option<u32>,
}

impl DescribeLaunchTemplatesRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::repeat_list(
            "LaunchTemplateId.N",
            &self.launch_template_ids,
            MAX_DESCRIBED_LAUNCH_TEMPLATES,
        )?;
        validate::repeat_list(
            "LaunchTemplateName.N",
            &self.launch_template_names,
            MAX_DESCRIBED_LAUNCH_TEMPLATES,
        )?;
        validate::page_number(self.page_number)?;
        validate::page_size(self.page_size, LAUNCH_TEMPLATE_PAGE_SIZE)?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .list("LaunchTemplateId", &self.launch_template_ids)
            .list("LaunchTemplateName", &self.launch_template_names);
        put_template_tags(&mut p, &self.template_tags)?;
        p.opt("PageNumber", self.page_number)
            .opt("PageSize", self.page_size);
        Ok(p)
    }
}

/// `DescribeLaunchTemplates` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeLaunchTemplatesResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `TotalCount`.
    #[serde(deserialize_with = "lenient::number")]
    pub total_count: i64,
    /// `PageNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub page_number: i64,
    /// `PageSize`.
    #[serde(deserialize_with = "lenient::number")]
    pub page_size: i64,
    /// `LaunchTemplateSets`.
    pub launch_template_sets: LaunchTemplateSets,
}

/// `LaunchTemplateSets: {LaunchTemplateSet: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateSets {
    /// `LaunchTemplateSet`.
    pub launch_template_set: Vec<LaunchTemplateSet>,
}

/// One template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateSet {
    /// `LaunchTemplateId`.
    pub launch_template_id: String,
    /// `LaunchTemplateName`.
    pub launch_template_name: String,
    /// `DefaultVersionNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub default_version_number: i64,
    /// `LatestVersionNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub latest_version_number: i64,
    /// `CreateTime`.
    pub create_time: String,
    /// `ModifiedTime`.
    pub modified_time: String,
    /// `CreatedBy` (an account id, a number in the page's example).
    #[serde(deserialize_with = "lenient::string")]
    pub created_by: String,
    /// `Tags`: the template's own tags.
    pub tags: ResourceTags,
}

/// `DescribeLaunchTemplateVersions`: the versions of one template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeLaunchTemplateVersionsRequest {
    /// The template (required).
    pub template: LaunchTemplateRef,
    /// `LaunchTemplateVersion.N`: only these versions.
    pub versions: Vec<i64>,
    /// `MinVersion`.
    pub min_version: Option<i64>,
    /// `MaxVersion`.
    pub max_version: Option<i64>,
    /// `DefaultVersion`: only the default version.
    pub default_version: bool,
    /// `DetailFlag`: with each version's `LaunchTemplateData` (the cloud's default: true).
    pub detail_flag: Option<bool>,
    /// `PageNumber`.
    pub page_number: Option<u32>,
    /// `PageSize` (the client sends at most 50).
    pub page_size: Option<u32>,
}

impl DescribeLaunchTemplateVersionsRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        if let Some(bad) = self.versions.iter().find(|v| **v < 1) {
            return Err(RequestError::new(
                "LaunchTemplateVersion.N",
                format!("{bad} is not a version number (they start at 1)"),
            ));
        }
        for (name, bound) in [
            ("MinVersion", self.min_version),
            ("MaxVersion", self.max_version),
        ] {
            if bound.is_some_and(|v| v < 1) {
                return Err(RequestError::new(name, "version numbers start at 1"));
            }
        }
        validate::page_number(self.page_number)?;
        validate::page_size(self.page_size, LAUNCH_TEMPLATE_PAGE_SIZE)?;
        let mut p = Params::new();
        p.put("RegionId", region_id);
        self.template.put(&mut p)?;
        p.list("LaunchTemplateVersion", &self.versions)
            .opt("MinVersion", self.min_version)
            .opt("MaxVersion", self.max_version)
            .opt("DefaultVersion", self.default_version.then_some(true))
            .opt("DetailFlag", self.detail_flag)
            .opt("PageNumber", self.page_number)
            .opt("PageSize", self.page_size);
        Ok(p)
    }
}

/// `DescribeLaunchTemplateVersions` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeLaunchTemplateVersionsResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `TotalCount`: the versions that match.
    #[serde(deserialize_with = "lenient::number")]
    pub total_count: i64,
    /// `PageNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub page_number: i64,
    /// `PageSize`.
    #[serde(deserialize_with = "lenient::number")]
    pub page_size: i64,
    /// `LaunchTemplateVersionSets`.
    pub launch_template_version_sets: LaunchTemplateVersionSets,
}

/// `LaunchTemplateVersionSets: {LaunchTemplateVersionSet: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateVersionSets {
    /// `LaunchTemplateVersionSet`.
    pub launch_template_version_set: Vec<LaunchTemplateVersionSet>,
}

/// One version of a template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateVersionSet {
    /// `LaunchTemplateId`.
    pub launch_template_id: String,
    /// `LaunchTemplateName`.
    pub launch_template_name: String,
    /// `VersionNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub version_number: i64,
    /// `DefaultVersion`.
    #[serde(deserialize_with = "lenient::boolean")]
    pub default_version: bool,
    /// `VersionDescription`.
    pub version_description: String,
    /// `CreateTime`.
    pub create_time: String,
    /// `ModifiedTime`.
    pub modified_time: String,
    /// `CreatedBy`.
    #[serde(deserialize_with = "lenient::string")]
    pub created_by: String,
    /// `LaunchTemplateData` (absent with `DetailFlag=false`).
    pub launch_template_data: LaunchTemplateVersionData,
}

/// `LaunchTemplateData` of a version: the parameters reimage reads. ECS names the system
/// disk's with a dot (`SystemDisk.Size`), as its example shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateVersionData {
    /// `ImageId`: empty when the version names none.
    pub image_id: String,
    /// `ImageOwnerAlias`.
    pub image_owner_alias: String,
    /// `InstanceType`.
    pub instance_type: String,
    /// `SecurityGroupId`.
    pub security_group_id: String,
    /// `SecurityGroupIds.SecurityGroupId[]`.
    pub security_group_ids: SecurityGroupIds,
    /// `VpcId`.
    pub vpc_id: String,
    /// `VSwitchId`.
    #[serde(rename = "VSwitchId")]
    pub vswitch_id: String,
    /// `ZoneId`.
    pub zone_id: String,
    /// `SystemDisk.Category`.
    #[serde(rename = "SystemDisk.Category")]
    pub system_disk_category: String,
    /// `SystemDisk.Size`, GiB (0 when the version sets none).
    #[serde(rename = "SystemDisk.Size", deserialize_with = "lenient::number")]
    pub system_disk_size: i64,
    /// `KeyPairName`.
    pub key_pair_name: String,
}

/// `SecurityGroupIds: {SecurityGroupId: [...]}`; the page's example nests each id in a list
/// of its own, which is read flat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SecurityGroupIds {
    /// `SecurityGroupId`.
    #[serde(deserialize_with = "flat_strings")]
    pub security_group_id: Vec<String>,
}

/// A list of strings, or of lists of strings (flattened).
fn flat_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Item {
        One(String),
        Many(Vec<String>),
    }
    let items: Option<Vec<Item>> = Option::deserialize(d)?;
    Ok(items
        .unwrap_or_default()
        .into_iter()
        .flat_map(|i| match i {
            Item::One(s) => vec![s],
            Item::Many(v) => v,
        })
        .collect())
}

/// `DeleteLaunchTemplate`: the template and every version of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteLaunchTemplateRequest {
    /// The template.
    pub template: LaunchTemplateRef,
}

impl DeleteLaunchTemplateRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        let mut p = Params::new();
        p.put("RegionId", region_id);
        self.template.put(&mut p)?;
        Ok(p)
    }
}

/// `DeleteLaunchTemplate` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteLaunchTemplateResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `LaunchTemplateId`.
    pub launch_template_id: String,
    /// `LaunchTemplateVersionNumbers`: the versions deleted with it.
    pub launch_template_version_numbers: VersionNumbers,
}

/// `LaunchTemplateVersionNumbers: {versionNumbers: [...]}` (lower case, as documented).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct VersionNumbers {
    /// `versionNumbers`.
    #[serde(rename = "versionNumbers")]
    pub version_numbers: Vec<i64>,
}

/// `DeleteLaunchTemplateVersion`: some versions of a template, never its default one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteLaunchTemplateVersionRequest {
    /// The template.
    pub template: LaunchTemplateRef,
    /// `DeleteVersion.N` (1 to 29).
    pub versions: Vec<i64>,
}

impl DeleteLaunchTemplateVersionRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        if self.versions.is_empty() || self.versions.len() > MAX_DELETED_VERSIONS {
            return Err(RequestError::new(
                "DeleteVersion.N",
                format!(
                    "holds {} versions; 1 to {MAX_DELETED_VERSIONS} per call",
                    self.versions.len()
                ),
            ));
        }
        if let Some(bad) = self.versions.iter().find(|v| **v < 1) {
            return Err(RequestError::new(
                "DeleteVersion.N",
                format!("{bad} is not a version number (they start at 1)"),
            ));
        }
        let mut p = Params::new();
        p.put("RegionId", region_id);
        self.template.put(&mut p)?;
        p.list("DeleteVersion", &self.versions);
        Ok(p)
    }
}

/// `DeleteLaunchTemplateVersion` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteLaunchTemplateVersionResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `LaunchTemplateVersions`: the versions deleted.
    pub launch_template_versions: DeletedVersions,
}

/// `LaunchTemplateVersions: {LaunchTemplateVersion: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeletedVersions {
    /// `LaunchTemplateVersion`.
    pub launch_template_version: Vec<DeletedVersion>,
}

/// One deleted version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeletedVersion {
    /// `LaunchTemplateId`.
    pub launch_template_id: String,
    /// `LaunchTemplateVersionNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub launch_template_version_number: i64,
}

/// `ModifyLaunchTemplateDefaultVersion`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModifyLaunchTemplateDefaultVersionRequest {
    /// The template.
    pub template: LaunchTemplateRef,
    /// `DefaultVersionNumber` (required, from 1).
    pub default_version_number: i64,
}

impl ModifyLaunchTemplateDefaultVersionRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        if self.default_version_number < 1 {
            return Err(RequestError::new(
                "DefaultVersionNumber",
                "version numbers start at 1",
            ));
        }
        let mut p = Params::new();
        p.put("RegionId", region_id);
        self.template.put(&mut p)?;
        p.put("DefaultVersionNumber", self.default_version_number);
        Ok(p)
    }
}

/// `ModifyLaunchTemplateDefaultVersion` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ModifyLaunchTemplateDefaultVersionResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `LaunchTemplateId`.
    pub launch_template_id: String,
}

/// One version of one template of the region and the image it launches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchTemplateImage {
    /// The template.
    pub launch_template_id: String,
    /// Its name.
    pub launch_template_name: String,
    /// The version.
    pub version_number: i64,
    /// Whether it is the template's default version.
    pub default_version: bool,
    /// The image it names (`LaunchTemplateData.ImageId`); empty when it names none.
    pub image_id: String,
}

impl Ecs<'_> {
    /// `CreateLaunchTemplate`.
    pub async fn create_launch_template(
        &self,
        req: &CreateLaunchTemplateRequest,
    ) -> Result<LaunchTemplateVersionCreated, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "CreateLaunchTemplate", params)
            .await
    }

    /// `CreateLaunchTemplateVersion`.
    pub async fn create_launch_template_version(
        &self,
        req: &CreateLaunchTemplateVersionRequest,
    ) -> Result<LaunchTemplateVersionCreated, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "CreateLaunchTemplateVersion", params)
            .await
    }

    /// `DescribeLaunchTemplates` (one page).
    pub async fn describe_launch_templates(
        &self,
        req: &DescribeLaunchTemplatesRequest,
    ) -> Result<DescribeLaunchTemplatesResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeLaunchTemplates", params)
            .await
    }

    /// Every template `DescribeLaunchTemplates` answers for `req`, 50 a page.
    pub async fn describe_launch_templates_all(
        &self,
        req: &DescribeLaunchTemplatesRequest,
    ) -> Result<Vec<LaunchTemplateSet>, Error> {
        all_pages(|page| async move {
            let r = DescribeLaunchTemplatesRequest {
                page_number: Some(page),
                page_size: Some(LAUNCH_TEMPLATE_PAGE_SIZE),
                ..req.clone()
            };
            let answer = self.describe_launch_templates(&r).await?;
            Ok((
                answer.launch_template_sets.launch_template_set,
                answer.total_count,
            ))
        })
        .await
    }

    /// `DescribeLaunchTemplateVersions` (one page).
    pub async fn describe_launch_template_versions(
        &self,
        req: &DescribeLaunchTemplateVersionsRequest,
    ) -> Result<DescribeLaunchTemplateVersionsResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeLaunchTemplateVersions", params)
            .await
    }

    /// Every version `DescribeLaunchTemplateVersions` answers for `req`, 50 a page.
    pub async fn describe_launch_template_versions_all(
        &self,
        req: &DescribeLaunchTemplateVersionsRequest,
    ) -> Result<Vec<LaunchTemplateVersionSet>, Error> {
        all_pages(|page| async move {
            let r = DescribeLaunchTemplateVersionsRequest {
                page_number: Some(page),
                page_size: Some(LAUNCH_TEMPLATE_PAGE_SIZE),
                ..req.clone()
            };
            let answer = self.describe_launch_template_versions(&r).await?;
            Ok((
                answer
                    .launch_template_version_sets
                    .launch_template_version_set,
                answer.total_count,
            ))
        })
        .await
    }

    /// Every version of every template of the region with the image it names: the region's
    /// templates (DescribeLaunchTemplates, 50 a page), then each one's versions with their
    /// `LaunchTemplateData` (DescribeLaunchTemplateVersions, one call per template: its at
    /// most 30 versions fit a page of 50). A template deleted between the two calls
    /// (`InvalidLaunchTemplate.NotFound`) has no versions left to count.
    pub async fn launch_template_images(&self) -> Result<Vec<LaunchTemplateImage>, Error> {
        let templates = self
            .describe_launch_templates_all(&DescribeLaunchTemplatesRequest::default())
            .await?;
        let mut out = Vec::new();
        for template in templates {
            let versions = match self
                .describe_launch_template_versions_all(&DescribeLaunchTemplateVersionsRequest {
                    template: LaunchTemplateRef::Id(template.launch_template_id.clone()),
                    detail_flag: Some(true),
                    ..Default::default()
                })
                .await
            {
                Ok(versions) => versions,
                Err(e) if e.code() == Some("InvalidLaunchTemplate.NotFound") => continue,
                Err(e) => return Err(e),
            };
            out.extend(versions.into_iter().map(|v| LaunchTemplateImage {
                launch_template_id: template.launch_template_id.clone(),
                launch_template_name: template.launch_template_name.clone(),
                version_number: v.version_number,
                default_version: v.default_version,
                image_id: v.launch_template_data.image_id,
            }));
        }
        Ok(out)
    }

    /// `DeleteLaunchTemplate`.
    pub async fn delete_launch_template(
        &self,
        req: &DeleteLaunchTemplateRequest,
    ) -> Result<DeleteLaunchTemplateResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "DeleteLaunchTemplate", params)
            .await
    }

    /// `DeleteLaunchTemplateVersion`.
    pub async fn delete_launch_template_version(
        &self,
        req: &DeleteLaunchTemplateVersionRequest,
    ) -> Result<DeleteLaunchTemplateVersionResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "DeleteLaunchTemplateVersion", params)
            .await
    }

    /// `ModifyLaunchTemplateDefaultVersion`.
    pub async fn modify_launch_template_default_version(
        &self,
        req: &ModifyLaunchTemplateDefaultVersionRequest,
    ) -> Result<ModifyLaunchTemplateDefaultVersionResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(
            RpcMethod::Post,
            "ModifyLaunchTemplateDefaultVersion",
            params,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> LaunchTemplateData {
        LaunchTemplateData {
            image_id: Some("m-1".into()),
            instance_type: Some("ecs.g7.large".into()),
            security_group_ids: vec!["sg-1".into()],
            vswitch_id: Some("vsw-1".into()),
            system_disk_category: Some("cloud_essd".into()),
            system_disk_size: Some(40),
            version_description: Some("web v1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn create_sends_the_name_tags_and_the_versions_parameters() {
        let p = CreateLaunchTemplateRequest {
            launch_template_name: "web".into(),
            template_tags: vec![Tag::new("team", "web"), Tag::new("spare", "")],
            data: data(),
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        for (name, want) in [
            ("RegionId", "cn-hangzhou"),
            ("LaunchTemplateName", "web"),
            ("TemplateTag.1.Key", "team"),
            ("TemplateTag.1.Value", "web"),
            ("TemplateTag.2.Key", "spare"),
            ("ImageId", "m-1"),
            ("InstanceType", "ecs.g7.large"),
            ("SecurityGroupId", "sg-1"),
            ("VSwitchId", "vsw-1"),
            ("SystemDisk.Category", "cloud_essd"),
            ("SystemDisk.Size", "40"),
            ("VersionDescription", "web v1"),
        ] {
            assert_eq!(p.get(name), Some(want), "{name}");
        }
        assert_eq!(p.get("TemplateTag.2.Value"), None);
        let refused =
            |req: CreateLaunchTemplateRequest| req.to_params("r").expect_err("refused").parameter;
        for bad in ["1web", "a", "web template", "http://x"] {
            assert_eq!(
                refused(CreateLaunchTemplateRequest {
                    launch_template_name: bad.into(),
                    ..Default::default()
                }),
                "LaunchTemplateName",
                "{bad}"
            );
        }
        assert_eq!(
            refused(CreateLaunchTemplateRequest {
                launch_template_name: "web".into(),
                template_tags: vec![Tag::new("acs:x", "")],
                ..Default::default()
            }),
            "TemplateTag.1.Key"
        );
        assert_eq!(
            refused(CreateLaunchTemplateRequest {
                launch_template_name: "web".into(),
                data: LaunchTemplateData {
                    version_description: Some("x".into()),
                    ..Default::default()
                },
                ..Default::default()
            }),
            "VersionDescription"
        );
    }

    #[test]
    fn versions_are_asked_of_one_template_by_id_or_name() {
        let p = DescribeLaunchTemplateVersionsRequest {
            template: LaunchTemplateRef::Id("lt-1".into()),
            versions: vec![1, 3],
            detail_flag: Some(true),
            default_version: true,
            page_size: Some(50),
            ..Default::default()
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        for (name, want) in [
            ("LaunchTemplateId", "lt-1"),
            ("LaunchTemplateVersion.1", "1"),
            ("LaunchTemplateVersion.2", "3"),
            ("DetailFlag", "true"),
            ("DefaultVersion", "true"),
            ("PageSize", "50"),
        ] {
            assert_eq!(p.get(name), Some(want), "{name}");
        }
        assert_eq!(p.get("LaunchTemplateName"), None);
        let p = DescribeLaunchTemplateVersionsRequest {
            template: LaunchTemplateRef::Name("web".into()),
            ..Default::default()
        }
        .to_params("r")
        .expect("by name");
        assert_eq!(
            (p.get("LaunchTemplateName"), p.get("DefaultVersion")),
            (Some("web"), None)
        );
        let refused = |req: DescribeLaunchTemplateVersionsRequest| {
            req.to_params("r").expect_err("refused").parameter
        };
        assert_eq!(
            refused(DescribeLaunchTemplateVersionsRequest::default()),
            "LaunchTemplateId"
        );
        assert_eq!(
            refused(DescribeLaunchTemplateVersionsRequest {
                template: LaunchTemplateRef::Id("lt-1".into()),
                page_size: Some(51),
                ..Default::default()
            }),
            "PageSize"
        );
        assert_eq!(
            refused(DescribeLaunchTemplateVersionsRequest {
                template: LaunchTemplateRef::Id("lt-1".into()),
                versions: vec![0],
                ..Default::default()
            }),
            "LaunchTemplateVersion.N"
        );
    }

    #[test]
    fn listing_deleting_and_the_default_version_send_the_documented_names() {
        let p = DescribeLaunchTemplatesRequest {
            launch_template_ids: vec!["lt-1".into(), "lt-2".into()],
            launch_template_names: vec!["web".into()],
            template_tags: vec![Tag::new("team", "web")],
            page_number: Some(2),
            page_size: Some(50),
        }
        .to_params("r")
        .expect("valid");
        for (name, want) in [
            ("LaunchTemplateId.1", "lt-1"),
            ("LaunchTemplateId.2", "lt-2"),
            ("LaunchTemplateName.1", "web"),
            ("TemplateTag.1.Key", "team"),
            ("TemplateTag.1.Value", "web"),
            ("PageNumber", "2"),
        ] {
            assert_eq!(p.get(name), Some(want), "{name}");
        }
        let many = DescribeLaunchTemplatesRequest {
            launch_template_ids: (0..101).map(|n| format!("lt-{n}")).collect(),
            ..Default::default()
        };
        assert_eq!(
            many.to_params("r").unwrap_err().parameter,
            "LaunchTemplateId.N"
        );
        let p = DeleteLaunchTemplateVersionRequest {
            template: LaunchTemplateRef::Name("web".into()),
            versions: vec![2, 3],
        }
        .to_params("r")
        .expect("valid");
        assert_eq!(
            (p.get("DeleteVersion.1"), p.get("DeleteVersion.2")),
            (Some("2"), Some("3"))
        );
        let none = DeleteLaunchTemplateVersionRequest {
            template: LaunchTemplateRef::Name("web".into()),
            versions: Vec::new(),
        };
        assert_eq!(
            none.to_params("r").unwrap_err().parameter,
            "DeleteVersion.N"
        );
        let p = ModifyLaunchTemplateDefaultVersionRequest {
            template: LaunchTemplateRef::Id("lt-1".into()),
            default_version_number: 2,
        }
        .to_params("r")
        .expect("valid");
        assert_eq!(p.get("DefaultVersionNumber"), Some("2"));
        let p = DeleteLaunchTemplateRequest {
            template: LaunchTemplateRef::Id("lt-1".into()),
        }
        .to_params("r")
        .expect("valid");
        assert_eq!(p.get("LaunchTemplateId"), Some("lt-1"));
    }

    #[test]
    fn answers_read_the_documented_nesting() {
        let r: DescribeLaunchTemplateVersionsResponse = serde_json::from_str(
            r#"{"PageSize":10,"RequestId":"R","PageNumber":1,"TotalCount":1,
            "LaunchTemplateVersionSets":{"LaunchTemplateVersionSet":[{"LaunchTemplateName":"web",
              "DefaultVersion":true,"VersionNumber":1,"LaunchTemplateId":"lt-1","CreatedBy":123456789,
              "LaunchTemplateData":{"ImageId":"m-1","SystemDisk.Size":40,"SystemDisk.Category":"cloud_ssd",
                "SecurityGroupIds":{"SecurityGroupId":[["sg-1"]]},"VSwitchId":"vsw-1","Unknown":{"x":1}}}]}}"#,
        )
        .expect("parses");
        let v = &r.launch_template_version_sets.launch_template_version_set[0];
        assert!(v.default_version);
        assert_eq!(v.created_by, "123456789");
        let d = &v.launch_template_data;
        assert_eq!(
            (
                d.image_id.as_str(),
                d.system_disk_size,
                d.system_disk_category.as_str()
            ),
            ("m-1", 40, "cloud_ssd")
        );
        assert_eq!(d.security_group_ids.security_group_id, ["sg-1"]);
        assert_eq!(d.vswitch_id, "vsw-1");
        let r: DeleteLaunchTemplateResponse = serde_json::from_str(
            r#"{"RequestId":"R","LaunchTemplateId":"lt-1","LaunchTemplateVersionNumbers":{"versionNumbers":[1,2]}}"#,
        )
        .expect("parses");
        assert_eq!(r.launch_template_version_numbers.version_numbers, [1, 2]);
        let r: DescribeLaunchTemplatesResponse = serde_json::from_str(
            r#"{"TotalCount":1,"LaunchTemplateSets":{"LaunchTemplateSet":[{"LaunchTemplateId":"lt-1",
              "DefaultVersionNumber":1,"LatestVersionNumber":"3","Tags":{"Tag":[{"TagKey":"k","TagValue":"v"}]}}]}}"#,
        )
        .expect("parses");
        let t = &r.launch_template_sets.launch_template_set[0];
        assert_eq!((t.default_version_number, t.latest_version_number), (1, 3));
        assert_eq!(t.tags.tag[0].tag_key, "k");
    }
}
