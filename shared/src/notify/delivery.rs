//! Delivery: every notice reaches every target at least once, retried with back-off, every
//! attempt recorded, and none of it able to block or fail the run it reports on.
//!
//! A delivery is one notice to one target, a log of records that are only ever added, like an
//! execution's: `notices/<subject>/<slot>/<seq>.json`, where the subject is the execution (or
//! the rollout and its record) and the slot names the target: `task-<n>` (the task's target
//! number n) or `default-<n>` (the deployment's). Its states:
//!
//! ```text
//! pending(due_at) ──claim──> sending(until) ──2xx──> sent
//!        ^                          │
//!        └───── failed, attempts left (back-off) ──┘──── none left ──> gave_up
//! ```
//!
//! - **Queued before the run's last record.** The engine queues a run's deliveries (record 0,
//!   pending now) before it writes the record that ends the run, so that a crash between the
//!   two is replayed into the same queue (a record that exists already is the same delivery),
//!   never into a lost notice. An execution's notice is sent only once the execution's last
//!   record exists, and says what that record says: the replay may end the run otherwise
//!   than the crashed attempt would have.
//! - **Claimed before sending.** An attempt first writes its `sending` record, which only one
//!   worker can create; a worker that stopped mid-attempt leaves a claim that expires at
//!   `until`, after which the attempt counts as failed and the next one is scheduled. A
//!   crash after the receiver answered and before `sent` is written sends again: at least
//!   once, not exactly once (receivers can tell repeats by the notice's subject).
//! - **Found again by the minute's tick.** A pending record is indexed under the hour it is
//!   due in (`notices-due/<YYYYMMDDHH>/<subject>_<slot>`, as [`crate::steps::live`] does
//!   for steps); [`Notifier::sweep`] attempts whatever is due in the last
//!   [`SWEEP_WINDOW`].
//! - **Given up, and said so.** After [`DeliveryConfig::max_attempts`] the delivery is
//!   `gave_up`, indexed under `notices-failed/<YYYYMMDD>/`, which `reimage doctor` reads,
//!   and the task's view shows it.
//!
//! Records hold the notice and which target (its slot, kind and redacted URL), never the
//! target itself: the URL and secret are read (and opened) from the task or the deployment's
//! defaults at each attempt, so that a rotated token or secret is used; a slot that holds
//! another kind of target, or one on another host, by then gives the delivery up rather than
//! send the notice somewhere it was never meant for.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::message::{Notice, Subject};
use super::stored::{Defaults, DefaultsError};
use super::targets::Target;
use crate::clock::SharedClock;
use crate::secrets::SharedSealer;
use crate::store::tasks::{TaskStore, TaskStoreError};
use crate::store::{SharedStore, StoreError};

/// Where delivery records live.
pub const NOTICES_PREFIX: &str = "notices/";
/// The hourly index of pending deliveries.
pub const DUE_PREFIX: &str = "notices-due/";
/// The daily index of deliveries that gave up.
pub const FAILED_PREFIX: &str = "notices-failed/";
/// How far back the sweep looks for pending deliveries: longer than every back-off together.
pub const SWEEP_WINDOW: chrono::Duration = chrono::Duration::hours(3);
/// How long a claim outlives the request timeout before it counts as a lost attempt.
const CLAIM_MARGIN: Duration = Duration::from_secs(60);
/// How much of a receiver's answer is read (and at most 200 characters of it kept).
const ANSWER_BYTES: usize = 16 * 1024;

/// How deliveries are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// How long one attempt may take, connection included (default 10 seconds).
    pub timeout: Duration,
    /// The delay before the second attempt; each further one doubles it, up to
    /// [`DeliveryConfig::max_delay`] (default 30 seconds).
    pub first_retry: Duration,
    /// The longest delay between attempts (default 30 minutes).
    pub max_delay: Duration,
    /// How many attempts before giving up (default 8: about an hour of trying).
    pub max_attempts: u32,
    /// The HTTP API's address, for a notice's link to the run (`REIMAGE_PUBLIC_URL`).
    pub link_base: Option<Url>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            first_retry: Duration::from_secs(30),
            max_delay: Duration::from_secs(1800),
            max_attempts: 8,
            link_base: None,
        }
    }
}

