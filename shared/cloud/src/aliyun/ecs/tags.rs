//! Tags on ECS resources: TagResources, UntagResources and ListTagResources
//! (<https://www.alibabacloud.com/help/en/elastic-compute-service/latest/tagresources>,
//! <https://www.alibabacloud.com/help/en/elastic-compute-service/latest/untagresources>,
//! <https://www.alibabacloud.com/help/en/elastic-compute-service/latest/listtagresources>).

use serde::Deserialize;

use super::super::error::{Error, RequestError};
use super::super::{MAX_PAGES, Params, RpcMethod, Tag, validate};
use super::Ecs;

/// Most `ResourceId.N` in one tag request.
pub const MAX_TAG_RESOURCE_IDS: usize = 50;
/// Most `Tag.N` (TagResources, ListTagResources) or `TagKey.N` (UntagResources) in one request.
pub const MAX_REQUEST_TAGS: usize = 20;
/// Most tags one resource holds.
pub const MAX_TAGS_PER_RESOURCE: usize = 20;
/// Most `TagFilter.N` of ListTagResources, and most `TagValues.N` in each.
pub const MAX_TAG_FILTERS: usize = 5;

/// `ResourceType` of the tag operations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TagResourceType {
    /// `instance`.
    #[default]
    Instance,
    /// `disk`.
    Disk,
    /// `snapshot`.
    Snapshot,
    /// `image`.
    Image,
    /// `securitygroup`.
    SecurityGroup,
    /// `volume`.
    Volume,
    /// `eni`.
    Eni,
    /// `ddh`: a dedicated host.
    Ddh,
    /// `ddhcluster`.
    DdhCluster,
    /// `keypair`.
    KeyPair,
    /// `launchtemplate`.
    LaunchTemplate,
    /// `reservedinstance`.
    ReservedInstance,
    /// `snapshotpolicy`.
    SnapshotPolicy,
    /// `elasticityassurance`.
    ElasticityAssurance,
    /// `capacityreservation`.
    CapacityReservation,
}

impl TagResourceType {
    /// The wire value (lower case, as documented).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instance => "instance",
            Self::Disk => "disk",
            Self::Snapshot => "snapshot",
            Self::Image => "image",
            Self::SecurityGroup => "securitygroup",
            Self::Volume => "volume",
            Self::Eni => "eni",
            Self::Ddh => "ddh",
            Self::DdhCluster => "ddhcluster",
            Self::KeyPair => "keypair",
            Self::LaunchTemplate => "launchtemplate",
            Self::ReservedInstance => "reservedinstance",
            Self::SnapshotPolicy => "snapshotpolicy",
            Self::ElasticityAssurance => "elasticityassurance",
            Self::CapacityReservation => "capacityreservation",
        }
    }
}

/// `ResourceId.N`: 1 to 50 ids, none empty.
fn check_resource_ids(ids: &[String]) -> Result<(), RequestError> {
    if ids.is_empty() {
        return Err(RequestError::new(
            "ResourceId.N",
            "at least one resource id",
        ));
    }
    validate::repeat_list("ResourceId.N", ids, MAX_TAG_RESOURCE_IDS)
}

/// `TagResources`: adds (or overwrites, for a key the resource has) the tags on every
/// resource. A resource may hold at most [`MAX_TAGS_PER_RESOURCE`] tags; a call that would
/// pass that is refused whole (`OperationDenied.QuotaExceed`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagResourcesRequest {
    /// `ResourceType`.
    pub resource_type: TagResourceType,
    /// `ResourceId.N` (1 to 50).
    pub resource_ids: Vec<String>,
    /// `Tag.N.Key` / `Tag.N.Value` (1 to 20, keys unique; a value may be empty).
    pub tags: Vec<Tag>,
}

impl TagResourcesRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        check_resource_ids(&self.resource_ids)?;
        if self.tags.is_empty() {
            return Err(RequestError::new("Tag.N", "at least one tag"));
        }
        validate::tags(&self.tags)?;
        for (i, t) in self.tags.iter().enumerate() {
            if self.tags[..i].iter().any(|u| u.key == t.key) {
                return Err(RequestError::new(
                    format!("Tag.{}.Key", i + 1),
                    format!("repeats the key {:?}", t.key),
                ));
            }
        }
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("ResourceType", self.resource_type.as_str())
            .list("ResourceId", &self.resource_ids)
            .tags(&self.tags);
        Ok(p)
    }
}

