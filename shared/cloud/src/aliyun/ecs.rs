//! ECS (API version 2014-05-26): the operations reimage uses, with the cloud's exact
//! parameter names and answer nesting (`Images.Image[]`, `Disks.Disk[]`, …).
//!
//! Describe operations are sent as `GET`, the others as `POST`; both are signed with the
//! method used. Answers ignore fields reimage does not read, and missing optional fields take
//! their defaults. Each request checks itself before it is sent.

use serde::{Deserialize, Serialize};

mod assistant;
mod image_types;
mod instance_types;
mod launch;
mod power;
mod shares;
mod tags;
mod templates;
pub use assistant::*;
pub use image_types::*;
pub use instance_types::*;
pub use launch::*;
pub use power::*;
pub use shares::*;
pub use tags::*;
pub use templates::*;

use super::error::{Error, RequestError};
use super::{Client, Params, ResourceTags, RpcMethod, Service, Tag, all_pages, lenient, validate};

/// Checks an image name the way ECS does (`InvalidImageName.Malformed` otherwise): 2 to 128
/// characters; starts with a letter (ASCII or Chinese); holds only letters, digits, `:`, `_`
/// and `-`; does not start with `http://` or `https://`.
///
/// The ECS error description also mentions periods, the parameter description does not;
/// reimage follows the parameter description and refuses `.` (the stricter reading), so a
/// name it accepts is accepted by the cloud either way.
pub fn validate_image_name(name: &str) -> Result<(), RequestError> {
    let err = |problem: &str| Err(RequestError::new("ImageName", problem));
    let count = name.chars().count();
    if !(2..=128).contains(&count) {
        return err(&format!("is {count} characters long; must be 2 to 128"));
    }
    if name.starts_with("http://") || name.starts_with("https://") {
        return err("must not start with http:// or https://");
    }
    let is_chinese = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
    let first = name.chars().next().unwrap_or(' ');
    if !(first.is_ascii_alphabetic() || is_chinese(first)) {
        return err("must start with a letter");
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || is_chinese(c) || matches!(c, ':' | '_' | '-')))
    {
        return err(&format!(
            "holds {bad:?}; only letters, digits, ':', '_' and '-' are allowed"
        ));
    }
    Ok(())
}

/// A snapshot name as ECS takes it: 2 to 128 characters, starts with a letter, not with
/// `auto` nor `http://`/`https://`; letters, digits, `:`, `_`, `.` and `-`.
pub fn validate_snapshot_name(name: &str) -> Result<(), RequestError> {
    let err = |problem: &str| Err(RequestError::new("SnapshotName", problem));
    let count = name.chars().count();
    if !(2..=128).contains(&count) {
        return err(&format!("is {count} characters long; must be 2 to 128"));
    }
    if name.starts_with("auto") {
        return err("must not start with `auto`");
    }
    if !name.chars().next().is_some_and(char::is_alphabetic) {
        return err("must start with a letter");
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_alphanumeric() || matches!(c, ':' | '_' | '.' | '-')))
    {
        return err(&format!("holds {bad:?}"));
    }
    Ok(())
}

/// A `Description`: 2 to 256 characters, not starting with `http://` or `https://`.
pub fn validate_description(description: &str) -> Result<(), RequestError> {
    let count = description.chars().count();
    if !(2..=256).contains(&count) {
        return Err(RequestError::new(
            "Description",
            format!("is {count} characters long; must be 2 to 256"),
        ));
    }
    if description.starts_with("http://") || description.starts_with("https://") {
        return Err(RequestError::new(
            "Description",
            "must not start with http:// or https://",
        ));
    }
    Ok(())
}

/// The status of an instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InstanceStatus {
    /// Just created.
    Pending,
    /// Running.
    Running,
    /// Starting.
    Starting,
    /// Stopping.
    Stopping,
    /// Stopped.
    Stopped,
    /// A status reimage does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

/// The status of a custom image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ImageStatus {
    /// Being made.
    Creating,
    /// Queued.
    Waiting,
    /// Ready.
    Available,
    /// Not usable.
    UnAvailable,
    /// The build failed.
    CreateFailed,
    /// Retired.
    Deprecated,
    /// A status reimage does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl ImageStatus {
    /// Every status the cloud reports: pass it to see images in any state.
    pub const ALL: [ImageStatus; 6] = [
        ImageStatus::Creating,
        ImageStatus::Waiting,
        ImageStatus::Available,
        ImageStatus::UnAvailable,
        ImageStatus::CreateFailed,
        ImageStatus::Deprecated,
    ];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageStatus::Creating => "Creating",
            ImageStatus::Waiting => "Waiting",
            ImageStatus::Available => "Available",
            ImageStatus::UnAvailable => "UnAvailable",
            ImageStatus::CreateFailed => "CreateFailed",
            ImageStatus::Deprecated => "Deprecated",
            ImageStatus::Unknown => "Unknown",
        }
    }
}

/// The status of a snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotStatus {
    /// Being made.
    Progressing,
    /// Done.
    Accomplished,
    /// Failed.
    Failed,
    /// Filter value: any status.
    All,
    /// A status reimage does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl SnapshotStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotStatus::Progressing => "progressing",
            SnapshotStatus::Accomplished => "accomplished",
            SnapshotStatus::Failed => "failed",
            SnapshotStatus::All => "all",
            SnapshotStatus::Unknown => "unknown",
        }
    }
}