impl DeliveryConfig {
    /// The defaults with the environment's: `REIMAGE_NOTIFY_TIMEOUT_SECS` (1–60),
    /// `REIMAGE_NOTIFY_ATTEMPTS` (1–20) and `REIMAGE_PUBLIC_URL` (an `http(s)` URL).
    pub fn from_env(env: &crate::settings::Env) -> Result<Self, (&'static str, String)> {
        let mut config = Self::default();
        let number = |name: &'static str, range: std::ops::RangeInclusive<u64>| match env.get(name)
        {
            None => Ok(None),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if range.contains(&n) => Ok(Some(n)),
                _ => Err((name, v.to_owned())),
            },
        };
        if let Some(n) = number("REIMAGE_NOTIFY_TIMEOUT_SECS", 1..=60)? {
            config.timeout = Duration::from_secs(n);
        }
        if let Some(n) = number("REIMAGE_NOTIFY_ATTEMPTS", 1..=20)? {
            config.max_attempts = n as u32;
        }
        if let Some(v) = env.get("REIMAGE_PUBLIC_URL") {
            let url = Url::parse(v.trim())
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .ok_or(("REIMAGE_PUBLIC_URL", v.to_owned()))?;
            config.link_base = Some(url);
        }
        Ok(config)
    }

    /// The delay after failed attempt number `attempts` (from 1).
    pub fn retry_after(&self, attempts: u32) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(16);
        self.first_retry.saturating_mul(factor).min(self.max_delay)
    }

    /// The link to `path` (`executions/exec-…`) under [`DeliveryConfig::link_base`].
    pub fn link(&self, path: &str) -> Option<Url> {
        let base = self.link_base.as_ref()?;
        let mut base = base.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        base.join(path).ok()
    }
}

/// Which target a delivery goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum TargetRef {
    /// Target number `index` of task `task_id`.
    Task {
        /// The task.
        task_id: String,
        /// Its position in the task's `notify`.
        index: usize,
    },
    /// Default target number `index` of the deployment.
    Default {
        /// Its position among the defaults.
        index: usize,
    },
}

impl TargetRef {
    /// `task-<n>` or `default-<n>`.
    pub fn slot(&self) -> String {
        match self {
            Self::Task { index, .. } => format!("task-{index}"),
            Self::Default { index } => format!("default-{index}"),
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DeliveryState {
    /// The next attempt is due at `due_at`.
    Pending {
        /// When.
        due_at: DateTime<Utc>,
    },
    /// An attempt is at work; after `until` it counts as failed.
    Sending {
        /// When the claim expires.
        until: DateTime<Utc>,
    },
    /// The receiver accepted it.
    Sent {
        /// The HTTP status it answered.
        http_status: u16,
    },
    /// Every attempt failed.
    GaveUp,
}

/// One record of a delivery's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// `<subject>/<slot>`.
    pub delivery: String,
    /// This record's position in the log, from 0.
    pub seq: u64,
    /// Which target.
    pub target: TargetRef,
    /// The target's kind.
    pub kind: String,
    /// The target's URL, redacted.
    pub shown: String,
    /// What is said.
    pub notice: Notice,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made (a claim counts).
    pub attempts: u32,
    /// Why the last failed attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When this record was written.
    pub written_at: DateTime<Utc>,
}

impl DeliveryRecord {
    fn key(&self) -> String {
        record_key(&self.delivery, self.seq)
    }

    fn next(&self, state: DeliveryState, now: DateTime<Utc>) -> Self {
        Self {
            seq: self.seq + 1,
            state,
            written_at: now,
            ..self.clone()
        }
    }

    /// Whether it is done, one way or the other.
    pub fn is_final(&self) -> bool {
        matches!(
            self.state,
            DeliveryState::Sent { .. } | DeliveryState::GaveUp
        )
    }
}

fn record_key(delivery: &str, seq: u64) -> String {
    format!("{NOTICES_PREFIX}{delivery}/{seq:06}.json")
}

/// Why a delivery could not be queued or read. Sending failures are not errors: they are
/// recorded.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The task could not be read.
    #[error(transparent)]
    Task(#[from] TaskStoreError),
    /// The defaults could not be read.
    #[error(transparent)]
    Defaults(#[from] DefaultsError),
    /// A record is not a delivery record.
    #[error("{key} is not a delivery record: {message}")]
    Torn {
        /// Its key.
        key: String,
        /// The parse error.
        message: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for notifications: {0}")]
    Client(String),
}

/// How one attempt ended.
enum Attempt {
    /// The receiver accepted.
    Sent(u16),
    /// It may work later.
    Failed(String),
    /// It never will: the target is gone or cannot be opened.
    Hopeless(String),
}

/// What a queued notice says once its run has recorded how it ended.
enum Recorded {
    /// The run has not recorded its end yet: later.
    NotYet,
    /// The run ended without a notice (superseded): why.
    Nothing(String),
    /// This.
    As(Box<Notice>),
}

/// Queues, sends and sweeps deliveries. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    store: SharedStore,
    clock: SharedClock,
    tasks: TaskStore,
    defaults: Defaults,
    http: reqwest::Client,
    config: DeliveryConfig,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier over `store`, opening targets with `sealer`.
    pub fn new(
        store: SharedStore,
        clock: SharedClock,
        sealer: Option<SharedSealer>,
        config: DeliveryConfig,
    ) -> Result<Self, NotifyError> {
        // The cloud clients' TLS (rustls, ring, the Mozilla roots), and no proxy from the
        // environment, as for every other call reimage makes.
        let tls =
            crate::aliyun::http::tls_config().map_err(|e| NotifyError::Client(e.to_string()))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("reimage/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NotifyError::Client(e.without_url().to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                tasks: TaskStore::new(store.clone()).with_sealer(sealer.clone()),
                defaults: Defaults::new(store.clone(), sealer),
                store,
                clock,
                http,
                config,
            }),
        })
    }

