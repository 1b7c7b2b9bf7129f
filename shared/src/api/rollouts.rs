//! The rolling update over HTTP:
//!
//! | method and path | what it does |
//! |---|---|
//! | `POST /rollouts` | [`RolloutOptions`] with `group_id` and `image_id`: start a rollout (202, its first record); with `"dry_run": true`, the plan and its hash (200) or the reasons it would be refused (422 `RolloutRefused`) |
//! | `GET /rollouts` | every rollout's latest record, newest first |
//! | `GET /rollouts/{id}` | the latest record and a line per record |
//! | `POST /rollouts/{id}/continue` | end the pause it is in (409 `RolloutConflict` if it is not paused) |
//! | `POST /rollouts/{id}/cancel` | stop after the batch at work (409 once it ended or rolls back) |
//! | `POST /rollouts/{id}/rollback` | put everything back (409 once it ended) |
//!
//! A rollout started or asked something here is driven on by events (see
//! [`crate::rollout::driver`]); the answer does not wait for it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use super::{Api, ApiError, LimitedBody, parse_json};
use crate::rollout::{DryRun, RolloutError, RolloutId, RolloutOptions, RolloutRecord, Rollouts};

impl From<RolloutError> for ApiError {
    fn from(e: RolloutError) -> Self {
        match e {
            RolloutError::NotFound(id) => ApiError::new(
                StatusCode::NOT_FOUND,
                "RolloutNotFound",
                format!("rollout {id} not found"),
            ),
            RolloutError::Invalid(message) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "InvalidRequest", message)
            }
            RolloutError::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, "RolloutConflict", message)
            }
            RolloutError::Torn { key, message } => ApiError::unreadable(&key, &message),
            other => ApiError::internal(crate::report::chain(&other)),
        }
    }
}

fn rollouts(api: &Api) -> Result<&Rollouts, ApiError> {
    api.rollouts.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "RolloutsUnavailable",
            "this reimage cannot reach a fleet: rollouts are off",
        )
    })
}

fn rollout_id(id: &str) -> Result<RolloutId, ApiError> {
    id.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "RolloutNotFound",
            format!("{id:?} is not a rollout id (ro-…)"),
        )
    })
}

fn accepted(api: &Api, record: &RolloutRecord) -> Response {
    let location = format!("{}/rollouts/{}", api.base_path, record.rollout_id);
    let mut response = (StatusCode::ACCEPTED, Json(record)).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

pub(super) async fn create(
    State(api): State<Arc<Api>>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let rollouts = rollouts(&api)?;
    let options: RolloutOptions = parse_json(&body)?;
    let required = |field: &'static str, value: &Option<String>| {
        value.clone().ok_or_else(|| ApiError {
            field: Some(field.to_owned()),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "InvalidRequest",
                format!("{field} is required"),
            )
        })
    };
    let group = required("group_id", &options.group_id)?;
    let image = required("image_id", &options.image_id)?;
    if let Some(crate::model::PermissionSource::RamRole { role_arn }) = &options.permission {
        crate::model::task::validate_role_arn(role_arn)?;
    }
    let spec = options
        .spec(&group, &image)
        .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "InvalidRequest", m))?;
    if options.dry_run == Some(true) {
        return Ok(match rollouts.dry_run(&spec).await? {
            DryRun::Plan { plan, hash } => Json(serde_json::json!({
                "batches": plan.batches(),
                "plan": plan,
                "plan_hash": hash,
            }))
            .into_response(),
            DryRun::Refused(reasons) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(serde_json::json!({
                    "code": "RolloutRefused",
                    "message": reasons.join("; "),
                    "reasons": reasons,
                })),
            )
                .into_response(),
        });
    }
    let id = rollouts.start(spec).await?;
    let record = rollouts.latest(&id).await?;
    Ok(accepted(&api, &record))
}

#[derive(Serialize)]
pub(super) struct RolloutList {
    rollouts: Vec<RolloutRecord>,
}

pub(super) async fn list(State(api): State<Arc<Api>>) -> Result<Json<RolloutList>, ApiError> {
    Ok(Json(RolloutList {
        rollouts: rollouts(&api)?.list().await?,
    }))
}

#[derive(Serialize)]
struct Line {
    seq: u64,
    at: DateTime<Utc>,
    note: String,
}

#[derive(Serialize)]
pub(super) struct RolloutView {
    rollout: RolloutRecord,
    history: Vec<Line>,
}

pub(super) async fn get(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
) -> Result<Json<RolloutView>, ApiError> {
    let rollouts = rollouts(&api)?;
    let id = rollout_id(&id)?;
    let mut history = rollouts.history(&id).await?;
    let rollout = history.pop().ok_or(RolloutError::NotFound(id))?;
    let mut lines: Vec<Line> = history
        .into_iter()
        .map(|r| Line {
            seq: r.seq,
            at: r.at,
            note: r.note,
        })
        .collect();
    lines.push(Line {
        seq: rollout.seq,
        at: rollout.at,
        note: rollout.note.clone(),
    });
    Ok(Json(RolloutView {
        rollout,
        history: lines,
    }))
}

pub(super) async fn act(
    State(api): State<Arc<Api>>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let rollouts = rollouts(&api)?;
    let id = rollout_id(&id)?;
    let record = match action.as_str() {
        "continue" => rollouts.request_continue(&id).await?,
        "cancel" => rollouts.request_cancel(&id).await?,
        "rollback" => rollouts.request_rollback(&id).await?,
        other => {
            return Err(ApiError::not_found(format!(
                "no action {other:?} on a rollout: continue, cancel or rollback"
            )));
        }
    };
    Ok(accepted(&api, &record))
}