/// System or data disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskType {
    /// Filter value: both.
    All,
    /// The system disk.
    System,
    /// A data disk.
    Data,
    /// A type reimage does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl DiskType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskType::All => "all",
            DiskType::System => "system",
            DiskType::Data => "data",
            DiskType::Unknown => "unknown",
        }
    }
}

// ---------------------------------------------------------------------------------------
// DescribeInstances

/// `DescribeInstances`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeInstancesRequest {
    /// `InstanceIds`, sent as a JSON-array string (at most 100).
    pub instance_ids: Vec<String>,
    /// `Status`.
    pub status: Option<InstanceStatus>,
    /// `Tag.N.Key` / `Tag.N.Value` (at most 20): instances holding every one of these tags.
    pub tags: Vec<Tag>,
    /// `PageNumber` (from 1).
    pub page_number: Option<u32>,
    /// `PageSize` (at most 100).
    pub page_size: Option<u32>,
}

impl DescribeInstancesRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        let mut p = Params::new();
        p.put("RegionId", region_id);
        p.opt(
            "InstanceIds",
            validate::json_ids("InstanceIds", &self.instance_ids)?,
        );
        if let Some(s) = self.status {
            if s == InstanceStatus::Unknown {
                return Err(RequestError::new("Status", "Unknown is not a filter value"));
            }
            p.put("Status", format!("{s:?}"));
        }
        validate::tags(&self.tags)?;
        p.tags(&self.tags);
        validate::page_number(self.page_number)?;
        validate::page_size(self.page_size, 100)?;
        p.opt("PageNumber", self.page_number);
        p.opt("PageSize", self.page_size);
        Ok(p)
    }
}

/// `DescribeInstances` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInstancesResponse {
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
    /// `Instances`.
    pub instances: Instances,
}

/// `Instances: {Instance: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Instances {
    /// `Instance`.
    pub instance: Vec<Instance>,
}

/// One instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Instance {
    /// `InstanceId`.
    pub instance_id: String,
    /// `InstanceName`.
    pub instance_name: String,
    /// `Status`.
    pub status: InstanceStatus,
    /// `ImageId`: the image it was created from.
    pub image_id: String,
    /// `InstanceType`.
    pub instance_type: String,
    /// `RegionId`.
    pub region_id: String,
    /// `ZoneId`.
    pub zone_id: String,
    /// `ResourceGroupId`.
    pub resource_group_id: String,
    /// `OperationLocks`.
    pub operation_locks: OperationLocks,
    /// `Tags`.
    pub tags: ResourceTags,
}

/// `OperationLocks: {LockReason: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct OperationLocks {
    /// `LockReason`.
    pub lock_reason: Vec<LockReason>,
}

/// One lock on an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LockReason {
    /// `LockReason` (`security`, `financial`, …).
    pub lock_reason: String,
    /// `LockMsg`.
    pub lock_msg: String,
}

// ---------------------------------------------------------------------------------------
// DescribeDisks

/// `DescribeDisks`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeDisksRequest {
    /// `InstanceId`.
    pub instance_id: Option<String>,
    /// `DiskType`.
    pub disk_type: Option<DiskType>,
    /// `DiskIds`, sent as a JSON-array string (at most 100).
    pub disk_ids: Vec<String>,
    /// `PageNumber`.
    pub page_number: Option<u32>,
    /// `PageSize` (at most 100).
    pub page_size: Option<u32>,
}

impl DescribeDisksRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        let mut p = Params::new();
        p.put("RegionId", region_id);
        p.opt_str("InstanceId", self.instance_id.as_deref());
        if let Some(t) = self.disk_type {
            if t == DiskType::Unknown {
                return Err(RequestError::new("DiskType", "must be all, system or data"));
            }
            p.put("DiskType", t.as_str());
        }
        p.opt("DiskIds", validate::json_ids("DiskIds", &self.disk_ids)?);
        validate::page_number(self.page_number)?;
        validate::page_size(self.page_size, 100)?;
        p.opt("PageNumber", self.page_number);
        p.opt("PageSize", self.page_size);
        Ok(p)
    }
}

/// `DescribeDisks` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeDisksResponse {
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
    /// `Disks`.
    pub disks: Disks,
}

/// `Disks: {Disk: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Disks {
    /// `Disk`.
    pub disk: Vec<Disk>,
}

/// One disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Disk {
    /// `DiskId`.
    pub disk_id: String,
    /// `DiskName`.
    pub disk_name: String,
    /// `Type`: system or data.
    #[serde(rename = "Type")]
    pub disk_type: DiskType,
    /// `Status` (`In_use`, `Available`, …).
    pub status: String,
    /// `Category` (`cloud_essd`, …).
    pub category: String,
    /// `Size` in GiB.
    #[serde(deserialize_with = "lenient::number")]
    pub size: i64,
    /// `InstanceId` (when attached).
    pub instance_id: String,
    /// `Device`.
    pub device: String,
    /// `ImageId`.
    pub image_id: String,
    /// `SourceSnapshotId`: the snapshot the disk was created from (empty: none).
    pub source_snapshot_id: String,
    /// `ZoneId`.
    pub zone_id: String,
    /// `CreationTime`.
    pub creation_time: String,
}

// ---------------------------------------------------------------------------------------
// CreateSnapshot / DescribeSnapshots / DeleteSnapshot

