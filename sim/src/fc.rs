//! Function Compute in the sim: the FC 2.0 front ([`front`]) and the processes it invokes
//! ([`launch`]). Requests whose path starts with `/2016-08-15/` come here ([`handle`]).

pub mod front;
pub mod launch;

pub use front::{
    Delivery, FcFront, FunctionCredentials, FunctionSpec, HttpTrigger, Keyring, Outcome,
    TimerTrigger,
};
pub use launch::{
    LaunchSettings, RunningFunction, Template, TemplateFunction, command, free_port, start,
    start_all,
};

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use chrono::{DateTime, Utc};
use http::Request;

use crate::state::SimState;

/// The sim's key book, as the FC front asks it.
struct SimKeys<'a>(&'a SimState);

impl Keyring for SimKeys<'_> {
    fn secret_for(
        &self,
        access_key_id: &str,
        security_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, (String, String)> {
        self.0
            .keys
            .secret_for(access_key_id, security_token, now)
            .map_err(|e| (e.code().to_owned(), e.to_string()))
    }
}

/// The FC front of `state`, reading the sim's time (its clock plus the admin offset).
pub fn front(state: &Arc<SimState>) -> &FcFront {
    let weak = Arc::downgrade(state);
    let fallback = state.wall_now();
    state.fc.attach(Arc::new(move || {
        weak.upgrade().map_or(fallback, |s| s.now())
    }));
    &state.fc
}

/// Answers a Function Compute request.
pub async fn handle(state: Arc<SimState>, req: Request<Body>) -> Response {
    front(&state).handle(&SimKeys(&state), req).await
}

impl crate::Sim {
    /// The Function Compute front: register functions, fire timers, read deliveries.
    pub fn fc(&self) -> FcFront {
        front(self.state()).clone()
    }
}

#[cfg(test)]
mod tests;
