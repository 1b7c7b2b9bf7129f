//! The images reimage made, and retention, over HTTP:
//!
//! | method and path | what it does |
//! |---|---|
//! | `GET /images` | every image reimage made: its task, age, size, what uses it, and what retention would do (`{"survey": …}`) |
//! | `POST /images/prune` | what a prune would do, changing nothing (`{"survey": …, "outcome": null}`) |
//! | `POST /images/prune?apply=true` | mark what is no longer needed, delete what was marked longer than the grace period ago (`{"survey": …, "outcome": …}`) |
//!
//! See [`crate::images`] for what retention keeps.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use http::StatusCode;

use super::{Api, ApiError};
use crate::images::{self, ImageRegion, PassError, Policies, Survey};

/// What the `/images` routes need: the region, and the deployment's retention defaults
/// (each task's own is read from the store at each request).
#[derive(Debug, Clone)]
pub struct ImageRoutes {
    /// The region, with reimage's own permissions.
    pub region: Arc<dyn ImageRegion>,
    /// The defaults.
    pub policies: Policies,
}

impl From<PassError> for ApiError {
    fn from(e: PassError) -> Self {
        match e {
            PassError::Cloud(e) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "CloudError",
                format!("the region could not be read: {e}"),
            ),
            PassError::Unreadable { key, reason } => ApiError::unreadable(&key, &reason),
            PassError::Store(crate::store::StoreError::AlreadyExists { key }) => ApiError::new(
                StatusCode::CONFLICT,
                "PassAtWork",
                format!("another retention pass started this second ({key}): try again"),
            ),
            PassError::Store(e) => ApiError::internal(crate::report::chain(&e)),
            PassError::Tasks(e) => ApiError::internal(crate::report::chain(&e)),
        }
    }
}

fn routes(api: &Api) -> Result<&ImageRoutes, ApiError> {
    api.image_routes.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ImagesUnavailable",
            "this server has no cloud client for the images",
        )
    })
}

async fn current(api: &Api, routes: &ImageRoutes) -> Result<Survey, ApiError> {
    let policies = routes
        .policies
        .clone()
        .with_tasks(&api.tasks)
        .await
        .map_err(|e| ApiError::internal(crate::report::chain(&e)))?;
    Ok(images::survey(routes.region.as_ref(), &api.store, &policies, api.now()).await?)
}

pub(super) async fn list(State(api): State<Arc<Api>>) -> Result<Json<serde_json::Value>, ApiError> {
    let routes = routes(&api)?;
    let survey = current(&api, routes).await?;
    Ok(Json(serde_json::json!({ "survey": survey })))
}

pub(super) async fn prune(
    State(api): State<Arc<Api>>,
    RawQuery(query): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let apply = super::bool_query(query.as_deref(), "apply")?;
    let routes = routes(&api)?;
    let survey = current(&api, routes).await?;
    let outcome = if apply {
        Some(images::apply(routes.region.as_ref(), &api.store, &survey).await?)
    } else {
        None
    };
    Ok(Json(
        serde_json::json!({ "survey": survey, "outcome": outcome }),
    ))
}
