//! The OSS front (path-style `/bucket/key`): not implemented yet.
//!
//! Every request that is not admin, FC or RPC lands here. Until the OSS front exists it
//! answers OSS's own XML error `NotImplemented` with 501.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode, header};

use crate::state::SimState;

/// Answers an OSS request.
pub async fn handle(_state: Arc<SimState>, req: Request<Body>) -> Response {
    let request_id = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>NotImplemented</Code>\n  \
         <Message>The sim does not serve OSS yet ({} {}).</Message>\n  <RequestId>{request_id}</RequestId>\n  \
         <HostId>127.0.0.1</HostId>\n</Error>\n",
        req.method(),
        xml_escape(req.uri().path())
    );
    (
        StatusCode::NOT_IMPLEMENTED,
        [
            (header::CONTENT_TYPE, "application/xml".to_owned()),
            (
                header::HeaderName::from_static("x-oss-request-id"),
                request_id,
            ),
        ],
        body,
    )
        .into_response()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
