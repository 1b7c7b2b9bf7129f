//! Scaling groups whose instances launch from an ECS launch template (the console's
//! "Configuration Source: Launch Template"): the image goes into a new version of the
//! template, which the group is then pointed at.
//!
//! CreateLaunchTemplateVersion has no base version and no ClientToken
//! (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-createlaunchtemplateversion>),
//! so the new version is the source version's whole data sent again with only `ImageId`
//! changed (the client refuses to copy a version holding a parameter it does not know), and
//! it is described `reimage <execution> from version <n>`
//! ([`PreviousTemplate::new_version_description`]): a replay finds it by that description
//! instead of creating another. How the group follows depends on the version it names
//! (DescribeScalingGroups' `LaunchTemplateVersion`,
//! <https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-modifyscalinggroup>):
//!
//! | the group names | swap-config | rollback |
//! |---|---|---|
//! | a number | ModifyScalingGroup `LaunchTemplateVersion` = the new number | ModifyScalingGroup back to the recorded number |
//! | `Latest` | nothing: the new version is the latest (verify checks it) | deleting the new version makes the previous one the latest again |
//! | `Default` | ModifyLaunchTemplateDefaultVersion to the new number, only when the request allows it: it changes every user of the template | ModifyLaunchTemplateDefaultVersion back to the recorded number |
//!
//! A rollback then deletes the versions the execution created (DeleteLaunchTemplateVersion;
//! one already gone is deleted).

use std::collections::BTreeSet;

use super::cloud::{Cloud, CloudError, LaunchTemplate};
use crate::model::{ExecutionId, PreviousTemplate, UpdateRequest};

/// Most versions a launch template holds (CreateLaunchTemplateVersion: "You can create up to
/// 30 versions for each launch template").
pub const MAX_VERSIONS: usize = 30;

/// Why each requested launch-template group cannot take the image, before anything is
/// created: it is missing or disabled, not ECS, not on a launch template, names a version
/// that does not exist, its template has no room for another version, or it is on the
/// template's default version and the request does not allow changing it.
pub(crate) async fn problems(
    cloud: &dyn Cloud,
    request: &UpdateRequest,
) -> Result<Vec<String>, CloudError> {
    problems_of(
        cloud,
        &request.scaling_group_ids,
        request.allow_default_version_change,
    )
    .await
}

/// [`problems`] of `group_ids`, a default version's change allowed or not.
pub async fn problems_of(
    cloud: &dyn Cloud,
    group_ids: &[String],
    allow_default_version_change: bool,
) -> Result<Vec<String>, CloudError> {
    let mut problems = Vec::new();
    let sources = match read_sources(cloud, group_ids).await? {
        Ok(sources) => sources,
        Err(mut found) => {
            problems.append(&mut found);
            return Ok(problems);
        }
    };
    let mut new_versions: Vec<(String, i64)> = Vec::new();
    for (source, template) in &sources {
        let key = (source.launch_template_id.clone(), source.source_version);
        if !new_versions.contains(&key) {
            new_versions.push(key);
        }
        let adding = new_versions
            .iter()
            .filter(|(t, _)| t == &source.launch_template_id)
            .count();
        if template.versions.len() + adding > MAX_VERSIONS {
            problems.push(format!(
                "launch template {} of scaling group {} holds {} versions and may hold at most \
                 {MAX_VERSIONS}: delete an unused one (DeleteLaunchTemplateVersion) first",
                source.launch_template_id,
                source.group_id,
                template.versions.len()
            ));
        }
        let users = cloud
            .groups_of_launch_template(&source.launch_template_id)
            .await?;
        // Groups outside the request on the template's Latest version launch the new
        // version as soon as it exists: that changes them too.
        let latest_users: Vec<&str> = users
            .iter()
            .filter(|(g, v)| v == "Latest" && !group_ids.contains(g))
            .map(|(g, _)| g.as_str())
            .collect();
        if !latest_users.is_empty() && !allow_default_version_change {
            problems.push(format!(
                "launch template {} of scaling group {} is also used by scaling group(s) {} on \
                 its Latest version, which would launch the new version too; allow it with \
                 allow_default_version_change",
                source.launch_template_id,
                source.group_id,
                latest_users.join(", ")
            ));
        }
        if source.on_default() && !allow_default_version_change {
            let mut others: Vec<String> = users.into_iter().map(|(g, _)| g).collect();
            others.retain(|g| g != &source.group_id);
            let users = if others.is_empty() {
                "no other scaling group uses it, but any launch from the template's default \
                 does"
                    .to_owned()
            } else {
                format!("it is also used by scaling group(s) {}", others.join(", "))
            };
            problems.push(format!(
                "scaling group {} launches from the default version of launch template {}: \
                 changing the default changes it for every user of the template ({users}); \
                 allow it with allow_default_version_change",
                source.group_id, source.launch_template_id
            ));
        }
    }
    Ok(problems)
}

