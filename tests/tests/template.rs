//! template.yml, read as data: the deployment the FC functions expect and a policy that
//! grants only what reimage calls. (`fun validate` in .ci/run checks it against Funcraft's
//! schema; this checks what that schema cannot.)

use std::collections::BTreeSet;

use reimage_e2e::workspace_root;
use serde_yaml::Value;

const FUNCTIONS: [&str; 5] = [
    "create-image",
    "wait-image",
    "swap-config",
    "verify",
    "rollout",
];

/// Every cloud action reimage's clients call, and nothing else.
const ACTIONS: [&str; 53] = [
    "ecs:CreateLaunchTemplateVersion",
    "ecs:ModifyLaunchTemplateDefaultVersion",
    "ecs:DeleteLaunchTemplateVersion",
    "ess:ModifyScalingGroup",
    "ecs:UntagResources",
    "ecs:DescribeLaunchTemplates",
    "ecs:DescribeLaunchTemplateVersions",
    "ecs:DescribeImageSharePermission",
    "ecs:DescribeInstanceTypes",
    "ecs:RunInstances",
    "ess:StartInstanceRefresh",
    "ess:DescribeInstanceRefreshes",
    "ess:SuspendInstanceRefresh",
    "ess:ResumeInstanceRefresh",
    "ess:RollbackInstanceRefresh",
    "ess:CancelInstanceRefresh",
    "ecs:DescribeImageSupportInstanceTypes",
    "ecs:TagResources",
    "slb:DescribeLoadBalancerAttribute",
    "slb:DescribeHealthStatus",
    "slb:DescribeVServerGroupAttribute",
    "slb:SetBackendServers",
    "slb:SetVServerGroupAttribute",
    "ecs:DescribeInstances",
    "ecs:StopInstances",
    "ecs:StartInstances",
    "ecs:ReplaceSystemDisk",
    "ecs:RunCommand",
    "ecs:DescribeInvocationResults",
    "ess:DescribeScalingInstances",
    "ess:DescribeScalingActivities",
    "ess:EnterStandby",
    "ess:ExitStandby",
    "ess:SetInstancesProtection",
    "ess:SuspendProcesses",
    "ess:ResumeProcesses",
    "ecs:DescribeDisks",
    "ecs:CreateSnapshot",
    "ecs:DescribeSnapshots",
    "ecs:DeleteSnapshot",
    "ecs:CreateImage",
    "ecs:DescribeImages",
    "ecs:DeleteImage",
    "ess:DescribeScalingGroups",
    "ess:DescribeScalingConfigurations",
    "ess:ModifyScalingConfiguration",
    "sts:AssumeRole",
    "fc:InvokeFunction",
    "oss:GetObject",
    "oss:PutObject",
    "oss:ListObjects",
    "kms:Encrypt",
    "kms:Decrypt",
];

fn template() -> Value {
    let path = workspace_root().join("template.yml");
    let text = std::fs::read_to_string(&path).expect("template.yml is readable");
    serde_yaml::from_str(&text).expect("template.yml is valid YAML")
}

/// The one `Aliyun::Serverless::Service` resource: its logical name and body.
fn service(t: &Value) -> (String, Value) {
    let resources = t["Resources"].as_mapping().expect("Resources is a map");
    let services: Vec<_> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "Aliyun::Serverless::Service")
        .collect();
    assert_eq!(services.len(), 1, "exactly one FC service");
    let (name, body) = services[0];
    (name.as_str().expect("string key").to_owned(), body.clone())
}

/// A string, a `Fn::Sub` of one (as written, `${Parameter}` and all), or a list of them.
fn strings(v: &Value) -> Vec<String> {
    let one = |i: &Value| {
        i.as_str()
            .or_else(|| i["Fn::Sub"].as_str())
            .expect("a string")
            .to_owned()
    };
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Mapping(_) => vec![one(v)],
        Value::Sequence(items) => items.iter().map(one).collect(),
        other => panic!("expected a string or a list of strings, got {other:?}"),
    }
}

#[test]
fn template_uses_the_serverless_transform() {
    let t = template();
    assert_eq!(t["ROSTemplateFormatVersion"], "2015-09-01");
    assert_eq!(t["Transform"], "Aliyun::Serverless-2018-04-03");
}

