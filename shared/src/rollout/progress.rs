//! A rollout's progress per batch and instance, read from its latest record: what
//! `reimage rollout status` and `reimage demo --rollout` show.

use std::fmt;

use serde::Serialize;

use super::model::{Direction, Phase, RolloutRecord, Stage, Strategy};

/// Where one instance is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum InstanceState {
    /// Its batch has not begun.
    Waiting,
    /// In a forward batch at work, at this stage.
    Moving {
        /// The stage, in a word or two.
        stage: String,
    },
    /// On the rollout's image, its gates passed.
    Moved,
    /// A rollback will put it back.
    ToPutBack,
    /// In a rollback batch at work, at this stage.
    PuttingBack {
        /// The stage, in a word or two.
        stage: String,
    },
    /// Back on its own previous image.
    PutBack,
    /// The rollback failed before it got to it: the outcome says where it is.
    NotPutBack,
    /// Gone from the group while the rollout ran.
    Gone,
    /// Replaced by a new instance (the `refresh` strategy) and released.
    Replaced,
    /// Left in Standby by a failed rollback, tagged `reimage:quarantined`.
    Quarantined,
    /// On the image before the rollout began; left alone.
    AlreadyThere,
    /// The rollout ended without touching it.
    Untouched,
}

impl fmt::Display for InstanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Waiting => f.write_str("waiting"),
            Self::Moving { stage } => write!(f, "moving: {stage}"),
            Self::Moved => f.write_str("moved"),
            Self::ToPutBack => f.write_str("to put back"),
            Self::PuttingBack { stage } => write!(f, "putting back: {stage}"),
            Self::PutBack => f.write_str("put back"),
            Self::NotPutBack => f.write_str("not put back (the rollback failed)"),
            Self::Gone => f.write_str("gone from the group"),
            Self::Replaced => f.write_str("replaced"),
            Self::Quarantined => f.write_str("quarantined in Standby"),
            Self::AlreadyThere => f.write_str("already on the image"),
            Self::Untouched => f.write_str("untouched"),
        }
    }
}

/// One instance's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceProgress {
    /// Its planned batch: 0 is the canary; `None` for an instance outside the plan (already
    /// on the image, or come into the group since).
    pub batch: Option<usize>,
    /// `i-…`.
    pub instance_id: String,
    /// The image it ran before the rollout.
    pub previous_image: Option<String>,
    /// Where it is.
    #[serde(flatten)]
    pub state: InstanceState,
}

/// A rollout's progress: a row per instance, in the order of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The image the rollout moves to.
    pub image_id: String,
    /// Whether the plan has a canary (batch 0).
    pub canary: bool,
    /// The rows.
    pub instances: Vec<InstanceProgress>,
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Standby => "entering standby",
        Stage::Stop | Stage::AwaitStopped => "stopping",
        Stage::Replace | Stage::AwaitDisks => "new system disk",
        Stage::Start | Stage::AwaitRunning => "booting",
        Stage::Warmup => "warming up",
        Stage::Return => "back in service",
        Stage::Gate => "health gates",
    }
}

impl Progress {
    /// The progress the record `record` shows; `None` before the pre-flight planned.
    pub fn of(record: &RolloutRecord) -> Option<Self> {
        let plan = record.plan.as_ref()?;
        let batch = match &record.phase {
            Some(Phase::Batch(batch)) => Some(batch),
            Some(Phase::Refresh(watch)) => watch.gate.as_ref(),
            Some(Phase::Held { failed, .. }) => match failed.as_ref() {
                Phase::Batch(batch) => Some(batch),
                Phase::Refresh(watch) => watch.gate.as_ref(),
                _ => None,
            },
            _ => None,
        };
        let state_of = |id: &str| -> InstanceState {
            if record.lost.iter().any(|i| i == id) {
                return InstanceState::Gone;
            }
            if record.restored.iter().any(|i| i == id) {
                return InstanceState::PutBack;
            }
            if record.quarantined.iter().any(|i| i == id) {
                return InstanceState::Quarantined;
            }
            if record.replaced.iter().any(|i| i == id) {
                return InstanceState::Replaced;
            }
            if let Some(b) = batch.filter(|b| b.instance_ids.iter().any(|i| i == id)) {
                let stage = stage_name(b.stage).to_owned();
                return match b.direction {
                    Direction::Forward => InstanceState::Moving { stage },
                    Direction::Back => InstanceState::PuttingBack { stage },
                };
            }
            if record.to_restore.iter().any(|i| i == id) {
                return if record.rollback_failure.is_some() {
                    InstanceState::NotPutBack
                } else {
                    InstanceState::ToPutBack
                };
            }
            if record.moved.iter().any(|i| i == id) {
                return InstanceState::Moved;
            }
            if record.ended() || record.failure.is_some() || record.cancelled {
                InstanceState::Untouched
            } else {
                InstanceState::Waiting
            }
        };
        let mut instances: Vec<InstanceProgress> = Vec::new();
        // An instance refresh has no canary of its own: its batches are the plan's size.
        let refresh = record.spec.strategy == Strategy::Refresh;
        let batches = if refresh {
            plan.members
                .chunks(plan.batch_size.max(1) as usize)
                .map(|c| c.iter().map(|m| m.instance_id.clone()).collect())
                .collect()
        } else {
            plan.batches()
        };
        for (index, ids) in batches.iter().enumerate() {
            for id in ids {
                instances.push(InstanceProgress {
                    batch: Some(index),
                    instance_id: id.clone(),
                    previous_image: plan.member(id).map(|m| m.previous_image.clone()),
                    state: state_of(id),
                });
            }
        }
        // Instances outside the plan: those a later batch took in (come with a scale-out)
        // and those already on the image.
        let extra = batch
            .into_iter()
            .flat_map(|b| b.instance_ids.iter())
            .chain(&record.moved)
            .filter(|id| plan.member(id).is_none());
        for id in extra {
            if !instances.iter().any(|r| &r.instance_id == id) {
                instances.push(InstanceProgress {
                    batch: None,
                    instance_id: id.clone(),
                    previous_image: None,
                    state: state_of(id),
                });
            }
        }
        for id in &plan.already_there {
            instances.push(InstanceProgress {
                batch: None,
                instance_id: id.clone(),
                previous_image: Some(record.spec.image_id.clone()),
                state: InstanceState::AlreadyThere,
            });
        }
        Some(Self {
            image_id: record.spec.image_id.clone(),
            canary: plan.canary > 0 && !refresh,
            instances,
        })
    }
}

impl fmt::Display for Progress {
    /// A table: batch, instance, the image it ran, where it is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let batch = |row: &InstanceProgress| match row.batch {
            Some(0) if self.canary => "canary".to_owned(),
            Some(n) => n.to_string(),
            None => "-".to_owned(),
        };
        let image_width = self
            .instances
            .iter()
            .filter_map(|r| r.previous_image.as_ref().map(String::len))
            .max()
            .unwrap_or(0)
            .max("ran".len());
        let id_width = self
            .instances
            .iter()
            .map(|r| r.instance_id.len())
            .max()
            .unwrap_or(0)
            .max("instance".len());
        writeln!(
            f,
            "{:<7} {:<id_width$}  {:<image_width$}  now",
            "batch", "instance", "ran"
        )?;
        for row in &self.instances {
            writeln!(
                f,
                "{:<7} {:<id_width$}  {:<image_width$}  {}",
                batch(row),
                row.instance_id,
                row.previous_image.as_deref().unwrap_or("-"),
                row.state
            )?;
        }
        Ok(())
    }
}
