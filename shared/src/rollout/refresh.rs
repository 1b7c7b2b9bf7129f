//! The `refresh` strategy: ESS's own instance refresh
//! (<https://www.alibabacloud.com/help/en/auto-scaling/user-guide/instance-refresh>) replaces
//! the group's instances with new ones launched from the image, and reimage's gates sit on
//! top of it.
//!
//! The refresh is started with a checkpoint at every batch (`Checkpoints.N.Percentage`, each
//! pausing for the longest `CheckpointPauseTime`, 48 hours), so ESS waits at each batch until
//! reimage has gated the new instances and resumes it (checkpoints are whole percentages: past
//! a hundred batches a pause comes after a few, which are gated together).
//! `MinHealthyPercentage` keeps the plan's floor in service and `MaxHealthyPercentage` is 100: ESS's batch is the plan's.
//! ESS puts the image into the active configuration only once the refresh succeeded, so the
//! configuration never holds an untested image. On a breach reimage suspends the refresh and
//! rolls it back (RollbackInstanceRefresh: ESS replaces the new instances with instances of
//! the active configuration, which still holds the previous image). Every call is decided
//! from what DescribeInstanceRefreshes reports, and StartInstanceRefresh carries a
//! ClientToken, so a crash at any point resumes where it was.

use chrono::{DateTime, Utc};

use super::engine::{Interrupt, Rollouts, Step, plan_of, seconds, std_to_chrono};
use super::fleet::{RefreshAction, RefreshRequest};
use super::model::{
    Batch, Direction, Outcome, Phase, Plan, RefreshStage, RefreshWatch, RolloutRecord, Stage,
};

/// `CheckpointPauseTime` at its longest, minutes: ESS waits for reimage's gates.
const PAUSE_MINUTES: u32 = 2880;

