//! Helpers for testing code that drives the pipeline: an in-memory cloud, and wrappers that
//! "crash" (panic, so that nothing after the point runs, as when a process dies) before or
//! after the Nth cloud call or store write.
//!
//! The end-to-end tests run against `sim` through real HTTP; these helpers are for unit tests
//! of the engine and of the code built on it (API, scheduler, functions).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::cloud::{
    Cloud, CloudError, CloudFuture, Creation, Image, Instance, ScalingConfiguration, ScalingGroup,
    SharedCloud, Snapshot,
};
use crate::clock::SharedClock;
use crate::store::{KeyPage, SharedStore, StateStore, StoreFuture};

/// An instance of the fake cloud.
#[derive(Debug, Clone)]
pub struct FakeInstance {
    /// `Running`, `Stopped`, …
    pub status: String,
    /// Its system disk.
    pub system_disk: String,
}

/// A scaling configuration of the fake cloud.
#[derive(Debug, Clone)]
pub struct FakeConfiguration {
    /// Its group.
    pub group: String,
    /// `Active` or `Inactive`.
    pub lifecycle_state: String,
    /// Its image.
    pub image_id: String,
}

/// An image of the fake cloud.
#[derive(Debug, Clone)]
pub struct FakeImage {
    /// Its name.
    pub name: String,
    /// When CreateImage was called (`None` for images that were always there).
    pub created_at: Option<DateTime<Utc>>,
    /// Whether its build ends in CreateFailed.
    pub fails: bool,
    /// Its tags.
    pub tags: Vec<(String, String)>,
}

/// A snapshot of the fake cloud.
#[derive(Debug, Clone)]
pub struct FakeSnapshot {
    /// The disk it was taken of.
    pub disk: String,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// Its tags.
    pub tags: Vec<(String, String)>,
}

/// A fault to inject: the next `times` calls of `action` (for ModifyScalingConfiguration,
/// optionally only those for one configuration) fail with `error`.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The API action.
    pub action: String,
    /// Only calls about this configuration.
    pub configuration_id: Option<String>,
    /// The error to answer.
    pub error: CloudError,
    /// How many more calls fail.
    pub times: u32,
}

/// Everything the fake cloud holds; tests read and change it through [`FakeCloud::state`].
#[derive(Debug, Default)]
pub struct FakeState {
    /// Instances by id.
    pub instances: BTreeMap<String, FakeInstance>,
    /// Scaling groups by id, with their type (`ECS`, `ECI`).
    pub groups: BTreeMap<String, String>,
    /// Scaling configurations by id.
    pub configurations: BTreeMap<String, FakeConfiguration>,
    /// Images by id.
    pub images: BTreeMap<String, FakeImage>,
    /// Snapshots by id.
    pub snapshots: BTreeMap<String, FakeSnapshot>,
    /// Every call made, by action name, in order.
    pub calls: Vec<String>,
    /// Every ModifyScalingConfiguration that succeeded: (configuration, image).
    pub modifications: Vec<(String, String)>,
    /// Faults still to inject.
    pub faults: Vec<Fault>,
    /// Whether the next image created ends in CreateFailed.
    pub next_image_fails: bool,
    /// Who GetCallerIdentity says the calls are made as (`None`: the fake cannot tell).
    pub caller: Option<super::cloud::CallerIdentity>,
    tokens: BTreeMap<String, String>,
    next_id: u64,
}

impl FakeState {
    /// How many calls of `action` were made.
    pub fn count(&self, action: &str) -> usize {
        self.calls.iter().filter(|c| *c == action).count()
    }

    /// How many images were created (whether or not deleted since: see `images`).
    pub fn images_created(&self) -> usize {
        self.count_created("m-")
    }

    /// How many snapshots were created.
    pub fn snapshots_created(&self) -> usize {
        self.count_created("s-")
    }

