//! The whole sim's state: the region's resources, the key book, the clock, call counters and
//! injected faults. One [`SimState`] is shared by every connection; resources sit behind one
//! mutex that is never held across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use reimage_cloud::clock::SharedClock;

use crate::ctx::{Ctx, Timing};
use crate::ecs::state::{Disk, Ecs, Image, Instance, InstanceStatus};
use crate::error::RpcError;
use crate::ess::state::{Ess, ScalingConfiguration, ScalingGroup};
use crate::keys::{Keys, Principal};
use crate::seed::{Seed, SeedRole};

/// Everything in the region.
#[derive(Debug)]
pub struct Region {
    /// `cn-hangzhou`.
    pub region_id: String,
    /// The account that owns everything.
    pub account_id: String,
    /// RAM roles AssumeRole accepts.
    pub roles: Vec<SeedRole>,
    /// ECS resources.
    pub ecs: Ecs,
    /// ESS resources.
    pub ess: Ess,
    /// KMS keys.
    pub kms_keys: Vec<crate::kms::KmsKey>,
    /// CLB resources.
    pub slb: crate::slb::Slb,
}

impl Region {
    /// The region a seed describes, created at `now`.
    pub fn from_seed(seed: &Seed, now: DateTime<Utc>) -> Self {
        let mut ecs = Ecs::default();
        let created = now.checked_sub_signed(Duration::days(30)).unwrap_or(now);
        for m in &seed.images {
            ecs.images.push(Image {
                image_id: m.image_id.clone(),
                image_name: m.image_name.clone(),
                description: String::new(),
                owner_alias: m.image_owner_alias.clone(),
                os_type: m.os_type.clone(),
                platform: m.platform.clone(),
                architecture: m.architecture.clone(),
                size: m.size,
                creation_time: created,
                ready_at: created,
                fails: false,
                disk_mappings: Vec::new(),
                tags: Vec::new(),
                profile: seed.image_progress,
            });
        }
        ecs.image_profile = seed.image_progress;
        ecs.account_id = seed.account_id.clone();
        for i in &seed.instances {
            ecs.instances.push(Instance {
                instance_id: i.instance_id.clone(),
                instance_name: i.instance_name.clone(),
                status: InstanceStatus::parse(&i.status).unwrap_or(InstanceStatus::Stopped),
                instance_type: i.instance_type.clone(),
                zone_id: i.zone_id.clone(),
                image_id: i.image_id.clone(),
                creation_time: created,
                settles_at: None,
                stopped_mode: (i.status == "Stopped").then(|| "KeepCharging".to_owned()),
                locks: Vec::new(),
                replacements: 0,
                key_pair_name: None,
            });
            for d in &i.disks {
                ecs.disks.push(Disk {
                    disk_id: d.disk_id.clone(),
                    kind: d.kind.clone(),
                    category: d.category.clone(),
                    size: d.size,
                    instance_id: Some(i.instance_id.clone()),
                    device: d.device.clone(),
                    image_id: if d.kind == "system" {
                        i.image_id.clone()
                    } else {
                        String::new()
                    },
                    zone_id: i.zone_id.clone(),
                    creation_time: created,
                    reiniting_until: None,
                });
            }
        }
        // A validated seed's custom images, templates and shares are all accepted.
        if let Err(e) = ecs.add_seeded(
            &seed.custom_images,
            &seed.launch_templates,
            &seed.image_shares,
            now,
        ) {
            tracing::warn!(error = %e, "the seed's custom images, launch templates or shares were not all added");
        }
        let mut ess = Ess::default();
        for g in &seed.scaling_groups {
            ess.groups.push(ScalingGroup {
                scaling_group_id: g.scaling_group_id.clone(),
                scaling_group_name: g.scaling_group_name.clone(),
                group_type: g.group_type.clone(),
                lifecycle_state: g.lifecycle_state.clone(),
                active_scaling_configuration_id: g.active_scaling_configuration_id.clone(),
                min_size: g.min_size,
                max_size: g.max_size,
                suspended_processes: Vec::new(),
                load_balancer_ids: g.load_balancer_ids.clone(),
                vserver_groups: g.vserver_groups.clone(),
                vswitch_ids: g.vswitch_ids.clone(),
                creation_time: created,
                launch_template: None,
            });
        }
        for t in &seed.scaling_group_launch_templates {
            let source = t.source();
            match source.check(&ecs) {
                Ok(()) => {
                    if let Some(group) = ess
                        .groups
                        .iter_mut()
                        .find(|g| g.scaling_group_id == t.scaling_group_id)
                    {
                        group.active_scaling_configuration_id = None;
                        group.launch_template = Some(source);
                    }
                }
                Err(e) => {
                    tracing::warn!(group = %t.scaling_group_id, error = %e, "the seed's launch template of a scaling group was not set");
                }
            }
        }
        for c in &seed.scaling_configurations {
            let image_name = ecs
                .image(&c.image_id)
                .map(|m| m.image_name.clone())
                .unwrap_or_default();
            ess.configurations.push(ScalingConfiguration {
                scaling_configuration_id: c.scaling_configuration_id.clone(),
                scaling_configuration_name: c.scaling_configuration_name.clone(),
                scaling_group_id: c.scaling_group_id.clone(),
                image_id: c.image_id.clone(),
                image_name,
                instance_type: c.instance_type.clone(),
                instance_types: if c.instance_types.is_empty() && !c.instance_type.is_empty() {
                    vec![c.instance_type.clone()]
                } else {
                    c.instance_types.clone()
                },
                system_disk_size: c.system_disk_size,
                system_disk_category: c.system_disk_category.clone(),
                system_disk_performance_level: c.system_disk_performance_level.clone(),
                key_pair_name: c.key_pair_name.clone(),
                security_group_ids: c.security_group_ids.clone(),
                zone_id: c.zone_id.clone(),
                password_inherit: c.password_inherit,
                creation_time: created,
            });
        }
        for m in &seed.scaling_instances {
            let standby = m.lifecycle_state == "Standby";
            let auto = m.creation_type == "AutoCreated";
            let configuration = ess
                .group(&m.scaling_group_id)
                .and_then(|g| g.active_scaling_configuration_id.clone())
                .filter(|_| auto)
                .unwrap_or_default();
            let health = ecs.instance(&m.instance_id).map_or("Unhealthy", |i| {
                if i.status == InstanceStatus::Running {
                    "Healthy"
                } else {
                    "Unhealthy"
                }
            });
            ess.instances.push(crate::ess::fleet::ScalingInstance {
                instance_id: m.instance_id.clone(),
                scaling_group_id: m.scaling_group_id.clone(),
                scaling_configuration_id: configuration,
                lifecycle_state: m.lifecycle_state.clone(),
                creation_type: m.creation_type.clone(),
                load_balancer_weight: m.load_balancer_weight.unwrap_or(if standby {
                    0
                } else {
                    50
                }),
                entrusted: !auto,
                creation_time: created,
                frozen_health: (m.lifecycle_state != "InService").then_some(health),
                scaling_activity_id: String::new(),
                launch_template: None,
            });
        }
        Self {
            region_id: seed.region_id.clone(),
            account_id: seed.account_id.clone(),
            roles: seed.roles.clone(),
            ecs,
            ess,
            kms_keys: seed
                .kms_keys
                .iter()
                .map(|k| crate::kms::KmsKey {
                    key_id: k.key_id.clone(),
                    alias: k.alias.clone(),
                    enabled: k.enabled,
                })
                .collect(),
            slb: crate::slb::Slb {
                load_balancers: seed.load_balancers.clone(),
                vserver_groups: seed.vserver_groups.clone(),
            },
        }
    }
}

