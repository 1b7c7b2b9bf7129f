//! The Function Compute dispatcher: the next step travels as an asynchronous
//! `InvokeFunction` of that step's function (see [`crate::aliyun::fc`]).
//!
//! | step event field | becomes |
//! |---|---|
//! | `step` | the function invoked: `create-image`, `wait-image`, `swap-config`, `verify` |
//! | the whole event | the JSON payload (`{"execution_id", "step", "seq"}`) |
//! | the delay | `x-fc-async-delay`, in whole seconds, below an hour (at most 3599) |
//! | execution id, step, seq | `X-Fc-Stateful-Async-Invocation-Id`, see [`invocation_id`] |
//!
//! FC delivers an accepted event at least once and retries it up to three times when the
//! function fails; the steps ignore events that do not match their execution's latest
//! record, so doubles are harmless.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{DispatchError, DispatchFuture, Dispatcher};
use crate::aliyun::Client;
use crate::aliyun::fc::{Invocation, InvokeOutcome, MAX_ASYNC_DELAY_SECS, validate_invocation_id};
use crate::model::StepEvent;

/// Dispatches that fall within one window of this length share an invocation id, unless
/// [`FcDispatcher::with_dedup_window`] says otherwise.
///
/// It must not be longer than the engine's `overdue_after` (whose default it equals): the
/// sweep re-dispatches a step at least that long after it was first due, so its event always
/// falls in a later window and gets a fresh id, while a second dispatch of the same record
/// soon after the first is refused by FC as a duplicate. A window longer than
/// `overdue_after` would have FC drop the sweep's re-dispatch as a duplicate of the event
/// that was lost.
pub const DEDUP_WINDOW_SECS: i64 = 600;

/// The stateful async invocation id of `event` dispatched at `now`:
/// `reimage-<execution>-<step>-<seq>-w<window>`, where the window is `now` in units of
/// `window_secs` (at least 1) since the Unix epoch.
///
/// The execution id alone may start with a digit, which FC refuses; the `reimage-` prefix
/// keeps every id legal.
pub fn invocation_id(event: &StepEvent, now: DateTime<Utc>, window_secs: i64) -> String {
    format!(
        "reimage-{}-w{}",
        event.invocation_id(),
        now.timestamp().div_euclid(window_secs.max(1))
    )
}

/// Sends step events as asynchronous invocations of the step's function in one FC service.
#[derive(Clone)]
pub struct FcDispatcher {
    client: Client,
    account_id: String,
    service: String,
    qualifier: Option<String>,
    dedup_window_secs: i64,
}

impl fmt::Debug for FcDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcDispatcher")
            .field("account_id", &self.account_id)
            .field("service", &self.service)
            .field("qualifier", &self.qualifier)
            .finish_non_exhaustive()
    }
}

impl FcDispatcher {
    /// Invokes the functions of `service` in `account_id` through `client` (whose credentials
    /// provider, clock and retry policy are used).
    pub fn new(client: Client, account_id: impl Into<String>, service: impl Into<String>) -> Self {
        Self {
            client,
            account_id: account_id.into(),
            service: service.into(),
            qualifier: None,
            dedup_window_secs: DEDUP_WINDOW_SECS,
        }
    }

    /// Shares an invocation id between dispatches within `window` of each other instead of
    /// [`DEDUP_WINDOW_SECS`]: give it the engine's `overdue_after` when that is shorter.
    pub fn with_dedup_window(mut self, window: Duration) -> Self {
        self.dedup_window_secs = i64::try_from(window.as_secs())
            .unwrap_or(DEDUP_WINDOW_SECS)
            .max(1);
        self
    }

    /// Invokes this version or alias of the service instead of `LATEST`.
    pub fn with_qualifier(mut self, qualifier: impl Into<String>) -> Self {
        self.qualifier = Some(qualifier.into());
        self
    }

    /// The invocation that carries `event` after `delay`, dispatched at `now`. Pure.
    ///
    /// A delay longer than FC's one-hour limit is cut to an hour: the step then runs early,
    /// which every step tolerates (wait-image simply checks again).
    pub fn invocation(
        &self,
        event: &StepEvent,
        delay: Duration,
        now: DateTime<Utc>,
    ) -> Result<Invocation, DispatchError> {
        let payload = serde_json::to_vec(event)
            .map_err(|e| DispatchError::new(event, format!("cannot encode the event: {e}")))?;
        let id = invocation_id(event, now, self.dedup_window_secs);
        self.async_invocation(event.step.as_str(), payload, id, delay)
            .map_err(|e| DispatchError::new(event, e))
    }

    /// An asynchronous invocation of `function` carrying `payload` under `id`, after `delay`
    /// cut to FC's one-hour limit: what step and rollout events both travel as.
    fn async_invocation(
        &self,
        function: &str,
        payload: Vec<u8>,
        id: String,
        delay: Duration,
    ) -> Result<Invocation, String> {
        validate_invocation_id(&id).map_err(|e| e.to_string())?;
        let delay = delay.min(Duration::from_secs(u64::from(MAX_ASYNC_DELAY_SECS)));
        let mut invocation = Invocation::async_event(&self.service, function, payload).with_id(id);
        if !delay.is_zero() {
            invocation = invocation.delayed(delay);
        }
        invocation.qualifier = self.qualifier.clone();
        Ok(invocation)
    }
}