/// `UntagResources`: removes the keys `tag_keys` from every resource (keys a resource does
/// not hold are no error), or, with `all` and no keys, every tag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UntagResourcesRequest {
    /// `ResourceType`.
    pub resource_type: TagResourceType,
    /// `ResourceId.N` (1 to 50).
    pub resource_ids: Vec<String>,
    /// `TagKey.N` (at most 20).
    pub tag_keys: Vec<String>,
    /// `All`: remove every tag. Only without `tag_keys` (the cloud ignores it otherwise; the
    /// client refuses the pair).
    pub all: bool,
}

impl UntagResourcesRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        check_resource_ids(&self.resource_ids)?;
        validate::repeat_list("TagKey.N", &self.tag_keys, MAX_REQUEST_TAGS)?;
        match (self.tag_keys.is_empty(), self.all) {
            (true, false) => {
                return Err(RequestError::new(
                    "TagKey.N",
                    "at least one key, or All to remove every tag",
                ));
            }
            (false, true) => {
                return Err(RequestError::new(
                    "All",
                    "applies only when no TagKey.N is given",
                ));
            }
            _ => {}
        }
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("ResourceType", self.resource_type.as_str())
            .list("ResourceId", &self.resource_ids)
            .list("TagKey", &self.tag_keys);
        if self.all {
            p.put("All", true);
        }
        Ok(p)
    }
}

/// `TagFilter.N` of ListTagResources: a fuzzy search. Without values the key may be a
/// pattern (`env*` prefix, `*env*` infix, `env` exact); with values the key is exact and the
/// values are patterns, any of which may match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFilter {
    /// `TagFilter.N.TagKey` (1 to 128 characters).
    pub tag_key: String,
    /// `TagFilter.N.TagValues.N` (at most 5).
    pub tag_values: Vec<String>,
}

/// `ListTagResources`: one row per tag of each matching resource. At least one of
/// `resource_ids`, `tags` and `tag_filters` is needed; `tags` and `tag_filters` do not go
/// together. Conditions are ANDed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListTagResourcesRequest {
    /// `ResourceType`.
    pub resource_type: TagResourceType,
    /// `ResourceId.N` (at most 50).
    pub resource_ids: Vec<String>,
    /// `Tag.N.Key` / `Tag.N.Value` (at most 20): exact matches; an empty value matches every
    /// value of the key (`Tag.N.Value` is then not sent).
    pub tags: Vec<Tag>,
    /// `TagFilter.N` (at most 5).
    pub tag_filters: Vec<TagFilter>,
    /// `NextToken` of the previous page.
    pub next_token: Option<String>,
}

impl ListTagResourcesRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::repeat_list("ResourceId.N", &self.resource_ids, MAX_TAG_RESOURCE_IDS)?;
        if self.resource_ids.is_empty() && self.tags.is_empty() && self.tag_filters.is_empty() {
            return Err(RequestError::new(
                "ResourceId.N",
                "at least one of ResourceId.N, Tag.N and TagFilter.N is needed",
            ));
        }
        if !self.tags.is_empty() && !self.tag_filters.is_empty() {
            return Err(RequestError::new(
                "TagFilter.N",
                "cannot be used together with Tag.N",
            ));
        }
        validate::tags(&self.tags)?;
        if self.tag_filters.len() > MAX_TAG_FILTERS {
            return Err(RequestError::new(
                "TagFilter.N",
                format!(
                    "{} filters; at most {MAX_TAG_FILTERS}",
                    self.tag_filters.len()
                ),
            ));
        }
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("ResourceType", self.resource_type.as_str())
            .list("ResourceId", &self.resource_ids);
        for (i, t) in self.tags.iter().enumerate() {
            p.put(format!("Tag.{}.Key", i + 1), &t.key);
            if !t.value.is_empty() {
                p.put(format!("Tag.{}.Value", i + 1), &t.value);
            }
        }
        for (i, f) in self.tag_filters.iter().enumerate() {
            let name = format!("TagFilter.{}", i + 1);
            let n = f.tag_key.chars().count();
            if n == 0 || n > 128 {
                return Err(RequestError::new(
                    format!("{name}.TagKey"),
                    "must be 1 to 128 characters",
                ));
            }
            validate::repeat_list(
                &format!("{name}.TagValues.N"),
                &f.tag_values,
                MAX_TAG_FILTERS,
            )?;
            p.put(format!("{name}.TagKey"), &f.tag_key)
                .list(&format!("{name}.TagValues"), &f.tag_values);
        }
        p.opt_str("NextToken", self.next_token.as_deref());
        Ok(p)
    }
}

