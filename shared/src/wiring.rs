//! The one place the parts are wired together: the engine over its pieces, the runs it starts
//! for tasks (indexed per task), the scheduler over the task store, and the HTTP API. The
//! Function Compute functions, `reimage serve` and `reimage task run` all build themselves
//! here, so they cannot drift apart.
//!
//! ```text
//! store (cached), clock, ids, dispatcher, clouds ──> Engine ──> IndexedRuns ──> Scheduler
//!                                                                       └────> Api (with a token)
//! ```

use std::fmt;
use std::sync::Arc;

use crate::api::images::ImageRoutes;
use crate::api::{Api, Auth, CloudImageSetter};
use crate::clock::SharedClock;
use crate::dispatch::SharedDispatcher;
use crate::ids::SharedIds;
use crate::notify::Notifier;
use crate::rollout::{RolloutTiming, Rollouts, SharedKicker};
use crate::schedule::{IndexedRuns, Runs, Scheduler};
use crate::secrets::SharedSealer;
use crate::steps::{CloudProvider, Engine, EngineConfig};
use crate::store::SharedStore;
use crate::store::cache::{CachingStore, DEFAULT_CACHE_BYTES};
use crate::store::tasks::TaskStore;

/// What every entry point is built from.
#[derive(Clone)]
pub struct Pieces {
    /// Where the records live.
    pub store: SharedStore,
    /// The time every part reads.
    pub clock: SharedClock,
    /// Where ids and nonces come from.
    pub ids: SharedIds,
    /// How a step starts the next: in this process, or by an FC async invocation.
    pub dispatcher: SharedDispatcher,
    /// How the steps and the manual update reach the cloud.
    pub clouds: Arc<dyn CloudProvider>,
    /// The engine's limits and timings.
    pub config: EngineConfig,
    /// What seals webhook secrets at rest, if anything can.
    pub sealer: Option<SharedSealer>,
    /// How a rollout's next phase is sent: in this process, or by an FC async invocation
    /// of the `rollout` function; `None` leaves driving them to the caller.
    pub kicker: Option<SharedKicker>,
}

impl fmt::Debug for Pieces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pieces")
            .field("store", &self.store)
            .field("dispatcher", &self.dispatcher)
            .field("config", &self.config)
            .field("sealer", &self.sealer.is_some())
            .finish_non_exhaustive()
    }
}

/// The parts, wired.
#[derive(Clone)]
pub struct Wired {
    /// The image update pipeline.
    pub engine: Engine,
    /// Starts a task's runs through the engine, indexing each under its task.
    pub runs: Arc<dyn Runs>,
    /// Starts each due slot of every task once.
    pub scheduler: Arc<Scheduler>,
    /// The rolling updates, when the clouds can move a fleet.
    pub rollouts: Option<Rollouts>,
    /// The region retention reads and prunes, with reimage's own permissions, and its
    /// defaults; `None` when the clouds cannot be one.
    pub images: Option<ImageRoutes>,
    /// Sends the notices of ended runs, and retries them on the minute's tick.
    pub notifier: Option<Notifier>,
    pieces: Pieces,
}

impl fmt::Debug for Wired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wired")
            .field("engine", &self.engine)
            .field("pieces", &self.pieces)
            .finish_non_exhaustive()
    }
}

impl Pieces {
    /// Wires the engine, the indexed runs and the scheduler, all reading the store through
    /// one [`CachingStore`]: records never change, so a warm process reads each once.
    pub fn wire(mut self) -> Wired {
        self.store = Arc::new(CachingStore::new(self.store, DEFAULT_CACHE_BYTES));
        let notifier = match Notifier::new(
            self.store.clone(),
            self.clock.clone(),
            self.sealer.clone(),
            self.config.notify.clone(),
        ) {
            Ok(notifier) => Some(notifier),
            Err(e) => {
                tracing::error!(error = %e, "notifications are off");
                None
            }
        };
        let rollouts = self
            .rollouts()
            .map(|rollouts| rollouts.with_notifier(notifier.clone()));
        let engine = Engine::with_config(
            self.store.clone(),
            self.clock.clone(),
            self.ids.clone(),
            self.dispatcher.clone(),
            self.clouds.clone(),
            self.config.clone(),
        )
        .with_rollouts(rollouts.clone())
        .with_notifier(notifier.clone());
        let runs: Arc<dyn Runs> = Arc::new(IndexedRuns::new(
            self.store.clone(),
            self.clock.clone(),
            engine.clone(),
        ));
        let scheduler = Arc::new(Scheduler::new(
            TaskStore::new(self.store.clone()),
            runs.clone(),
        ));
        let images = self
            .clouds
            .cloud(&crate::model::PermissionSource::Account)
            .ok()
            .and_then(|cloud| cloud.image_region())
            .map(|region| ImageRoutes {
                region,
                policies: self.config.retention.clone(),
            });
        Wired {
            engine,
            runs,
            scheduler,
            rollouts,
            images,
            notifier,
            pieces: self,
        }
    }

    /// The rollouts over the same store: the account's fleet, a task's RAM role through the
    /// same clouds, events through the kicker.
    fn rollouts(&self) -> Option<Rollouts> {
        let fleet = self
            .clouds
            .cloud(&crate::model::PermissionSource::Account)
            .ok()?
            .fleet()?;
        let rollouts = Rollouts::new(
            self.store.clone(),
            fleet,
            self.clock.clone(),
            self.ids.clone(),
            RolloutTiming {
                poll: self.config.rollout_poll,
                ..RolloutTiming::default()
            },
        )
        .with_provider(self.clouds.clone());
        Some(match &self.kicker {
            Some(kicker) => rollouts.with_kicker(kicker.clone()),
            None => rollouts,
        })
    }
}

impl Wired {
    /// The HTTP API over the same store and runs, checking requests with `auth`, with the
    /// manual update and the dry runs of tasks through the same clouds.
    pub fn api(&self, auth: Auth) -> Api {
        let p = &self.pieces;
        Api::new(
            p.store.clone(),
            self.runs.clone(),
            p.clock.clone(),
            p.ids.clone(),
            auth,
        )
        .with_image_setter(Arc::new(CloudImageSetter::new(p.clouds.clone())))
        .with_dry_runs(p.clouds.clone())
        .with_sealer(p.sealer.clone())
        .with_rollouts(self.rollouts.clone())
        .with_images(self.images.clone())
    }
}
