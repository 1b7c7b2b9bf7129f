//! Executions: one image update, kept as a log of step records.
//!
//! An execution is never updated in place. Each step transition creates the next record,
//! `executions/<execution-id>/<seq>.json`, with `seq` zero-padded to six digits so keys sort;
//! the record with the highest seq is the execution's current state. A record holds the whole
//! picture: the update request, what is pending next (or the terminal outcome), and everything
//! learned so far, so a step needs only the latest record to continue.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PermissionSource;
use crate::ids::IdSource;

/// Namespace of the UUIDs reimage derives (execution ids, ClientTokens, invocation ids).
const REIMAGE_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x7c1f_4b52_9a0e_4d6b_8e3a_52f1_0c9d_e4a7);

/// Prefix of every execution id.
pub const EXECUTION_ID_PREFIX: &str = "exec-";

/// The longest execution id accepted from outside.
pub const EXECUTION_ID_MAX: usize = 64;

/// The id of an execution.
///
/// Ids are made of ASCII letters, digits, `-` and `_` (at most 64), so an id is both a legal
/// store key segment and legal inside an ECS image name. reimage's own ids are
/// `exec-<32 hex digits>`: random for a manual run ([`ExecutionId::random`]), or derived from a
/// key ([`ExecutionId::derived`]) so that the same scheduled slot or webhook delivery always
/// names the same execution.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExecutionId(String);

