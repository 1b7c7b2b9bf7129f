//! ECS on the wire: parameters in, JSON out, with the cloud's names and nesting (each operation's page, e.g.
//! <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeimages>).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::state::{CreateImage, Ecs, IMAGE_STATUSES, ImageStatus, InstanceStatus, MappingSource};
use crate::ctx::Ctx;
use crate::error::RpcError;
use crate::params::{Params, page};

/// `yyyy-MM-ddTHH:mm:ssZ`, as ECS prints times.
pub fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn tags_json(tags: &[(String, String)]) -> Value {
    json!({"Tag": tags.iter().map(|(k, v)| json!({"TagKey": k, "TagValue": v})).collect::<Vec<_>>()})
}

fn paged(items: Vec<Value>, number: usize, size: usize, key: &str, inner: &str) -> Value {
    let total = items.len();
    json!({
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
        key: { inner: page(items, number, size) },
    })
}

fn has_tags(have: &[(String, String)], want: &[(String, String)]) -> bool {
    want.iter().all(|(k, v)| {
        have.iter()
            .any(|(hk, hv)| hk == k && (v.is_empty() || hv == v))
    })
}

/// DescribeInstances.
pub fn describe_instances(ecs: &Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let ids = p.json_array("InstanceIds", 100)?;
    let status = p
        .get("Status")
        .map(|s| {
            InstanceStatus::parse(s)
                .ok_or_else(|| RpcError::invalid("Status", "unknown instance status"))
        })
        .transpose()?;
    let name = p.get("InstanceName");
    let image_id = p.get("ImageId");
    let tags = p.tags()?;
    let (number, size) = p.paging(100)?;
    let no_tags: &[(String, String)] = &[];
    let tags_of = |id: &str| ecs.tags_of("instance", id).unwrap_or(no_tags);
    let items: Vec<Value> = ecs
        .instances
        .iter()
        .filter(|i| ids.as_ref().is_none_or(|ids| ids.contains(&i.instance_id)))
        .filter(|i| status.is_none_or(|s| s == i.status))
        .filter(|i| name.is_none_or(|n| wildcard(n, &i.instance_name)))
        .filter(|i| image_id.is_none_or(|m| m == i.image_id))
        .filter(|i| has_tags(tags_of(&i.instance_id), &tags))
        .map(|i| {
            json!({
                "InstanceId": i.instance_id,
                "InstanceName": i.instance_name,
                "HostName": i.instance_name,
                "Status": i.status.as_str(),
                "ImageId": i.image_id,
                "InstanceType": i.instance_type,
                "ZoneId": i.zone_id,
                "RegionId": ctx.region_id,
                "CreationTime": i.creation_time.format("%Y-%m-%dT%H:%MZ").to_string(),
                "StoppedMode": i.stopped_mode_shown(),
                "InstanceChargeType": "PostPaid",
                "ResourceGroupId": "",
                "OSType": ecs.image(&i.image_id).map_or("linux", |m| m.os_type.as_str()),
                "OperationLocks": {"LockReason": i.locks.iter().map(|l| json!({"LockReason": l, "LockMsg": ""})).collect::<Vec<_>>()},
                "Tags": tags_json(tags_of(&i.instance_id)),
            })
        })
        .collect();
    Ok(paged(items, number, size, "Instances", "Instance"))
}

/// `*` matches any run of characters, as InstanceName filters (and ListTagResources'
/// `TagFilter.N`) do.
pub(crate) fn wildcard(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(at) = rest.find(part) {
            rest = &rest[at + part.len()..];
        } else {
            return false;
        }
    }
    true
}

/// DescribeDisks.
pub fn describe_disks(ecs: &Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let ids = p.json_array("DiskIds", 100)?;
    let instance = p.get("InstanceId");
    let kind = match p.get("DiskType") {
        None | Some("all") => None,
        Some(k @ ("system" | "data")) => Some(k),
        Some(_) => return Err(RpcError::invalid("DiskType", "must be all, system or data")),
    };
    let status = p.get("Status").filter(|s| *s != "All");
    let (number, size) = p.paging(100)?;
    let items: Vec<Value> = ecs
        .disks
        .iter()
        .filter(|d| ids.as_ref().is_none_or(|ids| ids.contains(&d.disk_id)))
        .filter(|d| instance.is_none_or(|i| d.instance_id.as_deref() == Some(i)))
        .filter(|d| kind.is_none_or(|k| k == d.kind))
        .filter(|d| status.is_none_or(|s| s == d.status(ctx.now)))
        .map(|d| {
            json!({
                "DiskId": d.disk_id,
                "DiskName": "",
                "Type": d.kind,
                "Status": d.status(ctx.now),
                "Category": d.category,
                "Size": d.size,
                "InstanceId": d.instance_id.clone().unwrap_or_default(),
                "Device": if d.instance_id.is_some() { d.device.as_str() } else { "" },
                "ImageId": d.image_id,
                "SourceSnapshotId": ecs.disk_source_snapshot(d).unwrap_or_default(),
                "ZoneId": d.zone_id,
                "RegionId": ctx.region_id,
                "CreationTime": iso(d.creation_time),
                "DeleteWithInstance": true,
                "Portable": d.kind == "data",
                "Encrypted": false,
                "OperationLocks": {"OperationLock": []},
                "Tags": tags_json(ecs.tags_of("disk", &d.disk_id).unwrap_or_default()),
            })
        })
        .collect();
    Ok(paged(items, number, size, "Disks", "Disk"))
}

