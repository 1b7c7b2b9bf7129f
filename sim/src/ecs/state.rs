//! ECS resources and the rules the cloud enforces on them.
//!
//! Nothing here runs in the background: snapshots and images record when they were created
//! and when they will be ready, and their status and progress are computed from the sim's
//! clock whenever someone looks.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use super::errors;
pub use crate::ctx::Timing;
use crate::error::RpcError;
pub use crate::seed::ProgressProfile;

/// An instance status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum InstanceStatus {
    /// Just created.
    Pending,
    /// Starting.
    Starting,
    /// Running.
    Running,
    /// Stopping.
    Stopping,
    /// Stopped.
    Stopped,
}

impl InstanceStatus {
    /// The cloud's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Starting => "Starting",
            Self::Running => "Running",
            Self::Stopping => "Stopping",
            Self::Stopped => "Stopped",
        }
    }

    /// Parses the cloud's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Pending" => Self::Pending,
            "Starting" => Self::Starting,
            "Running" => Self::Running,
            "Stopping" => Self::Stopping,
            "Stopped" => Self::Stopped,
            _ => return None,
        })
    }
}

/// An ECS instance.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Instance {
    /// `i-…`.
    pub instance_id: String,
    /// Its name.
    pub instance_name: String,
    /// Its status.
    pub status: InstanceStatus,
    /// e.g. `ecs.g7.large`.
    pub instance_type: String,
    /// e.g. `cn-hangzhou-h`.
    pub zone_id: String,
    /// The image it runs.
    pub image_id: String,
    /// When it was created.
    pub creation_time: DateTime<Utc>,
    /// While `Stopping` or `Starting`: when it becomes `Stopped` or `Running`.
    pub settles_at: Option<DateTime<Utc>>,
    /// How it was stopped (`KeepCharging` or `StopCharging`) while it is stopped.
    pub stopped_mode: Option<String>,
    /// `OperationLocks.LockReason` values (`security`, `financial`, …).
    pub locks: Vec<String>,
    /// How many new system disks ReplaceSystemDisk gave it (a replayed ClientToken gives none).
    pub replacements: u32,
    /// The key pair bound by the last ReplaceSystemDisk that named one.
    pub key_pair_name: Option<String>,
}

/// A disk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Disk {
    /// `d-…`.
    pub disk_id: String,
    /// `system` or `data`.
    pub kind: String,
    /// e.g. `cloud_essd`.
    pub category: String,
    /// GiB.
    pub size: u32,
    /// The instance it is attached to (`In_use`), if any (`Available`).
    pub instance_id: Option<String>,
    /// e.g. `/dev/xvda`.
    pub device: String,
    /// The image the disk was created from.
    pub image_id: String,
    /// e.g. `cn-hangzhou-h`.
    pub zone_id: String,
    /// When it was created.
    pub creation_time: DateTime<Utc>,
    /// A system disk being put in by ReplaceSystemDisk is `ReIniting` until then.
    pub reiniting_until: Option<DateTime<Utc>>,
}

impl Disk {
    /// `ReIniting` while a replacement writes it, then `In_use`; `Available` when detached.
    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        if self.reiniting_until.is_some_and(|t| now < t) {
            "ReIniting"
        } else if self.instance_id.is_some() {
            "In_use"
        } else {
            "Available"
        }
    }
}

/// A snapshot of a disk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Snapshot {
    /// `s-…`.
    pub snapshot_id: String,
    /// Its name (may be empty).
    pub snapshot_name: String,
    /// Its description.
    pub description: String,
    /// The disk it was taken from.
    pub source_disk_id: String,
    /// That disk's size, GiB.
    pub source_disk_size: u32,
    /// `system` or `data`.
    pub source_disk_type: String,
    /// The instance the disk was attached to.
    pub instance_id: Option<String>,
    /// When it was created.
    pub creation_time: DateTime<Utc>,
    /// When it is accomplished.
    pub ready_at: DateTime<Utc>,
    /// How many days it is kept (none: forever).
    pub retention_days: Option<u32>,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

/// A snapshot's progress at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Percent done, 0..=100.
    pub percent: u32,
    /// Seconds left.
    pub remain_seconds: i64,
}

