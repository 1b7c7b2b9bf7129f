//! The cloud's error answer for RPC calls (ECS, ESS, STS), in one shape.
//!
//! Every failure the RPC front produces is an [`RpcError`]: an HTTP status, the cloud's
//! `Code` and a `Message`. [`RpcError::into_body`] renders it the way the API gateway does:
//! `{"RequestId","HostId","Code","Message","Recommend"}`.
//!
//! Status choices where Alibaba Cloud's pages disagree with each other, documented in
//! sim/README.md: `SignatureDoesNotMatch` is 400 (the gateway's table, which fronts every
//! product) and `InvalidAccessKeyId.NotFound` is 404 (what the gateway answers today).

use std::fmt;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

/// A cloud error: HTTP status, `Code`, `Message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// The HTTP status of the answer.
    pub status: StatusCode,
    /// The cloud's error code, e.g. `InvalidImageName.Duplicated`.
    pub code: String,
    /// The human message.
    pub message: String,
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code,
            self.status.as_u16(),
            self.message
        )
    }
}

impl std::error::Error for RpcError {}

impl RpcError {
    /// An error with any status, code and message.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 403 with `code`.
    pub fn forbidden(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404 with `code`.
    pub fn not_found(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// `MissingParameter` (400) naming the parameter.
    pub fn missing(name: &str) -> Self {
        Self::bad_request(
            "MissingParameter",
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
            ),
        )
    }

    /// `InvalidParameter` (400) naming the parameter and why.
    pub fn invalid(name: &str, why: impl fmt::Display) -> Self {
        Self::bad_request(
            "InvalidParameter",
            format!("The specified parameter \"{name}\" is not valid: {why}"),
        )
    }

    /// `InvalidAction.NotFound` (404).
    pub fn unknown_action(action: &str, version: &str) -> Self {
        Self::not_found(
            "InvalidAction.NotFound",
            format!(
                "Specified api is not found, please check your url and method. (Action \"{action}\", Version \"{version}\")"
            ),
        )
    }

    /// `InternalError` (500).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }

    /// The JSON body: `{RequestId, HostId, Code, Message, Recommend}`.
    pub fn into_body(self, request_id: &str, host_id: &str, product: &str) -> Value {
        let recommend = format!(
            "https://api.aliyun.com/troubleshoot?q={}&product={product}&requestId={request_id}",
            self.code
        );
        json!({
            "RequestId": request_id,
            "HostId": host_id,
            "Code": self.code,
            "Message": self.message,
            "Recommend": recommend,
        })
    }
}

/// A JSON cloud error outside any product.
pub fn json_error(err: RpcError, product: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string().to_ascii_uppercase();
    let status = if err.status.is_client_error() || err.status.is_server_error() {
        err.status
    } else {
        StatusCode::BAD_REQUEST
    };
    (
        status,
        axum::Json(err.into_body(&request_id, "127.0.0.1", product)),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_gateway_fields() {
        let body = RpcError::missing("RegionId").into_body("REQ-1", "ecs.aliyuncs.com", "Ecs");
        assert_eq!(body["Code"], "MissingParameter");
        assert_eq!(body["RequestId"], "REQ-1");
        assert_eq!(body["HostId"], "ecs.aliyuncs.com");
        assert!(body["Message"].as_str().unwrap().contains("\"RegionId\""));
        assert_eq!(
            body["Recommend"],
            "https://api.aliyun.com/troubleshoot?q=MissingParameter&product=Ecs&requestId=REQ-1"
        );
    }
}