/// CreateSnapshot.
pub fn create_snapshot(ecs: &mut Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    let disk_id = p.required("DiskId")?;
    let name = p.get("SnapshotName");
    if let Some(name) = name {
        let ok = (2..=128).contains(&name.chars().count())
            && name.chars().next().is_some_and(char::is_alphabetic)
            && !name.starts_with("auto")
            && !name.starts_with("http://")
            && !name.starts_with("https://")
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, ':' | '_' | '.' | '-'));
        if !ok {
            return Err(RpcError::bad_request(
                "InvalidSnapshotName.Malformed",
                "Specified snapshot name is not valid: 2 to 128 characters, starting with a letter (not \"auto\"), \
                 containing letters, digits, colons, underscores, periods and hyphens.",
            ));
        }
    }
    let description = p.get("Description");
    check_description(description)?;
    let retention = p
        .get("RetentionDays")
        .map(|_| p.int("RetentionDays", 1, 65536, 0))
        .transpose()?;
    let tags = p.tags()?;
    let token = client_token(p)?;
    let id = ecs.create_snapshot(
        disk_id,
        name,
        description,
        retention.and_then(|d| u32::try_from(d).ok()),
        tags,
        token,
        ctx.now,
        ctx.timing,
    )?;
    Ok(json!({"SnapshotId": id}))
}

fn check_description(description: Option<&str>) -> Result<(), RpcError> {
    if let Some(d) = description {
        if !(2..=256).contains(&d.chars().count())
            || d.starts_with("http://")
            || d.starts_with("https://")
        {
            return Err(RpcError::bad_request(
                "InvalidDescription.Malformed",
                "The specified description is not valid: 2 to 256 characters, not starting with http:// or https://.",
            ));
        }
    }
    Ok(())
}

fn client_token(p: &Params) -> Result<Option<&str>, RpcError> {
    let token = p.get("ClientToken");
    if let Some(t) = token {
        if t.len() > 64 || !t.is_ascii() {
            return Err(RpcError::invalid(
                "ClientToken",
                "at most 64 ASCII characters",
            ));
        }
    }
    Ok(token)
}

/// `Usage` of a snapshot: what was made from it.
fn snapshot_usage(by_image: bool, by_disk: bool) -> &'static str {
    match (by_image, by_disk) {
        (true, true) => "image_disk",
        (true, false) => "image",
        (false, true) => "disk",
        (false, false) => "none",
    }
}