/// `now + by`, saturating at the end of time instead of panicking.
pub fn later(now: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    now.checked_add_signed(by)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn progress(created: DateTime<Utc>, ready: DateTime<Utc>, now: DateTime<Utc>) -> Progress {
    progress_as(ProgressProfile::Linear, created, ready, now)
}

fn progress_as(
    profile: ProgressProfile,
    created: DateTime<Utc>,
    ready: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Progress {
    let total = (ready - created).num_milliseconds();
    let done = (now - created).num_milliseconds();
    if total <= 0 || done >= total {
        return Progress {
            percent: 100,
            remain_seconds: 0,
        };
    }
    // Never 100 before the build is done.
    let percent = profile.percent(done, total).min(99);
    Progress {
        percent,
        remain_seconds: (ready - now).num_seconds().max(0),
    }
}

impl Snapshot {
    /// `progressing` or `accomplished`, with progress.
    pub fn status(&self, now: DateTime<Utc>) -> (&'static str, Progress) {
        let p = progress(self.creation_time, self.ready_at, now);
        if p.percent >= 100 {
            ("accomplished", p)
        } else {
            ("progressing", p)
        }
    }
}

/// An image status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageStatus {
    /// Being made.
    Creating,
    /// Usable.
    Available,
    /// Making it failed.
    CreateFailed,
}

impl ImageStatus {
    /// The cloud's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "Creating",
            Self::Available => "Available",
            Self::CreateFailed => "CreateFailed",
        }
    }
}

/// Every status DescribeImages accepts as a filter.
pub const IMAGE_STATUSES: &[&str] = &[
    "Creating",
    "Waiting",
    "Available",
    "UnAvailable",
    "CreateFailed",
    "Deprecated",
];

/// One disk of an image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DiskMapping {
    /// e.g. `/dev/xvda`.
    pub device: String,
    /// `system` or `data`.
    pub kind: String,
    /// The snapshot holding it; none for an empty disk given by its size alone.
    pub snapshot_id: Option<String>,
    /// GiB.
    pub size: u32,
}

/// An image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Image {
    /// `m-…` (custom) or a public image name.
    pub image_id: String,
    /// Its name.
    pub image_name: String,
    /// Its description.
    pub description: String,
    /// `system` or `self`.
    pub owner_alias: String,
    /// `linux` or `windows`.
    pub os_type: String,
    /// e.g. `Ubuntu`.
    pub platform: String,
    /// e.g. `x86_64`.
    pub architecture: String,
    /// GiB.
    pub size: u32,
    /// When it was created.
    pub creation_time: DateTime<Utc>,
    /// When it is done.
    pub ready_at: DateTime<Utc>,
    /// Whether it ends in `CreateFailed` instead of `Available`.
    pub fails: bool,
    /// Its disks.
    pub disk_mappings: Vec<DiskMapping>,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// How its progress moves while it is built.
    pub profile: ProgressProfile,
}

impl Image {
    /// Status and progress at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> (ImageStatus, Progress) {
        let p = progress_as(self.profile, self.creation_time, self.ready_at, now);
        if p.percent < 100 {
            (ImageStatus::Creating, p)
        } else if self.fails {
            // A failed image stops where it failed; the cloud reports no further progress.
            (
                ImageStatus::CreateFailed,
                Progress {
                    percent: 0,
                    remain_seconds: 0,
                },
            )
        } else {
            (ImageStatus::Available, p)
        }
    }
}

/// What a ClientToken was first used for.
#[derive(Debug, Clone)]
struct TokenUse {
    action: &'static str,
    token: String,
    fingerprint: String,
    id: String,
}

