use chrono::{NaiveDate, TimeZone};

use super::fixtures::{now, periodic, valid};
use super::*;
use crate::secrets::SealedSecret;

/// Applies `edit` to a valid spec and returns the refusal's field and message.
fn refusal(edit: impl FnOnce(&mut TaskSpec)) -> (String, String) {
    let mut spec = valid();
    edit(&mut spec);
    let err = spec
        .validate(now())
        .expect_err("the spec should be refused");
    (err.field(), err.to_string())
}

#[test]
fn the_console_example_is_valid() {
    valid().validate(now()).unwrap();
}

#[test]
fn every_refusal_names_its_field() {
    type Edit = Box<dyn FnOnce(&mut TaskSpec)>;
    let cases: Vec<(&str, &str, Edit)> = vec![
        (
            "source_instance_id",
            "not an ECS instance id",
            Box::new(|s| s.source_instance_id = "bp1abc".into()),
        ),
        (
            "scaling_configuration_ids",
            "at least one",
            Box::new(|s| s.scaling_configuration_ids.clear()),
        ),
        (
            "scaling_configuration_ids",
            "\"asg-1\" is not a scaling configuration id",
            Box::new(|s| s.scaling_configuration_ids = vec!["asg-1".into()]),
        ),
        (
            "scaling_configuration_ids",
            "more than once",
            Box::new(|s| s.scaling_configuration_ids = vec!["asc-a".into(), "asc-a".into()]),
        ),
        (
            "scaling_configuration_ids",
            "at most 10",
            Box::new(|s| {
                s.scaling_configuration_ids = (0..11).map(|i| format!("asc-{i}")).collect()
            }),
        ),
        (
            "image_name",
            "must start with a letter",
            Box::new(|s| s.image_name = Some("1web".into())),
        ),
        (
            "image_name",
            "shorter than 2",
            Box::new(|s| s.image_name = Some("w".into())),
        ),
        (
            "image_name",
            "at most 63 characters",
            Box::new(|s| s.image_name = Some("w".repeat(64))),
        ),
        (
            "image_name",
            "http://",
            Box::new(|s| s.image_name = Some("https-x".replace('-', "://"))),
        ),
        (
            "image_name",
            "only letters, digits",
            Box::new(|s| s.image_name = Some("web golden".into())),
        ),
        (
            "image_name",
            "only letters, digits",
            Box::new(|s| s.image_name = Some("web.golden".into())),
        ),
        (
            "permission",
            "periodic task must name a RAM role",
            Box::new(|s| s.permission = PermissionSource::Account),
        ),
        (
            "permission",
            "scheduled task must name a RAM role",
            Box::new(|s| {
                s.permission = PermissionSource::Account;
                s.executed_at = ExecutedAt::Scheduled {
                    at: now() + chrono::Duration::hours(1),
                };
            }),
        ),
        (
            "permission",
            "cron task must name a RAM role",
            Box::new(|s| {
                s.permission = PermissionSource::Account;
                s.executed_at = ExecutedAt::Cron {
                    expression: "0 0 4 * * *".into(),
                    expired_at: None,
                };
            }),
        ),
        (
            "permission.role_arn",
            "not a RAM role ARN",
            Box::new(|s| {
                s.permission = PermissionSource::RamRole {
                    role_arn: "acs:ram::12ab:role/x".into(),
                }
            }),
        ),
        (
            "permission.role_arn",
            "not a RAM role ARN",
            Box::new(|s| {
                s.permission = PermissionSource::RamRole {
                    role_arn: "arn:aws:iam::1:role/x".into(),
                }
            }),
        ),
        (
            "executed_at.at",
            "in the past",
            Box::new(|s| {
                s.executed_at = ExecutedAt::Scheduled {
                    at: now() - chrono::Duration::minutes(1),
                }
            }),
        ),
        (
            "executed_at.expired_at",
            "in the past",
            Box::new(|s| {
                let mut p = periodic(Recurrence::Daily);
                p.expired_at = now() - chrono::Duration::days(1);
                s.executed_at = ExecutedAt::Periodic(p);
            }),
        ),
        (
            "executed_at.expired_at",
            "before the start",
            Box::new(|s| {
                let mut p = periodic(Recurrence::Daily);
                p.starts_at = Some(
                    NaiveDate::from_ymd_opt(2020, 9, 1)
                        .unwrap()
                        .and_hms_opt(0, 0, 0)
                        .unwrap(),
                );
                s.executed_at = ExecutedAt::Periodic(p);
            }),
        ),
        (
            "executed_at.expired_at",
            "has no run",
            Box::new(|s| {
                s.executed_at = ExecutedAt::Periodic(periodic(Recurrence::Monthly {
                    from_day: 27,
                    to_day: 28,
                }));
            }),
        ),
        (
            "executed_at.recurrence",
            "is empty",
            Box::new(|s| {
                s.executed_at = ExecutedAt::Periodic(periodic(Recurrence::Monthly {
                    from_day: 25,
                    to_day: 21,
                }));
            }),
        ),
        (
            "executed_at.recurrence",
            "is impossible",
            Box::new(|s| {
                s.executed_at = ExecutedAt::Periodic(periodic(Recurrence::Monthly {
                    from_day: 0,
                    to_day: 3,
                }));
            }),
        ),
        (
            "executed_at.recurrence",
            "is impossible",
            Box::new(|s| {
                s.executed_at = ExecutedAt::Periodic(periodic(Recurrence::Monthly {
                    from_day: 30,
                    to_day: 32,
                }));
            }),
        ),
        (
            "webhook_runs_per_hour",
            "not between 1 and 3600",
            Box::new(|s| s.webhook_runs_per_hour = Some(0)),
        ),
        (
            "webhook_runs_per_hour",
            "not between 1 and 3600",
            Box::new(|s| s.webhook_runs_per_hour = Some(3601)),
        ),
        (
            "disable_after_failures",
            "101 is more than 100",
            Box::new(|s| s.disable_after_failures = Some(101)),
        ),
        (
            "executed_at.recurrence.days",
            "at least one day",
            Box::new(|s| {
                s.executed_at = ExecutedAt::Periodic(periodic(Recurrence::Weekly { days: vec![] }));
            }),
        ),
        (
            "executed_at.time_zone",
            "\"Mars/Olympus\"",
            Box::new(|s| {
                let mut p = periodic(Recurrence::Daily);
                p.time_zone = "Mars/Olympus".into();
                s.executed_at = ExecutedAt::Periodic(p);
            }),
        ),
        (
            "executed_at.expression",
            "expected 6 fields",
            Box::new(|s| {
                s.executed_at = ExecutedAt::Cron {
                    expression: "0 4 * * *".into(),
                    expired_at: None,
                };
            }),
        ),
        (
            "executed_at.expression",
            "unknown time zone",
            Box::new(|s| {
                s.executed_at = ExecutedAt::Cron {
                    expression: "CRON_TZ=Nowhere 0 0 4 * * *".into(),
                    expired_at: None,
                };
            }),
        ),
        (
            "webhook_secret",
            "at least 16",
            Box::new(|s| s.webhook_secret = Some(WebhookSecret::new("short").into())),
        ),
    ];
    for (field, fragment, edit) in cases {
        let (got_field, message) = refusal(edit);
        assert_eq!(got_field, field, "{message}");
        assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
    }
}