/// DescribeSnapshots.
pub fn describe_snapshots(ecs: &Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let ids = p.json_array("SnapshotIds", 100)?;
    let disk = p.get("DiskId");
    let instance = p.get("InstanceId");
    let name = p.get("SnapshotName");
    let status = match p.get("Status") {
        None | Some("all") => None,
        Some(s @ ("progressing" | "accomplished" | "failed")) => Some(s),
        Some(_) => {
            return Err(RpcError::invalid(
                "Status",
                "must be progressing, accomplished, failed or all",
            ));
        }
    };
    let usage = match p.get("Usage") {
        None => None,
        Some(u @ ("image" | "disk" | "image_disk" | "none")) => Some(u),
        Some(_) => {
            return Err(RpcError::invalid(
                "Usage",
                "must be image, disk, image_disk or none",
            ));
        }
    };
    let disk_type = p.get("SourceDiskType").map(str::to_ascii_lowercase);
    let tags = p.tags()?;
    let (number, size) = p.paging(100)?;
    let (by_images, by_disks) = ecs.snapshot_uses();
    let usage_of = |id: &str| snapshot_usage(by_images.contains(id), by_disks.contains(id));
    let matching: Vec<&super::state::Snapshot> = ecs
        .snapshots
        .iter()
        .rev()
        .filter(|s| ids.as_ref().is_none_or(|ids| ids.contains(&s.snapshot_id)))
        .filter(|s| disk.is_none_or(|d| d == s.source_disk_id))
        .filter(|s| instance.is_none_or(|i| s.instance_id.as_deref() == Some(i)))
        .filter(|s| name.is_none_or(|n| n == s.snapshot_name))
        .filter(|s| disk_type.as_deref().is_none_or(|t| t == s.source_disk_type))
        .filter(|s| status.is_none_or(|st| st == s.status(ctx.now).0))
        .filter(|s| usage.is_none_or(|u| u == usage_of(&s.snapshot_id)))
        .filter(|s| has_tags(&s.tags, &tags))
        .collect();
    let total = matching.len();
    let items: Vec<Value> = page(matching, number, size)
        .into_iter()
        .map(|s| {
            let (st, progress) = s.status(ctx.now);
            json!({
                "SnapshotId": s.snapshot_id,
                "SnapshotName": s.snapshot_name,
                "Description": s.description,
                "Status": st,
                "Progress": format!("{}%", progress.percent),
                "RemainTime": progress.remain_seconds,
                "CreationTime": iso(s.creation_time),
                "LastModifiedTime": iso(s.creation_time),
                "SourceDiskId": s.source_disk_id,
                "SourceDiskSize": s.source_disk_size.to_string(),
                "SourceDiskType": s.source_disk_type,
                "Usage": usage_of(&s.snapshot_id),
                "RetentionDays": s.retention_days.unwrap_or(0),
                "SnapshotType": "user",
                "Category": "standard",
                "Encrypted": false,
                "Tags": tags_json(&s.tags),
            })
        })
        .collect();
    let mut out = json!({
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
        "Snapshots": {"Snapshot": items},
    });
    out["NextToken"] = json!("");
    Ok(out)
}

/// DeleteSnapshot: `SnapshotId`, `Force` (also a snapshot disks were created from).
pub fn delete_snapshot(ecs: &mut Ecs, p: &Params) -> Result<Value, RpcError> {
    let id = p.required("SnapshotId")?;
    let force = p.bool("Force", false)?;
    ecs.delete_snapshot(id, force)?;
    Ok(json!({}))
}

/// CreateImage.
pub fn create_image(ecs: &mut Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let mut mapping = Vec::new();
    for members in p.struct_list("DiskDeviceMapping", 17)? {
        let find = |m: &str| {
            members
                .iter()
                .find(|(k, _)| *k == m)
                .map(|(_, v)| (*v).to_owned())
                .filter(|v| !v.is_empty())
        };
        // SnapshotId is optional: an entry without one describes an empty data disk of
        // `Size` GiB (CreateImage's DiskDeviceMapping.N.Size, "takes effect when SnapshotId
        // is not specified").
        let snapshot = find("SnapshotId");
        let size = match find("Size") {
            Some(size) => Some(
                size.parse::<u32>()
                    .ok()
                    .filter(|s| (1..=32768).contains(s))
                    .ok_or_else(|| {
                        RpcError::invalid(
                            "DiskDeviceMapping.N.Size",
                            "must be a whole number of GiB",
                        )
                    })?,
            ),
            None => None,
        };
        if snapshot.is_none() && size.is_none() {
            return Err(RpcError::invalid(
                "DiskDeviceMapping.N.Size",
                "an entry without SnapshotId needs the Size of the empty disk",
            ));
        }
        mapping.push(MappingSource {
            snapshot_id: snapshot,
            size,
            device: find("Device"),
            disk_type: find("DiskType"),
        });
    }
    let description = p.get("Description");
    check_description(description)?;
    let req = CreateImage {
        instance_id: p.get("InstanceId").map(str::to_owned),
        snapshot_id: p.get("SnapshotId").map(str::to_owned),
        disk_device_mapping: mapping,
        image_name: p.get("ImageName").map(str::to_owned),
        description: description.map(str::to_owned),
        tags: p.tags()?,
        client_token: client_token(p)?.map(str::to_owned),
    };
    let id = ecs.create_image(req, ctx.now, ctx.timing)?;
    Ok(json!({"ImageId": id}))
}