    fn count_created(&self, prefix: &str) -> usize {
        self.tokens
            .values()
            .filter(|id| id.starts_with(prefix))
            .count()
    }

    /// How many times `configuration_id` received `image_id`.
    pub fn times_swapped(&self, configuration_id: &str, image_id: &str) -> usize {
        self.modifications
            .iter()
            .filter(|(c, i)| c == configuration_id && i == image_id)
            .count()
    }
}

/// An in-memory ECS and ESS with the rules the steps rely on: ClientToken idempotency,
/// DescribeImages hiding non-Available images unless asked, builds that take `build` of the
/// clock's time, NotFound errors, image name uniqueness.
pub struct FakeCloud {
    clock: SharedClock,
    build: Duration,
    state: Mutex<FakeState>,
}

impl fmt::Debug for FakeCloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeCloud")
            .field("build", &self.build)
            .finish_non_exhaustive()
    }
}

impl FakeCloud {
    /// DescribeScalingConfigurations (`eci` false) or DescribeEciScalingConfigurations
    /// (`eci` true): each answers the configurations of its own group type only, as ESS does.
    fn configurations_of_type(
        &self,
        action: &str,
        configuration_ids: &[String],
        eci: bool,
    ) -> Result<Vec<ScalingConfiguration>, CloudError> {
        self.enter(action, None)?;
        if configuration_ids.len() > super::cloud::CONFIGURATIONS_PER_CALL {
            return Err(CloudError::client(
                action,
                "InvalidParameter",
                "ScalingConfigurationId.N takes at most 10 ids.",
            ));
        }
        let state = self.state();
        Ok(configuration_ids
            .iter()
            .filter_map(|id| {
                let c = state.configurations.get(id)?;
                let group_is_eci = state
                    .groups
                    .get(&c.group)
                    .is_some_and(|kind| kind.eq_ignore_ascii_case("ECI"));
                (group_is_eci == eci).then(|| ScalingConfiguration {
                    scaling_configuration_id: id.clone(),
                    scaling_group_id: c.group.clone(),
                    lifecycle_state: c.lifecycle_state.clone(),
                    image_id: if eci {
                        String::new()
                    } else {
                        c.image_id.clone()
                    },
                    ..ScalingConfiguration::default()
                })
            })
            .collect())
    }

    /// A region with: instances `i-running` (Running), `i-stopped` (Stopped), `i-starting`
    /// (Starting); group `asg-ecs` (ECS) with configurations `asc-active` (Active) and
    /// `asc-inactive` (Inactive); group `asg-eci` (ECI) with `asc-eci`; every configuration
    /// on public image `m-base`; calls made as RAM user `reimage` of account `1234567890`.
    /// Snapshots and images take `build` each.
    pub fn demo(clock: SharedClock, build: Duration) -> Arc<Self> {
        let mut state = FakeState {
            caller: Some(super::cloud::CallerIdentity {
                account_id: "1234567890".into(),
                arn: "acs:ram::1234567890:user/reimage".into(),
                identity_type: "RAMUser".into(),
            }),
            ..FakeState::default()
        };
        for (id, status) in [
            ("i-running", "Running"),
            ("i-stopped", "Stopped"),
            ("i-starting", "Starting"),
        ] {
            state.instances.insert(
                id.into(),
                FakeInstance {
                    status: status.into(),
                    system_disk: format!("d-{id}"),
                },
            );
        }
        state.groups.insert("asg-ecs".into(), "ECS".into());
        state.groups.insert("asg-eci".into(), "ECI".into());
        for (id, group, lifecycle) in [
            ("asc-active", "asg-ecs", "Active"),
            ("asc-inactive", "asg-ecs", "Inactive"),
            ("asc-eci", "asg-eci", "Active"),
        ] {
            state.configurations.insert(
                id.into(),
                FakeConfiguration {
                    group: group.into(),
                    lifecycle_state: lifecycle.into(),
                    image_id: "m-base".into(),
                },
            );
        }
        state.images.insert(
            "m-base".into(),
            FakeImage {
                name: "base".into(),
                created_at: None,
                fails: false,
                tags: Vec::new(),
            },
        );
        Arc::new(Self {
            clock,
            build,
            state: Mutex::new(state),
        })
    }