/// `CreateSnapshot`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateSnapshotRequest {
    /// `DiskId` (required).
    pub disk_id: String,
    /// `SnapshotName`.
    pub snapshot_name: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// `Tag.N.Key` / `Tag.N.Value`.
    pub tags: Vec<Tag>,
    /// `ClientToken` (at most 64 ASCII characters): the same token gives the same snapshot.
    pub client_token: Option<String>,
}

impl CreateSnapshotRequest {
    /// The request's parameters, after checking them. `CreateSnapshot` takes no `RegionId`
    /// beyond the disk's; it is sent anyway, as the official SDKs do.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::non_empty("DiskId", &self.disk_id)?;
        if let Some(n) = &self.snapshot_name {
            validate_snapshot_name(n)?;
        }
        if let Some(d) = &self.description {
            validate_description(d)?;
        }
        validate::tags(&self.tags)?;
        validate::client_token(self.client_token.as_deref())?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("DiskId", &self.disk_id)
            .opt_str("SnapshotName", self.snapshot_name.as_deref())
            .opt_str("Description", self.description.as_deref())
            .tags(&self.tags)
            .opt_str("ClientToken", self.client_token.as_deref());
        Ok(p)
    }
}

/// `CreateSnapshot` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateSnapshotResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `SnapshotId`.
    pub snapshot_id: String,
}

/// What was made from a snapshot (`Usage` of DescribeSnapshots).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnapshotUsage {
    /// `image`: custom images hold it (DeleteSnapshot refuses: `SnapshotCreatedImage`).
    Image,
    /// `disk`: disks were created from it (DeleteSnapshot refuses without `Force`:
    /// `SnapshotCreatedDisk`).
    Disk,
    /// `image_disk`: both.
    ImageDisk,
    /// `none`: nothing.
    None,
}

impl SnapshotUsage {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Disk => "disk",
            Self::ImageDisk => "image_disk",
            Self::None => "none",
        }
    }
}

/// `DescribeSnapshots`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeSnapshotsRequest {
    /// `SnapshotIds`, sent as a JSON-array string (at most 100).
    pub snapshot_ids: Vec<String>,
    /// `DiskId`.
    pub disk_id: Option<String>,
    /// `InstanceId`.
    pub instance_id: Option<String>,
    /// `SnapshotName`.
    pub snapshot_name: Option<String>,
    /// `Status`.
    pub status: Option<SnapshotStatus>,
    /// `Usage`: only snapshots with this use.
    pub usage: Option<SnapshotUsage>,
    /// `Tag.N.Key` / `Tag.N.Value` filters.
    pub tags: Vec<Tag>,
    /// `PageNumber`.
    pub page_number: Option<u32>,
    /// `PageSize` (at most 100).
    pub page_size: Option<u32>,
}

impl DescribeSnapshotsRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        let mut p = Params::new();
        p.put("RegionId", region_id);
        p.opt(
            "SnapshotIds",
            validate::json_ids("SnapshotIds", &self.snapshot_ids)?,
        );
        p.opt_str("DiskId", self.disk_id.as_deref())
            .opt_str("InstanceId", self.instance_id.as_deref())
            .opt_str("SnapshotName", self.snapshot_name.as_deref());
        if let Some(s) = self.status {
            if s == SnapshotStatus::Unknown {
                return Err(RequestError::new("Status", "Unknown is not a filter value"));
            }
            p.put("Status", s.as_str());
        }
        p.opt("Usage", self.usage.map(SnapshotUsage::as_str));
        validate::tags(&self.tags)?;
        p.tags(&self.tags);
        validate::page_number(self.page_number)?;
        validate::page_size(self.page_size, 100)?;
        p.opt("PageNumber", self.page_number);
        p.opt("PageSize", self.page_size);
        Ok(p)
    }
}

/// `DescribeSnapshots` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeSnapshotsResponse {
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
    /// `Snapshots`.
    pub snapshots: Snapshots,
}

/// `Snapshots: {Snapshot: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Snapshots {
    /// `Snapshot`.
    pub snapshot: Vec<Snapshot>,
}

/// One snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Snapshot {
    /// `SnapshotId`.
    pub snapshot_id: String,
    /// `SnapshotName`.
    pub snapshot_name: String,
    /// `Status`.
    pub status: SnapshotStatus,
    /// `Progress`, like `"45%"`.
    #[serde(deserialize_with = "lenient::string")]
    pub progress: String,
    /// `SourceDiskId`.
    pub source_disk_id: String,
    /// `SourceDiskType`.
    pub source_disk_type: String,
    /// `SourceDiskSize` in GiB (a string on the wire).
    #[serde(deserialize_with = "lenient::string")]
    pub source_disk_size: String,
    /// `CreationTime`.
    pub creation_time: String,
    /// `Usage`: `image`, `disk`, `image_disk` or `none` (what was made from it).
    pub usage: String,
    /// `Tags`.
    pub tags: ResourceTags,
}

impl Snapshot {
    /// `Progress` as a number from 0 to 100.
    pub fn progress_percent(&self) -> Option<u8> {
        super::parse_progress(&self.progress)
    }
}

/// `DeleteSnapshot`. A snapshot images hold is refused (`SnapshotCreatedImage`, 403), `Force`
/// or not; one disks were created from is refused without `Force` (`SnapshotCreatedDisk`,
/// 403).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteSnapshotRequest {
    /// `SnapshotId` (required).
    pub snapshot_id: String,
    /// `Force`: also when disks were created from it (they can no longer be re-initialised).
    pub force: Option<bool>,
}

