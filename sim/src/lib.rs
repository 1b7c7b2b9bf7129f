//! # reimage-sim: an emulated Alibaba Cloud region on loopback
//!
//! `sim` serves ECS, Auto Scaling (ESS) and STS — and, through fronts added in [`oss`] and
//! [`fc`], OSS and Function Compute — on one loopback port, with real RPC v1 signatures
//! checked exactly as the cloud checks them (it reuses [`reimage_cloud::aliyun::sign::rpc`]). Every
//! reimage test talks to the cloud through it; `reimage demo` and users rehearsing a change
//! run against it too.
//!
//! ```no_run
//! # async fn example() -> Result<(), reimage_sim::StartError> {
//! let sim = reimage_sim::Sim::builder().image_seconds(5).start().await?;
//! println!("{} {}", sim.endpoint(), sim.region_id());
//! sim.admin().fail_next("CreateImage", "InternalError", 500, 1).ok();
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Layout, like moto and LocalStack: per service ([`ecs`], [`ess`], [`sts`]) a `protocol`
//! module (parameters in, the cloud's JSON out), a `state` module (resources and the rules the
//! cloud enforces) and an `errors` module (the cloud's codes and HTTP statuses). [`rpc`] checks
//! signatures and routes by Action and Version, [`server`] routes by path, [`admin`] is the
//! test interface, [`seed`] says what the region starts with. A service sees only its own
//! resources and a [`ctx::Ctx`] (time, region, caller); [`state`] holds them all, and
//! [`fronts`] gives the FC and OSS fronts the key book and faults they ask for, so no service
//! module depends on the state that holds it.
//!
//! ECS, ESS and STS run nothing in the background: progress of snapshots and images is
//! computed from the sim's clock whenever it is read, so a test that drives a `ManualClock`
//! sees a ten-minute image finish as soon as it moves the clock. The FC front is the
//! exception: like the service, it queues asynchronous invocations and fires timer triggers
//! from tasks of its own (see [`fc`]).

pub mod admin;
pub mod ctx;
pub mod ecs;
pub mod error;
pub mod ess;
pub mod fc;
pub mod fronts;
pub mod keys;
pub mod kms;
pub mod names;
pub mod oss;
pub mod params;
pub mod receiver;
pub mod rpc;
pub mod seed;
pub mod server;
pub mod slb;
pub mod state;
pub mod sts;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use reimage_cloud::aliyun::credentials::{Credentials, StaticProvider};
use reimage_cloud::aliyun::{ClientConfig, Endpoints};
use reimage_cloud::clock::{SharedClock, SystemClock};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use admin::Admin;
pub use seed::{Seed, SeedError};
pub use state::SimState;

/// Default time an image takes from CreateImage to Available.
pub const DEFAULT_IMAGE_SECONDS: u64 = 30;

/// Why the sim could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The seed is unusable.
    #[error(transparent)]
    Seed(#[from] SeedError),
}

/// Configures and starts a [`Sim`].
#[derive(Debug)]
pub struct SimBuilder {
    clock: SharedClock,
    image_seconds: u64,
    seed: Option<Seed>,
    listen: SocketAddr,
}

impl Default for SimBuilder {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            image_seconds: DEFAULT_IMAGE_SECONDS,
            seed: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl SimBuilder {
    /// The clock the sim reads (default: the system clock). Tests pass a `ManualClock`.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// How long an image takes to become Available; snapshots take half of it.
    pub fn image_seconds(mut self, seconds: u64) -> Self {
        self.image_seconds = seconds;
        self
    }

    /// What the region starts with (default: [`Seed::demo`]).
    pub fn seed(mut self, seed: Seed) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Where to listen (default `127.0.0.1:0`, a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Binds and starts serving.
    pub async fn start(self) -> Result<Sim, StartError> {
        let seed = self.seed.unwrap_or_else(Seed::demo);
        seed.validate()?;
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: self.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: self.listen,
            source,
        })?;
        let state = Arc::new(SimState::new(&seed, self.clock, self.image_seconds));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, state.clone(), async move {
            // Resolves on shutdown() and also when the Sim is dropped.
            let _ = rx.await;
        }));
        let key = seed
            .access_keys
            .first()
            .cloned()
            .ok_or_else(|| SeedError::Invalid("access_keys is empty".to_owned()))?;
        Ok(Sim {
            endpoint: format!("http://{addr}"),
            addr,
            region_id: seed.region_id.clone(),
            access_key_id: key.access_key_id,
            access_key_secret: key.access_key_secret,
            state,
            stop: Some(tx),
            task: Some(task),
        })
    }
}

/// A running sim. Dropping it stops the server too.
pub struct Sim {
    endpoint: String,
    addr: SocketAddr,
    region_id: String,
    access_key_id: String,
    access_key_secret: String,
    state: Arc<SimState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("endpoint", &self.endpoint)
            .field("region_id", &self.region_id)
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// A builder with the defaults: demo region, system clock, 127.0.0.1:0.
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }

    /// `http://127.0.0.1:PORT`: every service on this one endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The region id, e.g. `cn-hangzhou`.
    pub fn region_id(&self) -> &str {
        &self.region_id
    }

    /// A valid static AccessKeyId of the sim (the seed's first).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// Its secret.
    pub fn access_key_secret(&self) -> &str {
        &self.access_key_secret
    }

    /// A client configuration for this sim: every service at its endpoint, signed with its
    /// static AccessKey, in its region. The rest is [`ClientConfig::new`]'s defaults; set the
    /// clock, ids or retry policy on it as a test needs.
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig::new(
            self.region_id(),
            Endpoints::all_at(self.endpoint()),
            StaticProvider::shared(Credentials::access_key(
                self.access_key_id(),
                self.access_key_secret(),
            )),
        )
    }

    /// The in-process admin interface.
    pub fn admin(&self) -> Admin {
        Admin::new(self.state.clone())
    }

    /// The shared state (what the OSS and FC fronts use, e.g. `state.keys.secret_for`).
    pub fn state(&self) -> &Arc<SimState> {
        &self.state
    }

    /// Stops serving and waits until the server has finished.
    pub async fn shutdown(mut self) {
        self.stop_and_join().await;
    }

    /// Serves until `shutdown` resolves (then stops gracefully) or the server fails.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        let joined = |r: Result<std::io::Result<()>, tokio::task::JoinError>| {
            r.unwrap_or_else(|e| Err(std::io::Error::other(e)))
        };
        tokio::select! {
            result = &mut task => joined(result),
            () = shutdown => {
                if let Some(stop) = self.stop.take() {
                    let _ = stop.send(());
                }
                joined(task.await)
            }
        }
    }

    async fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// The Function Compute front: register functions, fire timers, read deliveries.
    pub fn fc(&self) -> fc::FcFront {
        fronts::fc_front(self.state()).clone()
    }
}