    /// The fake's state, to read or change.
    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the next `times` calls of `action` fail with `error`.
    pub fn fail(&self, action: &str, error: CloudError, times: u32) {
        self.state().faults.push(Fault {
            action: action.into(),
            configuration_id: None,
            error,
            times,
        });
    }

    /// Makes ModifyScalingConfiguration of `configuration_id` fail with `error` (once).
    pub fn fail_modify_of(&self, configuration_id: &str, error: CloudError) {
        self.state().faults.push(Fault {
            action: "ModifyScalingConfiguration".into(),
            configuration_id: Some(configuration_id.into()),
            error,
            times: 1,
        });
    }

    /// Records the call and answers an injected fault if one applies.
    fn enter(&self, action: &str, configuration_id: Option<&str>) -> Result<(), CloudError> {
        let mut state = self.state();
        state.calls.push(action.to_owned());
        let fault = state.faults.iter_mut().find(|f| {
            f.times > 0
                && f.action == action
                && (f.configuration_id.is_none()
                    || f.configuration_id.as_deref() == configuration_id)
        });
        if let Some(fault) = fault {
            fault.times -= 1;
            return Err(fault.error.clone());
        }
        Ok(())
    }

    fn progress(&self, since: DateTime<Utc>) -> u8 {
        let elapsed = (self.clock.now() - since).to_std().unwrap_or_default();
        if self.build.is_zero() {
            return 100;
        }
        ((elapsed.as_secs_f64() / self.build.as_secs_f64() * 100.0).floor() as u64).min(100) as u8
    }

    fn by_token(state: &mut FakeState, prefix: &str, token: &str) -> (String, bool) {
        let key = format!("{prefix}{token}");
        if let Some(id) = state.tokens.get(&key) {
            return (id.clone(), false);
        }
        state.next_id += 1;
        let id = format!("{prefix}{:04}", state.next_id);
        state.tokens.insert(key, id.clone());
        (id, true)
    }
}

fn ready<'a, T: Send + 'a>(value: Result<T, CloudError>) -> CloudFuture<'a, T> {
    Box::pin(async move { value })
}

impl Cloud for FakeCloud {
    fn describe_instance<'a>(&'a self, instance_id: &'a str) -> CloudFuture<'a, Option<Instance>> {
        ready(self.enter("DescribeInstances", None).map(|()| {
            self.state().instances.get(instance_id).map(|i| Instance {
                instance_id: instance_id.to_owned(),
                status: i.status.clone(),
            })
        }))
    }

    fn system_disk<'a>(&'a self, instance_id: &'a str) -> CloudFuture<'a, Option<String>> {
        ready(self.enter("DescribeDisks", None).map(|()| {
            self.state()
                .instances
                .get(instance_id)
                .map(|i| i.system_disk.clone())
        }))
    }