impl DeleteSnapshotRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self) -> Result<Params, RequestError> {
        validate::non_empty("SnapshotId", &self.snapshot_id)?;
        let mut p = Params::new();
        p.put("SnapshotId", &self.snapshot_id)
            .opt("Force", self.force);
        Ok(p)
    }
}

/// An answer holding only `RequestId`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Acknowledged {
    /// `RequestId`.
    pub request_id: String,
}

// ---------------------------------------------------------------------------------------
// CreateImage / DescribeImages / DeleteImage

/// `DiskDeviceMapping.N.*` of `CreateImage`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskDeviceMappingRequest {
    /// `SnapshotId`.
    pub snapshot_id: Option<String>,
    /// `Size` in GiB.
    pub size: Option<u32>,
    /// `Device` (`/dev/xvda` for the system disk).
    pub device: Option<String>,
    /// `DiskType`: system or data.
    pub disk_type: Option<DiskType>,
}

/// `CreateImage`. At least one source (`InstanceId`, `SnapshotId` or `DiskDeviceMapping`)
/// is required; when several are given the cloud uses the first of those three.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateImageRequest {
    /// `InstanceId`: image every disk of this instance.
    pub instance_id: Option<String>,
    /// `SnapshotId`: image this system-disk snapshot.
    pub snapshot_id: Option<String>,
    /// `DiskDeviceMapping.N.*`.
    pub disk_device_mappings: Vec<DiskDeviceMappingRequest>,
    /// `ImageName` (see [`validate_image_name`]).
    pub image_name: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// `Tag.N.Key` / `Tag.N.Value`.
    pub tags: Vec<Tag>,
    /// `ClientToken`: the same token and parameters give the same image.
    pub client_token: Option<String>,
}

impl CreateImageRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        let has = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        if !has(&self.instance_id)
            && !has(&self.snapshot_id)
            && self.disk_device_mappings.is_empty()
        {
            return Err(RequestError::new(
                "InstanceId",
                "is required unless SnapshotId or DiskDeviceMapping is given",
            ));
        }
        if let Some(n) = &self.image_name {
            validate_image_name(n)?;
        }
        if let Some(d) = &self.description {
            validate_description(d)?;
        }
        validate::tags(&self.tags)?;
        validate::client_token(self.client_token.as_deref())?;
        if self.disk_device_mappings.len() > 17 {
            return Err(RequestError::new(
                "DiskDeviceMapping.N",
                "at most one system and 16 data disk mappings",
            ));
        }
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .opt_str("InstanceId", self.instance_id.as_deref())
            .opt_str("SnapshotId", self.snapshot_id.as_deref());
        for (i, m) in self.disk_device_mappings.iter().enumerate() {
            let n = i + 1;
            if m.disk_type == Some(DiskType::Unknown) || m.disk_type == Some(DiskType::All) {
                return Err(RequestError::new(
                    format!("DiskDeviceMapping.{n}.DiskType"),
                    "must be system or data",
                ));
            }
            p.opt_str(
                &format!("DiskDeviceMapping.{n}.SnapshotId"),
                m.snapshot_id.as_deref(),
            )
            .opt(&format!("DiskDeviceMapping.{n}.Size"), m.size)
            .opt_str(
                &format!("DiskDeviceMapping.{n}.Device"),
                m.device.as_deref(),
            )
            .opt(
                &format!("DiskDeviceMapping.{n}.DiskType"),
                m.disk_type.map(DiskType::as_str),
            );
        }
        p.opt_str("ImageName", self.image_name.as_deref())
            .opt_str("Description", self.description.as_deref())
            .tags(&self.tags)
            .opt_str("ClientToken", self.client_token.as_deref());
        Ok(p)
    }
}

/// `CreateImage` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateImageResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `ImageId` (`m-…`); the image starts out `Creating`.
    pub image_id: String,
}

/// Whether instances run from an image (`Usage` of DescribeImages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageUsage {
    /// `instance`: one or more instances run from it.
    Instance,
    /// `none`: no instance does.
    None,
}

impl ImageUsage {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instance => "instance",
            Self::None => "none",
        }
    }
}

/// `DescribeImages`. Without `status` the cloud shows only Available images.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeImagesRequest {
    /// `ImageId` (one id, or several comma-separated).
    pub image_id: Option<String>,
    /// `ImageName` (the cloud matches it loosely).
    pub image_name: Option<String>,
    /// `Status`, comma-joined.
    pub status: Vec<ImageStatus>,
    /// `ImageOwnerAlias`: `system`, `self`, `others` or `marketplace`.
    pub image_owner_alias: Option<String>,
    /// `Usage`: only images instances run from (`instance`), or none does (`none`).
    pub usage: Option<ImageUsage>,
    /// `Tag.N.Key` / `Tag.N.Value` filters.
    pub tags: Vec<Tag>,
    /// `PageNumber`.
    pub page_number: Option<u32>,
    /// `PageSize` (at most 100).
    pub page_size: Option<u32>,
}

impl DescribeImagesRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .opt_str("ImageId", self.image_id.as_deref())
            .opt_str("ImageName", self.image_name.as_deref());
        if !self.status.is_empty() {
            if self.status.contains(&ImageStatus::Unknown) {
                return Err(RequestError::new("Status", "Unknown is not a filter value"));
            }
            let joined: Vec<&str> = self.status.iter().map(|s| s.as_str()).collect();
            p.put("Status", joined.join(","));
        }
        if let Some(alias) = self.image_owner_alias.as_deref().filter(|a| !a.is_empty()) {
            if !matches!(alias, "system" | "self" | "others" | "marketplace") {
                return Err(RequestError::new(
                    "ImageOwnerAlias",
                    format!("is {alias:?}; must be system, self, others or marketplace"),
                ));
            }
            p.put("ImageOwnerAlias", alias);
        }
        p.opt("Usage", self.usage.map(ImageUsage::as_str));
        validate::tags(&self.tags)?;
        p.tags(&self.tags);
        validate::page_number(self.page_number)?;
        validate::page_size(self.page_size, 100)?;
        p.opt("PageNumber", self.page_number);
        p.opt("PageSize", self.page_size);
        Ok(p)
    }
}