/// What each group launches from now, with its template, in request order; `Err` lists why
/// some cannot be read as launch-template groups.
pub async fn read_sources(
    cloud: &dyn Cloud,
    group_ids: &[String],
) -> Result<Result<Vec<(PreviousTemplate, LaunchTemplate)>, Vec<String>>, CloudError> {
    if group_ids.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let groups = describe_groups(cloud, group_ids).await?;
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for id in group_ids {
        let Some(group) = groups.iter().find(|g| &g.scaling_group_id == id) else {
            problems.push(format!(
                "scaling group {id} is disabled or missing (DescribeScalingGroups does not list it)"
            ));
            continue;
        };
        if !group.is_ecs() {
            problems.push(format!(
                "scaling group {id} is of type {}; only ECS-type groups can take a custom image",
                group.group_type
            ));
            continue;
        }
        if group.launch_template_id.is_empty() {
            problems.push(format!(
                "scaling group {id} launches from scaling configurations, not a launch template: \
                 name its configurations instead"
            ));
            continue;
        }
        let template_id = &group.launch_template_id;
        let Some(template) = cloud.launch_template(template_id).await? else {
            problems.push(format!(
                "launch template {template_id} of scaling group {id} does not exist"
            ));
            continue;
        };
        let version = group.launch_template_version.clone();
        let Some(number) = template.resolve(&version) else {
            problems.push(format!(
                "scaling group {id} launches from version {version:?} of launch template \
                 {template_id}, which does not exist"
            ));
            continue;
        };
        let image_id = template
            .version(number)
            .map(|v| v.image_id.clone())
            .unwrap_or_default();
        out.push((
            PreviousTemplate {
                group_id: id.clone(),
                launch_template_id: template_id.clone(),
                version: if version.is_empty() {
                    "Default".into()
                } else {
                    version
                },
                source_version: number,
                default_version: template.default_version,
                image_id,
            },
            template,
        ));
    }
    Ok(if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    })
}

/// DescribeScalingGroups for `ids`, [`super::cloud::GROUPS_PER_CALL`] a call.
async fn describe_groups(
    cloud: &dyn Cloud,
    ids: &[String],
) -> Result<Vec<super::cloud::ScalingGroup>, CloudError> {
    let mut groups = Vec::new();
    for chunk in ids.chunks(super::cloud::GROUPS_PER_CALL) {
        groups.extend(cloud.describe_groups(chunk).await?);
    }
    Ok(groups)
}

