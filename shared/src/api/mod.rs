//! The HTTP API: tasks, executions, the manual update, and CI webhooks.

pub mod webhook;
