//! Task specs the tests of tasks and their store start from.

use chrono::{DateTime, NaiveTime, TimeZone, Utc};

use super::{ConfigurationSource, ExecutedAt, Periodic, Recurrence, TaskSpec, WebhookSecret};
use crate::model::PermissionSource;

pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 8, 1, 0, 0, 0).unwrap()
}

fn role() -> PermissionSource {
    PermissionSource::RamRole {
        role_arn: "acs:ram::123456789012:role/reimage-updater".into(),
    }
}

pub(crate) fn periodic(recurrence: Recurrence) -> Periodic {
    Periodic {
        recurrence,
        at: NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
        starts_at: None,
        expired_at: Utc.with_ymd_and_hms(2020, 8, 25, 16, 0, 0).unwrap(),
        time_zone: "Asia/Shanghai".into(),
    }
}

pub(crate) fn valid() -> TaskSpec {
    TaskSpec {
        allow_default_version_change: false,
        scaling_group_ids: Vec::new(),
        notify: Vec::new(),
        retention: None,
        source_instance_id: "i-bp1abc".into(),
        image_name: Some("web-golden".into()),
        configuration_source: ConfigurationSource::ScalingConfiguration,
        scaling_configuration_ids: vec!["asc-one".into(), "asc-two".into()],
        executed_at: ExecutedAt::Periodic(periodic(Recurrence::Monthly {
            from_day: 21,
            to_day: 25,
        })),
        permission: role(),
        webhook_secret: Some(WebhookSecret::new("0123456789abcdef").into()),
        webhook_runs_per_hour: None,
        disable_after_failures: None,
        rollout: None,
        allow_platform_change: false,
    }
}
