//! Cloud Assistant: RunCommand and DescribeInvocationResults
//! (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-runcommand>,
//! <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeinvocationresults>).
//!
//! The sim runs no script: a command exits 0 with empty output on an instance, unless the
//! image the instance runs was marked bad through the admin interface, where it exits 1 and
//! says so. That is the readiness check a rolling update runs after a boot.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::state::{Ecs, InstanceStatus};
use crate::ctx::Ctx;
use crate::error::RpcError;
use crate::params::{Params, page};

/// Most `InstanceId.N` of RunCommand.
pub const MAX_INSTANCES: usize = 100;

/// What a command printed on an instance of a bad image.
pub const BAD_IMAGE_OUTPUT: &str = "readiness check failed: the service did not start\n";

/// One instance's run of a command.
#[derive(Debug, Clone)]
pub struct InvocationResult {
    /// `i-…`.
    pub instance_id: String,
    /// The exit code.
    pub exit_code: i64,
    /// What it printed.
    pub output: String,
}

/// A RunCommand call.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `t-…`.
    pub invoke_id: String,
    /// `c-…`.
    pub command_id: String,
    /// When it started.
    pub start: DateTime<Utc>,
    /// Each instance's result.
    pub results: Vec<InvocationResult>,
}

fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// RunCommand: an invocation on every instance, which must exist and be Running.
pub fn run_command(ecs: &mut Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    if !matches!(
        p.required("Type")?,
        "RunShellScript" | "RunBatScript" | "RunPowerShellScript"
    ) {
        return Err(RpcError::forbidden(
            "InvalidCmdType.NotFound",
            "The specified command type does not exist.",
        ));
    }
    let content = p.required("CommandContent")?;
    let base64 = p
        .get("ContentEncoding")
        .is_some_and(|e| e.eq_ignore_ascii_case("Base64"));
    if base64
        && base64::engine::general_purpose::STANDARD
            .decode(content)
            .is_err()
    {
        return Err(RpcError::invalid("CommandContent", "is not Base64"));
    }
    if p.get("Name").is_some_and(|n| n.chars().count() > 128) {
        return Err(RpcError::forbidden(
            "CmdName.ExceedLimit",
            "The length of the command name exceeds the upper limit.",
        ));
    }
    p.int("Timeout", 1, 86_400, 60)?;
    p.bool("KeepCommand", false)?;
    let ids = p.list("InstanceId", 10_000)?;
    if ids.is_empty() {
        return Err(RpcError::bad_request(
            "MissingParam.InstanceId",
            "The parameter instanceId is missing or empty.",
        ));
    }
    if ids.len() > MAX_INSTANCES {
        return Err(RpcError::forbidden(
            "InstanceIds.ExceedLimit",
            "The number of instance IDs exceeds the upper limit.",
        ));
    }
    let token = p.get("ClientToken");
    let fingerprint = format!("{content}|{ids:?}");
    if let Some(id) = ecs.token_lookup("RunCommand", token, &fingerprint)? {
        let command = ecs
            .invocations
            .iter()
            .find(|i| i.invoke_id == id)
            .map(|i| i.command_id.clone())
            .unwrap_or_default();
        return Ok(json!({"CommandId": command, "InvokeId": id}));
    }
    let mut results = Vec::with_capacity(ids.len());
    for id in &ids {
        let instance = ecs.instance(id).map_err(|_| {
            RpcError::not_found(
                "InvalidInstance.NotFound",
                format!("The specified instance does not exist: {id}."),
            )
        })?;
        if instance.status != InstanceStatus::Running {
            return Err(RpcError::bad_request(
                "InvalidInstance.NotMatch",
                format!(
                    "The specified instance does not meet the conditions: {id} is {}, not Running.",
                    instance.status.as_str()
                ),
            ));
        }
        let bad = ecs.bad_images.contains(&instance.image_id);
        results.push(InvocationResult {
            instance_id: (*id).to_owned(),
            exit_code: i64::from(bad),
            output: if bad {
                BAD_IMAGE_OUTPUT.to_owned()
            } else {
                String::new()
            },
        });
    }
    let invoke_id = ecs.new_id("t");
    let command_id = ecs.new_id("c");
    ecs.invocations.push(Invocation {
        invoke_id: invoke_id.clone(),
        command_id: command_id.clone(),
        start: ctx.now,
        results,
    });
    ecs.token_remember("RunCommand", token, fingerprint, &invoke_id);
    Ok(json!({"CommandId": command_id, "InvokeId": invoke_id}))
}

/// DescribeInvocationResults: each instance's result, `Output` in Base64 unless
/// `ContentEncoding=PlainText`.
pub fn describe_invocation_results(ecs: &Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let invoke = p.get("InvokeId");
    let instance = p.get("InstanceId");
    let command = p.get("CommandId");
    let plain = p
        .get("ContentEncoding")
        .is_some_and(|e| e.eq_ignore_ascii_case("PlainText"));
    let size = p.int("PageSize", 1, 50, 10).map_err(|_| {
        RpcError::bad_request(
            "InvalidParam.PageSize",
            "The specified parameter is invalid.",
        )
    })?;
    let number = p.int("PageNumber", 1, i64::MAX, 1).map_err(|_| {
        RpcError::bad_request(
            "InvalidParam.PageNumber",
            "The specified parameter is invalid.",
        )
    })?;
    let items: Vec<Value> = ecs
        .invocations
        .iter()
        .rev()
        .filter(|i| invoke.is_none_or(|id| id == i.invoke_id))
        .filter(|i| command.is_none_or(|id| id == i.command_id))
        .flat_map(|i| i.results.iter().map(move |r| (i, r)))
        .filter(|(_, r)| instance.is_none_or(|id| id == r.instance_id))
        .map(|(i, r)| {
            let failed = r.exit_code != 0;
            let output = if plain {
                r.output.clone()
            } else {
                base64::engine::general_purpose::STANDARD.encode(&r.output)
            };
            json!({
                "CommandId": i.command_id,
                "InvokeId": i.invoke_id,
                "InstanceId": r.instance_id,
                "InvocationStatus": if failed { "Failed" } else { "Success" },
                "InvokeRecordStatus": "Finished",
                "ExitCode": r.exit_code,
                "Output": output,
                "Dropped": 0,
                "ErrorCode": if failed { "ExitCodeNonzero" } else { "" },
                "ErrorInfo": if failed { "the command execution exit code is not zero." } else { "" },
                "StartTime": iso(i.start),
                "FinishedTime": iso(i.start),
                "StopTime": "",
                "Repeats": 1,
                "Username": "root",
            })
        })
        .collect();
    let total = items.len();
    let (number, size) = (
        usize::try_from(number).unwrap_or(usize::MAX),
        usize::try_from(size).unwrap_or(10),
    );
    Ok(json!({
        "Invocation": {
            "TotalCount": total,
            "PageNumber": number,
            "PageSize": size,
            "InvocationResults": {"InvocationResult": page(items, number, size)},
        }
    }))
}
