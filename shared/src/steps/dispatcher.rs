//! The engine's outgoing port: how it asks for a step to run later. The implementations (a
//! queue in this process, FC's asynchronous invocations) are in [`crate::dispatch`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::model::StepEvent;

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