/// The checkpoints a refresh of `plan` pauses at: the end of every batch (the share of
/// new instances, rounded down, so that the batch that reaches it is the one that ends
/// there), and the operator's own.
pub(super) fn checkpoints(plan: &Plan, operator: &[u8]) -> Vec<u32> {
    let n = replaced(plan);
    let b = plan.batch_size.max(1);
    let mut out: Vec<u32> = (1..)
        .map(|k: u32| (k * b * 100 / n).clamp(1, 100))
        .take_while(|p| *p < 100)
        .chain(operator.iter().map(|p| u32::from(*p)))
        .chain([100])
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// How many instances the refresh replaces: every one in service (`SkipMatching=false`),
/// those on the image already included.
fn replaced(plan: &Plan) -> u32 {
    (plan.members.len() + plan.already_there.len()).max(1) as u32
}

/// `MinHealthyPercentage` for `plan`: ESS keeps at least all but the plan's batch in service,
/// rounded up (a smaller batch, never a larger one).
pub(super) fn min_healthy(plan: &Plan) -> u32 {
    let n = replaced(plan);
    (100 * n.saturating_sub(plan.batch_size.max(1))).div_ceil(n)
}

impl Rollouts {
    fn watch_to(
        &self,
        record: &RolloutRecord,
        watch: &RefreshWatch,
        stage: RefreshStage,
        now: DateTime<Utc>,
        note: impl Into<String>,
    ) -> RolloutRecord {
        self.to(
            record,
            now,
            Phase::Refresh(RefreshWatch {
                stage,
                since: now,
                gate: None,
                ..watch.clone()
            }),
            note,
        )
    }

    /// [`Self::watch_to`], looked at again after a poll.
    fn watch_later(
        &self,
        record: &RolloutRecord,
        watch: &RefreshWatch,
        stage: RefreshStage,
        now: DateTime<Utc>,
        note: impl Into<String>,
    ) -> RolloutRecord {
        RolloutRecord {
            due_at: now + std_to_chrono(self.timing.poll),
            ..self.watch_to(record, watch, stage, now, note)
        }
    }

    /// `watch` with its task: the recorded one, or, when StartInstanceRefresh's answer was
    /// lost, the refresh at work on the group towards the rollout's image (the pre-flight
    /// saw none, and the lease keeps other rollouts away). `None`: none was started.
    async fn adopt(
        &self,
        record: &RolloutRecord,
        watch: &RefreshWatch,
    ) -> Step<Option<RefreshWatch>> {
        if watch.task_id.is_some() {
            return Ok(Some(watch.clone()));
        }
        let at_work = self.fleet.refreshes_at_work(&record.spec.group_id).await?;
        Ok(at_work
            .into_iter()
            .find(|t| t.image_id == record.spec.image_id)
            .map(|t| RefreshWatch {
                task_id: Some(t.task_id),
                ..watch.clone()
            }))
    }

    /// The refresh's task, which must exist once started.
    async fn task(
        &self,
        record: &RolloutRecord,
        watch: &RefreshWatch,
    ) -> Step<(String, super::fleet::RefreshTask)> {
        let Some(task_id) = watch.task_id.clone() else {
            return Err(Interrupt::Failed(
                "the rollout's record names no instance refresh task".to_owned(),
            ));
        };
        match self.fleet.refresh(&record.spec.group_id, &task_id).await? {
            Some(task) => Ok((task_id, task)),
            None => Err(Interrupt::Failed(format!(
                "instance refresh task {task_id} is gone from {}",
                record.spec.group_id
            ))),
        }
    }

    /// One phase of a `refresh` rollout.
    pub(super) async fn refresh_phase(
        &self,
        record: &RolloutRecord,
        watch: RefreshWatch,
        now: DateTime<Utc>,
    ) -> Step<RolloutRecord> {
        let plan = plan_of(record)?;
        let group = &record.spec.group_id;
        let poll = now + std_to_chrono(self.timing.poll);
        match watch.stage {
            RefreshStage::Start => {
                let request = RefreshRequest {
                    group_id: group.clone(),
                    image_id: record.spec.image_id.clone(),
                    min_healthy_percentage: min_healthy(plan),
                    checkpoints: checkpoints(plan, &record.spec.checkpoints),
                    checkpoint_pause_minutes: PAUSE_MINUTES,
                    token: self.token(record, "refresh"),
                };
                let task_id = self.fleet.start_refresh(&request).await?;
                let note = format!(
                    "instance refresh {task_id} started: checkpoints at {}%",
                    request
                        .checkpoints
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                Ok(self.watch_later(
                    record,
                    &RefreshWatch {
                        task_id: Some(task_id),
                        ..watch.clone()
                    },
                    RefreshStage::Watch,
                    now,
                    note,
                ))
            }
            RefreshStage::Watch => {
                let (task_id, task) = self.task(record, &watch).await?;
                match task.status.as_str() {
                    "Pending" | "InProgress" => Ok(self.waiting(
                        record,
                        now,
                        poll,
                        format!(
                            "instance refresh {task_id}: {} of {} replaced",
                            task.finished, task.total
                        ),
                    )),
                    "CheckpointPause" | "Successful" => {
                        let members = self.fleet.members(group).await?;
                        let fresh: Vec<String> = members
                            .iter()
                            .filter(|m| {
                                m.lifecycle_state == "InService"
                                    && plan.member(&m.instance_id).is_none()
                                    && !plan.already_there.contains(&m.instance_id)
                                    && !record.moved.contains(&m.instance_id)
                            })
                            .map(|m| m.instance_id.clone())
                            .collect();
                        let replaced: Vec<String> = plan
                            .members
                            .iter()
                            .map(|m| m.instance_id.clone())
                            .filter(|id| !members.iter().any(|m| &m.instance_id == id))
                            .collect();
                        if fresh.is_empty() {
                            return self.after_refresh_gate(record, &watch, replaced, now).await;
                        }
                        let index = u32::try_from(record.moved.len()).unwrap_or(u32::MAX);
                        let gate = Batch {
                            index,
                            direction: Direction::Forward,
                            instance_ids: fresh,
                            stage: Stage::Gate,
                            since: now,
                            replacing: Vec::new(),
                            disks: Vec::new(),
                            invocation: None,
                            attempts: 0,
                            healthy_looks: 0,
                        };
                        let note = format!(
                            "instance refresh {task_id}: {} of {} replaced; gating {}",
                            task.finished,
                            task.total,
                            gate.instance_ids.join(", ")
                        );
                        Ok(RolloutRecord {
                            replaced,
                            // ESS put the image into the configuration when it succeeded.
                            configuration_swapped: record.configuration_swapped
                                || task.status == "Successful",
                            ..self.to(
                                record,
                                now,
                                Phase::Refresh(RefreshWatch {
                                    stage: RefreshStage::Gate,
                                    since: now,
                                    gate: Some(gate),
                                    ..watch.clone()
                                }),
                                note,
                            )
                        })
                    }
                    other => Err(Interrupt::Failed(format!(
                        "instance refresh {task_id} is {other}{}",
                        if task.detail.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", task.detail)
                        }
                    ))),
                }
            }
            RefreshStage::Gate => {
                let Some(batch) = watch.gate.clone() else {
                    return Ok(self.watch_to(record, &watch, RefreshStage::Watch, now, "watching"));
                };
                let wrap = |b: Batch| {
                    Phase::Refresh(RefreshWatch {
                        gate: Some(b),
                        ..watch.clone()
                    })
                };
                if let Some(wait) = self.gate(record, &batch, now, &wrap).await? {
                    return Ok(wait);
                }
                let mut moved = record.moved.clone();
                moved.extend(batch.instance_ids.iter().cloned());
                let passed = RolloutRecord {
                    moved,
                    ..record.clone()
                };
                if !watch.baked && record.spec.bake_seconds > 0 {
                    let until = now + seconds(record.spec.bake_seconds);
                    return Ok(RolloutRecord {
                        due_at: until,
                        ..self.to(
                            &passed,
                            now,
                            Phase::Refresh(RefreshWatch {
                                stage: RefreshStage::Bake,
                                since: now,
                                baked: false,
                                gate: Some(batch),
                                ..watch.clone()
                            }),
                            "the first batch passed its gates; baking",
                        )
                    });
                }
                let replaced = record.replaced.clone();
                self.after_refresh_gate(&passed, &watch, replaced, now)
                    .await
            }
            RefreshStage::Bake => {
                let until = watch.since + seconds(record.spec.bake_seconds);
                if now < until {
                    return Ok(self.waiting(record, now, until, "baking"));
                }
                // The baked batch at its gates again; it counts as moved already.
                let Some(batch) = watch.gate.clone() else {
                    return Ok(self.watch_to(record, &watch, RefreshStage::Watch, now, "baked"));
                };
                let again = Batch {
                    since: now,
                    invocation: None,
                    attempts: batch.attempts + 1,
                    healthy_looks: 0,
                    ..batch
                };
                let moved: Vec<String> = record
                    .moved
                    .iter()
                    .filter(|m| !again.instance_ids.contains(m))
                    .cloned()
                    .collect();
                Ok(RolloutRecord {
                    moved,
                    ..self.to(
                        record,
                        now,
                        Phase::Refresh(RefreshWatch {
                            stage: RefreshStage::Gate,
                            since: now,
                            baked: true,
                            gate: Some(again),
                            ..watch.clone()
                        }),
                        "baked; the first batch at its gates again",
                    )
                })
            }
            RefreshStage::Checkpoint => {
                let pause = seconds(record.spec.checkpoint_pause_seconds.unwrap_or(0));
                if now < watch.since + pause {
                    return Ok(self.waiting(record, now, watch.since + pause, "at a checkpoint"));
                }
                self.resume_refresh(record, &watch, now).await
            }
            RefreshStage::RollBack => {
                let Some(watch) = self.adopt(record, &watch).await? else {
                    return Ok(self.to(
                        record,
                        now,
                        Phase::Resume,
                        "no instance refresh to put back",
                    ));
                };
                let (task_id, task) = self.task(record, &watch).await?;
                match task.status.as_str() {
                    "Pending" | "InProgress" | "CheckpointPause" => {
                        self.fleet
                            .refresh_action(group, &task_id, RefreshAction::Suspend)
                            .await?;
                        Ok(self.watch_later(
                            record,
                            &watch,
                            RefreshStage::RollBack,
                            now,
                            format!("instance refresh {task_id} suspended"),
                        ))
                    }
                    "Paused" | "Failed" | "Cancelled" => {
                        self.fleet
                            .refresh_action(group, &task_id, RefreshAction::Rollback)
                            .await?;
                        Ok(self.watch_later(
                            record,
                            &watch,
                            RefreshStage::WatchRollback,
                            now,
                            format!("instance refresh {task_id} rolling back"),
                        ))
                    }
                    // ESS had finished: the refresh cannot be rolled back, and the
                    // configuration holds the image. A second refresh puts the previous image
                    // back, into the instances and the configuration alike.
                    "Successful" if !watch.reverse => {
                        let Some(previous) = plan.configuration_image.clone() else {
                            return Err(Interrupt::Failed(format!(
                                "instance refresh {task_id} had ended, and the configuration's previous image is unknown"
                            )));
                        };
                        let request = RefreshRequest {
                            group_id: group.clone(),
                            image_id: previous.clone(),
                            min_healthy_percentage: min_healthy(plan),
                            checkpoints: vec![100],
                            checkpoint_pause_minutes: PAUSE_MINUTES,
                            token: self.token(record, "refresh-back"),
                        };
                        let back = self.fleet.start_refresh(&request).await?;
                        Ok(RolloutRecord {
                            due_at: poll,
                            configuration_swapped: true,
                            ..self.watch_to(
                                record,
                                &RefreshWatch {
                                    task_id: Some(back.clone()),
                                    reverse: true,
                                    ..watch.clone()
                                },
                                RefreshStage::WatchRollback,
                                now,
                                format!(
                                    "instance refresh {task_id} had ended: refresh {back} puts {previous} back"
                                ),
                            )
                        })
                    }
                    "Cancelling" => {
                        Ok(self.waiting(record, now, poll, "the refresh is cancelling"))
                    }
                    _ => Ok(self.watch_to(
                        record,
                        &watch,
                        RefreshStage::WatchRollback,
                        now,
                        format!("instance refresh {task_id} is {}", task.status),
                    )),
                }
            }
            RefreshStage::WatchRollback => {
                let (task_id, task) = self.task(record, &watch).await?;
                let done = if watch.reverse {
                    "Successful"
                } else {
                    "RollbackSuccessful"
                };
                match task.status.as_str() {
                    "RollbackInProgress" | "Pending" | "InProgress" | "CheckpointPause" => Ok(self
                        .waiting(
                            record,
                            now,
                            poll,
                            format!("instance refresh {task_id} rolling back"),
                        )),
                    status if status == done => Ok(RolloutRecord {
                        // A reverse refresh put the previous image into the configuration.
                        configuration_swapped: false,
                        ..self.to(
                            record,
                            now,
                            Phase::Resume,
                            format!("instance refresh {task_id} rolled back"),
                        )
                    }),
                    other => {
                        let reason = format!(
                            "the rollback after \"{}\" failed: instance refresh {task_id} is {other}{}; \
                             the group may hold instances on {}",
                            record.failure.as_deref().unwrap_or_default(),
                            if task.detail.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", task.detail)
                            },
                            record.spec.image_id
                        );
                        Ok(RolloutRecord {
                            rollback_failure: Some(reason.clone()),
                            ..self.to(record, now, Phase::Resume, format!("pausing: {reason}"))
                        })
                    }
                }
            }
            RefreshStage::Cancel => {
                let Some(watch) = self.adopt(record, &watch).await? else {
                    return Ok(self.ended(record, now, Outcome::Cancelled { moved: Vec::new() }));
                };
                let (task_id, task) = self.task(record, &watch).await?;
                match task.status.as_str() {
                    "Pending" | "InProgress" | "Paused" | "CheckpointPause" => {
                        self.fleet
                            .refresh_action(group, &task_id, RefreshAction::Cancel)
                            .await?;
                        Ok(self.watch_later(
                            record,
                            &watch,
                            RefreshStage::Cancel,
                            now,
                            format!("instance refresh {task_id} cancelling"),
                        ))
                    }
                    "Cancelling" => {
                        Ok(self.waiting(record, now, poll, "the refresh is cancelling"))
                    }
                    _ => Ok(RolloutRecord {
                        configuration_swapped: task.status == "Successful",
                        ..self.to(
                            record,
                            now,
                            Phase::Resume,
                            format!("instance refresh {task_id} is {}", task.status),
                        )
                    }),
                }
            }
        }
    }

    /// After a batch's gates held (or when a pause brought no new instance): the end if the
    /// refresh succeeded, an operator's timed checkpoint, or the refresh resumed.
    async fn after_refresh_gate(
        &self,
        record: &RolloutRecord,
        watch: &RefreshWatch,
        replaced: Vec<String>,
        now: DateTime<Utc>,
    ) -> Step<RolloutRecord> {
        let (task_id, task) = self.task(record, watch).await?;
        let record = RolloutRecord {
            replaced,
            ..record.clone()
        };
        if task.status == "Successful" {
            // ESS put the image into the active configuration.
            return Ok(RolloutRecord {
                configuration_swapped: true,
                ..self.to(
                    &record,
                    now,
                    Phase::Resume,
                    format!(
                        "instance refresh {task_id} succeeded; every new instance passed its gates"
                    ),
                )
            });
        }
        let share = if task.total > 0 {
            u8::try_from(task.finished * 100 / task.total).unwrap_or(100)
        } else {
            100
        };
        let operator = record
            .spec
            .checkpoints
            .iter()
            .copied()
            .filter(|p| *p <= share && !record.checkpoints_passed.contains(p))
            .max();
        if let (Some(percent), Some(_)) = (operator, record.spec.checkpoint_pause_seconds) {
            let mut passed = record.checkpoints_passed.clone();
            passed.push(percent);
            let until = now + seconds(record.spec.checkpoint_pause_seconds.unwrap_or(0));
            return Ok(RolloutRecord {
                checkpoints_passed: passed,
                due_at: until,
                ..self.watch_to(
                    &record,
                    watch,
                    RefreshStage::Checkpoint,
                    now,
                    format!("checkpoint {percent}%: pausing"),
                )
            });
        }
        self.resume_refresh(&record, watch, now).await
    }

    async fn resume_refresh(
        &self,
        record: &RolloutRecord,
        watch: &RefreshWatch,
        now: DateTime<Utc>,
    ) -> Step<RolloutRecord> {
        let (task_id, task) = self.task(record, watch).await?;
        if task.status == "CheckpointPause" {
            self.fleet
                .refresh_action(&record.spec.group_id, &task_id, RefreshAction::Resume)
                .await?;
        }
        Ok(self.watch_later(
            record,
            watch,
            RefreshStage::Watch,
            now,
            format!("instance refresh {task_id} resumed"),
        ))
    }

    /// A failure of a `refresh` rollout: the refresh suspended and rolled back; a failure of
    /// that rollback pauses, naming it.
    pub(super) fn refresh_roll_back(
        &self,
        record: &RolloutRecord,
        now: DateTime<Utc>,
        reason: String,
    ) -> RolloutRecord {
        let watch = match &record.phase {
            Some(Phase::Refresh(watch)) => Some(watch.clone()),
            _ => None,
        };
        if let Some(first) = &record.failure {
            let reason = format!("the rollback after \"{first}\" failed: {reason}");
            return RolloutRecord {
                rollback_failure: Some(reason.clone()),
                ..self.to(record, now, Phase::Resume, format!("pausing: {reason}"))
            };
        }
        // Without a task id the start's answer may have been lost: the RollBack stage looks
        // for the refresh before it concludes there is nothing to put back.
        let next = match watch {
            Some(watch) => Phase::Refresh(RefreshWatch {
                stage: RefreshStage::RollBack,
                since: now,
                gate: None,
                ..watch
            }),
            None => Phase::Resume,
        };
        RolloutRecord {
            failure: Some(reason.clone()),
            ..self.to(record, now, next, format!("rolling back: {reason}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::model::Member;

    fn plan(n: usize, batch: u32) -> Plan {
        Plan {
            members: (0..n)
                .map(|i| Member {
                    instance_id: format!("i-{i}"),
                    previous_image: "m-old".into(),
                    lifecycle_state: "InService".into(),
                })
                .collect(),
            already_there: vec![],
            in_service: n as u32,
            floor: n as u32 - batch,
            batch_size: batch,
            canary: 1,
            configuration_id: None,
            configuration_image: None,
            template: None,
            load_balancers: Vec::new(),
            vserver_groups: Vec::new(),
            vserver_load_balancers: Vec::new(),
            key_pair_name: None,
        }
    }

    #[test]
    fn a_refresh_pauses_after_every_batch_and_at_the_operators_checkpoints() {
        assert_eq!(checkpoints(&plan(6, 2), &[]), [33, 66, 100]);
        assert_eq!(checkpoints(&plan(6, 2), &[50]), [33, 50, 66, 100]);
        // Each mark is reached by the batch that ends there, not one before.
        for (n, b) in [(6u32, 2u32), (7, 2), (3, 1), (100, 10), (100, 1)] {
            let marks = checkpoints(&plan(n as usize, b), &[]);
            for (k, mark) in marks.iter().enumerate().filter(|(_, m)| **m < 100) {
                let k = k as u32 + 1;
                assert!(k * b * 100 >= mark * n, "{n}/{b}: batch {k} reaches {mark}");
                assert!(
                    (k - 1) * b * 100 < mark * n,
                    "{n}/{b}: batch {} reaches {mark}",
                    k - 1
                );
            }
        }
        assert_eq!(checkpoints(&plan(1, 1), &[]), [100]);
        let hundred = checkpoints(&plan(100, 10), &[]);
        assert_eq!(hundred.len(), 10);
        assert_eq!(hundred[0], 10);
        // Past a hundred batches whole percentages cannot mark each one: a pause then
        // gates the few batches since the last.
        let coarse = checkpoints(&plan(250, 1), &[]);
        assert_eq!(coarse.len(), 100);
        assert!(coarse.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_healthy_floor_never_lets_more_than_one_batch_down() {
        for n in 1..400u32 {
            for b in [1, 2, 3, 10, 25, 100].into_iter().filter(|b| *b <= n) {
                let min = min_healthy(&plan(n as usize, b));
                // Whether ESS rounds the instances it keeps up or down, at most the batch
                // goes at once; at 100 % (with MaxHealthyPercentage 100) ESS documents one
                // at a time.
                let down_floor = n - n * min / 100;
                assert!(
                    down_floor.max(1) <= b,
                    "{n}/{b}: {min}% lets {down_floor} down"
                );
                assert!(
                    down_floor >= 1 || min == 100,
                    "{n}/{b}: {min}% lets none down"
                );
            }
        }
    }
}