#[test]
fn every_function_is_a_custom_runtime_at_dist_name_on_port_9000() {
    let t = template();
    let (service_name, svc) = service(&t);
    let declared: BTreeSet<String> = svc
        .as_mapping()
        .expect("service is a map")
        .iter()
        .filter(|(_, f)| f["Type"] == "Aliyun::Serverless::Function")
        .map(|(k, _)| k.as_str().expect("string key").to_owned())
        .collect();
    let expected: BTreeSet<String> = FUNCTIONS.iter().map(|f| (*f).to_owned()).collect();
    assert_eq!(declared, expected);

    for name in FUNCTIONS {
        let p = &svc[name]["Properties"];
        assert_eq!(p["Runtime"], "custom", "{name}");
        assert_eq!(p["CodeUri"], format!("./dist/{name}").as_str(), "{name}");
        assert_eq!(p["CAPort"], 9000, "{name}");
        assert_eq!(p["MemorySize"], 128, "{name}");
        assert!(
            p["Handler"].as_str().is_some_and(|h| !h.is_empty()),
            "{name}"
        );
        let timeout = p["Timeout"].as_u64().expect("a Timeout in seconds");
        assert!((10..=600).contains(&timeout), "{name}: Timeout {timeout}");
        // Steps dispatch each other with an invocation id, which needs stateful invocation.
        assert_eq!(
            p["AsyncConfiguration"]["StatefulInvocation"], true,
            "{name}"
        );
        let env = &p["EnvironmentVariables"];
        assert_eq!(env["REIMAGE_FC_SERVICE"], service_name.as_str(), "{name}");
        assert!(
            !env["REIMAGE_STORE"].is_null(),
            "{name} says where the state is"
        );
    }
}

#[test]
fn policy_grants_exactly_the_actions_reimage_calls_and_no_wildcard_action() {
    let t = template();
    let (service_name, svc) = service(&t);
    let policy = &svc["Properties"]["Policies"];
    assert_eq!(policy["Version"], "1");
    let statements = policy["Statement"].as_sequence().expect("a Statement list");
    let mut granted = BTreeSet::new();
    for s in statements {
        assert_eq!(s["Effect"], "Allow");
        for action in strings(&s["Action"]) {
            assert!(!action.contains('*'), "wildcard action {action}");
            granted.insert(action);
        }
        for resource in strings(&s["Resource"]) {
            assert_ne!(resource, "*", "a statement on every resource");
            assert!(resource.starts_with("acs:"), "{resource} is not an ARN");
        }
    }
    let expected: BTreeSet<String> = ACTIONS.iter().map(|a| (*a).to_owned()).collect();
    assert_eq!(granted, expected);

    // The functions may invoke only their own service's functions.
    let invoke = statements
        .iter()
        .find(|s| strings(&s["Action"]).contains(&"fc:InvokeFunction".to_owned()))
        .expect("an InvokeFunction statement");
    assert_eq!(
        strings(&invoke["Resource"]),
        [format!("acs:fc:*:*:services/{service_name}/functions/*")]
    );
}

#[test]
fn create_image_has_the_minute_timer_and_the_http_trigger() {
    let t = template();
    let (_, svc) = service(&t);
    let events = svc["create-image"]["Events"]
        .as_mapping()
        .expect("create-image has events");
    let of_type = |ty: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|(_, e)| e["Type"] == ty)
            .map(|(_, e)| &e["Properties"])
            .collect()
    };
    let timers = of_type("Timer");
    assert_eq!(timers.len(), 1);
    assert_eq!(timers[0]["CronExpression"], "0 * * * * *");
    assert_eq!(timers[0]["Enable"], true);
    let http = of_type("HTTP");
    assert_eq!(http.len(), 1);
    // Every method the HTTP API routes (shared/src/api/mod.rs): without PATCH, enabling or
    // disabling a task and rotating its webhook secret could not reach the function.
    let mut methods = strings(&http[0]["Methods"]);
    methods.sort();
    assert_eq!(methods, ["DELETE", "GET", "PATCH", "POST", "PUT"]);
    for other in ["wait-image", "swap-config", "verify"] {
        assert!(
            svc[other]["Events"].is_null(),
            "{other} is started by events only"
        );
    }
}

