//! The front's state: the functions registered, the async queue, the deliveries made, and
//! the types that describe them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reimage_cloud::aliyun::Credentials;
use tokio::sync::Notify;

/// A source of the sim's time.
pub type Now = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// A timer trigger of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerTrigger {
    /// The trigger's name (`triggerName` in the event).
    pub name: String,
    /// FC's `CronExpression`.
    pub cron: String,
    /// The configured payload, passed through as a string.
    pub payload: Option<String>,
    /// Whether it fires.
    pub enabled: bool,
}

/// An HTTP trigger of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTrigger {
    /// Allowed methods (upper case).
    pub methods: Vec<String>,
    /// `ANONYMOUS` (no signature) rather than `FUNCTION`.
    pub anonymous: bool,
}

/// A function the front can invoke: where its process listens and how FC describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    /// Service name.
    pub service: String,
    /// Function name.
    pub name: String,
    /// `http://127.0.0.1:<port>` of its process.
    pub url: String,
    /// `Handler`.
    pub handler: String,
    /// `MemorySize` in MB.
    pub memory_mb: u32,
    /// `Timeout` in seconds.
    pub timeout_secs: u32,
    /// `MaxAsyncRetryAttempts`.
    pub max_async_retries: u32,
    /// The credentials sent with each request.
    pub credentials: Option<Credentials>,
    /// Timer triggers.
    pub timers: Vec<TimerTrigger>,
    /// HTTP trigger, if any.
    pub http: Option<HttpTrigger>,
}

/// How one delivery to a function ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Answered without `x-fc-status: 404`.
    Succeeded,
    /// Answered with `x-fc-status: 404` or a 5xx status.
    FunctionError(String),
    /// No answer (the process is gone, or the timeout passed).
    NotReached(String),
}

/// One request the front sent to a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The request id sent as `x-fc-request-id`.
    pub request_id: String,
    /// Service name.
    pub service: String,
    /// Function name.
    pub function: String,
    /// `/invoke` or `/http-invoke`.
    pub control_path: &'static str,
    /// For async events: the stateful invocation id, if given.
    pub invocation_id: Option<String>,
    /// For async events: which attempt this was (1 = first).
    pub attempt: u32,
    /// The sim's time when it was sent.
    pub sent_at: DateTime<Utc>,
    /// How long the function took, wall clock.
    pub duration: Duration,
    /// How it ended.
    pub outcome: Outcome,
    /// The function's memory, for billing.
    pub memory_mb: u32,
    /// The timer trigger whose event this was, if a timer sent it.
    pub timer: Option<String>,
}

/// An event on its way to a function: waiting in the async queue, or being delivered.
#[derive(Debug, Clone)]
pub(super) struct Queued {
    pub(super) key: (String, String),
    pub(super) payload: Bytes,
    pub(super) invocation_id: Option<String>,
    pub(super) request_id: String,
    pub(super) attempt: u32,
    /// The timer trigger that sent it.
    pub(super) timer: Option<String>,
}

impl Queued {
    /// A new event's first attempt, with a fresh request id.
    pub(super) fn first(
        key: (String, String),
        payload: Bytes,
        invocation_id: Option<String>,
        timer: Option<String>,
    ) -> Self {
        Self {
            key,
            payload,
            invocation_id,
            request_id: uuid::Uuid::new_v4().to_string(),
            attempt: 1,
            timer,
        }
    }
}

/// The Function Compute front of the sim. Cheap to clone.
#[derive(Clone)]
pub struct FcFront {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) account_id: String,
    pub(super) region_id: String,
    pub(super) now: Mutex<Now>,
    pub(super) attached: AtomicBool,
    pub(super) http: reqwest::Client,
    pub(super) functions: Mutex<BTreeMap<(String, String), FunctionSpec>>,
    /// Keyed by (due time, arrival order).
    pub(super) queue: Mutex<BTreeMap<(DateTime<Utc>, u64), Queued>>,
    pub(super) arrivals: AtomicU64,
    pub(super) ids: Mutex<HashSet<String>>,
    pub(super) deliveries: Mutex<Vec<Delivery>>,
    pub(super) dropped: Mutex<Vec<String>>,
    pub(super) timers: Mutex<HashMap<(String, String, String), DateTime<Utc>>>,
    pub(super) worker: AtomicBool,
    /// How many times the delivery worker has looked at the queue and the timers.
    pub(super) passes: AtomicU64,
    pub(super) wake: Notify,
}

impl fmt::Debug for FcFront {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcFront")
            .field("account_id", &self.inner.account_id)
            .field("region_id", &self.inner.region_id)
            .field("functions", &lock(&self.inner.functions).len())
            .field("queued", &lock(&self.inner.queue).len())
            .finish()
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FcFront {
    /// A front for `account_id` in `region_id`, reading the sim's time from `now`.
    pub fn new(account_id: impl Into<String>, region_id: impl Into<String>, now: Now) -> Self {
        Self {
            inner: Arc::new(Inner {
                account_id: account_id.into(),
                region_id: region_id.into(),
                now: Mutex::new(now),
                attached: AtomicBool::new(false),
                http: reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .build()
                    .unwrap_or_default(),
                functions: Mutex::new(BTreeMap::new()),
                queue: Mutex::new(BTreeMap::new()),
                arrivals: AtomicU64::new(0),
                ids: Mutex::new(HashSet::new()),
                deliveries: Mutex::new(Vec::new()),
                dropped: Mutex::new(Vec::new()),
                timers: Mutex::new(HashMap::new()),
                worker: AtomicBool::new(false),
                passes: AtomicU64::new(0),
                wake: Notify::new(),
            }),
        }
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        let now = lock(&self.inner.now).clone();
        now()
    }

    /// Reads the sim's time from `now` from here on; only the first call counts.
    pub fn attach(&self, now: Now) {
        if !self.inner.attached.swap(true, Ordering::SeqCst) {
            *lock(&self.inner.now) = now;
        }
    }

    /// The functions registered.
    pub fn functions(&self) -> Vec<FunctionSpec> {
        lock(&self.inner.functions).values().cloned().collect()
    }

    /// Every delivery so far, in the order they ended.
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.inner.deliveries).clone()
    }

    /// Request ids of async events given up after their last retry.
    pub fn dropped(&self) -> Vec<String> {
        lock(&self.inner.dropped).clone()
    }

    /// How many times the delivery worker has looked for due work: a test that waits for two
    /// more passes knows that whatever was due has been handed out.
    pub fn worker_passes(&self) -> u64 {
        self.inner.passes.load(Ordering::SeqCst)
    }

    /// Events waiting in the async queue.
    pub fn queued(&self) -> usize {
        lock(&self.inner.queue).len()
    }

    pub(super) fn record(&self, delivery: Delivery) {
        tracing::debug!(?delivery, "FC delivery");
        lock(&self.inner.deliveries).push(delivery);
    }
}