    fn create_snapshot<'a>(
        &'a self,
        disk_id: &'a str,
        creation: Creation<'a>,
    ) -> CloudFuture<'a, String> {
        ready(self.enter("CreateSnapshot", None).map(|()| {
            let now = self.clock.now();
            let mut state = self.state();
            let (id, new) = Self::by_token(&mut state, "s-", creation.client_token);
            if new {
                state.snapshots.insert(
                    id.clone(),
                    FakeSnapshot {
                        disk: disk_id.to_owned(),
                        created_at: now,
                        tags: creation.tags.to_vec(),
                    },
                );
            }
            id
        }))
    }

    fn describe_snapshot<'a>(&'a self, snapshot_id: &'a str) -> CloudFuture<'a, Option<Snapshot>> {
        ready(self.enter("DescribeSnapshots", None).map(|()| {
            let created = self
                .state()
                .snapshots
                .get(snapshot_id)
                .map(|s| s.created_at);
            created.map(|at| {
                let progress = self.progress(at);
                Snapshot {
                    snapshot_id: snapshot_id.to_owned(),
                    status: if progress >= 100 {
                        "accomplished"
                    } else {
                        "progressing"
                    }
                    .into(),
                    progress: Some(progress),
                }
            })
        }))
    }

    fn create_image<'a>(
        &'a self,
        snapshot_id: &'a str,
        creation: Creation<'a>,
    ) -> CloudFuture<'a, String> {
        let (image_name, client_token) = (creation.name, creation.client_token);
        let result = self.enter("CreateImage", None).and_then(|()| {
            let now = self.clock.now();
            let mut state = self.state();
            let Some(snapshot) = state.snapshots.get(snapshot_id).cloned() else {
                return Err(CloudError::client(
                    "CreateImage",
                    "InvalidSnapshotId.NotFound",
                    "The specified snapshot does not exist.",
                ));
            };
            if let Some(id) = state.tokens.get(&format!("m-{client_token}")) {
                return Ok(id.clone());
            }
            if (now - snapshot.created_at).to_std().unwrap_or_default() < self.build {
                return Err(CloudError::client(
                    "CreateImage",
                    "InvalidSnapshotId.NotReady",
                    "The specified snapshot has not completed yet.",
                ));
            }
            if state.images.values().any(|i| i.name == image_name) {
                return Err(CloudError::client(
                    "CreateImage",
                    "InvalidImageName.Duplicated",
                    "The specified Image name has already bean used.",
                ));
            }
            let (id, _) = Self::by_token(&mut state, "m-", client_token);
            let fails = std::mem::take(&mut state.next_image_fails);
            state.images.insert(
                id.clone(),
                FakeImage {
                    name: image_name.to_owned(),
                    created_at: Some(now),
                    fails,
                    tags: creation.tags.to_vec(),
                },
            );
            Ok(id)
        });
        ready(result)
    }

    fn describe_image<'a>(
        &'a self,
        image_id: &'a str,
        statuses: &'a [&'a str],
    ) -> CloudFuture<'a, Option<Image>> {
        let result = self.enter("DescribeImages", None).map(|()| {
            let image = self.state().images.get(image_id).cloned()?;
            let (status, progress) = match image.created_at {
                None => ("Available", 100),
                Some(at) => {
                    let p = self.progress(at);
                    match (p >= 100, image.fails) {
                        (false, _) => ("Creating", p),
                        (true, false) => ("Available", 100),
                        (true, true) => ("CreateFailed", p),
                    }
                }
            };
            let visible = if statuses.is_empty() {
                status == "Available"
            } else {
                statuses.contains(&status)
            };
            visible.then(|| Image {
                image_id: image_id.to_owned(),
                image_name: image.name.clone(),
                status: status.to_owned(),
                progress: Some(progress),
                ..Image::default()
            })
        });
        ready(result)
    }

    fn delete_image<'a>(&'a self, image_id: &'a str) -> CloudFuture<'a, ()> {
        let result = self.enter("DeleteImage", None).and_then(|()| {
            match self.state().images.remove(image_id) {
                Some(_) => Ok(()),
                None => Err(CloudError::client(
                    "DeleteImage",
                    "InvalidImageId.NotFound",
                    "The specified ImageId does not exist.",
                )),
            }
        });
        ready(result)
    }

    fn delete_snapshot<'a>(&'a self, snapshot_id: &'a str) -> CloudFuture<'a, ()> {
        let result = self.enter("DeleteSnapshot", None).and_then(|()| {
            match self.state().snapshots.remove(snapshot_id) {
                Some(_) => Ok(()),
                None => Err(CloudError::client(
                    "DeleteSnapshot",
                    "InvalidSnapshotId.NotFound",
                    "The specified snapshot does not exist.",
                )),
            }
        });
        ready(result)
    }

    fn describe_configurations<'a>(
        &'a self,
        configuration_ids: &'a [String],
    ) -> CloudFuture<'a, Vec<ScalingConfiguration>> {
        ready(self.configurations_of_type(
            "DescribeScalingConfigurations",
            configuration_ids,
            false,
        ))
    }

    fn describe_eci_configurations<'a>(
        &'a self,
        configuration_ids: &'a [String],
    ) -> CloudFuture<'a, Vec<ScalingConfiguration>> {
        ready(self.configurations_of_type(
            "DescribeEciScalingConfigurations",
            configuration_ids,
            true,
        ))
    }

    fn describe_groups<'a>(
        &'a self,
        group_ids: &'a [String],
    ) -> CloudFuture<'a, Vec<ScalingGroup>> {
        let result = self.enter("DescribeScalingGroups", None).map(|()| {
            let state = self.state();
            group_ids
                .iter()
                .filter_map(|id| {
                    state.groups.get(id).map(|kind| ScalingGroup {
                        scaling_group_id: id.clone(),
                        group_type: kind.clone(),
                        ..ScalingGroup::default()
                    })
                })
                .collect()
        });
        ready(result)
    }

    fn modify_configuration_image<'a>(
        &'a self,
        configuration_id: &'a str,
        image_id: &'a str,
    ) -> CloudFuture<'a, ()> {
        let result = self
            .enter("ModifyScalingConfiguration", Some(configuration_id))
            .and_then(|()| {
                let mut state = self.state();
                if !state.images.contains_key(image_id) {
                    return Err(CloudError::client(
                        "ModifyScalingConfiguration",
                        "InvalidImageId.NotFound",
                        "The specified image does not exist.",
                    ));
                }
                let Some(configuration) = state.configurations.get_mut(configuration_id) else {
                    return Err(CloudError::client(
                        "ModifyScalingConfiguration",
                        "InvalidScalingConfigurationId.NotFound",
                        "The specified scaling configuration does not exist.",
                    ));
                };
                configuration.image_id = image_id.to_owned();
                state
                    .modifications
                    .push((configuration_id.to_owned(), image_id.to_owned()));
                Ok(())
            });
        ready(result)
    }

    fn caller_identity(&self) -> CloudFuture<'_, Option<super::cloud::CallerIdentity>> {
        ready(
            self.enter("GetCallerIdentity", None)
                .map(|()| self.state().caller.clone()),
        )
    }
}