/// Puts `image_id` into each group's template as a new version and points the group at it;
/// a replay finds the versions it created. `Err` is the call that failed, and on which group.
///
/// Groups on `Latest` go last, so that the latest version of a template that other groups
/// of the request copy too is the one made from their own.
pub async fn swap(
    cloud: &dyn Cloud,
    execution_id: &ExecutionId,
    previous: &[PreviousTemplate],
    image_id: &str,
) -> Result<(), (String, CloudError)> {
    let mut ordered: Vec<&PreviousTemplate> = previous.iter().collect();
    ordered.sort_by_key(|source| source.on_latest());
    for source in ordered {
        let group = &source.group_id;
        let template_id = &source.launch_template_id;
        let at = |what: &str| format!("{what} of scaling group {group}");
        let template = match cloud.launch_template(template_id).await {
            Ok(Some(template)) => template,
            Ok(None) => {
                return Err((
                    at("launch template"),
                    CloudError::client(
                        "DescribeLaunchTemplates",
                        "InvalidLaunchTemplate.NotFound",
                        &format!("launch template {template_id} no longer exists"),
                    ),
                ));
            }
            Err(e) => return Err((at("reading launch template"), e)),
        };
        let description = source.new_version_description(execution_id);
        let number = match template
            .versions
            .iter()
            .find(|v| v.description == description)
        {
            Some(version) => version.number,
            None => cloud
                .copy_launch_template_version(
                    template_id,
                    source.source_version,
                    image_id,
                    &description,
                )
                .await
                .map_err(|e| {
                    (
                        format!(
                            "creating a version of launch template {template_id} for scaling \
                             group {group}"
                        ),
                        e,
                    )
                })?,
        };
        if source.on_latest() {
            continue;
        }
        if source.on_default() {
            if template.default_version != number {
                cloud
                    .set_default_launch_template_version(template_id, number)
                    .await
                    .map_err(|e| {
                        (
                            format!(
                                "making version {number} the default of launch template \
                                 {template_id}"
                            ),
                            e,
                        )
                    })?;
            }
            continue;
        }
        cloud
            .set_group_launch_template(group, template_id, &number.to_string())
            .await
            .map_err(|e| {
                (
                    format!("pointing scaling group {group} at version {number} of {template_id}"),
                    e,
                )
            })?;
    }
    Ok(())
}

/// Points each group back at what it named before, and deletes the versions the execution
/// created; a line for each thing that could not be put back, or was kept.
///
/// Only the execution's own change is undone: a group (or a default) that names another
/// version than the execution's now was changed by someone since, and is left. A version is
/// deleted only when every group of `previous` on its template was put back, and no other
/// group launches it (a group sharing the version, a group on `Latest` when it is the
/// latest), and it is not the default.
pub async fn put_back(
    cloud: &dyn Cloud,
    execution_id: &ExecutionId,
    previous: &[PreviousTemplate],
) -> Vec<String> {
    let mut leftovers = Vec::new();
    let mut kept: BTreeSet<&str> = BTreeSet::new();
    for source in previous.iter().rev() {
        let template_id = &source.launch_template_id;
        let ours = source.new_version_description(execution_id);
        let result = put_back_one(cloud, source, &ours).await;
        if let Err(e) = result {
            kept.insert(template_id.as_str());
            leftovers.push(format!(
                "scaling group {} could not be put back to version {} of launch template \
                 {template_id}: {e}",
                source.group_id, source.version
            ));
        }
    }
    // Then the versions this execution made, once nothing names them.
    let put_back_groups: BTreeSet<&str> = previous.iter().map(|p| p.group_id.as_str()).collect();
    let templates: BTreeSet<&str> = previous
        .iter()
        .map(|p| p.launch_template_id.as_str())
        .collect();
    for template_id in templates {
        if kept.contains(template_id) {
            leftovers.push(format!(
                "the version(s) of launch template {template_id} this execution made are kept: \
                 a scaling group could not be put back"
            ));
            continue;
        }
        let descriptions: Vec<String> = previous
            .iter()
            .filter(|p| p.launch_template_id == template_id)
            .map(|p| p.new_version_description(execution_id))
            .collect();
        let read = async {
            let template = cloud.launch_template(template_id).await?;
            let users = cloud.groups_of_launch_template(template_id).await?;
            Ok::<_, CloudError>((template, users))
        };
        let (template, users) = match read.await {
            Ok((Some(template), users)) => (template, users),
            Ok((None, _)) => continue,
            Err(e) => {
                leftovers.push(format!(
                    "the versions of launch template {template_id} this execution made could \
                     not be read to delete them: {e}"
                ));
                continue;
            }
        };
        for version in template
            .versions
            .iter()
            .filter(|v| descriptions.contains(&v.description))
        {
            let launching: Vec<&str> = users
                .iter()
                .filter(|(g, named)| {
                    !put_back_groups.contains(g.as_str())
                        && template.resolve(named) == Some(version.number)
                })
                .map(|(g, _)| g.as_str())
                .collect();
            if !launching.is_empty() || template.default_version == version.number {
                leftovers.push(format!(
                    "version {} of launch template {template_id} is kept: {}",
                    version.number,
                    if launching.is_empty() {
                        "it is the default".to_owned()
                    } else {
                        format!("scaling group(s) {} launch it", launching.join(", "))
                    }
                ));
                continue;
            }
            if let Err(e) = cloud
                .delete_launch_template_version(template_id, version.number)
                .await
            {
                leftovers.push(format!(
                    "version {} of launch template {template_id} could not be deleted: {e}",
                    version.number
                ));
            }
        }
    }
    leftovers
}