#[test]
fn the_api_token_is_a_hidden_parameter_given_to_create_image_only() {
    let t = template();
    let (_, svc) = service(&t);
    let param = &t["Parameters"]["ApiToken"];
    assert_eq!(param["NoEcho"], true);
    assert_eq!(
        svc["create-image"]["Properties"]["EnvironmentVariables"]["REIMAGE_API_TOKEN"]["Ref"],
        "ApiToken"
    );
    for other in ["wait-image", "swap-config", "verify"] {
        assert!(
            svc[other]["Properties"]["EnvironmentVariables"]["REIMAGE_API_TOKEN"].is_null(),
            "{other} has no use for the API token"
        );
    }
}

#[test]
fn webhook_secrets_are_sealed_with_the_one_kms_key_the_policy_grants() {
    let t = template();
    let (_, svc) = service(&t);
    assert!(t["Parameters"]["SecretsKmsKeyId"]["Type"] == "String");
    let statements = svc["Properties"]["Policies"]["Statement"]
        .as_sequence()
        .expect("a Statement list");
    let kms: Vec<&Value> = statements
        .iter()
        .filter(|s| strings(&s["Action"]).iter().any(|a| a.starts_with("kms:")))
        .collect();
    assert_eq!(kms.len(), 1);
    assert_eq!(strings(&kms[0]["Action"]), ["kms:Encrypt", "kms:Decrypt"]);
    assert_eq!(
        strings(&kms[0]["Resource"]),
        ["acs:kms:*:*:key/${SecretsKmsKeyId}"]
    );
    assert_eq!(
        svc["create-image"]["Properties"]["EnvironmentVariables"]["REIMAGE_KMS_KEY_ID"]["Ref"],
        "SecretsKmsKeyId"
    );
}

#[test]
fn state_bucket_is_private() {
    let t = template();
    let buckets: Vec<&Value> = t["Resources"]
        .as_mapping()
        .expect("Resources is a map")
        .values()
        .filter(|r| r["Type"] == "ALIYUN::OSS::Bucket")
        .collect();
    assert_eq!(buckets.len(), 1);
    assert_eq!(buckets[0]["Properties"]["AccessControl"], "private");
}

#[test]
fn the_state_bucket_expires_the_history_of_executions_and_never_a_task() {
    let template = template();
    let store = template["Resources"]
        .as_mapping()
        .and_then(|resources| {
            resources.values().find_map(|r| {
                r.as_mapping()?.values().find_map(|f| {
                    f["Properties"]["EnvironmentVariables"]["REIMAGE_STORE"]["Fn::Sub"].as_str()
                })
            })
        })
        .expect("the functions' REIMAGE_STORE");
    let prefix = format!(
        "{}/",
        store
            .strip_prefix("oss://${StateBucketName}/")
            .expect("the store is in the state bucket")
    );
    let rules = template["Resources"]["state"]["Properties"]["LifecycleConfiguration"]["Rule"]
        .as_sequence()
        .expect("lifecycle rules on the state bucket");
    let expired: BTreeSet<String> = rules
        .iter()
        .map(|rule| {
            assert_eq!(rule["Status"], "Enabled", "{rule:?}");
            assert_eq!(
                rule["Expiration"]["Days"]["Ref"], "RecordRetentionDays",
                "{rule:?}"
            );
            rule["Prefix"].as_str().expect("a prefix").to_owned()
        })
        .collect();
    let history = [
        reimage::model::execution::EXECUTIONS_PREFIX,
        reimage::steps::live::LIVE_PREFIX,
        reimage::steps::lease::LEASES_PREFIX,
        reimage::schedule::RUN_INDEX_PREFIX,
        reimage::rollout::driver::LIVE_PREFIX,
        reimage::steps::started::STARTED_PREFIX,
        reimage::steps::started::TASK_STARTED_PREFIX,
    ];
    let wanted: BTreeSet<String> = history.iter().map(|p| format!("{prefix}{p}")).collect();
    assert_eq!(expired, wanted);
    assert!(
        expired
            .iter()
            .all(|p| !format!("{prefix}tasks/").starts_with(p.as_str())),
        "tasks are never expired: {expired:?}"
    );
    assert_eq!(
        template["Parameters"]["RecordRetentionDays"]["Default"].as_u64(),
        Some(400)
    );
}
