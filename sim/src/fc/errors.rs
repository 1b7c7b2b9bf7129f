//! The front's errors, in FC's JSON error format (`ErrorCode`, `ErrorMessage`, and the
//! `x-fc-request-id` header).

use axum::response::{IntoResponse, Response};
use http::{HeaderName, StatusCode};

/// The error code of a reused stateful invocation id (UNCONFIRMED for the real FC; see
/// `reimage_cloud::aliyun::fc::DUPLICATE_INVOCATION_ID_CODE`).
pub const DUPLICATE_ID_CODE: &str = reimage_cloud::aliyun::fc::DUPLICATE_INVOCATION_ID_CODE;

/// FC's JSON error answer.
pub fn fc_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = serde_json::json!({ "ErrorCode": code, "ErrorMessage": message.into() });
    (
        status,
        [
            (HeaderName::from_static("x-fc-request-id"), request_id),
            (http::header::CONTENT_TYPE, "application/json".to_owned()),
        ],
        body.to_string(),
    )
        .into_response()
}