/// Undoes the execution's change of one group, if it is still the execution's: the default
/// back when it is the execution's version, a pinned group back when it names the
/// execution's version; nothing for `Latest`.
async fn put_back_one(
    cloud: &dyn Cloud,
    source: &PreviousTemplate,
    ours: &str,
) -> Result<(), CloudError> {
    if source.on_latest() {
        return Ok(());
    }
    let template_id = &source.launch_template_id;
    let Some(template) = cloud.launch_template(template_id).await? else {
        return Ok(());
    };
    let is_ours = |number: Option<i64>| {
        number
            .and_then(|n| template.version(n))
            .is_some_and(|v| v.description == ours)
    };
    if source.on_default() {
        if is_ours(Some(template.default_version)) {
            cloud
                .set_default_launch_template_version(template_id, source.default_version)
                .await?;
        }
        return Ok(());
    }
    let ids = [source.group_id.clone()];
    let groups = cloud.describe_groups(&ids).await?;
    let Some(group) = groups
        .iter()
        .find(|g| g.scaling_group_id == source.group_id)
    else {
        return Ok(());
    };
    if &group.launch_template_id == template_id
        && is_ours(template.resolve(&group.launch_template_version))
    {
        cloud
            .set_group_launch_template(&source.group_id, template_id, &source.version)
            .await?;
    }
    Ok(())
}

/// What verify finds wrong with each group: it no longer launches from its template, or the
/// version it launches from is not the execution's, holding the image.
pub(crate) async fn verify(
    cloud: &dyn Cloud,
    execution_id: &ExecutionId,
    previous: &[PreviousTemplate],
    image_id: &str,
) -> Result<Vec<String>, CloudError> {
    if previous.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = previous.iter().map(|p| p.group_id.clone()).collect();
    let mut problems = Vec::new();
    let groups = describe_groups(cloud, &ids).await?;
    for source in previous {
        let group_id = &source.group_id;
        let template_id = &source.launch_template_id;
        let Some(group) = groups.iter().find(|g| &g.scaling_group_id == group_id) else {
            problems.push(format!("scaling group {group_id} is disabled or missing"));
            continue;
        };
        if &group.launch_template_id != template_id {
            problems.push(format!(
                "scaling group {group_id} launches from {:?}, not launch template {template_id}",
                group.launch_template_id
            ));
            continue;
        }
        let Some(template) = cloud.launch_template(template_id).await? else {
            problems.push(format!("launch template {template_id} no longer exists"));
            continue;
        };
        let description = source.new_version_description(execution_id);
        let launches = template
            .resolve(&group.launch_template_version)
            .and_then(|n| template.version(n));
        match launches {
            Some(v) if v.description == description && v.image_id == image_id => {}
            Some(v) => problems.push(format!(
                "scaling group {group_id} launches from version {} of launch template \
                 {template_id} ({}), which holds image {:?}, not this execution's version with \
                 {image_id}",
                v.number, group.launch_template_version, v.image_id
            )),
            None => problems.push(format!(
                "scaling group {group_id} names version {:?} of launch template {template_id}, \
                 which does not exist",
                group.launch_template_version
            )),
        }
    }
    Ok(problems)
}