/// The ECS part of the region.
#[derive(Debug, Default)]
pub struct Ecs {
    /// Instances, in creation order.
    pub instances: Vec<Instance>,
    /// Disks, in creation order.
    pub disks: Vec<Disk>,
    /// Snapshots, in creation order.
    pub snapshots: Vec<Snapshot>,
    /// Images, in creation order.
    pub images: Vec<Image>,
    tokens: Vec<TokenUse>,
    /// Whether the next created image will end in CreateFailed.
    pub fail_next_image: bool,
    /// How the progress of the images created from now on moves.
    pub image_profile: ProgressProfile,
    /// How long stops, starts and system disk replacements take.
    pub power: super::fleet::PowerTiming,
    /// Images marked bad by the admin interface: a command run through Cloud Assistant on
    /// an instance booted from one exits 1.
    pub bad_images: Vec<String>,
    /// Cloud Assistant invocations, oldest first.
    pub invocations: Vec<super::assistant::Invocation>,
    /// Instance types the admin interface declared an image unsupported on: image id →
    /// instance type ids (DescribeImageSupportInstanceTypes leaves them out).
    pub unsupported_types: BTreeMap<String, Vec<String>>,
    /// The tags of instances and disks, by (`ResourceType`, id), in the order they were
    /// added (snapshots and images hold their own).
    pub tag_book: BTreeMap<(String, String), Vec<(String, String)>>,
    /// Boot modes set by the admin interface (or inherited by an image made from such an
    /// image): image id → `BIOS`, `UEFI` or `UEFI-Preferred`. Other images boot in their
    /// architecture's default ([`Ecs::boot_mode`]).
    pub boot_modes: BTreeMap<String, String>,
    /// Instance types the admin interface marked out of stock: RunInstances refuses them
    /// with `OperationDenied.NoStock`.
    pub out_of_stock: BTreeSet<String>,
    /// The account that owns the region's resources (an image cannot be shared with it).
    pub account_id: String,
    /// Launch templates, in creation order ([`super::templates`]).
    pub launch_templates: Vec<super::templates::LaunchTemplate>,
    /// Who the account's images are shared with, by image id ([`super::shares`]).
    pub shares: BTreeMap<String, super::shares::ImageShares>,
    /// The snapshot a disk was created from, recorded when the image that gave it the
    /// snapshot is deleted (until then it is read from the image: [`Ecs::disk_source_snapshot`]).
    pub disk_snapshots: BTreeMap<String, String>,
    next_id: u64,
}

/// The image-name rule: 2–128 characters, starts with a letter (ASCII or not), then letters,
/// digits, `:`, `_`, `-` or `.`, and not `http://` / `https://`.
///
/// The period is accepted: the cloud's own error text for `InvalidImageName.Malformed`
/// lists it, though the parameter description does not (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-createimage>).
pub fn check_image_name(name: &str) -> Result<(), RpcError> {
    let count = name.chars().count();
    let first_ok = name.chars().next().is_some_and(|c| c.is_alphabetic());
    let rest_ok = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, ':' | '_' | '-' | '.'));
    if !(2..=128).contains(&count)
        || !first_ok
        || !rest_ok
        || name.starts_with("http://")
        || name.starts_with("https://")
    {
        return Err(errors::image_name_malformed(name));
    }
    Ok(())
}

/// One `DiskDeviceMapping.N` entry of CreateImage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingSource {
    /// `SnapshotId`: the disk's snapshot; none for an empty disk of `size`.
    pub snapshot_id: Option<String>,
    /// `Size` in GiB: the size of an empty disk (ignored when a snapshot is given).
    pub size: Option<u32>,
    /// `Device`.
    pub device: Option<String>,
    /// `DiskType`: `system` or `data`.
    pub disk_type: Option<String>,
}

/// What CreateImage was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateImage {
    /// Image from every disk of this instance.
    pub instance_id: Option<String>,
    /// Image from this system-disk snapshot.
    pub snapshot_id: Option<String>,
    /// Image from these snapshots: (snapshot, device, type).
    pub disk_device_mapping: Vec<MappingSource>,
    /// The name (may be empty: the sim then names it after the id, as the cloud does).
    pub image_name: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Idempotency token.
    pub client_token: Option<String>,
}

impl Ecs {
    /// The image `id`, to change it; `InvalidImageId.NotFound` if there is none.
    pub fn image_mut(&mut self, id: &str) -> Result<&mut Image, RpcError> {
        self.images
            .iter_mut()
            .find(|m| m.image_id == id)
            .ok_or_else(|| errors::image_not_found(id))
    }