/// Why a string is not an execution id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal execution id {id:?}: {reason}")]
pub struct ExecutionIdError {
    /// The string as given.
    pub id: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl ExecutionId {
    /// A fresh random id for a manual run.
    pub fn random(ids: &dyn IdSource) -> Self {
        Self::from_uuid(uuid::Uuid::new_v5(
            &REIMAGE_NAMESPACE,
            format!("random:{}", ids.unique()).as_bytes(),
        ))
    }

    /// The id derived from `key`: the same key always gives the same id.
    ///
    /// Callers build the key from what identifies the run, e.g. `task:<task-id>:<slot time>`
    /// for a scheduled slot or `webhook:<task-id>:<delivery id>` for a webhook delivery.
    pub fn derived(key: &str) -> Self {
        Self::from_uuid(uuid::Uuid::new_v5(
            &REIMAGE_NAMESPACE,
            format!("key:{key}").as_bytes(),
        ))
    }

    fn from_uuid(uuid: uuid::Uuid) -> Self {
        Self(format!("{EXECUTION_ID_PREFIX}{}", uuid.simple()))
    }

    /// Checks an id that came from outside (an event, a URL, the command line).
    pub fn parse(id: &str) -> Result<Self, ExecutionIdError> {
        let bad = |reason| ExecutionIdError {
            id: id.to_owned(),
            reason,
        };
        if id.is_empty() {
            return Err(bad("empty"));
        }
        if id.len() > EXECUTION_ID_MAX {
            return Err(bad("longer than 64 characters"));
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        {
            return Err(bad("only ASCII letters, digits, `-` and `_` are allowed"));
        }
        Ok(Self(id.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A token derived from this execution and `purpose`, e.g. the ClientToken of the
    /// snapshot or image this execution creates: 36 ASCII characters (a UUID), within
    /// ECS's 64-character limit, the same every time for the same execution and purpose.
    pub fn token(&self, purpose: &str) -> String {
        uuid::Uuid::new_v5(
            &REIMAGE_NAMESPACE,
            format!("token:{}:{purpose}", self.0).as_bytes(),
        )
        .to_string()
    }

    /// The store prefix under which this execution's records live (with a trailing `/`).
    pub fn prefix(&self) -> String {
        format!("{EXECUTIONS_PREFIX}{}/", self.0)
    }

    /// The store key of record `seq` of this execution.
    pub fn record_key(&self, seq: u64) -> String {
        format!("{EXECUTIONS_PREFIX}{}/{seq:06}.json", self.0)
    }
}

/// The store prefix of all executions.
pub const EXECUTIONS_PREFIX: &str = "executions/";

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ExecutionId {
    type Err = ExecutionIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ExecutionId {
    type Error = ExecutionIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ExecutionId> for String {
    fn from(id: ExecutionId) -> Self {
        id.0
    }
}

/// Splits a record key `executions/<id>/<seq>.json` into its id and seq.
pub fn parse_record_key(key: &str) -> Option<(ExecutionId, u64)> {
    let rest = key.strip_prefix(EXECUTIONS_PREFIX)?;
    let (id, file) = rest.split_once('/')?;
    let seq = file.strip_suffix(".json")?;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((ExecutionId::parse(id).ok()?, seq.parse().ok()?))
}

/// The four steps of an image update, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Checks, snapshot of the system disk, CreateImage from it.
    CreateImage,
    /// Polls the image until it is Available (or failed, or past the deadline).
    WaitImage,
    /// Records each configuration's image, then puts the new image into each.
    SwapConfig,
    /// Reads every configuration back and checks it; the final record.
    Verify,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 4] = [
        Step::CreateImage,
        Step::WaitImage,
        Step::SwapConfig,
        Step::Verify,
    ];

    /// The step's name as events, function names and records spell it (`create-image`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::CreateImage => "create-image",
            Step::WaitImage => "wait-image",
            Step::SwapConfig => "swap-config",
            Step::Verify => "verify",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a step name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown step {0:?}: expected create-image, wait-image, swap-config or verify")]
pub struct UnknownStep(pub String);

impl FromStr for Step {
    type Err = UnknownStep;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Step::ALL
            .into_iter()
            .find(|step| step.as_str() == s)
            .ok_or_else(|| UnknownStep(s.to_owned()))
    }
}

/// "Run `step` of `execution_id`, whose latest record is `seq`": the event that travels
/// between steps (in process, or as the payload of a Function Compute async invocation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepEvent {
    /// The execution.
    pub execution_id: ExecutionId,
    /// The step to run.
    pub step: Step,
    /// The seq of the record that asks for this step.
    pub seq: u64,
}

impl StepEvent {
    /// An id for this event, the same each time it is sent: e.g. FC's stateful async
    /// invocation id, so a re-sent event is not run twice by the platform.
    pub fn invocation_id(&self) -> String {
        format!("{}-{}-{:06}", self.execution_id, self.step, self.seq)
    }
}

/// What an execution is asked to do: the console's image update task, one run of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRequest {
    /// The ECS instance whose system disk becomes the image.
    pub instance_id: String,
    /// The image name chosen by the user, if any (see [`super::naming`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// The scaling configurations that receive the image, Active and Inactive alike.
    pub configuration_ids: Vec<String>,
    /// Whose permissions the cloud calls use.
    pub permission: PermissionSource,
    /// The task this run belongs to, if it was started from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The task's rollout, started once the image is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<crate::rollout::RolloutOptions>,
    /// Whether the image may have another platform than the images the configurations
    /// hold (the pre-flight refuses a change otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_platform_change: bool,
    /// The scaling groups whose instances launch from a launch template, which get a new
    /// version of it holding the image (see [`crate::steps`]'s swap-config).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scaling_group_ids: Vec<String>,
    /// Whether a group on its template's `Default` version may have the template's default
    /// changed (which changes it for every other user of the template).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_default_version_change: bool,
}

impl UpdateRequest {
    /// The configurations and the launch-template groups: everything the run changes, each
    /// leased while it does.
    pub fn targets(&self) -> Vec<String> {
        let mut out = self.configuration_ids.clone();
        out.extend(self.scaling_group_ids.iter().cloned());
        out
    }
}

/// A cloud error as the cloud reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudFault {
    /// The cloud's error Code, e.g. `InvalidImageId.NotFound`.
    pub code: String,
    /// The cloud's Message.
    pub message: String,
    /// The RequestId of the failed call, if there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Why an execution failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The step that failed.
    pub step: Step,
    /// What went wrong, in reimage's words.
    pub reason: String,
    /// The cloud's error, when the failure came from the cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<CloudFault>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.step, self.reason)?;
        if let Some(cloud) = &self.cloud {
            write!(f, " ({}: {})", cloud.code, cloud.message)?;
        }
        Ok(())
    }
}

/// Where an execution stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum State {
    /// `step` is to run next, not before `due_at`.
    Pending {
        /// The step to run.
        step: Step,
        /// When it is due.
        due_at: DateTime<Utc>,
    },
    /// The image is in every configuration and verified.
    Succeeded,
    /// The execution failed; what it created was cleaned up and what it changed put back.
    Failed(Failure),
    /// While it waited for its scaling configurations, a newer request for all of them (and
    /// maybe more) arrived: that execution carries this one's request, and this one ended
    /// before creating or changing anything.
    Superseded {
        /// The execution that carries the request.
        carried_by: ExecutionId,
    },
}

