//! How "run step X of execution E (record seq N) after D" travels.
//!
//! The engine hands every next step to a [`Dispatcher`] (the port it defines, in
//! [`crate::steps::dispatcher`]) with the delay its record asks for
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

pub mod fc;
pub mod kicks;
pub mod local;

pub use crate::steps::dispatcher::{DispatchError, DispatchFuture, Dispatcher, SharedDispatcher};