/// DescribeImages.
pub fn describe_images(ecs: &Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let ids: Option<Vec<&str>> = p
        .get("ImageId")
        .map(|s| s.split(',').map(str::trim).collect());
    let name = p.get("ImageName");
    let statuses: Vec<&str> = match p.get("Status") {
        None => vec!["Available"],
        // `ALL` stands for every status; the sim takes it in any case.
        Some(s) if s.eq_ignore_ascii_case("all") => IMAGE_STATUSES.to_vec(),
        Some(s) => {
            let list: Vec<&str> = s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if let Some(bad) = list.iter().find(|s| !IMAGE_STATUSES.contains(s)) {
                return Err(RpcError::invalid(
                    "Status",
                    format!(
                        "unknown image status \"{}\"",
                        crate::params::truncate(bad, 40)
                    ),
                ));
            }
            list
        }
    };
    let owner = match p.get("ImageOwnerAlias") {
        None => None,
        Some(o @ ("system" | "self" | "others" | "marketplace")) => Some(o),
        Some(_) => {
            return Err(RpcError::bad_request(
                "InvalidImageOwnerAlias.ValueNotSupported",
                "ImageOwnerAlias must be system, self, others or marketplace.",
            ));
        }
    };
    let usage = match p.get("Usage") {
        None => None,
        Some(u @ ("instance" | "none")) => Some(u),
        Some(_) => return Err(RpcError::invalid("Usage", "must be instance or none")),
    };
    let snapshot = p.get("SnapshotId");
    let tags = p.tags()?;
    let (number, size) = p.paging(100)?;
    let in_use: std::collections::HashSet<&str> =
        ecs.instances.iter().map(|i| i.image_id.as_str()).collect();
    let usage_of = |id: &str| {
        if in_use.contains(id) {
            "instance"
        } else {
            "none"
        }
    };
    let matching: Vec<&super::state::Image> = ecs
        .images
        .iter()
        .rev()
        .filter(|m| {
            ids.as_ref()
                .is_none_or(|ids| ids.contains(&m.image_id.as_str()))
        })
        .filter(|m| name.is_none_or(|n| m.image_name.contains(n)))
        .filter(|m| owner.is_none_or(|o| o == m.owner_alias))
        .filter(|m| {
            snapshot.is_none_or(|s| {
                m.disk_mappings
                    .iter()
                    .any(|d| d.snapshot_id.as_deref() == Some(s))
            })
        })
        .filter(|m| statuses.contains(&m.status(ctx.now).0.as_str()))
        .filter(|m| usage.is_none_or(|u| u == usage_of(&m.image_id)))
        .filter(|m| has_tags(&m.tags, &tags))
        .collect();
    let total = matching.len();
    let items: Vec<Value> = page(matching, number, size)
        .into_iter()
        .map(|m| {
            let (status, progress) = m.status(ctx.now);
            let own = m.owner_alias == "self";
            let shared = if ecs.is_shared(&m.image_id) { "True" } else { "False" };
            json!({
                "ImageId": m.image_id,
                "ImageName": m.image_name,
                "ImageFamily": "",
                "ImageVersion": "",
                "Description": m.description,
                "Status": status.as_str(),
                "Progress": format!("{}%", progress.percent),
                "CreationTime": iso(m.creation_time),
                "Size": m.size,
                "ImageOwnerAlias": m.owner_alias,
                "Usage": usage_of(&m.image_id),
                "OSType": m.os_type,
                "OSName": m.platform,
                "Platform": m.platform,
                "Architecture": m.architecture,
                "BootMode": ecs.boot_mode(m),
                "IsCopied": false,
                "IsPublic": ecs.is_public(m),
                "IsSelfShared": if own { shared } else { "" },
                "IsSubscribed": false,
                "IsSupportCloudinit": true,
                "IsSupportIoOptimized": true,
                "ProductCode": "",
                "ResourceGroupId": "",
                "DiskDeviceMappings": {"DiskDeviceMapping": m.disk_mappings.iter().map(|d| json!({
                    "Device": d.device,
                    "Type": d.kind,
                    "SnapshotId": d.snapshot_id.clone().unwrap_or_default(),
                    "Size": d.size.to_string(),
                    "Format": "",
                    "ImportOSSBucket": "",
                    "ImportOSSObject": "",
                    "Progress": if status == ImageStatus::Available { "100%".to_owned() } else { format!("{}%", progress.percent) },
                })).collect::<Vec<_>>()},
                "Tags": tags_json(&m.tags),
            })
        })
        .collect();
    let mut out = json!({
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
        "Images": {"Image": items},
    });
    out["RegionId"] = json!(ctx.region_id);
    Ok(out)
}

/// DeleteImage.
pub fn delete_image(ecs: &mut Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let id = p.required("ImageId")?;
    let force = p.bool("Force", false)?;
    ecs.delete_image(id, force)?;
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn instance_name_wildcards() {
        assert!(wildcard("web*", "web-golden"));
        assert!(wildcard("*golden", "web-golden"));
        assert!(wildcard("w*-*n", "web-golden"));
        assert!(!wildcard("api*", "web-golden"));
        assert!(wildcard("web-golden", "web-golden"));
        assert!(!wildcard("web", "web-golden"));
    }
}
