//! The Function Compute front (paths under `/2016-08-15/`): not implemented yet.
//!
//! Until it exists it answers FC's own JSON error `NotImplemented` with 501.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode};
use serde_json::json;

use crate::state::SimState;

/// Answers an FC request.
pub async fn handle(_state: Arc<SimState>, req: Request<Body>) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    (
        StatusCode::NOT_IMPLEMENTED,
        [(http::header::HeaderName::from_static("x-fc-request-id"), request_id)],
        Json(json!({
            "ErrorCode": "NotImplemented",
            "ErrorMessage": format!("The sim does not serve Function Compute yet ({} {}).", req.method(), req.uri().path()),
        })),
    )
        .into_response()
}