impl Dispatcher for FcDispatcher {
    fn dispatch<'a>(&'a self, event: &'a StepEvent, delay: Duration) -> DispatchFuture<'a> {
        Box::pin(async move {
            let invocation = self.invocation(event, delay, self.client.clock().now())?;
            match self.client.fc(&self.account_id).invoke(&invocation).await {
                Ok(InvokeOutcome::Queued { request_id }) => {
                    tracing::info!(
                        execution = %event.execution_id, step = %event.step, seq = event.seq,
                        delay_secs = invocation.async_delay_secs.unwrap_or(0),
                        fc_request_id = request_id.as_deref().unwrap_or(""),
                        "next step queued"
                    );
                    Ok(())
                }
                Ok(InvokeOutcome::AlreadyQueued { .. }) => {
                    tracing::info!(
                        execution = %event.execution_id, step = %event.step, seq = event.seq,
                        "next step was queued already"
                    );
                    Ok(())
                }
                Ok(InvokeOutcome::Returned { .. }) => Err(DispatchError::new(
                    event,
                    "Function Compute ran the invocation synchronously instead of queueing it",
                )),
                Err(e) => Err(DispatchError::new(event, crate::report::chain(&e))),
            }
        })
    }
}

/// Rollout events travel as asynchronous invocations of the `rollout` function, with the
/// same delay cap and the same kind of invocation id as step events.
impl crate::rollout::Kicker for FcDispatcher {
    fn kick<'a>(
        &'a self,
        event: &'a crate::rollout::RolloutEvent,
        delay: Duration,
    ) -> DispatchFuture<'a> {
        Box::pin(async move {
            let now = self.client.clock().now();
            let payload = serde_json::to_vec(event)
                .map_err(|e| event.dispatch_error(format!("cannot encode the event: {e}")))?;
            let id = format!(
                "reimage-{}-w{}",
                event.invocation_id(),
                now.timestamp().div_euclid(self.dedup_window_secs)
            );
            let invocation = self
                .async_invocation(crate::rollout::driver::ROLLOUT_FUNCTION, payload, id, delay)
                .map_err(|e| event.dispatch_error(e))?;
            match self.client.fc(&self.account_id).invoke(&invocation).await {
                Ok(InvokeOutcome::Queued { .. } | InvokeOutcome::AlreadyQueued { .. }) => {
                    tracing::info!(
                        rollout = %event.rollout_id, seq = event.seq,
                        delay_secs = invocation.async_delay_secs.unwrap_or(0),
                        "rollout's next event queued"
                    );
                    Ok(())
                }
                Ok(InvokeOutcome::Returned { .. }) => Err(event.dispatch_error(
                    "Function Compute ran the invocation synchronously instead of queueing it",
                )),
                Err(e) => Err(event.dispatch_error(crate::report::chain(&e))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::http::{HeaderMap, StatusCode};
    use chrono::TimeZone as _;

    use super::*;
    use crate::aliyun::credentials::StaticProvider;
    use crate::aliyun::{ClientConfig, Credentials, Endpoints, RetryPolicy};
    use crate::clock::ManualClock;
    use crate::ids::SequentialIds;
    use crate::model::{ExecutionId, Step};

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).single().expect("valid time")
    }

    fn event(step: Step, seq: u64) -> StepEvent {
        StepEvent {
            execution_id: ExecutionId::parse("exec-0123abcd").expect("valid id"),
            step,
            seq,
        }
    }

    fn client(endpoint: &str, now: DateTime<Utc>) -> Client {
        let mut config = ClientConfig::new(
            "cn-hangzhou",
            Endpoints::all_at(endpoint),
            StaticProvider::shared(Credentials::sts("STS.fn", "fn-secret", "fn-token")),
        );
        config.clock = Arc::new(ManualClock::new(now));
        config.ids = Arc::new(SequentialIds::new("t"));
        config.retry = RetryPolicy::never();
        Client::new(config).expect("client")
    }

    #[test]
    fn the_step_names_the_function_and_the_event_is_the_payload() {
        let d = FcDispatcher::new(client("http://127.0.0.1:1", at(0)), "1234", "reimage");
        let e = event(Step::WaitImage, 3);
        let inv = d
            .invocation(&e, Duration::from_secs(75), at(1_700_000_000))
            .expect("valid");
        assert_eq!(inv.service, "reimage");
        assert_eq!(inv.function, "wait-image");
        assert_eq!(inv.async_delay_secs, Some(75));
        let payload: StepEvent = serde_json::from_slice(&inv.payload).expect("a step event");
        assert_eq!(payload, e);
        assert_eq!(
            inv.invocation_id.as_deref(),
            Some("reimage-exec-0123abcd-wait-image-000003-w2833333")
        );
        let now = d
            .invocation(&event(Step::Verify, 9), Duration::ZERO, at(0))
            .expect("valid");
        assert_eq!(now.function, "verify");
        assert_eq!(now.async_delay_secs, None);
    }

    #[test]
    fn delays_beyond_an_hour_are_cut_to_just_under_an_hour() {
        let d = FcDispatcher::new(client("http://127.0.0.1:1", at(0)), "1234", "reimage");
        let inv = d
            .invocation(&event(Step::WaitImage, 1), Duration::from_secs(7200), at(0))
            .expect("valid");
        assert_eq!(inv.async_delay_secs, Some(3599));
        inv.validate().unwrap();
        for delay in [3600, 3601, 7200] {
            let mut refused = inv.clone();
            refused.async_delay_secs = Some(delay);
            assert!(refused.validate().is_err(), "{delay}");
        }
    }

    #[test]
    fn a_sweep_after_the_overdue_time_gets_a_fresh_invocation_id() {
        let e = event(Step::SwapConfig, 5);
        let first = at(1_700_000_000);
        // A repeat soon after: the same id, refused by FC as a duplicate.
        let w = DEDUP_WINDOW_SECS;
        assert_eq!(
            invocation_id(&e, first, w),
            invocation_id(&e, at(1_700_000_030), w)
        );
        // The sweep comes at least DEDUP_WINDOW_SECS later: always a new id.
        for offset in [600, 601, 1199, 5000] {
            assert_ne!(
                invocation_id(&e, first, w),
                invocation_id(&e, at(1_700_000_000 + offset), w),
                "offset {offset}"
            );
        }
        // Execution ids from outside may start with a digit; the id stays legal.
        let digit = StepEvent {
            execution_id: ExecutionId::parse("9-from-a-webhook").expect("valid id"),
            step: Step::Verify,
            seq: 0,
        };
        validate_invocation_id(&invocation_id(&digit, first, w)).unwrap();
    }

    #[test]
    fn a_shorter_overdue_time_gets_a_shorter_dedup_window() {
        // With overdue_after = 3 s the sweep re-dispatches 3 s after the step was due: its
        // id must differ from the lost event's, whatever the 600-second window says.
        let e = event(Step::WaitImage, 2);
        let d = FcDispatcher::new(client("http://127.0.0.1:1", at(0)), "1234", "reimage")
            .with_dedup_window(Duration::from_secs(3));
        let id_at = |t| {
            d.invocation(&e, Duration::ZERO, at(t))
                .expect("valid")
                .invocation_id
        };
        assert_ne!(id_at(1_700_000_001), id_at(1_700_000_004));
        assert_eq!(id_at(1_700_000_001), id_at(1_700_000_002));
        let default = FcDispatcher::new(client("http://127.0.0.1:1", at(0)), "1234", "reimage");
        assert_eq!(
            default
                .invocation(&e, Duration::ZERO, at(1_700_000_001))
                .expect("valid")
                .invocation_id,
            default
                .invocation(&e, Duration::ZERO, at(1_700_000_004))
                .expect("valid")
                .invocation_id,
            "the default window is 600 s"
        );
    }

    /// A stand-in FC endpoint that records each call and answers 202, then 409 for a
    /// repeated invocation id.
    async fn fake_fc(calls: Arc<Mutex<Vec<HeaderMap>>>) -> String {
        let app = axum::Router::new().fallback(move |h: HeaderMap| {
            let calls = Arc::clone(&calls);
            async move {
                let mut calls = calls.lock().expect("lock");
                let id = h.get("x-fc-stateful-async-invocation-id").cloned();
                let repeated = calls
                    .iter()
                    .any(|c| c.get("x-fc-stateful-async-invocation-id") == id.as_ref());
                calls.push(h);
                if repeated {
                    (
                        StatusCode::CONFLICT,
                        r#"{"ErrorCode":"StatefulAsyncInvocationAlreadyExists","ErrorMessage":"exists"}"#,
                    )
                } else {
                    (StatusCode::ACCEPTED, "")
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        url
    }

    #[tokio::test]
    async fn dispatch_invokes_the_steps_function_asynchronously_once() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let url = fake_fc(Arc::clone(&calls)).await;
        let d = FcDispatcher::new(client(&url, at(1_700_000_000)), "1234", "reimage");
        let e = event(Step::WaitImage, 2);
        d.dispatch(&e, Duration::from_secs(30))
            .await
            .expect("queued");
        d.dispatch(&e, Duration::from_secs(30))
            .await
            .expect("a duplicate is not an error");
        let calls = calls.lock().expect("lock");
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0]["x-fc-invocation-type"], "Async");
        assert_eq!(calls[0]["x-fc-async-delay"], "30");
        assert_eq!(calls[0]["x-fc-account-id"], "1234");
        assert_eq!(calls[0]["x-fc-security-token"], "fn-token");
    }

    #[tokio::test]
    async fn an_unreachable_fc_is_a_dispatch_error_naming_the_step() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        drop(listener);
        let d = FcDispatcher::new(client(&url, at(0)), "1234", "reimage");
        let err = d
            .dispatch(&event(Step::Verify, 7), Duration::ZERO)
            .await
            .expect_err("nothing listens");
        assert_eq!(err.step, "verify");
        assert_eq!(err.execution_id, "exec-0123abcd");
    }
}