#[test]
fn account_permissions_are_fine_for_now() {
    let mut spec = valid();
    spec.permission = PermissionSource::Account;
    spec.executed_at = ExecutedAt::Now;
    spec.validate(now()).unwrap();
}

#[test]
fn image_names_ecs_accepts() {
    for name in ["ab", "web-golden_2024:01", &"w".repeat(63)] {
        validate_image_name(name, now()).unwrap();
    }
}

#[test]
fn the_json_form_round_trips_and_reads_as_documented() {
    let json = r#"{
        "source_instance_id": "i-bp1abc",
        "scaling_configuration_ids": ["asc-one"],
        "executed_at": {"kind": "periodic", "recurrence": {"every": "weekly", "days": ["Mon", "fri"]},
                        "at": "02:00:00", "expired_at": "2020-08-26T00:00:00+08:00",
                        "time_zone": "Asia/Shanghai"},
        "permission": {"kind": "ram_role", "role_arn": "acs:ram::123456789012:role/reimage"}
    }"#;
    let spec: TaskSpec = serde_json::from_str(json).unwrap();
    let ExecutedAt::Periodic(p) = &spec.executed_at else {
        panic!("not periodic");
    };
    assert_eq!(
        p.expired_at,
        Utc.with_ymd_and_hms(2020, 8, 25, 16, 0, 0).unwrap()
    );
    assert_eq!(
        p.recurrence,
        Recurrence::Weekly {
            days: vec![Weekday::Mon, Weekday::Fri]
        }
    );
    let back: TaskSpec = serde_json::from_slice(&serde_json::to_vec(&spec).unwrap()).unwrap();
    assert_eq!(back, spec);
    assert!(serde_json::from_str::<TaskSpec>(&json.replace("\"at\"", "\"att\"")).is_err());
}

#[test]
fn webhook_secret_never_shows_in_debug_output() {
    let spec = valid();
    let shown = format!("{spec:?}");
    assert!(!shown.contains("0123456789abcdef"), "{shown}");
    assert!(shown.contains("<redacted>"));
}

#[test]
fn a_record_written_before_rotation_and_rate_limits_still_reads() {
    let old = serde_json::json!({
        "task_id": "t1", "seq": 0, "change": "created",
        "recorded_at": "2020-08-01T00:00:00Z", "created_at": "2020-08-01T00:00:00Z",
        "enabled": true,
        "spec": serde_json::to_value(TaskSpec { webhook_runs_per_hour: None, ..valid() }).unwrap()
    });
    let record: TaskRecord = serde_json::from_value(old).unwrap();
    assert_eq!(record.previous_webhook_secret, None);
    assert_eq!(
        record.spec.webhook_runs_per_hour(),
        DEFAULT_WEBHOOK_RUNS_PER_HOUR
    );
}

#[test]
fn a_sealed_form_is_not_accepted_as_a_new_secret() {
    let (field, message) = refusal(|s| {
        s.webhook_secret = Some(StoredSecret::Sealed(SealedSecret {
            sealed_with: crate::secrets::SealScheme::Local,
            key: "k".into(),
            ciphertext: "c".into(),
        }))
    });
    assert_eq!(field, "webhook_secret");
    assert!(message.contains("not a sealed form"), "{message}");
}