impl State {
    /// The pending step, if the execution is not finished.
    pub fn pending_step(&self) -> Option<Step> {
        match self {
            State::Pending { step, .. } => Some(*step),
            _ => None,
        }
    }

    /// Whether the execution is finished.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, State::Pending { .. })
    }

    /// `pending`, `succeeded` or `failed`.
    pub fn status(&self) -> &'static str {
        match self {
            State::Pending { .. } => "pending",
            State::Succeeded => "succeeded",
            State::Failed(_) => "failed",
            State::Superseded { .. } => "superseded",
        }
    }
}

/// A configuration's image before the execution changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousImage {
    /// The scaling configuration.
    pub configuration_id: String,
    /// The image it held.
    pub image_id: String,
}

/// A launch-template group's source before the execution changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousTemplate {
    /// The scaling group (`asg-…`).
    pub group_id: String,
    /// The launch template it launches from (`lt-…`).
    pub launch_template_id: String,
    /// The version it names: a number, `Default` or `Latest`.
    pub version: String,
    /// The number that named (the version the new one copies).
    pub source_version: i64,
    /// The template's default version then.
    pub default_version: i64,
    /// The image that version held.
    pub image_id: String,
}

impl PreviousTemplate {
    /// `VersionDescription` of the version execution `execution_id` makes from this one: how
    /// a replay finds it, and a rollback deletes it.
    pub fn new_version_description(&self, execution_id: &ExecutionId) -> String {
        format!(
            "reimage {execution_id} from version {}",
            self.source_version
        )
    }

    /// Whether the group names its template's default version.
    pub fn on_default(&self) -> bool {
        matches!(self.version.as_str(), "Default" | "")
    }

    /// Whether the group names its template's latest version.
    pub fn on_latest(&self) -> bool {
        self.version == "Latest"
    }
}

/// A rollout an execution starts after its image is verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRollout {
    /// The scaling group whose instances move.
    pub group_id: String,
    /// The rollout.
    pub rollout_id: crate::rollout::RolloutId,
}

/// A configuration an execution waits for, and the execution that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// The scaling configuration.
    pub configuration_id: String,
    /// The execution that holds its lease.
    pub holder: ExecutionId,
    /// When this execution first found it busy.
    pub since: DateTime<Utc>,
    /// How many times in a row it was found busy.
    pub polls: u32,
}

/// What an execution has learned so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Learned {
    /// When the execution held the lease of every configuration it updates: its work (and
    /// its image deadline) starts there. `None` while it waits, and for executions started
    /// before leases existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leased_at: Option<DateTime<Utc>>,
    /// The configuration this execution waits for, while another execution holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<Waiting>,
    /// The source instance's system disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_disk_id: Option<String>,
    /// The snapshot of the system disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// The image created from the snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// The last Progress the cloud reported for the snapshot or image being built (0–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<u8>,
    /// Each configuration's image before the swap, in request order; set by swap-config
    /// before it changes anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_images: Option<Vec<PreviousImage>>,
    /// When the snapshot was requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_requested_at: Option<DateTime<Utc>>,
    /// When CreateImage was called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_requested_at: Option<DateTime<Utc>>,
    /// When wait-image saw the image Available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_available_at: Option<DateTime<Utc>>,
    /// When the configurations were swapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swapped_at: Option<DateTime<Utc>>,
    /// The rollouts verify decided on (the task's `rollout:`), one per group; started before
    /// the final record is written, each under an id derived from the execution and group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<TaskRollout>,
    /// How many times the snapshot's status was read.
    #[serde(default)]
    pub snapshot_checks: u32,
    /// How many times the image's status was read.
    #[serde(default)]
    pub image_checks: u32,
    /// How many times in a row the pending step met a cloud error that may pass (throttling,
    /// 5xx, connection failure) and was scheduled again; reset when a step gets through.
    #[serde(default)]
    pub retries: u32,
    /// The error behind the latest retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<CloudFault>,
    /// Set when swap-config or verify has decided to fail and is putting the configurations
    /// back: the failure the execution ends with. A replay after a crash finishes putting
    /// back instead of swapping forward again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_back: Option<Failure>,
    /// Each launch-template group's source before the swap, in request order; set by
    /// swap-config with [`Learned::previous_images`], before it changes anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_templates: Option<Vec<PreviousTemplate>>,
}