/// `DescribeImages` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeImagesResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `RegionId`.
    pub region_id: String,
    /// `TotalCount`.
    #[serde(deserialize_with = "lenient::number")]
    pub total_count: i64,
    /// `PageNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub page_number: i64,
    /// `PageSize`.
    #[serde(deserialize_with = "lenient::number")]
    pub page_size: i64,
    /// `Images`.
    pub images: Images,
}

/// `Images: {Image: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Images {
    /// `Image`.
    pub image: Vec<Image>,
}

/// One image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Image {
    /// `ImageId`.
    pub image_id: String,
    /// `ImageName`.
    pub image_name: String,
    /// `Description`.
    pub description: String,
    /// `Status`.
    pub status: ImageStatus,
    /// `Progress`, like `"45%"`.
    #[serde(deserialize_with = "lenient::string")]
    pub progress: String,
    /// `CreationTime`.
    pub creation_time: String,
    /// `Size` in GiB.
    #[serde(deserialize_with = "lenient::number")]
    pub size: i64,
    /// `ImageOwnerAlias`.
    pub image_owner_alias: String,
    /// `OSType`.
    #[serde(rename = "OSType")]
    pub os_type: String,
    /// `Architecture`.
    pub architecture: String,
    /// `Platform`, e.g. `Ubuntu`, `CentOS`, `Windows Server 2022`.
    pub platform: String,
    /// `BootMode`: `BIOS`, `UEFI` or `UEFI-Preferred` (dual boot); empty when the answer
    /// has none (the cloud's default for an imported image is `BIOS`, `UEFI` for `arm64`).
    pub boot_mode: String,
    /// `Usage`: `instance` when instances run from it, else `none` (DeleteImage refuses an
    /// image in use without `Force`: `ImageUsingByInstance`).
    pub usage: String,
    /// `IsPublic`: publicly available (a public image, or one published as a community
    /// image; DeleteImage refuses the latter: `ImageIsPublic`).
    #[serde(deserialize_with = "lenient::boolean")]
    pub is_public: bool,
    /// `IsSelfShared`: one of the account's images shared with other accounts (`"True"` on
    /// the wire; DeleteImage refuses it: `ImageUseShared`).
    #[serde(deserialize_with = "lenient::boolean")]
    pub is_self_shared: bool,
    /// `DiskDeviceMappings`.
    pub disk_device_mappings: DiskDeviceMappings,
    /// `Tags`.
    pub tags: ResourceTags,
}

impl Image {
    /// `Progress` as a number from 0 to 100.
    pub fn progress_percent(&self) -> Option<u8> {
        super::parse_progress(&self.progress)
    }
}

/// `DiskDeviceMappings: {DiskDeviceMapping: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiskDeviceMappings {
    /// `DiskDeviceMapping`.
    pub disk_device_mapping: Vec<DiskDeviceMapping>,
}

/// One disk of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiskDeviceMapping {
    /// `Device`.
    pub device: String,
    /// `Type`: system or data.
    #[serde(rename = "Type")]
    pub disk_type: DiskType,
    /// `SnapshotId`: absent (or empty) for a disk the image describes without a snapshot,
    /// such as an empty data disk added by `DiskDeviceMapping.N.Size` alone.
    #[serde(deserialize_with = "lenient::optional_string")]
    pub snapshot_id: Option<String>,
    /// `Size` in GiB (a string on the wire).
    #[serde(deserialize_with = "lenient::string")]
    pub size: String,
}

/// `DeleteImage`. Refused (403) for an image instances run from without `Force`
/// (`ImageUsingByInstance`), one shared with other accounts (`ImageUseShared`, `Force` or
/// not: unshare it first) and a community image (`ImageIsPublic`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteImageRequest {
    /// `ImageId` (required).
    pub image_id: String,
    /// `Force`: delete even if instances use it.
    pub force: Option<bool>,
}

impl DeleteImageRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::non_empty("ImageId", &self.image_id)?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("ImageId", &self.image_id)
            .opt("Force", self.force);
        Ok(p)
    }
}

// ---------------------------------------------------------------------------------------
// The client

/// ECS operations of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Ecs<'a> {
    client: &'a Client,
}

