//! Function Compute in the sim: the FC 2.0 front and the processes it invokes ([`launch`]).
//! Requests whose path starts with `/2016-08-15/` come here (through [`crate::fronts::fc`]).
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

#[cfg(test)]
mod tests;