/// Whether a crash happens before or after the call or write it is armed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// Before the call is made (the cloud or store never sees it).
    Before,
    /// After the call succeeded, before its result is used.
    After,
}

/// The message of an injected crash's panic.
pub const CRASH_MESSAGE: &str = "reimage test: injected crash";

/// A one-shot crash plan: the `n`th operation (from 1) crashes at `point`.
#[derive(Debug)]
struct Plan {
    n: usize,
    point: CrashPoint,
    seen: AtomicUsize,
}

impl Plan {
    fn new(n: usize, point: CrashPoint) -> Self {
        Self {
            n,
            point,
            seen: AtomicUsize::new(0),
        }
    }

    /// Counts an operation; returns the crash point if this one crashes.
    fn tick(&self) -> Option<CrashPoint> {
        let seen = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        (seen == self.n).then_some(self.point)
    }

    fn count(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }
}

/// A cloud that panics before or after its `n`th call, as a process that dies there would
/// stop. Wrap an engine's cloud in it, run a step in a spawned task (the panic ends the task),
/// then replay with the unwrapped cloud.
#[derive(Debug)]
pub struct CrashingCloud {
    inner: SharedCloud,
    plan: Plan,
}

impl CrashingCloud {
    /// Crashes at `point` of call `n` (from 1). With `n == 0` it never crashes and only
    /// counts calls.
    pub fn new(inner: SharedCloud, n: usize, point: CrashPoint) -> Arc<Self> {
        Arc::new(Self {
            inner,
            plan: Plan::new(n, point),
        })
    }

