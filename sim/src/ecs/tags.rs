//! Tags: TagResources, UntagResources and ListTagResources
//! (<https://www.alibabacloud.com/help/en/elastic-compute-service/latest/tagresources>,
//! <https://www.alibabacloud.com/help/en/elastic-compute-service/latest/untagresources>,
//! <https://www.alibabacloud.com/help/en/elastic-compute-service/latest/listtagresources>).
//!
//! The sim tags what it holds: `instance`, `disk`, `snapshot` and `image` (the account's own
//! images; a public one is 403 `InvalidResourceId.NotSupported`). The other documented
//! resource types are known but the sim holds none of them: their ids are never found and
//! their lists are empty. Any other `ResourceType` is 404 `InvalidResourceType.NotFound`.

use serde_json::{Value, json};

use super::errors;
use super::protocol::wildcard;
use super::state::Ecs;
use crate::ctx::Ctx;
use crate::error::RpcError;
use crate::params::Params;

/// Every `ResourceType` the tag operations document, lower case as documented.
pub const RESOURCE_TYPES: &[&str] = &[
    "instance",
    "disk",
    "snapshot",
    "image",
    "securitygroup",
    "volume",
    "eni",
    "ddh",
    "ddhcluster",
    "keypair",
    "launchtemplate",
    "reservedinstance",
    "snapshotpolicy",
    "elasticityassurance",
    "capacityreservation",
];

/// Most `ResourceId.N` in one request.
pub const MAX_RESOURCE_IDS: usize = 50;
/// Most `Tag.N` (or `TagKey.N`) in one request.
pub const MAX_TAGS: usize = 20;
/// Most tags on one resource.
pub const MAX_TAGS_PER_RESOURCE: usize = 20;
/// Most `TagFilter.N`, and most `TagFilter.N.TagValues.N` in each.
pub const MAX_TAG_FILTERS: usize = 5;
/// Rows of one ListTagResources page (the size is not documented).
pub const PAGE_SIZE: usize = 50;

/// A list index far beyond any documented limit: indexes past it are malformed, indexes up
/// to it count towards the documented limits, which have codes of their own.
const INDEX_CEILING: usize = 10_000;

type Tags = Vec<(String, String)>;

impl Ecs {
    /// The tags of the resource `id` of type `kind`; `None` if the sim holds no such resource.
    pub fn tags_of(&self, kind: &str, id: &str) -> Option<&[(String, String)]> {
        let booked = || {
            self.tag_book
                .get(&(kind.to_owned(), id.to_owned()))
                .map_or(&[][..], Vec::as_slice)
        };
        match kind {
            "instance" => self
                .instances
                .iter()
                .any(|i| i.instance_id == id)
                .then(booked),
            "disk" => self.disks.iter().any(|d| d.disk_id == id).then(booked),
            "snapshot" => self
                .snapshots
                .iter()
                .find(|s| s.snapshot_id == id)
                .map(|s| s.tags.as_slice()),
            "image" => self
                .images
                .iter()
                .find(|m| m.image_id == id)
                .map(|m| m.tags.as_slice()),
            _ => None,
        }
    }

    /// The tags of the resource `id` of type `kind`, to change them.
    fn tags_mut(&mut self, kind: &str, id: &str) -> Result<&mut Tags, RpcError> {
        match kind {
            "instance" | "disk" => {
                if self.tags_of(kind, id).is_none() {
                    return Err(errors::resource_id_not_found());
                }
                Ok(self
                    .tag_book
                    .entry((kind.to_owned(), id.to_owned()))
                    .or_default())
            }
            "snapshot" => self
                .snapshots
                .iter_mut()
                .find(|s| s.snapshot_id == id)
                .map(|s| &mut s.tags)
                .ok_or_else(errors::resource_id_not_found),
            "image" => {
                let image = self
                    .images
                    .iter_mut()
                    .find(|m| m.image_id == id)
                    .ok_or_else(errors::resource_id_not_found)?;
                if image.owner_alias != "self" {
                    return Err(errors::resource_id_not_supported());
                }
                Ok(&mut image.tags)
            }
            _ => Err(errors::resource_id_not_found()),
        }
    }