    /// A fresh id with the cloud's prefix.
    pub fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!(
            "{prefix}-sim{:016x}",
            self.next_id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 1
        )
    }

    /// The instance `id`.
    pub fn instance(&self, id: &str) -> Result<&Instance, RpcError> {
        self.instances
            .iter()
            .find(|i| i.instance_id == id)
            .ok_or_else(|| errors::instance_not_found(id))
    }

    /// The instance `id`, mutable.
    pub fn instance_mut(&mut self, id: &str) -> Result<&mut Instance, RpcError> {
        self.instances
            .iter_mut()
            .find(|i| i.instance_id == id)
            .ok_or_else(|| errors::instance_not_found(id))
    }

    /// The image `id`.
    pub fn image(&self, id: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.image_id == id)
    }

    pub(crate) fn token_lookup(
        &self,
        action: &'static str,
        token: Option<&str>,
        fingerprint: &str,
    ) -> Result<Option<String>, RpcError> {
        let Some(token) = token else {
            return Ok(None);
        };
        match self
            .tokens
            .iter()
            .find(|t| t.action == action && t.token == token)
        {
            None => Ok(None),
            Some(used) if used.fingerprint == fingerprint => Ok(Some(used.id.clone())),
            Some(_) => Err(errors::idempotent_mismatch(action)),
        }
    }

    pub(crate) fn token_remember(
        &mut self,
        action: &'static str,
        token: Option<&str>,
        fingerprint: String,
        id: &str,
    ) {
        if let Some(token) = token {
            self.tokens.push(TokenUse {
                action,
                token: token.to_owned(),
                fingerprint,
                id: id.to_owned(),
            });
        }
    }

    /// CreateSnapshot.
    #[allow(clippy::too_many_arguments)]
    pub fn create_snapshot(
        &mut self,
        disk_id: &str,
        name: Option<&str>,
        description: Option<&str>,
        retention_days: Option<u32>,
        tags: Vec<(String, String)>,
        client_token: Option<&str>,
        now: DateTime<Utc>,
        timing: Timing,
    ) -> Result<String, RpcError> {
        let fingerprint = format!("{disk_id}|{name:?}|{description:?}|{retention_days:?}|{tags:?}");
        if let Some(id) = self.token_lookup("CreateSnapshot", client_token, &fingerprint)? {
            return Ok(id);
        }
        let disk = self
            .disks
            .iter()
            .find(|d| d.disk_id == disk_id)
            .ok_or_else(|| errors::disk_not_found(disk_id))?
            .clone();
        if self
            .snapshots
            .iter()
            .any(|s| s.source_disk_id == disk_id && now < s.ready_at)
        {
            return Err(errors::disk_creating_snapshot(disk_id));
        }
        let id = self.new_id("s");
        self.snapshots.push(Snapshot {
            snapshot_id: id.clone(),
            snapshot_name: name.unwrap_or_default().to_owned(),
            description: description.unwrap_or_default().to_owned(),
            source_disk_id: disk.disk_id,
            source_disk_size: disk.size,
            source_disk_type: disk.kind,
            instance_id: disk.instance_id,
            creation_time: now,
            ready_at: later(now, timing.snapshot),
            retention_days,
            tags,
        });
        self.token_remember("CreateSnapshot", client_token, fingerprint, &id);
        Ok(id)
    }

    /// CreateImage.
    pub fn create_image(
        &mut self,
        req: CreateImage,
        now: DateTime<Utc>,
        timing: Timing,
    ) -> Result<String, RpcError> {
        let fingerprint = format!("{req:?}");
        if let Some(id) =
            self.token_lookup("CreateImage", req.client_token.as_deref(), &fingerprint)?
        {
            return Ok(id);
        }
        if let Some(name) = &req.image_name {
            check_image_name(name)?;
            if self.images.iter().any(|i| &i.image_name == name) {
                return Err(errors::image_name_duplicated(name));
            }
        }
        // Source priority as the cloud documents it: InstanceId > DiskDeviceMapping > SnapshotId.
        let mut mappings: Vec<DiskMapping> = Vec::new();
        let mut new_snapshots: Vec<Snapshot> = Vec::new();
        let mut platform = (
            "linux".to_owned(),
            "Others Linux".to_owned(),
            "x86_64".to_owned(),
        );
        // The boot mode set on the image the new one comes from, which it keeps.
        let mut boot_mode: Option<String> = None;
        if let Some(instance_id) = &req.instance_id {
            let instance = self.instance(instance_id)?.clone();
            if !matches!(
                instance.status,
                InstanceStatus::Running | InstanceStatus::Stopped
            ) {
                return Err(errors::incorrect_instance_status(
                    &instance.instance_id,
                    instance.status.as_str(),
                ));
            }
            if let Some(source) = self.image(&instance.image_id) {
                platform = (
                    source.os_type.clone(),
                    source.platform.clone(),
                    source.architecture.clone(),
                );
                boot_mode = self.boot_modes.get(&source.image_id).cloned();
            }
            let mut disks: Vec<Disk> = self
                .disks
                .iter()
                .filter(|d| d.instance_id.as_deref() == Some(instance_id))
                .cloned()
                .collect();
            disks.sort_by_key(|d| (d.kind != "system", d.device.clone()));
            for disk in disks {
                let snapshot_id = self.new_id("s");
                new_snapshots.push(Snapshot {
                    snapshot_id: snapshot_id.clone(),
                    snapshot_name: String::new(),
                    description: format!("Created for image from instance {instance_id}"),
                    source_disk_id: disk.disk_id.clone(),
                    source_disk_size: disk.size,
                    source_disk_type: disk.kind.clone(),
                    instance_id: Some(instance_id.clone()),
                    creation_time: now,
                    ready_at: later(now, timing.snapshot),
                    retention_days: None,
                    tags: Vec::new(),
                });
                mappings.push(DiskMapping {
                    device: disk.device,
                    kind: disk.kind,
                    snapshot_id: Some(snapshot_id),
                    size: disk.size,
                });
            }
        } else {
            let sources: Vec<MappingSource> = if !req.disk_device_mapping.is_empty() {
                req.disk_device_mapping.clone()
            } else if let Some(snapshot_id) = &req.snapshot_id {
                vec![MappingSource {
                    snapshot_id: Some(snapshot_id.clone()),
                    size: None,
                    device: Some("/dev/xvda".to_owned()),
                    disk_type: Some("system".to_owned()),
                }]
            } else {
                return Err(RpcError::missing(
                    "SnapshotId or InstanceId or DiskDeviceMapping",
                ));
            };
            let mut data_index = 0u8;
            for source in sources {
                let snapshot = match &source.snapshot_id {
                    Some(snapshot_id) => {
                        let snapshot = self
                            .snapshots
                            .iter()
                            .find(|s| &s.snapshot_id == snapshot_id)
                            .ok_or_else(|| errors::snapshot_not_found(snapshot_id))?;
                        if snapshot.status(now).0 != "accomplished" {
                            return Err(errors::snapshot_not_ready(snapshot_id));
                        }
                        Some(snapshot)
                    }
                    None => None,
                };
                let kind = source.disk_type.unwrap_or_else(|| {
                    if mappings.is_empty() {
                        "system".to_owned()
                    } else {
                        "data".to_owned()
                    }
                });
                if kind != "system" && kind != "data" {
                    return Err(RpcError::invalid(
                        "DiskDeviceMapping.N.DiskType",
                        "must be system or data",
                    ));
                }
                if kind == "system" && snapshot.is_none() {
                    // The system disk must come from a snapshot: an empty disk cannot boot.
                    return Err(RpcError::missing("DiskDeviceMapping.N.SnapshotId"));
                }
                let device = source.device.unwrap_or_else(|| {
                    if kind == "system" {
                        "/dev/xvda".to_owned()
                    } else {
                        data_index += 1;
                        format!("/dev/xvd{}", char::from(b'a' + data_index.min(25)))
                    }
                });
                if mappings.iter().any(|m| m.device == device) {
                    return Err(RpcError::bad_request(
                        "InvalidDevice.InUse",
                        format!("The device {device} is given to more than one snapshot."),
                    ));
                }
                if let Some(snapshot) = snapshot {
                    let origin = snapshot
                        .instance_id
                        .as_ref()
                        .and_then(|id| self.instances.iter().find(|i| &i.instance_id == id))
                        .and_then(|instance| self.image(&instance.image_id));
                    if let Some(origin) = origin {
                        platform = (
                            origin.os_type.clone(),
                            origin.platform.clone(),
                            origin.architecture.clone(),
                        );
                        boot_mode = self.boot_modes.get(&origin.image_id).cloned();
                    }
                }
                mappings.push(DiskMapping {
                    device,
                    kind,
                    snapshot_id: snapshot.map(|s| s.snapshot_id.clone()),
                    size: snapshot.map_or(source.size.unwrap_or(20), |s| s.source_disk_size),
                });
            }
            if mappings.iter().filter(|m| m.kind == "system").count() != 1 {
                return Err(RpcError::invalid(
                    "DiskDeviceMapping",
                    "an image needs exactly one system disk snapshot",
                ));
            }
        }
        let id = self.new_id("m");
        let fails = std::mem::take(&mut self.fail_next_image);
        let size = mappings
            .iter()
            .find(|m| m.kind == "system")
            .map_or(0, |m| m.size);
        self.snapshots.extend(new_snapshots);
        self.images.push(Image {
            image_id: id.clone(),
            image_name: req.image_name.clone().unwrap_or_else(|| id.clone()),
            description: req.description.clone().unwrap_or_default(),
            owner_alias: "self".to_owned(),
            os_type: platform.0,
            platform: platform.1,
            architecture: platform.2,
            size,
            creation_time: now,
            ready_at: later(now, timing.image),
            fails,
            disk_mappings: mappings,
            tags: req.tags.clone(),
            profile: self.image_profile,
        });
        if let Some(mode) = boot_mode {
            self.boot_modes.insert(id.clone(), mode);
        }
        self.token_remember("CreateImage", req.client_token.as_deref(), fingerprint, &id);
        Ok(id)
    }

    /// DeleteImage
    /// (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-deleteimage>):
    /// the account's own images only (others are 404 `InvalidImageId.NotFound`). Refused, in
    /// the order of the page's error table: an image instances run from, unless `force`
    /// (403 `ImageUsingByInstance`); an image shared with other accounts, `force` or not
    /// (403 `ImageUseShared`: "Before you delete a shared image, you must unshare the
    /// image"); a community image (403 `ImageIsPublic`). The image's snapshots stay; the
    /// system disks made from it keep its system-disk snapshot as their source.
    pub fn delete_image(&mut self, image_id: &str, force: bool) -> Result<(), RpcError> {
        let Some(pos) = self
            .images
            .iter()
            .position(|i| i.image_id == image_id && i.owner_alias == "self")
        else {
            return Err(errors::image_not_found(image_id));
        };
        if !force && self.instances.iter().any(|i| i.image_id == image_id) {
            return Err(errors::image_used_by_instance());
        }
        let shares = self.shares.get(image_id);
        if shares.is_some_and(|s| !s.accounts.is_empty()) {
            return Err(errors::image_shared());
        }
        if shares.is_some_and(|s| s.public) {
            return Err(errors::image_is_public());
        }
        let image = self.images.remove(pos);
        if let Some(snapshot) = image
            .disk_mappings
            .iter()
            .find(|m| m.kind == "system")
            .and_then(|m| m.snapshot_id.clone())
        {
            for disk in self
                .disks
                .iter()
                .filter(|d| d.kind == "system" && d.image_id == image_id)
            {
                self.disk_snapshots
                    .entry(disk.disk_id.clone())
                    .or_insert_with(|| snapshot.clone());
            }
        }
        self.boot_modes.remove(image_id);
        self.shares.remove(image_id);
        self.unsupported_types.remove(image_id);
        Ok(())
    }

    /// The snapshot `disk` was created from: the one recorded for it, or, for a system disk
    /// made from one of the account's images, that image's system-disk snapshot.
    pub fn disk_source_snapshot<'a>(&'a self, disk: &'a Disk) -> Option<&'a str> {
        if let Some(snapshot) = self.disk_snapshots.get(&disk.disk_id) {
            return Some(snapshot);
        }
        if disk.kind != "system" {
            return None;
        }
        self.image(&disk.image_id)?
            .disk_mappings
            .iter()
            .find(|m| m.kind == "system")?
            .snapshot_id
            .as_deref()
    }

    /// The ids of the snapshots images hold and of those disks were created from.
    pub fn snapshot_uses(&self) -> (BTreeSet<&str>, BTreeSet<&str>) {
        let by_images = self
            .images
            .iter()
            .flat_map(|m| m.disk_mappings.iter())
            .filter_map(|d| d.snapshot_id.as_deref())
            .collect();
        let by_disks = self
            .disks
            .iter()
            .filter_map(|d| self.disk_source_snapshot(d))
            .collect();
        (by_images, by_disks)
    }

    /// DeleteSnapshot
    /// (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-deletesnapshot>):
    /// a snapshot an image holds is 403 `SnapshotCreatedImage`, `force` or not (delete the
    /// image first); one a disk was created from is 403 `SnapshotCreatedDisk` unless
    /// `force`. A snapshot still being created is deleted (its creation is cancelled).
    pub fn delete_snapshot(&mut self, snapshot_id: &str, force: bool) -> Result<(), RpcError> {
        let Some(pos) = self
            .snapshots
            .iter()
            .position(|s| s.snapshot_id == snapshot_id)
        else {
            return Err(errors::snapshot_not_found(snapshot_id));
        };
        let (by_images, by_disks) = self.snapshot_uses();
        if by_images.contains(snapshot_id) {
            let images: Vec<&str> = self
                .images
                .iter()
                .filter(|m| {
                    m.disk_mappings
                        .iter()
                        .any(|d| d.snapshot_id.as_deref() == Some(snapshot_id))
                })
                .map(|m| m.image_id.as_str())
                .collect();
            return Err(errors::snapshot_created_image(snapshot_id, &images));
        }
        if !force && by_disks.contains(snapshot_id) {
            return Err(errors::snapshot_created_disk(snapshot_id));
        }
        self.snapshots.remove(pos);
        Ok(())
    }

    /// Releases an instance and the disks attached to it.
    pub fn release_instance(&mut self, instance_id: &str) -> Result<(), RpcError> {
        self.instance(instance_id)?;
        self.instances.retain(|i| i.instance_id != instance_id);
        let disks: Vec<String> = self
            .disks
            .iter()
            .filter(|d| d.instance_id.as_deref() == Some(instance_id))
            .map(|d| d.disk_id.clone())
            .collect();
        self.disks
            .retain(|d| d.instance_id.as_deref() != Some(instance_id));
        self.tag_book.retain(|(kind, id), _| {
            !(kind == "instance" && id == instance_id || kind == "disk" && disks.contains(id))
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn image_names_follow_the_cloud_rule() {
        for ok in ["ab", "web-2026-01-01T00:00:00Z", "Ünïcode_name", "a.b"] {
            assert!(check_image_name(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(129);
        for bad in [
            "a",
            "1abc",
            "_abc",
            "web image",
            "http://x",
            "https://x",
            long.as_str(),
            "a/b",
        ] {
            let err = check_image_name(bad).unwrap_err();
            assert_eq!(err.code, "InvalidImageName.Malformed", "{bad}");
        }
    }

    #[test]
    fn each_profile_reports_its_shape_in_whole_percents_never_going_back() {
        use ProgressProfile::{FastThenSlow, Linear, Stalled, Steps};
        let at = |p: ProgressProfile, d: i64| p.percent(d, 1000);
        assert_eq!([0, 250, 500, 999].map(|d| at(Linear, d)), [0, 25, 50, 99]);
        assert_eq!(
            [0, 899, 900, 950, 999].map(|d| at(Stalled, d)),
            [0, 0, 0, 50, 99]
        );
        assert_eq!(
            [0, 250, 500, 999].map(|d| at(FastThenSlow, d)),
            [0, 43, 75, 99]
        );
        assert_eq!(
            [0, 249, 250, 749, 750, 999].map(|d| at(Steps, d)),
            [0, 0, 25, 50, 75, 75]
        );
        for profile in ProgressProfile::ALL {
            let shown: Vec<u32> = (0..1000).map(|d| at(profile, d)).collect();
            assert!(
                shown.windows(2).all(|w| w[0] <= w[1]) && shown[999] < 100,
                "{profile:?}"
            );
        }
    }

    #[test]
    fn progress_is_lazy_and_capped_below_100_until_done() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let ready = t0 + Duration::seconds(100);
        assert_eq!(progress(t0, ready, t0).percent, 0);
        assert_eq!(progress(t0, ready, t0 + Duration::seconds(42)).percent, 42);
        assert_eq!(
            progress(t0, ready, t0 + Duration::milliseconds(99_999)).percent,
            99
        );
        assert_eq!(progress(t0, ready, ready).percent, 100);
        assert_eq!(progress(t0, t0, t0).percent, 100);
        // A clock set back before creation reads as 0%, not as a negative number.
        assert_eq!(progress(t0, ready, t0 - Duration::seconds(5)).percent, 0);
    }
}