/// `ListTagResources` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListTagResourcesResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `NextToken`: where the next page starts; empty (or absent) on the last page.
    #[serde(deserialize_with = "super::super::lenient::string")]
    pub next_token: String,
    /// `TagResources`.
    pub tag_resources: TagResources,
}

/// `TagResources: {TagResource: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagResources {
    /// `TagResource`.
    pub tag_resource: Vec<TagResource>,
}

/// One tag of one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagResource {
    /// `ResourceType`.
    pub resource_type: String,
    /// `ResourceId`.
    pub resource_id: String,
    /// `TagKey`.
    pub tag_key: String,
    /// `TagValue`.
    pub tag_value: String,
}

impl Ecs<'_> {
    /// `TagResources`.
    pub async fn tag_resources(
        &self,
        req: &TagResourcesRequest,
    ) -> Result<super::Acknowledged, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "TagResources", params).await
    }

    /// `UntagResources`.
    pub async fn untag_resources(
        &self,
        req: &UntagResourcesRequest,
    ) -> Result<super::Acknowledged, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "UntagResources", params).await
    }

    /// `ListTagResources` (one page: pass the answer's `next_token` for the next).
    pub async fn list_tag_resources(
        &self,
        req: &ListTagResourcesRequest,
    ) -> Result<ListTagResourcesResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "ListTagResources", params).await
    }

    /// Every row of `ListTagResources` for `req`, following `NextToken` from `req`'s
    /// (at most 1000 pages).
    pub async fn list_tag_resources_all(
        &self,
        req: &ListTagResourcesRequest,
    ) -> Result<Vec<TagResource>, Error> {
        let mut out = Vec::new();
        let mut req = req.clone();
        for _ in 0..MAX_PAGES {
            let answer = self.list_tag_resources(&req).await?;
            out.extend(answer.tag_resources.tag_resource);
            if answer.next_token.is_empty() || req.next_token.as_deref() == Some(&answer.next_token)
            {
                break;
            }
            req.next_token = Some(answer.next_token);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("i-{i}")).collect()
    }

    #[test]
    fn tag_resources_flattens_ids_and_tags_and_checks_them() {
        let p = TagResourcesRequest {
            resource_type: TagResourceType::Instance,
            resource_ids: ids(2),
            tags: vec![Tag::new("team", "web"), Tag::new("empty", "")],
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        assert_eq!(p.get("ResourceType"), Some("instance"));
        assert_eq!(p.get("ResourceId.2"), Some("i-1"));
        assert_eq!(p.get("Tag.1.Key"), Some("team"));
        assert_eq!(p.get("Tag.2.Value"), Some(""));
        let refused = |req: TagResourcesRequest| req.to_params("r").expect_err("refused").parameter;
        let one_tag = vec![Tag::new("k", "v")];
        assert_eq!(
            refused(TagResourcesRequest {
                tags: one_tag.clone(),
                ..Default::default()
            }),
            "ResourceId.N"
        );
        assert_eq!(
            refused(TagResourcesRequest {
                resource_ids: ids(51),
                tags: one_tag.clone(),
                ..Default::default()
            }),
            "ResourceId.N"
        );
        assert_eq!(
            refused(TagResourcesRequest {
                resource_ids: ids(1),
                ..Default::default()
            }),
            "Tag.N"
        );
        assert_eq!(
            refused(TagResourcesRequest {
                resource_ids: ids(1),
                tags: (0..21).map(|i| Tag::new(format!("k{i}"), "")).collect(),
                ..Default::default()
            }),
            "Tag.N"
        );
        assert_eq!(
            refused(TagResourcesRequest {
                resource_ids: ids(1),
                tags: vec![Tag::new("k", "1"), Tag::new("k", "2")],
                ..Default::default()
            }),
            "Tag.2.Key"
        );
        assert_eq!(
            refused(TagResourcesRequest {
                resource_ids: ids(1),
                tags: vec![Tag::new("acs:k", "1")],
                ..Default::default()
            }),
            "Tag.1.Key"
        );
    }

    #[test]
    fn untag_takes_keys_or_all_but_not_both() {
        let p = UntagResourcesRequest {
            resource_type: TagResourceType::Disk,
            resource_ids: ids(1),
            tag_keys: vec!["a".into(), "b".into()],
            all: false,
        }
        .to_params("r")
        .expect("valid");
        assert_eq!(
            (p.get("ResourceType"), p.get("TagKey.2"), p.get("All")),
            (Some("disk"), Some("b"), None)
        );
        let p = UntagResourcesRequest {
            resource_ids: ids(1),
            all: true,
            ..Default::default()
        }
        .to_params("r")
        .expect("valid");
        assert_eq!(p.get("All"), Some("true"));
        let neither = UntagResourcesRequest {
            resource_ids: ids(1),
            ..Default::default()
        };
        assert_eq!(
            neither.to_params("r").expect_err("neither").parameter,
            "TagKey.N"
        );
        let both = UntagResourcesRequest {
            tag_keys: vec!["a".into()],
            all: true,
            ..neither
        };
        assert_eq!(both.to_params("r").expect_err("both").parameter, "All");
    }

    #[test]
    fn list_needs_a_condition_and_keeps_tags_and_filters_apart() {
        let p = ListTagResourcesRequest {
            tags: vec![Tag::new("team", ""), Tag::new("env", "prod")],
            next_token: Some("abc".into()),
            ..Default::default()
        }
        .to_params("r")
        .expect("valid");
        assert_eq!(p.get("Tag.1.Key"), Some("team"));
        assert_eq!(p.get("Tag.1.Value"), None, "an empty value is any value");
        assert_eq!(p.get("Tag.2.Value"), Some("prod"));
        assert_eq!(p.get("NextToken"), Some("abc"));
        let p = ListTagResourcesRequest {
            tag_filters: vec![TagFilter {
                tag_key: "env".into(),
                tag_values: vec!["prod*".into(), "*test*".into()],
            }],
            ..Default::default()
        }
        .to_params("r")
        .expect("valid");
        assert_eq!(p.get("TagFilter.1.TagKey"), Some("env"));
        assert_eq!(p.get("TagFilter.1.TagValues.2"), Some("*test*"));
        let e = ListTagResourcesRequest::default()
            .to_params("r")
            .expect_err("no condition");
        assert_eq!(e.parameter, "ResourceId.N");
        let e = ListTagResourcesRequest {
            tags: vec![Tag::new("a", "")],
            tag_filters: vec![TagFilter {
                tag_key: "b".into(),
                tag_values: Vec::new(),
            }],
            ..Default::default()
        }
        .to_params("r")
        .expect_err("both");
        assert_eq!(e.parameter, "TagFilter.N");
        let e = ListTagResourcesRequest {
            tag_filters: vec![TagFilter::default(); 6],
            ..Default::default()
        }
        .to_params("r")
        .expect_err("too many filters");
        assert_eq!(e.parameter, "TagFilter.N");
    }

    #[test]
    fn list_answer_reads_the_documented_nesting() {
        let r: ListTagResourcesResponse = serde_json::from_str(
            r#"{"NextToken":"caeba0bbb2be03f84eb48b699f0a4883","RequestId":"R",
            "TagResources":{"TagResource":[{"ResourceType":"instance","ResourceId":"i-1","TagKey":"TestKey","TagValue":"TestValue"}]}}"#,
        )
        .expect("parses");
        assert_eq!(r.next_token, "caeba0bbb2be03f84eb48b699f0a4883");
        let row = &r.tag_resources.tag_resource[0];
        assert_eq!(
            (
                row.resource_id.as_str(),
                row.tag_key.as_str(),
                row.tag_value.as_str()
            ),
            ("i-1", "TestKey", "TestValue")
        );
        let last: ListTagResourcesResponse =
            serde_json::from_str(r#"{"RequestId":"R","TagResources":{"TagResource":[]}}"#)
                .expect("parses");
        assert_eq!(last.next_token, "");
    }
}