    /// Every resource of type `kind` with its tags, in the order the sim holds them.
    fn tagged(&self, kind: &str) -> Vec<(&str, &[(String, String)])> {
        let booked = |id: &str| {
            self.tag_book
                .get(&(kind.to_owned(), id.to_owned()))
                .map_or(&[][..], Vec::as_slice)
        };
        match kind {
            "instance" => self
                .instances
                .iter()
                .map(|i| (i.instance_id.as_str(), booked(&i.instance_id)))
                .collect(),
            "disk" => self
                .disks
                .iter()
                .map(|d| (d.disk_id.as_str(), booked(&d.disk_id)))
                .collect(),
            "snapshot" => self
                .snapshots
                .iter()
                .map(|s| (s.snapshot_id.as_str(), s.tags.as_slice()))
                .collect(),
            "image" => self
                .images
                .iter()
                .map(|m| (m.image_id.as_str(), m.tags.as_slice()))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// `RegionId` as the tag operations check it: absent is 404 `MissingParameter.RegionId`.
fn region(p: &Params, ctx: &Ctx) -> Result<(), RpcError> {
    if p.get("RegionId").is_none() {
        return Err(errors::tag_parameter_missing("RegionId"));
    }
    ctx.region(p)
}

/// `ResourceType`: required (404 `MissingParameter.ResourceType`), one of [`RESOURCE_TYPES`].
fn resource_type(p: &Params) -> Result<&'static str, RpcError> {
    let kind = p
        .get("ResourceType")
        .ok_or_else(|| errors::tag_parameter_missing("ResourceType"))?;
    RESOURCE_TYPES
        .iter()
        .find(|t| **t == kind)
        .copied()
        .ok_or_else(errors::resource_type_not_found)
}

/// `ResourceId.N`: at most 50, repeats counted once.
fn resource_ids(p: &Params) -> Result<Vec<&str>, RpcError> {
    let mut ids = p.list("ResourceId", INDEX_CEILING)?;
    if ids.len() > MAX_RESOURCE_IDS {
        return Err(errors::too_many_resource_ids());
    }
    let mut seen = Vec::with_capacity(ids.len());
    ids.retain(|id| {
        let first = !seen.contains(id);
        seen.push(*id);
        first
    });
    Ok(ids)
}

/// `ResourceId.N` of TagResources and UntagResources: at least one.
fn required_resource_ids(p: &Params) -> Result<Vec<&str>, RpcError> {
    let ids = resource_ids(p)?;
    if ids.is_empty() {
        return Err(RpcError::missing("ResourceId.N"));
    }
    Ok(ids)
}

/// A tag key: 1 to 128 characters, not starting with `aliyun` or `acs:`, without `http://`
/// or `https://`.
fn key_ok(key: &str) -> bool {
    (1..=128).contains(&key.chars().count())
        && !key.starts_with("aliyun")
        && !key.starts_with("acs:")
        && !key.contains("http://")
        && !key.contains("https://")
}

/// A tag value: at most 128 characters (empty allowed), not starting with `acs:`, without
/// `http://` or `https://`.
fn value_ok(value: &str) -> bool {
    value.chars().count() <= 128
        && !value.starts_with("acs:")
        && !value.contains("http://")
        && !value.contains("https://")
}

/// The `Key` and `Value` members of one `Tag.N` (`key`/`value` too, the deprecated spelling).
fn key_and_value<'a>(members: &[(&'a str, &'a str)]) -> (Option<&'a str>, Option<&'a str>) {
    let find = |m: &str| {
        members
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(m))
            .map(|(_, v)| *v)
    };
    (find("Key"), find("Value"))
}