    /// How many calls were made through it.
    pub fn calls(&self) -> usize {
        self.plan.count()
    }

    fn guard<'a, T: Send + 'a>(&'a self, call: CloudFuture<'a, T>) -> CloudFuture<'a, T> {
        Box::pin(async move {
            let crash = self.plan.tick();
            if crash == Some(CrashPoint::Before) {
                panic!("{CRASH_MESSAGE} before a cloud call");
            }
            let result = call.await;
            if crash == Some(CrashPoint::After) {
                panic!("{CRASH_MESSAGE} after a cloud call");
            }
            result
        })
    }
}

impl Cloud for CrashingCloud {
    fn describe_instance<'a>(&'a self, instance_id: &'a str) -> CloudFuture<'a, Option<Instance>> {
        self.guard(self.inner.describe_instance(instance_id))
    }
    fn system_disk<'a>(&'a self, instance_id: &'a str) -> CloudFuture<'a, Option<String>> {
        self.guard(self.inner.system_disk(instance_id))
    }
    fn create_snapshot<'a>(
        &'a self,
        disk_id: &'a str,
        creation: Creation<'a>,
    ) -> CloudFuture<'a, String> {
        self.guard(self.inner.create_snapshot(disk_id, creation))
    }
    fn describe_snapshot<'a>(&'a self, snapshot_id: &'a str) -> CloudFuture<'a, Option<Snapshot>> {
        self.guard(self.inner.describe_snapshot(snapshot_id))
    }
    fn create_image<'a>(
        &'a self,
        snapshot_id: &'a str,
        creation: Creation<'a>,
    ) -> CloudFuture<'a, String> {
        self.guard(self.inner.create_image(snapshot_id, creation))
    }
    fn describe_image<'a>(
        &'a self,
        image_id: &'a str,
        statuses: &'a [&'a str],
    ) -> CloudFuture<'a, Option<Image>> {
        self.guard(self.inner.describe_image(image_id, statuses))
    }
    fn delete_image<'a>(&'a self, image_id: &'a str) -> CloudFuture<'a, ()> {
        self.guard(self.inner.delete_image(image_id))
    }
    fn delete_snapshot<'a>(&'a self, snapshot_id: &'a str) -> CloudFuture<'a, ()> {
        self.guard(self.inner.delete_snapshot(snapshot_id))
    }
    fn describe_configurations<'a>(
        &'a self,
        configuration_ids: &'a [String],
    ) -> CloudFuture<'a, Vec<ScalingConfiguration>> {
        self.guard(self.inner.describe_configurations(configuration_ids))
    }
    fn describe_eci_configurations<'a>(
        &'a self,
        configuration_ids: &'a [String],
    ) -> CloudFuture<'a, Vec<ScalingConfiguration>> {
        self.guard(self.inner.describe_eci_configurations(configuration_ids))
    }
    fn describe_groups<'a>(
        &'a self,
        group_ids: &'a [String],
    ) -> CloudFuture<'a, Vec<ScalingGroup>> {
        self.guard(self.inner.describe_groups(group_ids))
    }
    fn run_instances_dry_run<'a>(
        &'a self,
        request: &'a super::cloud::RunInstancesRequest,
    ) -> CloudFuture<'a, Option<super::cloud::DryRun>> {
        self.guard(self.inner.run_instances_dry_run(request))
    }
    fn modify_configuration_image<'a>(
        &'a self,
        configuration_id: &'a str,
        image_id: &'a str,
    ) -> CloudFuture<'a, ()> {
        self.guard(
            self.inner
                .modify_configuration_image(configuration_id, image_id),
        )
    }
    fn launch_template<'a>(
        &'a self,
        template_id: &'a str,
    ) -> CloudFuture<'a, Option<super::cloud::LaunchTemplate>> {
        self.guard(self.inner.launch_template(template_id))
    }
    fn copy_launch_template_version<'a>(
        &'a self,
        template_id: &'a str,
        source: i64,
        image_id: &'a str,
        description: &'a str,
    ) -> CloudFuture<'a, i64> {
        self.guard(self.inner.copy_launch_template_version(
            template_id,
            source,
            image_id,
            description,
        ))
    }
    fn set_group_launch_template<'a>(
        &'a self,
        group_id: &'a str,
        template_id: &'a str,
        version: &'a str,
    ) -> CloudFuture<'a, ()> {
        self.guard(
            self.inner
                .set_group_launch_template(group_id, template_id, version),
        )
    }
    fn set_default_launch_template_version<'a>(
        &'a self,
        template_id: &'a str,
        number: i64,
    ) -> CloudFuture<'a, ()> {
        self.guard(
            self.inner
                .set_default_launch_template_version(template_id, number),
        )
    }
    fn delete_launch_template_version<'a>(
        &'a self,
        template_id: &'a str,
        number: i64,
    ) -> CloudFuture<'a, ()> {
        self.guard(
            self.inner
                .delete_launch_template_version(template_id, number),
        )
    }
    fn groups_of_launch_template<'a>(
        &'a self,
        template_id: &'a str,
    ) -> CloudFuture<'a, Vec<(String, String)>> {
        self.guard(self.inner.groups_of_launch_template(template_id))
    }
}