/// An injected failure: the next `remaining` calls of `action` fail with `code`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fault {
    /// The Action it applies to (`*` for every action).
    pub action: String,
    /// The error code to answer.
    pub code: String,
    /// The HTTP status to answer.
    pub status: u16,
    /// The message (a default one names the fault).
    #[serde(default)]
    pub message: Option<String>,
    /// How many more calls fail.
    pub count: u32,
}

/// Throttling of a fraction of calls.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Throttle {
    /// The share of calls refused with `Throttling`, 0.0..=1.0.
    pub fraction: f64,
    /// Only this Action (all when absent).
    #[serde(default)]
    pub action: Option<String>,
}

/// Added latency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Latency {
    /// Milliseconds added before answering.
    pub millis: u64,
    /// Only this Action (all when absent).
    #[serde(default)]
    pub action: Option<String>,
}

/// Injected faults, throttling and latency.
#[derive(Debug, Default)]
pub struct Faults {
    /// Queued failures.
    pub failures: Vec<Fault>,
    /// Throttling, if any.
    pub throttle: Option<Throttle>,
    throttle_acc: f64,
    /// Latency, if any.
    pub latency: Option<Latency>,
}

impl Faults {
    /// What happens to the next call of `action`: a delay to add, and maybe an error.
    pub fn on_call(&mut self, action: &str) -> (Option<StdDuration>, Option<RpcError>) {
        let delay = self
            .latency
            .as_ref()
            .filter(|l| l.action.as_deref().is_none_or(|a| a == action))
            .map(|l| StdDuration::from_millis(l.millis));
        if let Some(pos) = self
            .failures
            .iter()
            .position(|f| f.count > 0 && (f.action == action || f.action == "*"))
        {
            let fault = &mut self.failures[pos];
            fault.count -= 1;
            let status = http::StatusCode::from_u16(fault.status)
                .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
            let message = fault
                .message
                .clone()
                .unwrap_or_else(|| format!("Injected by the sim for {action}."));
            let err = RpcError::new(status, fault.code.clone(), message);
            self.failures.retain(|f| f.count > 0);
            return (delay, Some(err));
        }
        if let Some(t) = &self.throttle {
            if t.action.as_deref().is_none_or(|a| a == action) {
                // Deterministic: exactly `fraction` of the matching calls, evenly spread.
                self.throttle_acc += t.fraction.clamp(0.0, 1.0);
                if self.throttle_acc >= 1.0 {
                    self.throttle_acc -= 1.0;
                    return (
                        delay,
                        Some(RpcError::bad_request(
                            "Throttling",
                            "Request was denied due to request throttling.",
                        )),
                    );
                }
            }
        }
        (delay, None)
    }
}