/// One record of an execution's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The execution.
    pub execution_id: ExecutionId,
    /// This record's position in the log, from 0.
    pub seq: u64,
    /// What is pending next, or how the execution ended.
    pub state: State,
    /// What the execution was asked to do.
    pub request: UpdateRequest,
    /// The name of the image this execution creates (fixed at the start).
    pub image_name: String,
    /// When the execution started (record 0 was written).
    pub started_at: DateTime<Utc>,
    /// What has been learned so far.
    pub learned: Learned,
    /// When this record was written.
    pub written_at: DateTime<Utc>,
}

/// Why a record could not be read.
#[derive(Debug, thiserror::Error)]
#[error("record {key} is not a valid step record")]
pub struct RecordError {
    /// The record's key.
    pub key: String,
    /// The parse error.
    #[source]
    pub source: serde_json::Error,
}

impl StepRecord {
    /// Record 0 of a new execution: create-image is due at once.
    pub fn first(
        execution_id: ExecutionId,
        request: UpdateRequest,
        image_name: String,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            execution_id,
            seq: 0,
            state: State::Pending {
                step: Step::CreateImage,
                due_at: now,
            },
            request,
            image_name,
            started_at: now,
            learned: Learned::default(),
            written_at: now,
        }
    }

    /// The next record: same execution and request, `state` and `learned` as given.
    pub fn next(&self, state: State, learned: Learned, now: DateTime<Utc>) -> Self {
        Self {
            execution_id: self.execution_id.clone(),
            seq: self.seq + 1,
            state,
            request: self.request.clone(),
            image_name: self.image_name.clone(),
            started_at: self.started_at,
            learned,
            written_at: now,
        }
    }

    /// When the execution's work started: when it held every lease, or (for an execution
    /// started before leases existed) when it started. Its image deadline counts from here.
    pub fn work_started_at(&self) -> DateTime<Utc> {
        self.learned.leased_at.unwrap_or(self.started_at)
    }

    /// This record's store key.
    pub fn key(&self) -> String {
        self.execution_id.record_key(self.seq)
    }

    /// The event that runs this record's pending step, if any.
    pub fn event(&self) -> Option<StepEvent> {
        self.state.pending_step().map(|step| StepEvent {
            execution_id: self.execution_id.clone(),
            step,
            seq: self.seq,
        })
    }

    /// The record as stored: pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain structs with string keys cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Reads a stored record.
    pub fn from_json(key: &str, bytes: &[u8]) -> Result<Self, RecordError> {
        serde_json::from_slice(bytes).map_err(|source| RecordError {
            key: key.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SequentialIds;
    use chrono::TimeZone;

    fn request() -> UpdateRequest {
        UpdateRequest {
            allow_default_version_change: false,
            scaling_group_ids: Vec::new(),
            instance_id: "i-1".into(),
            image_name: None,
            configuration_ids: vec!["asc-1".into(), "asc-2".into()],
            permission: PermissionSource::RamRole {
                role_arn: "acs:ram::1:role/reimage".into(),
            },
            task_id: None,
            rollout: None,
            allow_platform_change: false,
        }
    }

    #[test]
    fn random_ids_differ_and_are_legal_keys_and_name_parts() {
        let ids = SequentialIds::new("t");
        let a = ExecutionId::random(&ids);
        let b = ExecutionId::random(&ids);
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert!(id.as_str().starts_with("exec-"));
            assert_eq!(id.as_str().len(), 37);
            crate::store::validate_key(&id.record_key(0)).unwrap();
            crate::model::naming::validate_image_name(&format!("x_on_{id}")).unwrap();
        }
    }

    #[test]
    fn derived_ids_are_stable_per_key_and_differ_from_random() {
        let a = ExecutionId::derived("task:t-1:2026-01-01T02:00:00Z");
        let b = ExecutionId::derived("task:t-1:2026-01-01T02:00:00Z");
        let c = ExecutionId::derived("task:t-1:2026-01-02T02:00:00Z");
        assert_eq!(a, b);
        assert_ne!(a, c);
        crate::store::validate_key(&a.record_key(1)).unwrap();
    }

    #[test]
    fn parse_refuses_ids_that_would_break_keys_or_names() {
        ExecutionId::parse("exec-1").unwrap();
        for bad in ["", "a/b", "..", "a.b", "a b", "a:b", &"a".repeat(65)] {
            let err = ExecutionId::parse(bad).unwrap_err();
            assert_eq!(err.id, bad);
        }
        // Deserialization goes through the same check.
        assert!(serde_json::from_str::<ExecutionId>("\"../etc\"").is_err());
    }

    #[test]
    fn record_keys_sort_by_seq_and_parse_back() {
        let id = ExecutionId::parse("exec-7").unwrap();
        assert_eq!(id.record_key(0), "executions/exec-7/000000.json");
        assert!(id.record_key(9) < id.record_key(10));
        assert_eq!(parse_record_key(&id.record_key(42)), Some((id.clone(), 42)));
        assert_eq!(parse_record_key("executions/exec-7/x.json"), None);
        assert_eq!(parse_record_key("executions/exec-7/000001.json.tmp"), None);
        assert_eq!(parse_record_key("tasks/t/000001.json"), None);
    }

    #[test]
    fn tokens_are_stable_distinct_and_short() {
        let id = ExecutionId::parse("exec-7").unwrap();
        assert_eq!(id.token("snapshot"), id.token("snapshot"));
        assert_ne!(id.token("snapshot"), id.token("image"));
        assert_ne!(
            id.token("image"),
            ExecutionId::parse("exec-8").unwrap().token("image")
        );
        assert!(id.token("image").len() <= 64);
    }

    #[test]
    fn step_names_round_trip_in_events() {
        for step in Step::ALL {
            assert_eq!(step.as_str().parse::<Step>().unwrap(), step);
        }
        assert!("swap".parse::<Step>().is_err());
        let event: StepEvent =
            serde_json::from_str(r#"{"execution_id":"exec-1","step":"wait-image","seq":3}"#)
                .unwrap();
        assert_eq!(event.step, Step::WaitImage);
        assert_eq!(event.seq, 3);
        assert_eq!(event.invocation_id(), "exec-1-wait-image-000003");
        assert!(
            serde_json::from_str::<StepEvent>(r#"{"execution_id":"e/1","step":"verify","seq":0}"#)
                .is_err()
        );
    }

    #[test]
    fn records_round_trip_through_json() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let first = StepRecord::first(
            ExecutionId::parse("exec-1").unwrap(),
            request(),
            "UpdateImage_from_i-1_on_exec-1".into(),
            now,
        );
        let failed = first.next(
            State::Failed(Failure {
                step: Step::CreateImage,
                reason: "the instance does not exist".into(),
                cloud: Some(CloudFault {
                    code: "InvalidInstanceId.NotFound".into(),
                    message: "not found".into(),
                    request_id: None,
                }),
            }),
            Learned::default(),
            now,
        );
        assert_eq!(failed.seq, 1);
        assert_eq!(failed.key(), "executions/exec-1/000001.json");
        for record in [&first, &failed] {
            let back = StepRecord::from_json(&record.key(), &record.to_json()).unwrap();
            assert_eq!(&back, record);
        }
        let json: serde_json::Value = serde_json::from_slice(&failed.to_json()).unwrap();
        assert_eq!(json["state"]["status"], "failed");
        assert_eq!(json["state"]["cloud"]["code"], "InvalidInstanceId.NotFound");
        assert_eq!(first.event().unwrap().step, Step::CreateImage);
        assert_eq!(failed.event(), None);
        let err = StepRecord::from_json("k", b"{\"seq\":1}").unwrap_err();
        assert!(err.to_string().contains("record k"));
    }
}