/// `Tag.N.Key` / `Tag.N.Value` of TagResources: 1 to 20 tags, each key valid and unique.
fn tags_to_add(p: &Params) -> Result<Tags, RpcError> {
    let entries = p.struct_list("Tag", INDEX_CEILING)?;
    if entries.is_empty() {
        return Err(errors::tag_parameter_missing("Tags"));
    }
    if entries.len() > MAX_TAGS {
        return Err(errors::too_many_tags());
    }
    let mut out: Tags = Vec::with_capacity(entries.len());
    for members in &entries {
        let (key, value) = key_and_value(members);
        let key = key.unwrap_or_default();
        let value = value.unwrap_or_default();
        if !key_ok(key) {
            return Err(errors::tag_key_malformed());
        }
        if !value_ok(value) {
            return Err(errors::tag_value_malformed());
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(errors::duplicate_tag_key());
        }
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

/// TagResources: adds the tags to every resource, a key already on a resource getting the new
/// value. All or nothing: an unknown resource, or one that would hold more than 20 tags,
/// refuses the whole call.
pub fn tag_resources(ecs: &mut Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    region(p, ctx)?;
    let kind = resource_type(p)?;
    let ids = required_resource_ids(p)?;
    let tags = tags_to_add(p)?;
    for id in &ids {
        // The same checks as the change below, before anything changes.
        let have = ecs.tags_mut(kind, id)?;
        let added = tags
            .iter()
            .filter(|(k, _)| !have.iter().any(|(hk, _)| hk == k))
            .count();
        if have.len() + added > MAX_TAGS_PER_RESOURCE {
            return Err(errors::tag_quota_exceeded());
        }
    }
    for id in &ids {
        let have = ecs.tags_mut(kind, id)?;
        for (key, value) in &tags {
            match have.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1.clone_from(value),
                None => have.push((key.clone(), value.clone())),
            }
        }
    }
    Ok(json!({}))
}

/// UntagResources: removes the keys `TagKey.N` (those a resource does not have are ignored),
/// or every tag with `All=true` and no `TagKey.N`. Neither is 404 `MissingParameter.Tags`.
pub fn untag_resources(ecs: &mut Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    region(p, ctx)?;
    let kind = resource_type(p)?;
    let ids = required_resource_ids(p)?;
    let keys = p.list("TagKey", INDEX_CEILING)?;
    if keys.len() > MAX_TAGS {
        return Err(errors::too_many_tags());
    }
    let all = p.bool("All", false)?;
    if keys.is_empty() && !all {
        return Err(errors::tag_parameter_missing("Tags"));
    }
    for id in &ids {
        ecs.tags_mut(kind, id)?;
    }
    for id in &ids {
        let have = ecs.tags_mut(kind, id)?;
        if keys.is_empty() {
            have.clear();
        } else {
            have.retain(|(k, _)| !keys.contains(&k.as_str()));
        }
    }
    Ok(json!({}))
}

/// One `TagFilter.N`: a key (a pattern when no values are given) and value patterns.
struct TagFilter<'a> {
    key: &'a str,
    values: Vec<&'a str>,
}

impl TagFilter<'_> {
    /// With no values, a resource with a key matching the key pattern (`env*`, `*env*`,
    /// `env`); with values, a resource with the exact key and a value matching any of them.
    fn matches(&self, tags: &[(String, String)]) -> bool {
        if self.values.is_empty() {
            tags.iter().any(|(k, _)| wildcard(self.key, k))
        } else {
            tags.iter().any(|(k, v)| {
                k == self.key && self.values.iter().any(|pattern| wildcard(pattern, v))
            })
        }
    }
}

fn tag_filters(p: &Params) -> Result<Vec<TagFilter<'_>>, RpcError> {
    let entries = p.struct_list("TagFilter", MAX_TAG_FILTERS)?;
    let mut out = Vec::with_capacity(entries.len());
    for members in entries {
        let mut key = None;
        let mut values: Vec<(usize, &str)> = Vec::new();
        for (member, value) in members {
            if member == "TagKey" {
                key = Some(value).filter(|v| !v.is_empty());
            } else if let Some(index) = member.strip_prefix("TagValues.") {
                let n: usize = index.parse().map_err(|_| {
                    RpcError::invalid("TagFilter.N.TagValues.N", "the list index is not a number")
                })?;
                if n == 0 || n > MAX_TAG_FILTERS {
                    return Err(RpcError::invalid(
                        "TagFilter.N.TagValues.N",
                        format!("takes at most {MAX_TAG_FILTERS} values, numbered from 1"),
                    ));
                }
                if !value.is_empty() {
                    values.push((n, value));
                }
            }
        }
        let key = key.ok_or_else(|| RpcError::missing("TagFilter.N.TagKey"))?;
        if key.chars().count() > 128 {
            return Err(errors::tag_key_malformed());
        }
        values.sort_by_key(|(n, _)| *n);
        out.push(TagFilter {
            key,
            values: values.into_iter().map(|(_, v)| v).collect(),
        });
    }
    Ok(out)
}

