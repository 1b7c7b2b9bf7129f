//! How "run step X of execution E (record seq N) after D" travels.
//!
//! The engine hands every next step to a [`Dispatcher`] with the delay its record asks for
//! (wait-image's next check, a retry's back-off, or zero). Implementations:
//!
//! - [`local::LocalDispatcher`]: a queue in this process, run by a driver loop that honours
//!   each delay through the injected clock (so with a `ManualClock` a ten-minute build passes
//!   in milliseconds). The CLI, `reimage serve` and the tests use it.
//! - [`fc::FcDispatcher`]: under Function Compute, an asynchronous InvokeFunction of the
//!   step's function (`x-fc-invocation-type: Async`, `x-fc-async-delay`).
//!
//! Delivery may be lost or doubled: the steps ignore events that do not match the latest
//! record, and the engine's sweep re-dispatches executions whose pending step is overdue.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::model::StepEvent;

pub mod fc;
pub mod local;

/// A boxed future returned by [`Dispatcher::dispatch`].
pub type DispatchFuture<'a> = futures::future::BoxFuture<'a, Result<(), DispatchError>>;

/// Sends step events.
pub trait Dispatcher: Send + Sync + fmt::Debug + 'static {
    /// Arranges for `event` to be handled (by [`crate::steps::Engine::handle`]) after `delay`.
    fn dispatch<'a>(&'a self, event: &'a StepEvent, delay: Duration) -> DispatchFuture<'a>;
}

/// Shared handle to a dispatcher.
pub type SharedDispatcher = Arc<dyn Dispatcher>;

/// A step event could not be sent.
#[derive(Debug, Clone, thiserror::Error)]
#[error("could not dispatch {step} of execution {execution_id}: {message}")]
pub struct DispatchError {
    /// The execution.
    pub execution_id: String,
    /// The step.
    pub step: String,
    /// What went wrong.
    pub message: String,
}

impl DispatchError {
    /// An error for `event`.
    pub fn new(event: &StepEvent, message: impl Into<String>) -> Self {
        Self {
            execution_id: event.execution_id.to_string(),
            step: event.step.to_string(),
            message: message.into(),
        }
    }
}
