//! Cloud Assistant: RunCommand and DescribeInvocationResults
//! (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-runcommand>,
//! <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeinvocationresults>).

use serde::Deserialize;

use super::super::error::{Error, RequestError};
use super::super::{Params, RpcMethod, lenient, validate};
use super::Ecs;

/// Most `InstanceId.N` of RunCommand.
pub const MAX_COMMAND_INSTANCE_IDS: usize = 100;

/// `RunCommand` of a shell script, its content sent as plain text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunCommandRequest {
    /// `CommandContent`: the script.
    pub command_content: String,
    /// `InstanceId.N` (1 to 100; each must be Running).
    pub instance_ids: Vec<String>,
    /// `Timeout`, seconds (the cloud's default is 60).
    pub timeout: Option<u32>,
    /// `ClientToken`.
    pub client_token: Option<String>,
}

impl RunCommandRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::non_empty("CommandContent", &self.command_content)?;
        if self.instance_ids.is_empty() {
            return Err(RequestError::new(
                "InstanceId.N",
                "at least one instance id",
            ));
        }
        validate::repeat_list("InstanceId.N", &self.instance_ids, MAX_COMMAND_INSTANCE_IDS)?;
        validate::client_token(self.client_token.as_deref())?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("Type", "RunShellScript")
            .put("ContentEncoding", "PlainText")
            .put("CommandContent", &self.command_content)
            .list("InstanceId", &self.instance_ids)
            .opt("Timeout", self.timeout)
            .opt_str("ClientToken", self.client_token.as_deref());
        Ok(p)
    }
}

/// `RunCommand` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RunCommandResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `CommandId`.
    pub command_id: String,
    /// `InvokeId`.
    pub invoke_id: String,
}

/// `DescribeInvocationResults` of one invocation, output as plain text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeInvocationResultsRequest {
    /// `InvokeId`.
    pub invoke_id: String,
    /// `PageNumber`.
    pub page_number: Option<u32>,
    /// `PageSize` (at most 50).
    pub page_size: Option<u32>,
}

impl DescribeInvocationResultsRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::non_empty("InvokeId", &self.invoke_id)?;
        validate::page_number(self.page_number)?;
        validate::page_size(self.page_size, 50)?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("InvokeId", &self.invoke_id)
            .put("ContentEncoding", "PlainText")
            .opt("PageNumber", self.page_number)
            .opt("PageSize", self.page_size);
        Ok(p)
    }
}

/// `DescribeInvocationResults` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInvocationResultsResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `Invocation`.
    pub invocation: InvocationPage,
}

/// `Invocation: {InvocationResults: {InvocationResult: [...]}, TotalCount, …}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InvocationPage {
    /// `TotalCount`.
    #[serde(deserialize_with = "lenient::number")]
    pub total_count: i64,
    /// `InvocationResults`.
    pub invocation_results: InvocationResults,
}

/// `InvocationResults: {InvocationResult: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InvocationResults {
    /// `InvocationResult`.
    pub invocation_result: Vec<InvocationResult>,
}

/// One instance's run of a command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InvocationResult {
    /// `InstanceId`.
    pub instance_id: String,
    /// `InvocationStatus`: `Pending`, `Running`, `Success`, `Failed`, `Timeout`, `Error`,
    /// `Aborted`, `Invalid`, `Cancelled`, `Stopping`, `Terminated`, `Scheduled`.
    pub invocation_status: String,
    /// `ExitCode`.
    #[serde(deserialize_with = "lenient::number")]
    pub exit_code: i64,
    /// `Output` (plain text, as asked).
    pub output: String,
    /// `ErrorCode` (`ExitCodeNonzero`, `InstanceNotRunning`, …).
    pub error_code: String,
}

impl Ecs<'_> {
    /// `RunCommand`.
    pub async fn run_command(&self, req: &RunCommandRequest) -> Result<RunCommandResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "RunCommand", params).await
    }

    /// `DescribeInvocationResults` (one page).
    pub async fn describe_invocation_results(
        &self,
        req: &DescribeInvocationResultsRequest,
    ) -> Result<DescribeInvocationResultsResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeInvocationResults", params)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_a_plain_shell_script_on_listed_instances() {
        let p = RunCommandRequest {
            command_content: "curl -fsS localhost/health".into(),
            instance_ids: vec!["i-1".into(), "i-2".into()],
            timeout: Some(30),
            client_token: Some("t".into()),
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        assert_eq!(
            (
                p.get("Type"),
                p.get("ContentEncoding"),
                p.get("InstanceId.2"),
                p.get("Timeout")
            ),
            (
                Some("RunShellScript"),
                Some("PlainText"),
                Some("i-2"),
                Some("30")
            )
        );
        let e = RunCommandRequest {
            command_content: "true".into(),
            ..Default::default()
        }
        .to_params("r")
        .expect_err("no instance");
        assert_eq!(e.parameter, "InstanceId.N");
    }

    #[test]
    fn results_read_the_invocation_nesting() {
        let r: DescribeInvocationResultsResponse = serde_json::from_str(
            r#"{"Invocation":{"TotalCount":1,"InvocationResults":{"InvocationResult":[
            {"InstanceId":"i-1","InvocationStatus":"Failed","ExitCode":1,"Output":"down","ErrorCode":"ExitCodeNonzero"}]}}}"#,
        )
        .expect("parses");
        let one = &r.invocation.invocation_results.invocation_result[0];
        assert_eq!(
            (one.invocation_status.as_str(), one.exit_code),
            ("Failed", 1)
        );
    }
}