    /// How deliveries are made.
    pub fn config(&self) -> &DeliveryConfig {
        &self.inner.config
    }

    /// The deployment's default targets.
    pub fn defaults(&self) -> &Defaults {
        &self.inner.defaults
    }

    /// Queues `notice` about `subject` (an execution id, or a rollout id and record) for
    /// every target of task `task_id` and every default target: record 0 of each delivery,
    /// due now. Queueing again is harmless. Returns the deliveries.
    pub async fn queue(
        &self,
        subject: &str,
        task_id: Option<&str>,
        notice: &Notice,
    ) -> Result<Vec<String>, NotifyError> {
        let now = self.inner.clock.now();
        let mut targets = Vec::new();
        if let Some(task_id) = task_id {
            if let Some(task) = self.inner.tasks.latest(task_id).await? {
                for (index, target) in task.spec.notify.iter().enumerate() {
                    let at = TargetRef::Task {
                        task_id: task_id.to_owned(),
                        index,
                    };
                    targets.push((at, target.kind().to_owned(), target.shown()));
                }
            }
        }
        for (index, target) in self.inner.defaults.stored().await?.iter().enumerate() {
            targets.push((
                TargetRef::Default { index },
                target.kind().to_owned(),
                target.shown(),
            ));
        }
        let mut out = Vec::with_capacity(targets.len());
        for (target, kind, shown) in targets {
            let record = DeliveryRecord {
                delivery: format!("{subject}/{}", target.slot()),
                seq: 0,
                target,
                kind,
                shown,
                notice: notice.clone(),
                state: DeliveryState::Pending { due_at: now },
                attempts: 0,
                last_error: None,
                written_at: now,
            };
            match self.write(&record).await {
                Ok(()) | Err(NotifyError::Store(StoreError::AlreadyExists { .. })) => {}
                Err(e) => return Err(e),
            }
            out.push(record.delivery);
        }
        Ok(out)
    }

    /// Attempts each of `deliveries` that is due, one after the other; what went wrong is
    /// logged, never returned: the caller's run has ended whatever happens here.
    ///
    /// The attempts run together: ending a run waits for at most one attempt's timeout,
    /// however many targets there are.
    pub async fn attempt_all(&self, deliveries: &[String]) {
        let attempts = deliveries.iter().map(|delivery| async move {
            if let Err(e) = self.attempt(delivery).await {
                tracing::warn!(%delivery, error = %crate::report::chain(&e), "notification not attempted; the tick will");
            }
        });
        futures::future::join_all(attempts).await;
    }

    /// Queues `notice` and attempts it at once: what the engine and the rollouts call
    /// once a run has ended. Never fails: errors are logged, and what was queued is
    /// retried by the tick.
    pub async fn queue_and_send(&self, subject: &str, task_id: Option<&str>, notice: &Notice) {
        match self.queue(subject, task_id, notice).await {
            Ok(deliveries) => self.attempt_all(&deliveries).await,
            Err(e) => tracing::error!(
                %subject, error = %crate::report::chain(&e), "notifications could not be queued"
            ),
        }
    }

    /// The latest record of `delivery`, if it exists.
    pub async fn latest(&self, delivery: &str) -> Result<Option<DeliveryRecord>, NotifyError> {
        latest(&self.inner.store, delivery).await
    }

    /// Every record of `delivery`, in order.
    pub async fn history(&self, delivery: &str) -> Result<Vec<DeliveryRecord>, NotifyError> {
        history(&self.inner.store, delivery).await
    }

    /// The latest record of every delivery about `subject`, by slot.
    pub async fn of_subject(&self, subject: &str) -> Result<Vec<DeliveryRecord>, NotifyError> {
        of_subject(&self.inner.store, subject).await
    }

