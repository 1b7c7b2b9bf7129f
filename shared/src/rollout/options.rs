//! A rollout as asked over the HTTP API (`POST /rollouts`) and in a task's definition
//! (`rollout: {…}`): every field but the group and the image optional, amounts as numbers or
//! `"N%"` strings, unknown fields refused by name.

use serde::{Deserialize, Deserializer, Serialize};

use super::model::{Amount, Membership, OnFailure, RolloutSpec, Strategy};
use crate::model::PermissionSource;

/// The options of a rollout. In a task, `group_id` defaults to the groups of the task's
/// configurations and the image is the one the run made; `image_id`, `plan_hash` and
/// `dry_run` belong to the API only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutOptions {
    /// The ECS-type scaling group (`asg-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// The image (`m-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// `2` or `"10%"` (default 1).
    #[serde(
        default,
        deserialize_with = "amount",
        serialize_with = "amount_out",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_unavailable: Option<Amount>,
    /// Percent of the instances in service at the start that stay in service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_in_service: Option<u8>,
    /// Instances of the canary batch (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<u32>,
    /// Seconds the canary bakes (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake_seconds: Option<u64>,
    /// Seconds of warm-up after boot (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_seconds: Option<u64>,
    /// Seconds an instance may take to pass its gates (default 900).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_timeout_seconds: Option<u64>,
    /// The readiness command run through Cloud Assistant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_command: Option<String>,
    /// `skip` (default) or `include`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby: Option<Membership>,
    /// `skip` (default) or `include`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<Membership>,
    /// Shares moved (1 to 99) after which the rollout pauses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checkpoints: Vec<u8>,
    /// Wait at each checkpoint for `continue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_at_checkpoints: Option<bool>,
    /// Or pause this long at each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_pause_seconds: Option<u64>,
    /// `rollback` (default) or `pause`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<OnFailure>,
    /// `in_place` (default) or `refresh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// The API's `--plan-hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
    /// The API's `--dry-run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// Whose permissions the calls use (the API's; a task's rollout uses the task's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<PermissionSource>,
}

fn amount<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Amount>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum In {
        Count(u32),
        Text(String),
    }
    match Option::<In>::deserialize(d)? {
        None => Ok(None),
        Some(In::Count(n)) => Ok(Some(Amount::Count(n))),
        Some(In::Text(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

// serde's `serialize_with` hands the field by reference.
#[allow(clippy::ref_option)]
fn amount_out<S: serde::Serializer>(a: &Option<Amount>, s: S) -> Result<S::Ok, S::Error> {
    match a {
        Some(Amount::Count(n)) => s.serialize_u32(*n),
        Some(a) => s.serialize_str(&a.to_string()),
        None => s.serialize_none(),
    }
}

impl RolloutOptions {
    /// The rollout of `group_id` onto `image_id` these options ask for, checked: the
    /// checkpoints need a way to end their pauses, and the spec its bounds.
    pub fn spec(&self, group_id: &str, image_id: &str) -> Result<RolloutSpec, String> {
        let base = RolloutSpec::new(group_id, image_id);
        let pause = self.pause_at_checkpoints.unwrap_or(false);
        if pause && self.checkpoint_pause_seconds.is_some() {
            return Err(
                "pause_at_checkpoints and checkpoint_pause_seconds exclude each other".to_owned(),
            );
        }
        if !self.checkpoints.is_empty() && !pause && self.checkpoint_pause_seconds.is_none() {
            return Err(
                "checkpoints need pause_at_checkpoints (wait for continue) or checkpoint_pause_seconds"
                    .to_owned(),
            );
        }
        let spec = RolloutSpec {
            max_unavailable: self.max_unavailable.unwrap_or(base.max_unavailable),
            min_in_service: self.min_in_service,
            canary: self.canary.unwrap_or(base.canary),
            bake_seconds: self.bake_seconds.unwrap_or(base.bake_seconds),
            warmup_seconds: self.warmup_seconds.unwrap_or(base.warmup_seconds),
            gate_timeout_seconds: self
                .gate_timeout_seconds
                .unwrap_or(base.gate_timeout_seconds),
            readiness_command: self.readiness_command.clone(),
            plan_hash: self.plan_hash.clone(),
            standby: self.standby.unwrap_or_default(),
            protected: self.protected.unwrap_or_default(),
            checkpoints: self.checkpoints.clone(),
            checkpoint_pause_seconds: self.checkpoint_pause_seconds,
            on_failure: self.on_failure.unwrap_or_default(),
            strategy: self.strategy.unwrap_or_default(),
            permission: self.permission.clone().unwrap_or(PermissionSource::Account),
            ..base
        };
        super::engine::validate_spec(&spec)?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_come_as_numbers_or_shares_and_strangers_are_named() {
        let o: RolloutOptions =
            serde_json::from_str(r#"{"max_unavailable": "10%", "canary": 2}"#).unwrap();
        assert_eq!(o.max_unavailable, Some(Amount::Percent(10)));
        let o: RolloutOptions = serde_json::from_str(r#"{"max_unavailable": 3}"#).unwrap();
        assert_eq!(o.max_unavailable, Some(Amount::Count(3)));
        let e = serde_json::from_str::<RolloutOptions>(r#"{"max_unavailable": "ten"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"ten\""), "{e}");
        let e = serde_json::from_str::<RolloutOptions>(r#"{"max_unavailble": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_unavailble"), "{e}");
        let back = serde_json::to_value(RolloutOptions {
            max_unavailable: Some(Amount::Percent(25)),
            ..RolloutOptions::default()
        })
        .unwrap();
        assert_eq!(back, serde_json::json!({"max_unavailable": "25%"}));
    }

    #[test]
    fn checkpoints_need_a_way_to_end_their_pauses() {
        let o = RolloutOptions {
            checkpoints: vec![50],
            ..RolloutOptions::default()
        };
        assert!(
            o.spec("asg-1", "m-1")
                .unwrap_err()
                .contains("checkpoints need")
        );
        let o = RolloutOptions {
            pause_at_checkpoints: Some(true),
            ..o
        };
        let spec = o.spec("asg-1", "m-1").unwrap();
        assert_eq!(
            (spec.checkpoints, spec.checkpoint_pause_seconds),
            (vec![50], None)
        );
        let o = RolloutOptions {
            checkpoints: vec![100],
            pause_at_checkpoints: Some(true),
            ..RolloutOptions::default()
        };
        assert!(o.spec("asg-1", "m-1").unwrap_err().contains("100%"));
    }
}
