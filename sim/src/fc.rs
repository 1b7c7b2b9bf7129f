//! Function Compute in the sim: the FC 2.0 front and the processes it invokes ([`launch`]).
//! Requests whose path starts with `/2016-08-15/` come here ([`handle`]).
//!
//! Laid out as the other services are: [`protocol`] (the requests FC answers, signatures,
//! the headers a custom runtime is sent), [`state`] (functions, deliveries), [`errors`]
//! (FC's JSON errors); and, since FC works in the background, [`queue`] (asynchronous
//! invocations and their retries) and [`timers`] (timer triggers).

pub mod errors;
pub mod launch;
pub mod protocol;
pub mod queue;
pub mod state;
pub mod timers;

pub use errors::{DUPLICATE_ID_CODE, fc_error};
pub use launch::{
    LaunchSettings, RunningFunction, Template, TemplateFunction, command, free_port, start,
    start_all,
};
pub use protocol::{Keyring, MAX_ASYNC_BODY, MAX_BODY, MAX_SKEW_SECS};
pub use state::{Delivery, FcFront, FunctionSpec, HttpTrigger, Now, Outcome, TimerTrigger};
pub use timers::next_fire;

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