/// Calls received per Action.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallCounts {
    /// Since the sim started.
    pub total: BTreeMap<String, u64>,
    /// Since the last reset.
    pub since_reset: BTreeMap<String, u64>,
}

/// The sim's shared state.
pub struct SimState {
    clock: SharedClock,
    offset: Mutex<Duration>,
    region: Mutex<Region>,
    /// The key book (static keys and issued STS tokens).
    pub keys: Keys,
    /// The Function Compute front (functions, async queue, triggers).
    pub fc: crate::fc::FcFront,
    nonces: Mutex<HashMap<String, DateTime<Utc>>>,
    calls: Mutex<CallCounts>,
    faults: Mutex<Faults>,
    timing: Timing,
    region_id: String,
    oss: crate::oss::OssService,
}

impl fmt::Debug for SimState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimState")
            .field("region_id", &self.region_id)
            .field("now", &self.now())
            .field("keys", &self.keys)
            .field("timing", &self.timing)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Longest image build the sim accepts (ten years); larger values are capped.
pub const MAX_IMAGE_SECONDS: u64 = 10 * 365 * 24 * 3600;

/// Nonces are remembered this long (twice the timestamp window: an older request is refused
/// for its timestamp anyway).
const NONCE_MEMORY: i64 = 30 * 60;

impl SimState {
    /// A fresh state from `seed`; images take `image_seconds`, snapshots half of that.
    pub fn new(seed: &Seed, clock: SharedClock, image_seconds: u64) -> Self {
        let image =
            Duration::seconds(i64::try_from(image_seconds.min(MAX_IMAGE_SECONDS)).unwrap_or(0));
        let timing = Timing {
            image,
            snapshot: image / 2,
        };
        let now = clock.now();
        let oss = crate::oss::OssService::new(seed.region_id.clone());
        for bucket in &seed.buckets {
            oss.create_bucket(bucket);
        }
        Self {
            oss,
            region: Mutex::new(Region::from_seed(seed, now)),
            keys: Keys::new(seed.access_keys.clone()),
            fc: crate::fc::FcFront::new(seed.account_id.clone(), seed.region_id.clone(), {
                let clock = clock.clone();
                std::sync::Arc::new(move || clock.now())
            }),
            clock,
            offset: Mutex::new(Duration::zero()),
            nonces: Mutex::new(HashMap::new()),
            calls: Mutex::new(CallCounts::default()),
            faults: Mutex::new(Faults::default()),
            timing,
            region_id: seed.region_id.clone(),
        }
    }

    /// The region id.
    pub fn region_id(&self) -> &str {
        &self.region_id
    }

