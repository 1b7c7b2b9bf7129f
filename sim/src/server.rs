//! The HTTP server: one loopback port, routed by path.
//!
//! | path | goes to |
//! |---|---|
//! | `/__sim/…` | [`crate::admin`] (unsigned; loopback peers only) |
//! | `/2016-08-15/…` | [`crate::fc`] |
//! | `/` with an `Action` parameter (query, or form body on POST) | [`crate::rpc`] |
//! | `/` with an `Authorization: ACS3-HMAC-SHA256 …` header (a V3 request) | [`crate::rpc`] |
//! | anything else | [`crate::oss`] (path-style `/bucket/key`) |
//!
//! A panic inside a handler becomes a 500 `InternalError` answer, never a dropped connection.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use futures::FutureExt as _;
use http::{HeaderValue, Method, Request, header};
use tokio::net::TcpListener;

use crate::error::{RpcError, json_error};
use crate::params::{Params, decode_pairs};
use crate::rpc;
use crate::state::SimState;

/// Largest RPC form body read (the cloud's own request limits are far smaller).
pub const MAX_FORM_BODY: usize = 1024 * 1024;

/// The sim's router (tests drive it with `tower::ServiceExt::oneshot`).
pub fn router(state: Arc<SimState>) -> Router {
    Router::new().fallback(route).with_state(state)
}

/// Serves `state` on `listener` until `shutdown` resolves, with reimage's serving loop and
/// its limits on slow clients ([`reimage_cloud::server`]).
pub async fn run(
    listener: TcpListener,
    state: Arc<SimState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    reimage_cloud::server::serve(
        listener,
        reimage_cloud::server::Limits::default(),
        reimage_cloud::server::axum_service(router(state)),
        shutdown,
    )
    .await;
    Ok(())
}

async fn route(State(state): State<Arc<SimState>>, req: Request<Body>) -> Response {
    match AssertUnwindSafe(route_inner(state, req))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(_) => json_error(
            RpcError::internal("The sim failed while handling this request."),
            "Sim",
        ),
    }
}

async fn route_inner(state: Arc<SimState>, req: Request<Body>) -> Response {
    let path = req.uri().path();
    if path == "/__sim" || path.starts_with("/__sim/") {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        return crate::admin::handle(state, peer, req).await;
    }
    if path.starts_with("/2016-08-15/") {
        return crate::fronts::fc(state, req).await;
    }
    if path != "/" {
        return crate::fronts::oss(state, req).await;
    }
    if req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("ACS3-"))
    {
        return rpc_v3(state, req).await;
    }
    let query = req.uri().query().unwrap_or("").as_bytes().to_vec();
    let mut pairs = decode_pairs(&query);
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let action_in_query = pairs.iter().any(|(k, _)| k == b"Action");
    if !(action_in_query || (req.method() == Method::POST && is_form)) {
        return crate::fronts::oss(state, req).await;
    }
    let method = req.method().clone();
    let (parts, body) = req.into_parts();
    let mut body_error = None;
    if is_form && method == Method::POST {
        match axum::body::to_bytes(body, MAX_FORM_BODY).await {
            Ok(bytes) => {
                let form = decode_pairs(&bytes);
                if !action_in_query && !form.iter().any(|(k, _)| k == b"Action") {
                    // A form POST to `/` that is not an RPC call: OSS's business.
                    let req = Request::from_parts(parts, Body::from(bytes));
                    return crate::fronts::oss(state, req).await;
                }
                pairs.extend(form);
            }
            Err(_) => {
                body_error = Some(RpcError::bad_request(
                    "InvalidParameter",
                    format!("The request body is unreadable or larger than {MAX_FORM_BODY} bytes."),
                ));
            }
        }
    }
    let params = match body_error {
        Some(err) if action_in_query => {
            // Still answer as the named Action would, with the body error.
            Params::from_pairs(pairs).and(Err(err))
        }
        Some(err) => Err(err),
        None => Params::from_pairs(pairs),
    };
    let answer = rpc::handle(&state, &method, params, rpc::Signed::V1).await;
    rpc_response(answer)
}

/// A V3-signed (`ACS3-HMAC-SHA256`) RPC request: the action and version come in the
/// `x-acs-action` and `x-acs-version` headers, the parameters in the query (and, for a form
/// body, in the body, which the payload hash covers).
async fn rpc_v3(state: Arc<SimState>, req: Request<Body>) -> Response {
    let method = req.method().clone();
    let (parts, body) = req.into_parts();
    let query = decode_pairs(parts.uri.query().unwrap_or("").as_bytes());
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let body = match axum::body::to_bytes(body, MAX_FORM_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let err = RpcError::bad_request(
                "InvalidParameter",
                format!("The request body is unreadable or larger than {MAX_FORM_BODY} bytes."),
            );
            let answer = rpc::handle(&state, &method, Err(err), rpc::Signed::V1).await;
            return rpc_response(answer);
        }
    };
    let is_form =
        header("content-type").is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let mut pairs = query.clone();
    if is_form {
        pairs.extend(decode_pairs(&body));
    }
    for (param, name) in [("Action", "x-acs-action"), ("Version", "x-acs-version")] {
        if let Some(value) = header(name) {
            pairs.push((param.as_bytes().to_vec(), value.into_bytes()));
        }
    }
    let signed = rpc::Signed::V3(rpc::Acs3Request {
        query: query
            .into_iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect(),
        headers,
        body_sha256: reimage_cloud::aliyun::sign::acs3::hex_sha256(&body),
    });
    let answer = rpc::handle(&state, &method, Params::from_pairs(pairs), signed).await;
    rpc_response(answer)
}

fn rpc_response(answer: rpc::RpcAnswer) -> Response {
    if answer.xml {
        let xml = rpc::to_xml(&answer.action, answer.status, &answer.body);
        (
            answer.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml;charset=utf-8"),
            )],
            xml,
        )
            .into_response()
    } else {
        (answer.status, axum::Json(answer.body)).into_response()
    }
}