/// `Tag.N` of ListTagResources: a key, and a value or none (any value of the key).
fn tag_matches(p: &Params) -> Result<Vec<(&str, Option<&str>)>, RpcError> {
    let entries = p.struct_list("Tag", INDEX_CEILING)?;
    if entries.len() > MAX_TAGS {
        return Err(errors::too_many_tags());
    }
    let mut out = Vec::with_capacity(entries.len());
    for members in &entries {
        let (key, value) = key_and_value(members);
        let value = value.filter(|v| !v.is_empty());
        let Some(key) = key.filter(|k| !k.is_empty()) else {
            if value.is_some() {
                return Err(errors::tag_value_without_key());
            }
            continue;
        };
        if key.chars().count() > 128 {
            return Err(errors::tag_key_malformed());
        }
        if value.is_some_and(|v| v.chars().count() > 128) {
            return Err(errors::tag_value_malformed());
        }
        out.push((key, value));
    }
    Ok(out)
}

/// The offset a `NextToken` stands for (the sim's tokens are 32 hexadecimal digits).
pub(super) fn offset_of(token: &str) -> Result<usize, RpcError> {
    (token.len() == 32)
        .then(|| u128::from_str_radix(token, 16).ok())
        .flatten()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| RpcError::invalid("NextToken", "is not a token this operation gave"))
}

/// ListTagResources: one row per tag of each resource that matches `ResourceId.N` (unknown
/// ids match nothing), every `Tag.N` and every `TagFilter.N`; 50 rows a page, `NextToken`
/// empty on the last.
pub fn list_tag_resources(ecs: &Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    region(p, ctx)?;
    let kind = resource_type(p)?;
    let ids = resource_ids(p)?;
    let tags = tag_matches(p)?;
    let filters = tag_filters(p)?;
    if !tags.is_empty() && !filters.is_empty() {
        return Err(RpcError::invalid(
            "TagFilter.N",
            "cannot be used together with Tag.N",
        ));
    }
    if ids.is_empty() && tags.is_empty() && filters.is_empty() {
        return Err(RpcError::missing("ResourceId.N, Tag.N or TagFilter.N"));
    }
    let offset = p.get("NextToken").map(offset_of).transpose()?.unwrap_or(0);
    let rows: Vec<Value> = ecs
        .tagged(kind)
        .into_iter()
        .filter(|(id, _)| ids.is_empty() || ids.contains(id))
        .filter(|(_, have)| {
            tags.iter().all(|(key, value)| {
                have.iter()
                    .any(|(k, v)| k == key && value.is_none_or(|want| want == v))
            })
        })
        .filter(|(_, have)| filters.iter().all(|f| f.matches(have)))
        .flat_map(|(id, have)| {
            have.iter().map(move |(k, v)| {
                json!({"ResourceType": kind, "ResourceId": id, "TagKey": k, "TagValue": v})
            })
        })
        .collect();
    let end = offset.saturating_add(PAGE_SIZE);
    let next = if end < rows.len() {
        format!("{end:032x}")
    } else {
        String::new()
    };
    let page: Vec<Value> = rows.into_iter().skip(offset).take(PAGE_SIZE).collect();
    Ok(json!({
        "NextToken": next,
        "TagResources": {"TagResource": page},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_follow_the_documented_rules() {
        for ok in ["team", "reimage:task", "a", &"k".repeat(128), "键"] {
            assert!(key_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "aliyun-x",
            "acs:x",
            "see http://x",
            "https://x",
            &"k".repeat(129),
        ] {
            assert!(!key_ok(bad), "{bad}");
        }
        assert!(value_ok("") && value_ok("aliyun") && value_ok(&"v".repeat(128)));
        for bad in ["acs:x", "http://x", "a https://x", &"v".repeat(129)] {
            assert!(!value_ok(bad), "{bad}");
        }
    }

    #[test]
    fn tokens_round_trip_and_others_are_refused() {
        assert_eq!(offset_of(&format!("{:032x}", 150)).unwrap(), 150);
        for bad in ["", "xyz", "0096", &"g".repeat(32)] {
            assert_eq!(
                offset_of(bad).unwrap_err().code,
                "InvalidParameter",
                "{bad}"
            );
        }
    }

    #[test]
    fn tag_filters_take_key_patterns_or_value_patterns() {
        let tags = vec![("environment".to_owned(), "production".to_owned())];
        let filter = |key, values: Vec<&'static str>| TagFilter { key, values };
        assert!(filter("env*", vec![]).matches(&tags));
        assert!(filter("*viron*", vec![]).matches(&tags));
        assert!(!filter("env", vec![]).matches(&tags));
        assert!(filter("environment", vec!["prod*"]).matches(&tags));
        assert!(filter("environment", vec!["test", "*duct*"]).matches(&tags));
        assert!(!filter("env*", vec!["prod*"]).matches(&tags));
    }
}