    /// The region's OSS buckets and objects.
    pub fn oss(&self) -> &crate::oss::OssService {
        &self.oss
    }

    /// The underlying clock's time: what request timestamps are checked against.
    pub fn wall_now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The sim's time: the clock plus the admin offset. Resource progress and STS expiry
    /// follow this time.
    pub fn now(&self) -> DateTime<Utc> {
        let offset = *lock(&self.offset);
        let now = self.clock.now();
        now.checked_add_signed(offset).unwrap_or(now)
    }

    /// Moves the sim's time forward by `by` (admin).
    pub fn advance(&self, by: Duration) {
        let mut offset = lock(&self.offset);
        *offset = offset.checked_add(&by).unwrap_or(*offset);
    }

    /// How long things take.
    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// The resources, locked.
    pub fn region(&self) -> MutexGuard<'_, Region> {
        lock(&self.region)
    }

    /// The faults, locked.
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    /// Counts one call of `action`.
    pub fn count_call(&self, action: &str) {
        let mut calls = lock(&self.calls);
        *calls.total.entry(action.to_owned()).or_default() += 1;
        *calls.since_reset.entry(action.to_owned()).or_default() += 1;
    }

    /// The call counters.
    pub fn calls(&self) -> CallCounts {
        lock(&self.calls).clone()
    }

    /// Zeroes the since-reset counters.
    pub fn reset_calls(&self) {
        lock(&self.calls).since_reset.clear();
    }

    /// Records `nonce`; false if it was seen within the replay window.
    pub fn use_nonce(&self, nonce: &str, now: DateTime<Utc>) -> bool {
        let mut nonces = lock(&self.nonces);
        if nonces.len() > 10_000 {
            nonces.retain(|_, seen| (now - *seen).num_seconds().abs() < NONCE_MEMORY);
        }
        match nonces.get(nonce) {
            Some(seen) if (now - *seen).num_seconds().abs() < NONCE_MEMORY => false,
            _ => {
                nonces.insert(nonce.to_owned(), now);
                true
            }
        }
    }

    /// A context for a handler called at the sim's current time.
    pub fn ctx(&self, principal: Principal) -> Ctx {
        Ctx {
            now: self.now(),
            region_id: self.region_id.clone(),
            timing: self.timing,
            principal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_image_seconds_and_clock_advances_do_not_panic() {
        use reimage_cloud::clock::ManualClock;
        let clock = std::sync::Arc::new(ManualClock::new(
            chrono::DateTime::<Utc>::MAX_UTC - Duration::days(1),
        ));
        let state = SimState::new(&Seed::demo(), clock, u64::MAX);
        assert_eq!(
            state.timing().image,
            Duration::seconds(MAX_IMAGE_SECONDS as i64)
        );
        state.advance(Duration::MAX);
        let now = state.now();
        let mut region = state.region();
        let id = region
            .ecs
            .create_snapshot(
                "d-bp1demowebsys000001",
                None,
                None,
                None,
                Vec::new(),
                None,
                now,
                state.timing(),
            )
            .unwrap();
        let snapshot = region
            .ecs
            .snapshots
            .iter()
            .find(|s| s.snapshot_id == id)
            .unwrap();
        assert_eq!(snapshot.status(now).0, "progressing");
    }

    #[test]
    fn failures_apply_to_the_next_n_calls_of_their_action_only() {
        let mut faults = Faults::default();
        faults.failures.push(Fault {
            action: "CreateImage".into(),
            code: "InternalError".into(),
            status: 500,
            message: None,
            count: 2,
        });
        assert!(faults.on_call("DescribeImages").1.is_none());
        let err = faults.on_call("CreateImage").1.unwrap();
        assert_eq!(
            (err.code.as_str(), err.status.as_u16()),
            ("InternalError", 500)
        );
        assert!(faults.on_call("CreateImage").1.is_some());
        assert!(faults.on_call("CreateImage").1.is_none());
        assert!(faults.failures.is_empty());
    }

    #[test]
    fn throttling_refuses_exactly_the_fraction() {
        let mut faults = Faults {
            throttle: Some(Throttle {
                fraction: 0.25,
                action: None,
            }),
            ..Faults::default()
        };
        let refused = (0..100)
            .filter(|_| faults.on_call("DescribeImages").1.is_some())
            .count();
        assert_eq!(refused, 25);
    }
}