    /// Attempts every delivery due by `now` that was due within [`SWEEP_WINDOW`], and every
    /// claim that expired: what the minute's tick runs. Returns how many were attempted.
    ///
    /// The first tick of each day (UTC) looks back [`crate::steps::live::DAILY_WINDOW`], so
    /// that deliveries survive a timer that stopped for hours.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<usize, NotifyError> {
        let window = if now.time() < chrono::NaiveTime::from_hms_opt(0, 1, 0).unwrap_or_default() {
            crate::steps::live::DAILY_WINDOW
        } else {
            SWEEP_WINDOW
        };
        let entries =
            crate::steps::live::entries_between(&self.inner.store, DUE_PREFIX, now - window, now)
                .await?;
        let mut seen = std::collections::BTreeSet::new();
        let mut attempted = 0;
        for (key, name) in entries {
            let Some(delivery) = delivery_of_entry(&name) else {
                tracing::warn!(%key, "the notification sweep skips an entry it cannot read");
                continue;
            };
            if !seen.insert(delivery.clone()) {
                continue;
            }
            match self.attempt(&delivery).await {
                Ok(Some(true)) => attempted += 1,
                Ok(_) => {}
                Err(e) => tracing::warn!(
                    %delivery, error = %crate::report::chain(&e), "notification sweep skipped a delivery"
                ),
            }
        }
        Ok(attempted)
    }

    /// Attempts `delivery` if it is due (or its claim expired). `Some(true)` when an attempt
    /// was made, `Some(false)` when there was nothing to do, `None` when there is no such
    /// delivery.
    pub async fn attempt(&self, delivery: &str) -> Result<Option<bool>, NotifyError> {
        let now = self.inner.clock.now();
        let Some(latest) = self.latest(delivery).await? else {
            return Ok(None);
        };
        let base = match latest.state {
            DeliveryState::Sent { .. } | DeliveryState::GaveUp => return Ok(Some(false)),
            DeliveryState::Pending { due_at } if due_at > now => return Ok(Some(false)),
            DeliveryState::Sending { until } if until > now => return Ok(Some(false)),
            DeliveryState::Sending { .. } => {
                // The worker that claimed it stopped before recording the answer.
                let failed = self
                    .after_failure(
                        &latest,
                        "the attempt stopped before its answer was recorded".into(),
                        now,
                    )
                    .await?;
                if failed.is_final() {
                    return Ok(Some(false));
                }
                failed
            }
            DeliveryState::Pending { .. } => latest,
        };
        if let DeliveryState::Pending { due_at } = base.state {
            if due_at > now {
                return Ok(Some(false));
            }
        }
        let base = match self.as_recorded(&base).await {
            Recorded::NotYet => {
                // Its run has not recorded its end yet: keep it in the sweep's window.
                self.index_due(&base.delivery, now).await?;
                return Ok(Some(false));
            }
            Recorded::Nothing(why) => {
                let mut gave_up = base.next(DeliveryState::GaveUp, now);
                gave_up.last_error = Some(why);
                self.give_up(&gave_up).await?;
                return Ok(Some(false));
            }
            Recorded::As(notice) => DeliveryRecord {
                notice: *notice,
                ..base
            },
        };
        let timeout = chrono::Duration::from_std(self.inner.config.timeout + CLAIM_MARGIN)
            .unwrap_or_else(|_| chrono::Duration::minutes(2));
        let mut claim = base.next(
            DeliveryState::Sending {
                until: now + timeout,
            },
            now,
        );
        claim.attempts += 1;
        match self.write(&claim).await {
            Ok(()) => {}
            // Another worker claimed it first.
            Err(NotifyError::Store(StoreError::AlreadyExists { .. })) => return Ok(Some(false)),
            Err(e) => return Err(e),
        }
        let outcome = self.send(&claim).await;
        let now = self.inner.clock.now();
        match outcome {
            Attempt::Sent(http_status) => {
                let mut sent = claim.next(DeliveryState::Sent { http_status }, now);
                sent.last_error = None;
                self.write_quietly(&sent).await?;
                tracing::info!(%delivery, attempts = sent.attempts, "notification sent");
            }
            Attempt::Failed(error) => {
                self.after_failure(&claim, error, now).await?;
            }
            Attempt::Hopeless(error) => {
                let mut gave_up = claim.next(DeliveryState::GaveUp, now);
                gave_up.last_error = Some(error);
                self.give_up(&gave_up).await?;
            }
        }
        Ok(Some(true))
    }

    /// What the notice of `record` says once the run it reports on has recorded its end.
    ///
    /// An execution's notice is queued just before the record that ends the run: a crash in
    /// between leaves it queued for a record that does not exist yet, which the replay may
    /// write otherwise (a verification that now fails, say). So it goes out only once the
    /// execution's last record is written, and says what that record says: the queued
    /// notice, or one built again from the record (keeping what the queued one said of the
    /// task being disabled).
    async fn as_recorded(&self, record: &DeliveryRecord) -> Recorded {
        let id = match &record.notice.subject {
            Subject::Execution(id) => id,
            Subject::Rollout(id) => return self.rollout_as_recorded(record, id).await,
        };
        let last = match crate::steps::latest_record(&self.inner.store, id).await {
            Ok(Some(last)) if last.state.is_terminal() => last,
            Ok(_) => return Recorded::NotYet,
            Err(e) => {
                tracing::warn!(
                    delivery = %record.delivery, error = %crate::report::chain(&e),
                    "the execution of a notice could not be read; the tick will try again"
                );
                return Recorded::NotYet;
            }
        };
        match super::build::execution_notice(&last, &self.inner.config) {
            None => Recorded::Nothing(format!(
                "execution {id} ended {}: its notice is not given",
                last.state.status()
            )),
            Some(fresh) => {
                let fresh = Notice {
                    task_disabled: record.notice.task_disabled.clone(),
                    ..fresh
                };
                if fresh != record.notice {
                    tracing::info!(
                        delivery = %record.delivery,
                        "the notice says what the execution's last record says, not what was queued"
                    );
                }
                Recorded::As(Box::new(fresh))
            }
        }
    }

    /// [`Notifier::as_recorded`] for a rollout's notice, queued (under `<id>.r<seq>`) just
    /// before the rollout's record `seq`: it goes out once that record exists, and says what
    /// it says; a record that neither ends the rollout nor waits for an operator (a replay
    /// that went another way) gives it up.
    async fn rollout_as_recorded(
        &self,
        record: &DeliveryRecord,
        id: &crate::rollout::RolloutId,
    ) -> Recorded {
        let seq = record
            .delivery
            .split('/')
            .next()
            .and_then(|subject| subject.rsplit_once(".r"))
            .and_then(|(_, seq)| seq.parse::<u64>().ok());
        let Some(seq) = seq else {
            return Recorded::As(Box::new(record.notice.clone()));
        };
        let key = crate::rollout::record_key(id, seq);
        let bytes = match self.inner.store.get(&key).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Recorded::NotYet,
            Err(e) => {
                tracing::warn!(
                    delivery = %record.delivery, error = %crate::report::chain(&e),
                    "the rollout record of a notice could not be read; the tick will try again"
                );
                return Recorded::NotYet;
            }
        };
        let rollout: crate::rollout::RolloutRecord = match serde_json::from_slice(&bytes) {
            Ok(rollout) => rollout,
            Err(e) => return Recorded::Nothing(format!("{key} does not read: {e}")),
        };
        let task = rollout.spec.task_id.clone();
        match super::build::rollout_notice(&rollout, task, &self.inner.config) {
            Some(fresh) => Recorded::As(Box::new(fresh)),
            None => Recorded::Nothing(format!(
                "record {seq} of rollout {id} neither ends it nor waits for an operator: its \
                 notice is not given"
            )),
        }
    }

    /// Records a failed attempt: pending after the back-off, or given up.
    async fn after_failure(
        &self,
        claim: &DeliveryRecord,
        error: String,
        now: DateTime<Utc>,
    ) -> Result<DeliveryRecord, NotifyError> {
        tracing::warn!(delivery = %claim.delivery, attempts = claim.attempts, %error, "notification attempt failed");
        if claim.attempts >= self.inner.config.max_attempts {
            let mut gave_up = claim.next(DeliveryState::GaveUp, now);
            gave_up.last_error = Some(error);
            self.give_up(&gave_up).await?;
            return Ok(gave_up);
        }
        let delay = chrono::Duration::from_std(self.inner.config.retry_after(claim.attempts))
            .unwrap_or_else(|_| chrono::Duration::minutes(30));
        let mut pending = claim.next(
            DeliveryState::Pending {
                due_at: now + delay,
            },
            now,
        );
        pending.last_error = Some(error);
        self.write_quietly(&pending).await?;
        Ok(pending)
    }

    async fn give_up(&self, record: &DeliveryRecord) -> Result<(), NotifyError> {
        let entry = format!(
            "{FAILED_PREFIX}{}/{}",
            record.written_at.format("%Y%m%d"),
            entry_name(&record.delivery)
        );
        match self.inner.store.create(&entry, b"").await {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::error!(
            delivery = %record.delivery,
            target = %record.shown,
            attempts = record.attempts,
            error = record.last_error.as_deref().unwrap_or_default(),
            "notification given up"
        );
        self.write_quietly(record).await
    }

    /// Writes `record`; one that exists already was written by another worker.
    async fn write_quietly(&self, record: &DeliveryRecord) -> Result<(), NotifyError> {
        match self.write(record).await {
            Ok(()) | Err(NotifyError::Store(StoreError::AlreadyExists { .. })) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Indexes `delivery` under the hour of `due_at` (again: an entry that exists is fine).
    async fn index_due(&self, delivery: &str, due_at: DateTime<Utc>) -> Result<(), NotifyError> {
        let entry = crate::steps::live::entry_key_in(DUE_PREFIX, due_at, &entry_name(delivery));
        match self.inner.store.create(&entry, b"").await {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `record`, indexing first the hour a pending one is due in.
    async fn write(&self, record: &DeliveryRecord) -> Result<(), NotifyError> {
        if let DeliveryState::Pending { due_at } = record.state {
            self.index_due(&record.delivery, due_at).await?;
        }
        let key = record.key();
        let body = serde_json::to_vec_pretty(record).map_err(|e| NotifyError::Torn {
            key: key.clone(),
            message: e.to_string(),
        })?;
        self.inner.store.create(&key, &body).await?;
        Ok(())
    }

    /// The target of `record`, opened: the one at its slot now (a token or secret rotated
    /// since is used), provided it is still the kind of target, on the host, the notice was
    /// queued for; a slot that now holds another target gets none of the notices queued for
    /// the one it replaced.
    async fn target(&self, record: &DeliveryRecord) -> Result<Target, Attempt> {
        let target = self.open_target(record).await?;
        let shown = target.url().to_string();
        if target.kind() != record.kind || shown != record.shown {
            return Err(Attempt::Hopeless(format!(
                "the target at {} changed since the notice was queued: it was {} {}, it is now {} {shown}",
                record.target.slot(),
                record.kind,
                record.shown,
                target.kind(),
            )));
        }
        Ok(target)
    }

    /// The target at the slot of `record` now, opened.
    async fn open_target(&self, record: &DeliveryRecord) -> Result<Target, Attempt> {
        match &record.target {
            TargetRef::Task { task_id, index } => {
                let task = match self.inner.tasks.latest(task_id).await {
                    Ok(Some(task)) if !task.is_deleted() => task,
                    Ok(_) => {
                        return Err(Attempt::Hopeless(format!(
                            "task {task_id} no longer exists"
                        )));
                    }
                    Err(e) => return Err(Attempt::Failed(crate::report::chain(&e).to_string())),
                };
                let Some(stored) = task.spec.notify.get(*index) else {
                    return Err(Attempt::Hopeless(format!(
                        "task {task_id} no longer has notification target {index}"
                    )));
                };
                stored
                    .open(self.inner.tasks.sealer(), task_id)
                    .await
                    .map_err(|e| Attempt::Hopeless(e.to_string()))
            }
            TargetRef::Default { index } => match self.inner.defaults.open(*index).await {
                Ok(Some(target)) => Ok(target),
                Ok(None) => Err(Attempt::Hopeless(format!(
                    "the deployment no longer has default notification target {index}"
                ))),
                Err(DefaultsError::Sealing(e)) => Err(Attempt::Hopeless(e.to_string())),
                Err(e) => Err(Attempt::Failed(e.to_string())),
            },
        }
    }

    /// One attempt: the request, and what its answer means.
    async fn send(&self, record: &DeliveryRecord) -> Attempt {
        let target = match self.target(record).await {
            Ok(target) => target,
            Err(attempt) => return attempt,
        };
        let request = match target.request(&record.notice, self.inner.clock.now()) {
            Ok(request) => request,
            Err(e) => return Attempt::Hopeless(e.to_string()),
        };
        let mut builder = self.inner.http.post(request.url).body(request.body);
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let mut response = match builder.send().await {
            Ok(response) => response,
            Err(e) if e.is_timeout() => {
                return Attempt::Failed(format!(
                    "no answer within {} s",
                    self.inner.config.timeout.as_secs_f64()
                ));
            }
            Err(e) => return Attempt::Failed(describe(e)),
        };
        let status = response.status();
        let mut answer = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    answer.extend_from_slice(&chunk);
                    if answer.len() >= ANSWER_BYTES {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) if status.is_success() => {
                    // The receiver accepted and then cut its answer short: accepted.
                    tracing::debug!(error = %describe(e), "notification answer cut short");
                    break;
                }
                Err(e) => return Attempt::Failed(describe(e)),
            }
        }
        if !status.is_success() {
            return Attempt::Failed(format!("HTTP {}: {}", status.as_u16(), excerpt(&answer)));
        }
        // DingTalk and Lark answer 200 and say in the body whether they took the message.
        if let Some(problem) = refusal_in_answer(&target, &answer) {
            return Attempt::Failed(problem);
        }
        Attempt::Sent(status.as_u16())
    }
}

/// The latest record of `delivery` in `store`, if it exists.
pub async fn latest(
    store: &SharedStore,
    delivery: &str,
) -> Result<Option<DeliveryRecord>, NotifyError> {
    let prefix = format!("{NOTICES_PREFIX}{delivery}/");
    let keys = store.list(&prefix).await?;
    match keys.iter().max() {
        None => Ok(None),
        Some(key) => read(store, key).await,
    }
}

/// Every record of `delivery` in `store`, in order.
pub async fn history(
    store: &SharedStore,
    delivery: &str,
) -> Result<Vec<DeliveryRecord>, NotifyError> {
    let prefix = format!("{NOTICES_PREFIX}{delivery}/");
    let mut keys = store.list(&prefix).await?;
    keys.sort();
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        out.extend(read(store, &key).await?);
    }
    Ok(out)
}

/// The latest record of every delivery about `subject` in `store`, by slot: one listing and
/// one read a target.
pub async fn of_subject(
    store: &SharedStore,
    subject: &str,
) -> Result<Vec<DeliveryRecord>, NotifyError> {
    let prefix = format!("{NOTICES_PREFIX}{subject}/");
    let mut latest: BTreeMap<String, String> = BTreeMap::new();
    for key in store.list(&prefix).await? {
        let Some((delivery, _)) = key.rsplit_once('/') else {
            continue;
        };
        let entry = latest.entry(delivery.to_owned()).or_default();
        if key > *entry {
            *entry = key;
        }
    }
    let mut out = Vec::with_capacity(latest.len());
    for key in latest.values() {
        out.extend(read(store, key).await?);
    }
    Ok(out)
}

/// The deliveries in `store` that gave up on any day (UTC) from `since`'s to `until`'s, one
/// listing a day: what `reimage doctor` reports.
pub async fn gave_up_between(
    store: &SharedStore,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<DeliveryRecord>, NotifyError> {
    let mut day = since.date_naive();
    let mut out = Vec::new();
    while day <= until.date_naive() {
        let prefix = format!("{FAILED_PREFIX}{}/", day.format("%Y%m%d"));
        for key in store.list(&prefix).await? {
            let Some(name) = key.strip_prefix(&prefix) else {
                continue;
            };
            if let Some(delivery) = delivery_of_entry(name) {
                out.extend(latest(store, &delivery).await?);
            }
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    Ok(out)
}

async fn read(store: &SharedStore, key: &str) -> Result<Option<DeliveryRecord>, NotifyError> {
    let Some(bytes) = store.get(key).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| NotifyError::Torn {
            key: key.to_owned(),
            message: e.to_string(),
        })
}

/// `errcode` (DingTalk) or `code` / `StatusCode` (Lark) other than 0 in a 200 answer:
/// <https://open.dingtalk.com/document/orgapp/custom-robots-send-group-messages>,
/// <https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot>.
fn refusal_in_answer(target: &Target, answer: &[u8]) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(answer).ok()?;
    let (service, code, message) = match target {
        Target::DingTalk { .. } => ("DingTalk", body.get("errcode")?, body.get("errmsg")),
        Target::Lark { .. } => (
            "Lark",
            body.get("code").or_else(|| body.get("StatusCode"))?,
            body.get("msg").or_else(|| body.get("StatusMessage")),
        ),
        _ => return None,
    };
    let code = code.as_i64()?;
    (code != 0).then(|| {
        format!(
            "{service} refused the message: code {code}: {}",
            super::message::one_line(message.and_then(|m| m.as_str()).unwrap_or_default())
        )
    })
}

/// A transport error without its URL (which may hold a token), with its causes.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut out = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// The start of an answer, on one line, at most 200 characters.
fn excerpt(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    let line = super::message::one_line(&text);
    if line.chars().count() > 200 {
        let mut cut: String = line.chars().take(199).collect();
        cut.push('…');
        cut
    } else if line.is_empty() {
        "(no body)".into()
    } else {
        line
    }
}

/// The index entry name of a delivery: `<subject>_<slot>` (a key segment).
fn entry_name(delivery: &str) -> String {
    delivery.replacen('/', "_", 1)
}

/// The delivery an index entry names: the last `_` separates the slot, which has none.
fn delivery_of_entry(name: &str) -> Option<String> {
    let (subject, slot) = name.rsplit_once('_')?;
    (!subject.is_empty() && (slot.starts_with("task-") || slot.starts_with("default-")))
        .then(|| format!("{subject}/{slot}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_doubles_up_to_its_ceiling() {
        let config = DeliveryConfig::default();
        let delays: Vec<u64> = (1..=8).map(|n| config.retry_after(n).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1800, 1800]);
    }

    #[test]
    fn index_entries_name_their_delivery_and_nothing_else() {
        let delivery = "exec-0123/task-2";
        assert_eq!(
            delivery_of_entry(&entry_name(delivery)).as_deref(),
            Some(delivery)
        );
        let rollout = "ro-web_1.r7/default-0";
        assert_eq!(
            delivery_of_entry(&entry_name(rollout)).as_deref(),
            Some(rollout)
        );
        assert_eq!(delivery_of_entry("exec-0123_other-2"), None);
        assert_eq!(delivery_of_entry("_task-1"), None);
    }

    #[test]
    fn links_join_under_the_public_url_whatever_its_path() {
        for base in [
            "https://reimage.example.com/api",
            "https://reimage.example.com/api/",
        ] {
            let config = DeliveryConfig {
                link_base: Some(Url::parse(base).unwrap()),
                ..DeliveryConfig::default()
            };
            assert_eq!(
                config.link("executions/exec-1").unwrap().as_str(),
                "https://reimage.example.com/api/executions/exec-1"
            );
        }
        assert_eq!(DeliveryConfig::default().link("executions/exec-1"), None);
    }

    #[test]
    fn dingtalk_and_lark_refusals_in_a_200_answer_are_failures() {
        let dingtalk: Target = serde_json::from_value(serde_json::json!({
            "kind": "dingtalk", "webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=t"
        }))
        .unwrap();
        let lark: Target = serde_json::from_value(serde_json::json!({
            "kind": "lark", "webhook_url": "https://open.feishu.cn/open-apis/bot/v2/hook/t"
        }))
        .unwrap();
        assert_eq!(
            refusal_in_answer(
                &dingtalk,
                br#"{"errcode":310000,"errmsg":"sign not match"}"#
            )
            .as_deref(),
            Some("DingTalk refused the message: code 310000: sign not match")
        );
        assert_eq!(
            refusal_in_answer(&dingtalk, br#"{"errcode":0,"errmsg":"ok"}"#),
            None
        );
        assert_eq!(
            refusal_in_answer(&lark, br#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}"#)
                .map(|m| m.starts_with("Lark refused the message: code 19021: sign match fail")),
            Some(true)
        );
        assert_eq!(
            refusal_in_answer(&lark, br#"{"StatusCode":0,"StatusMessage":"success"}"#),
            None
        );
        assert_eq!(refusal_in_answer(&lark, b"not json"), None);
    }
}

#[cfg(test)]
mod env_tests {
    use super::*;
    use crate::settings::Env;

    #[test]
    fn each_bad_setting_is_named_with_what_it_takes() {
        for (name, value, takes) in [
            (
                "REIMAGE_NOTIFY_ATTEMPTS",
                "50",
                "a whole number from 1 to 20",
            ),
            (
                "REIMAGE_NOTIFY_TIMEOUT_SECS",
                "61",
                "a whole number of seconds from 1 to 60",
            ),
            (
                "REIMAGE_PUBLIC_URL",
                "ftp://x",
                "an http or https URL with a host",
            ),
        ] {
            let env = Env::from_pairs([(name, value)]);
            let refused = crate::steps::EngineConfig::from_env(&env).unwrap_err();
            assert_eq!(refused, (name, value.to_owned()));
            assert_eq!(crate::steps::engine_env_expectation(refused.0), takes);
        }
        let env = Env::from_pairs([
            ("REIMAGE_NOTIFY_ATTEMPTS", "3"),
            ("REIMAGE_NOTIFY_TIMEOUT_SECS", "2"),
            ("REIMAGE_PUBLIC_URL", "https://reimage.example.com/api"),
        ]);
        let config = DeliveryConfig::from_env(&env).unwrap();
        assert_eq!(
            (config.max_attempts, config.timeout),
            (3, Duration::from_secs(2))
        );
        assert_eq!(
            config.link("executions/e").unwrap().as_str(),
            "https://reimage.example.com/api/executions/e"
        );
    }
}