/// An engine over `store` and a [`FakeCloud::demo`] whose images take ten minutes, both on
/// `clock`, stepping through the returned in-process dispatcher.
pub fn demo_engine(
    store: SharedStore,
    clock: &crate::clock::ManualClock,
) -> (
    crate::steps::Engine,
    Arc<crate::dispatch::local::LocalDispatcher>,
) {
    let shared: crate::clock::SharedClock = Arc::new(clock.clone());
    let local = Arc::new(crate::dispatch::local::LocalDispatcher::new(shared.clone()));
    let fake = FakeCloud::demo(shared.clone(), std::time::Duration::from_secs(600));
    let engine = crate::steps::Engine::new(
        store,
        shared,
        Arc::new(crate::ids::SequentialIds::new("demo")),
        local.clone(),
        Arc::new(crate::steps::SameCloud(fake)),
    );
    (engine, local)
}

/// On a [`demo_engine`]: one execution run to its end, and one whose first event is lost, so
/// that it stays pending. Answers their first records.
pub async fn ended_and_stuck(
    engine: &crate::steps::Engine,
    local: &crate::dispatch::local::LocalDispatcher,
) -> (crate::model::StepRecord, crate::model::StepRecord) {
    let ended = engine
        .start_new(request_onto("asc-active"))
        .await
        .expect("started");
    local.run_until_idle(engine).await;
    let stuck = engine
        .start_new(request_onto("asc-inactive"))
        .await
        .expect("started");
    local.take_all();
    (ended, stuck)
}

