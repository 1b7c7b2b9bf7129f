//! The one mapping of errors to the HTTP API's wire form: a status and
//! `{"code": "...", "message": "..."}`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;

use crate::model::task::InvalidTask;
use crate::schedule::RunError;
use crate::store::StoreError;
use crate::store::tasks::TaskStoreError;

use super::webhook::WebhookError;

/// An error response of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable code (`TaskNotFound`, `InvalidSignature`, …).
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// The request field at fault, for validation errors.
    pub field: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// 404 for an unknown route or resource.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", what)
    }

    /// 401: no or a wrong bearer token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }

    /// 413: the body is over the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BodyTooLarge",
            format!("request bodies are limited to {limit} bytes"),
        )
    }

    /// 500 for a failure of reimage itself (the store, a corrupt record).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }

    /// 500 `UnreadableRecord`: the resource's latest record is in the store but does not
    /// read; the message names its key (`reimage doctor` lists every such record).
    pub fn unreadable(key: &str, reason: &str) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UnreadableRecord",
            format!("record {key} cannot be read: {reason}"),
        )
    }

    /// A JSON body that does not parse (400) or does not fit the schema (422).
    pub fn from_json(err: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        match err.classify() {
            Category::Data => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "InvalidRequest",
                format!("the request does not fit the schema: {err}"),
            ),
            _ => Self::new(
                StatusCode::BAD_REQUEST,
                "MalformedJson",
                format!("the body is not valid JSON: {err}"),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            code: self.code,
            message: &self.message,
            field: self.field.as_deref(),
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<InvalidTask> for ApiError {
    fn from(err: InvalidTask) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "InvalidTask",
            field: Some(err.field()),
            message: err.to_string(),
        }
    }
}

impl From<TaskStoreError> for ApiError {
    fn from(err: TaskStoreError) -> Self {
        match &err {
            TaskStoreError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "TaskNotFound", err.to_string())
            }
            TaskStoreError::AlreadyExists(_) | TaskStoreError::Contended(_) => {
                Self::new(StatusCode::CONFLICT, "Conflict", err.to_string())
            }
            TaskStoreError::Corrupt { key, message } => Self::unreadable(key, message),
            TaskStoreError::Store(_) | TaskStoreError::Sealing { .. } => {
                Self::internal(crate::report::chain(&err))
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        Self::internal(crate::report::chain(&err))
    }
}

impl From<RunError> for ApiError {
    fn from(err: RunError) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "RunNotStarted",
            crate::report::chain(&err),
        )
    }
}

impl From<WebhookError> for ApiError {
    fn from(err: WebhookError) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidSignature",
            crate::report::chain(&err),
        )
    }
}