impl<'a> Ecs<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: RpcMethod,
        action: &str,
        params: Result<Params, RequestError>,
    ) -> Result<T, Error> {
        self.client
            .call_checked(Service::Ecs, method, action, params)
            .await
    }

    /// `DescribeInstances` (one page).
    pub async fn describe_instances(
        &self,
        req: &DescribeInstancesRequest,
    ) -> Result<DescribeInstancesResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeInstances", params).await
    }

    /// Every instance matching `req`, all pages.
    pub async fn describe_instances_all(
        &self,
        req: &DescribeInstancesRequest,
    ) -> Result<Vec<Instance>, Error> {
        all_pages(|page| async move {
            let r = DescribeInstancesRequest {
                page_number: Some(page),
                page_size: Some(100),
                ..req.clone()
            };
            let answer = self.describe_instances(&r).await?;
            Ok((answer.instances.instance, answer.total_count))
        })
        .await
    }

    /// `DescribeDisks` (one page).
    pub async fn describe_disks(
        &self,
        req: &DescribeDisksRequest,
    ) -> Result<DescribeDisksResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeDisks", params).await
    }

    /// Every disk matching `req`, all pages.
    pub async fn describe_disks_all(&self, req: &DescribeDisksRequest) -> Result<Vec<Disk>, Error> {
        all_pages(|page| async move {
            let r = DescribeDisksRequest {
                page_number: Some(page),
                page_size: Some(100),
                ..req.clone()
            };
            let answer = self.describe_disks(&r).await?;
            Ok((answer.disks.disk, answer.total_count))
        })
        .await
    }

    /// `CreateSnapshot`.
    pub async fn create_snapshot(
        &self,
        req: &CreateSnapshotRequest,
    ) -> Result<CreateSnapshotResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "CreateSnapshot", params).await
    }

    /// `DescribeSnapshots` (one page).
    pub async fn describe_snapshots(
        &self,
        req: &DescribeSnapshotsRequest,
    ) -> Result<DescribeSnapshotsResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeSnapshots", params).await
    }

    /// Every snapshot matching `req`, all pages.
    pub async fn describe_snapshots_all(
        &self,
        req: &DescribeSnapshotsRequest,
    ) -> Result<Vec<Snapshot>, Error> {
        all_pages(|page| async move {
            let r = DescribeSnapshotsRequest {
                page_number: Some(page),
                page_size: Some(100),
                ..req.clone()
            };
            let answer = self.describe_snapshots(&r).await?;
            Ok((answer.snapshots.snapshot, answer.total_count))
        })
        .await
    }

    /// `DeleteSnapshot`.
    pub async fn delete_snapshot(
        &self,
        req: &DeleteSnapshotRequest,
    ) -> Result<Acknowledged, Error> {
        self.call(RpcMethod::Post, "DeleteSnapshot", req.to_params())
            .await
    }

    /// `CreateImage`.
    pub async fn create_image(
        &self,
        req: &CreateImageRequest,
    ) -> Result<CreateImageResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "CreateImage", params).await
    }

    /// `DescribeImages` (one page).
    pub async fn describe_images(
        &self,
        req: &DescribeImagesRequest,
    ) -> Result<DescribeImagesResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeImages", params).await
    }

    /// Every image matching `req`, all pages.
    pub async fn describe_images_all(
        &self,
        req: &DescribeImagesRequest,
    ) -> Result<Vec<Image>, Error> {
        all_pages(|page| async move {
            let r = DescribeImagesRequest {
                page_number: Some(page),
                page_size: Some(100),
                ..req.clone()
            };
            let answer = self.describe_images(&r).await?;
            Ok((answer.images.image, answer.total_count))
        })
        .await
    }

    /// `DeleteImage`.
    pub async fn delete_image(&self, req: &DeleteImageRequest) -> Result<Acknowledged, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "DeleteImage", params).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_the_cloud_accepts_and_rejects() {
        for ok in [
            "ab",
            "web-app_on_exec-1_at_2026-11-27T10:00:00Z",
            "CreateImage_from_i-bp1",
            "镜像-web",
            &"a".repeat(128),
        ] {
            assert!(validate_image_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a",
            "",
            "1abc",
            "_abc",
            "-abc",
            "http://x",
            "https://x",
            "has space",
            "has.period",
            "slash/here",
            "star*",
            &"a".repeat(129),
        ] {
            let e = validate_image_name(bad).expect_err(bad);
            assert_eq!(e.parameter, "ImageName", "{bad}");
        }
    }

    #[test]
    fn create_image_needs_a_source_and_flattens_mappings_and_tags() {
        let e = CreateImageRequest::default()
            .to_params("cn-hangzhou")
            .expect_err("no source");
        assert_eq!(e.parameter, "InstanceId");
        let p = CreateImageRequest {
            snapshot_id: Some("s-1".into()),
            disk_device_mappings: vec![DiskDeviceMappingRequest {
                snapshot_id: Some("s-1".into()),
                size: Some(40),
                device: Some("/dev/xvda".into()),
                disk_type: Some(DiskType::System),
            }],
            image_name: Some("web-1".into()),
            tags: vec![Tag::new("reimage:task", "web")],
            client_token: Some("exec-1-create-image".into()),
            ..Default::default()
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        assert_eq!(p.get("RegionId"), Some("cn-hangzhou"));
        assert_eq!(p.get("SnapshotId"), Some("s-1"));
        assert_eq!(p.get("DiskDeviceMapping.1.SnapshotId"), Some("s-1"));
        assert_eq!(p.get("DiskDeviceMapping.1.Size"), Some("40"));
        assert_eq!(p.get("DiskDeviceMapping.1.Device"), Some("/dev/xvda"));
        assert_eq!(p.get("DiskDeviceMapping.1.DiskType"), Some("system"));
        assert_eq!(p.get("Tag.1.Key"), Some("reimage:task"));
        assert_eq!(p.get("Tag.1.Value"), Some("web"));
        assert_eq!(p.get("ClientToken"), Some("exec-1-create-image"));
        assert_eq!(p.get("InstanceId"), None);

        let e = CreateImageRequest {
            instance_id: Some("i-1".into()),
            image_name: Some("bad name".into()),
            ..Default::default()
        }
        .to_params("cn-hangzhou")
        .expect_err("bad name");
        assert_eq!(e.parameter, "ImageName");
        let e = CreateImageRequest {
            instance_id: Some("i-1".into()),
            client_token: Some("x".repeat(65)),
            ..Default::default()
        }
        .to_params("cn-hangzhou")
        .expect_err("long token");
        assert_eq!(e.parameter, "ClientToken");
    }

    #[test]
    fn describe_images_joins_status_and_checks_owner_alias() {
        let p = DescribeImagesRequest {
            image_name: Some("web".into()),
            status: vec![ImageStatus::Creating, ImageStatus::Available],
            image_owner_alias: Some("self".into()),
            tags: vec![Tag::new("team", "web")],
            page_size: Some(100),
            ..Default::default()
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        assert_eq!(p.get("Status"), Some("Creating,Available"));
        assert_eq!(p.get("ImageOwnerAlias"), Some("self"));
        assert_eq!(p.get("Tag.1.Key"), Some("team"));
        assert_eq!(p.get("PageSize"), Some("100"));
        let e = DescribeImagesRequest {
            image_owner_alias: Some("mine".into()),
            ..Default::default()
        }
        .to_params("r")
        .expect_err("bad alias");
        assert_eq!(e.parameter, "ImageOwnerAlias");
        let e = DescribeImagesRequest {
            page_size: Some(101),
            ..Default::default()
        }
        .to_params("r")
        .expect_err("page too big");
        assert_eq!(e.parameter, "PageSize");
    }

    #[test]
    fn usage_filters_and_the_answers_sharing_and_usage_fields() {
        let p = DescribeImagesRequest {
            image_owner_alias: Some("self".into()),
            usage: Some(ImageUsage::None),
            status: ImageStatus::ALL.to_vec(),
            page_size: Some(100),
            ..Default::default()
        }
        .to_params("r")
        .expect("valid");
        assert_eq!(p.get("Usage"), Some("none"));
        assert_eq!(
            p.get("Status"),
            Some("Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated")
        );
        let p = DescribeSnapshotsRequest {
            usage: Some(SnapshotUsage::ImageDisk),
            ..Default::default()
        }
        .to_params("r")
        .expect("valid");
        assert_eq!(p.get("Usage"), Some("image_disk"));
        assert_eq!(
            DeleteSnapshotRequest {
                snapshot_id: "s-1".into(),
                force: Some(true),
            }
            .to_params()
            .expect("valid")
            .get("Force"),
            Some("true")
        );
        let r: DescribeImagesResponse = serde_json::from_str(
            r#"{"Images":{"Image":[
              {"ImageId":"m-1","Usage":"instance","IsPublic":false,"IsSelfShared":"True","CreationTime":"2026-01-01T00:00:00Z"},
              {"ImageId":"ubuntu","Usage":"none","IsPublic":true,"IsSelfShared":""},
              {"ImageId":"m-2"}]}}"#,
        )
        .expect("parses");
        let shown: Vec<(&str, bool, bool)> = r
            .images
            .image
            .iter()
            .map(|m| (m.usage.as_str(), m.is_public, m.is_self_shared))
            .collect();
        assert_eq!(
            shown,
            [
                ("instance", false, true),
                ("none", true, false),
                ("", false, false)
            ]
        );
        let r: DescribeSnapshotsResponse = serde_json::from_str(
            r#"{"Snapshots":{"Snapshot":[{"SnapshotId":"s-1","Usage":"image_disk","CreationTime":"2026-01-01T00:00:00Z"}]}}"#,
        )
        .expect("parses");
        assert_eq!(r.snapshots.snapshot[0].usage, "image_disk");
        let r: DescribeDisksResponse = serde_json::from_str(
            r#"{"Disks":{"Disk":[{"DiskId":"d-1","SourceSnapshotId":"s-1"}]}}"#,
        )
        .expect("parses");
        assert_eq!(r.disks.disk[0].source_snapshot_id, "s-1");
    }

    #[test]
    fn json_array_filters_and_required_ids() {
        let p = DescribeInstancesRequest {
            instance_ids: vec!["i-a".into(), "i-b".into()],
            ..Default::default()
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        assert_eq!(p.get("InstanceIds"), Some(r#"["i-a","i-b"]"#));
        let p = DescribeDisksRequest {
            instance_id: Some("i-a".into()),
            disk_type: Some(DiskType::System),
            ..Default::default()
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        assert_eq!(p.get("DiskType"), Some("system"));
        assert_eq!(p.get("DiskIds"), None);
        let many: Vec<String> = (0..101).map(|i| format!("s-{i}")).collect();
        let e = DescribeSnapshotsRequest {
            snapshot_ids: many,
            ..Default::default()
        }
        .to_params("r")
        .expect_err("too many");
        assert_eq!(e.parameter, "SnapshotIds");
        assert_eq!(
            DeleteImageRequest::default()
                .to_params("r")
                .expect_err("no id")
                .parameter,
            "ImageId"
        );
        assert_eq!(
            DeleteSnapshotRequest::default()
                .to_params()
                .expect_err("no id")
                .parameter,
            "SnapshotId"
        );
        assert_eq!(
            CreateSnapshotRequest::default()
                .to_params("r")
                .expect_err("no disk")
                .parameter,
            "DiskId"
        );
        let e = CreateSnapshotRequest {
            disk_id: "d-1".into(),
            snapshot_name: Some("auto-x".into()),
            ..Default::default()
        }
        .to_params("r")
        .expect_err("reserved prefix");
        assert_eq!(e.parameter, "SnapshotName");
    }

    #[test]
    fn describe_images_answer_reads_the_documented_nesting() {
        let body = r#"{"RequestId":"R1","RegionId":"cn-hangzhou","TotalCount":1,"PageNumber":1,"PageSize":10,
          "Images":{"Image":[{"ImageId":"m-1","ImageName":"web","Status":"Creating","Progress":"45%",
            "CreationTime":"2019-11-15T06:07:05Z","Size":60,"ImageOwnerAlias":"self","OSType":"linux",
            "Platform":"Ubuntu","BootMode":"UEFI-Preferred","SomethingNew":{"x":1},
            "DiskDeviceMappings":{"DiskDeviceMapping":[{"Device":"/dev/xvda","Type":"system","SnapshotId":"s-1","Size":"60"}]},
            "Tags":{"Tag":[{"TagKey":"team","TagValue":"web"}]}}]}}"#;
        let r: DescribeImagesResponse = serde_json::from_str(body).expect("parses");
        assert_eq!(r.total_count, 1);
        let img = &r.images.image[0];
        assert_eq!(img.status, ImageStatus::Creating);
        assert_eq!(img.progress_percent(), Some(45));
        assert_eq!(img.os_type, "linux");
        assert_eq!(
            (img.platform.as_str(), img.boot_mode.as_str()),
            ("Ubuntu", "UEFI-Preferred")
        );
        assert_eq!(img.size, 60);
        let m = &img.disk_device_mappings.disk_device_mapping[0];
        assert_eq!((m.disk_type, m.size.as_str()), (DiskType::System, "60"));
        assert_eq!(m.snapshot_id.as_deref(), Some("s-1"));
        // A disk without a snapshot: SnapshotId absent, null or empty.
        for mapping in [
            r#"{"Device":"/dev/xvdb","Type":"data","Size":"20"}"#,
            r#"{"Device":"/dev/xvdb","Type":"data","SnapshotId":null,"Size":"20"}"#,
            r#"{"Device":"/dev/xvdb","Type":"data","SnapshotId":"","Size":"20"}"#,
        ] {
            let m: DiskDeviceMapping = serde_json::from_str(mapping).expect(mapping);
            assert_eq!((m.snapshot_id, m.size.as_str()), (None, "20"), "{mapping}");
        }
        assert_eq!(img.tags.tag[0].tag_value, "web");
        // Missing optional fields default; unknown statuses do not break parsing.
        let r: DescribeImagesResponse =
            serde_json::from_str(r#"{"Images":{"Image":[{"ImageId":"m-2","Status":"Exotic"}]}}"#)
                .expect("parses");
        assert_eq!(r.images.image[0].status, ImageStatus::Unknown);
        assert_eq!(r.images.image[0].description, "");
        assert_eq!(r.images.image[0].boot_mode, "");
    }

    #[test]
    fn describe_instances_filters_by_tags_and_reads_them() {
        let p = DescribeInstancesRequest {
            tags: vec![Tag::new("reimage:group", "web")],
            ..Default::default()
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        assert_eq!(
            (p.get("Tag.1.Key"), p.get("Tag.1.Value")),
            (Some("reimage:group"), Some("web"))
        );
        let e = DescribeInstancesRequest {
            tags: vec![Tag::new("aliyun-x", "")],
            ..Default::default()
        }
        .to_params("r")
        .expect_err("reserved prefix");
        assert_eq!(e.parameter, "Tag.1.Key");
        let r: DescribeInstancesResponse = serde_json::from_str(
            r#"{"Instances":{"Instance":[{"InstanceId":"i-1",
            "Tags":{"Tag":[{"TagKey":"team","TagValue":"web"}]}}]}}"#,
        )
        .expect("parses");
        assert_eq!(r.instances.instance[0].tags.tag[0].tag_key, "team");
    }

    #[test]
    fn instance_disk_and_snapshot_answers() {
        let r: DescribeInstancesResponse = serde_json::from_str(
            r#"{"TotalCount":"1","Instances":{"Instance":[{"InstanceId":"i-1","Status":"Stopped",
            "OperationLocks":{"LockReason":[{"LockReason":"security","LockMsg":"m"}]}}]}}"#,
        )
        .expect("parses");
        assert_eq!(r.total_count, 1);
        assert_eq!(r.instances.instance[0].status, InstanceStatus::Stopped);
        assert_eq!(
            r.instances.instance[0].operation_locks.lock_reason[0].lock_reason,
            "security"
        );
        let r: DescribeDisksResponse = serde_json::from_str(
            r#"{"Disks":{"Disk":[{"DiskId":"d-1","Type":"system","Size":40,"Status":"In_use"}]}}"#,
        )
        .expect("parses");
        assert_eq!(r.disks.disk[0].disk_type, DiskType::System);
        assert_eq!(r.disks.disk[0].size, 40);
        let r: DescribeSnapshotsResponse = serde_json::from_str(
            r#"{"Snapshots":{"Snapshot":[{"SnapshotId":"s-1","Status":"progressing","Progress":"30%","SourceDiskSize":40}]}}"#,
        )
        .expect("parses");
        let s = &r.snapshots.snapshot[0];
        assert_eq!(s.status, SnapshotStatus::Progressing);
        assert_eq!(s.progress_percent(), Some(30));
        assert_eq!(s.source_disk_size, "40");
    }
}