/// Starts execution `id` with `request`, then runs it to its end through any injected crash
/// (a [`CrashingCloud`] or [`CrashingStore`] panics with [`CRASH_MESSAGE`]): after each
/// one the clock moves past the overdue margin and the sweep dispatches the pending step
/// again, as the minute's tick does in production. Answers the last record and how many
/// crashes there were; panics if `start` itself fails or the execution does not end.
pub async fn run_through_crashes(
    engine: &crate::steps::Engine,
    local: &Arc<crate::dispatch::local::LocalDispatcher>,
    clock: &crate::clock::ManualClock,
    request: crate::model::UpdateRequest,
    id: crate::model::ExecutionId,
) -> (crate::model::StepRecord, usize) {
    let starting = engine.clone();
    let started =
        tokio::spawn(async move { starting.start(request, id.clone()).await.map(|_| id) });
    let id = match started.await {
        Ok(Ok(id)) => id,
        other => panic!("start failed: {other:?}"),
    };
    let mut crashes = 0;
    for _ in 0..10 {
        let (running, local) = (engine.clone(), local.clone());
        match tokio::spawn(async move { local.run_until_idle(&running).await }).await {
            Err(e) if e.is_panic() => crashes += 1,
            Err(e) => panic!("{e}"),
            Ok(report) => assert!(report.dropped.is_empty(), "{report:?}"),
        }
        let last = engine.get(&id).await.unwrap().unwrap();
        if last.state.is_terminal() {
            return (last, crashes);
        }
        clock.advance(engine.config().overdue_after + Duration::from_secs(1));
        engine.sweep(crate::clock::Clock::now(clock)).await.unwrap();
    }
    panic!("execution {id} did not finish");
}

/// An update of [`FakeCloud::demo`]'s running instance onto `configuration`, with the
/// account's own permissions.
pub fn request_onto(configuration: &str) -> crate::model::UpdateRequest {
    crate::model::UpdateRequest {
        allow_default_version_change: false,
        scaling_group_ids: Vec::new(),
        instance_id: "i-running".into(),
        image_name: None,
        configuration_ids: vec![configuration.into()],
        permission: crate::model::PermissionSource::Account,
        task_id: None,
        rollout: None,
        allow_platform_change: false,
    }
}

/// A store that counts the reads made through it: each `get` and each `list`, with its key
/// or prefix.
#[derive(Debug)]
pub struct CountingStore {
    inner: SharedStore,
    reads: std::sync::Mutex<Vec<String>>,
}

impl CountingStore {
    /// Counts the reads of `inner`.
    pub fn new(inner: SharedStore) -> Arc<Self> {
        Arc::new(Self {
            inner,
            reads: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// The reads since the last call, as `get <key>` and `list <prefix>`, in order.
    pub fn take_reads(&self) -> Vec<String> {
        std::mem::take(&mut *self.reads.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Creates `key` in the store underneath, bypassing the count and whatever wraps this one.
    pub async fn inner_create(&self, key: &str, value: &[u8]) {
        self.inner.create(key, value).await.expect("created");
    }

    fn note(&self, read: String) {
        self.reads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(read);
    }
}

impl StateStore for CountingStore {
    fn create<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StoreFuture<'a, ()> {
        self.inner.create(key, value)
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        self.note(format!("get {key}"));
        self.inner.get(key)
    }

    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<String>> {
        self.note(format!("list {prefix}"));
        self.inner.list(prefix)
    }

    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        start_after: Option<&'a str>,
        max: usize,
    ) -> StoreFuture<'a, KeyPage> {
        self.note(format!("list {prefix}"));
        self.inner.list_page(prefix, start_after, max)
    }
}

/// A store that panics before or after its `n`th create (reads pass through).
#[derive(Debug)]
pub struct CrashingStore {
    inner: SharedStore,
    plan: Plan,
}

impl CrashingStore {
    /// Crashes at `point` of create number `n` (from 1); `n == 0` never crashes.
    pub fn new(inner: SharedStore, n: usize, point: CrashPoint) -> Arc<Self> {
        Arc::new(Self {
            inner,
            plan: Plan::new(n, point),
        })
    }

    /// How many creates were attempted through it.
    pub fn creates(&self) -> usize {
        self.plan.count()
    }
}

impl StateStore for CrashingStore {
    fn create<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let crash = self.plan.tick();
            if crash == Some(CrashPoint::Before) {
                panic!("{CRASH_MESSAGE} before a store write");
            }
            let result = self.inner.create(key, value).await;
            if crash == Some(CrashPoint::After) {
                panic!("{CRASH_MESSAGE} after a store write");
            }
            result
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        self.inner.get(key)
    }

    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<String>> {
        self.inner.list(prefix)
    }
}
