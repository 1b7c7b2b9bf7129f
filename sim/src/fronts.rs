//! Where the sim's shared state meets the Function Compute and OSS fronts: the key book,
//! the clock and the faults, as each front asks for them. The fronts themselves
//! ([`crate::fc`], [`crate::oss`]) know nothing of [`SimState`].

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use chrono::{DateTime, Utc};
use http::Request;

use crate::fc::{FcFront, Keyring};
use crate::keys::AuthError;
use crate::oss::{Injected, KeyRefusal, OssEnv, Times};
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
pub fn fc_front(state: &Arc<SimState>) -> &FcFront {
    let weak = Arc::downgrade(state);
    let fallback = state.wall_now();
    state.fc.attach(Arc::new(move || {
        weak.upgrade().map_or(fallback, |s| s.now())
    }));
    &state.fc
}

/// Answers a Function Compute request.
pub async fn fc(state: Arc<SimState>, req: Request<Body>) -> Response {
    fc_front(&state).handle(&SimKeys(&state), req).await
}

/// Answers an OSS request: the sim's router sends here everything that is not admin, FC or
/// RPC.
pub async fn oss(state: Arc<SimState>, request: Request<Body>) -> http::Response<Body> {
    let times = Times {
        now: state.now(),
        wall: state.wall_now(),
    };
    state.oss().handle(state.as_ref(), times, request).await
}

/// The sim's key book and faults, as the OSS front sees them.
impl OssEnv for SimState {
    fn secret_for(
        &self,
        access_key_id: &str,
        security_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, KeyRefusal> {
        self.keys
            .secret_for(access_key_id, security_token, now)
            .map_err(|e| match e {
                AuthError::NotFound => KeyRefusal::UnknownKey,
                AuthError::MissingSecurityToken => KeyRefusal::MissingToken,
                AuthError::TokenMismatch => KeyRefusal::WrongToken,
                AuthError::TokenExpired => KeyRefusal::Expired,
            })
    }

    /// Counts the call under the operation's name and applies the faults queued for it
    /// (`admin().fail_next("PutObject", …)`, throttling, latency), as for RPC actions.
    fn on_call(&self, operation: &str) -> (Option<std::time::Duration>, Option<Injected>) {
        self.count_call(operation);
        let (delay, err) = self.faults().on_call(operation);
        (
            delay,
            err.map(|e| Injected {
                status: e.status.as_u16(),
                code: e.code,
                message: e.message,
            }),
        )
    }
}
