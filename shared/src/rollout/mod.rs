//! The rolling update: move the running instances of an ECS scaling group onto an image, in
//! batches behind health gates, and either finish or put everything back.
//!
//! Per batch, as the Auto Scaling console's rolling update does it
//! (<https://www.alibabacloud.com/help/en/auto-scaling/user-guide/rolling-update>), in place:
//! EnterStandby, StopInstances with `StoppedMode=KeepCharging`, ReplaceSystemDisk, wait for
//! each new disk, StartInstances, warm-up, ExitStandby; then every gate must hold (ECS Running
//! without an operation lock, ESS InService and Healthy, the image in place). Unlike the
//! console, the configuration gets the image only after the canary passed its gates and its
//! bake, and a failure puts each instance back on its own previous image, the configuration
//! on its previous image, and resumes only the processes the rollout suspended.
//!
//! Every phase is a record (`rollouts/<id>/<seq>.json`) written after its calls, every write
//! carries a ClientToken or is decided from what the cloud reports, so a crash at any point
//! is resumed by [`Rollouts::advance`].

pub mod driver;
mod engine;
pub mod fleet;
pub mod model;
pub mod options;
pub mod plan;
pub mod progress;
mod refresh;

pub use driver::{Handled, Kicker, RolloutEvent, SharedKicker};
pub use engine::{
    Advanced, DryRun, LEASES_PREFIX, QUARANTINE_TAG, REQUESTS_PREFIX, ROLLOUTS_PREFIX,
    RolloutError, RolloutTiming, Rollouts, SUSPENDED, plan_hash, validate_spec,
};
pub(crate) use engine::{record_key, record_seq};
pub use fleet::{
    CommandResult, Fleet, FleetConfiguration, FleetDisk, FleetGroup, FleetImage, FleetInstance,
    GroupMember, RefreshAction, RefreshRequest, RefreshTask,
};
pub use model::{
    Amount, BackendWeight, Batch, Direction, Member, Membership, OnFailure, Outcome, Phase, Plan,
    RefreshStage, RefreshWatch, RolloutId, RolloutRecord, RolloutSpec, Stage, Strategy,
    TemplateRestore,
};
pub use options::RolloutOptions;
pub use progress::{InstanceProgress, InstanceState, Progress};
