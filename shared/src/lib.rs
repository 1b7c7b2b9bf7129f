//! # reimage
//!
//! reimage keeps the images of Alibaba Cloud Auto Scaling (ESS) groups fresh. It does what
//! the Auto Scaling console calls an *image update task*: take a custom image of a source ECS
//! instance, wait until it is Available, put it into one or more scaling configurations, and
//! verify the result, rolling back on any failure so that a group is never left half-updated.
//!
//! This crate is the core that every entry point shares: the Function Compute handlers in
//! `functions/`, the `reimage` CLI, and the tests.
//!
//! | module | what lives there |
//! |---|---|
//! | [`aliyun`] | signed clients for ECS, ESS, STS, FC and OSS: pure signers, transport, credentials |
//! | [`model`] | executions, step records, image naming rules, tasks |
//! | [`store`] | the append-only state store: file (default), OSS, memory |
//! | [`schedule`] | which task slots are due, each started exactly once |
//! | [`steps`] | create-image, wait-image, swap-config, verify |
//! | [`rollout`] | the rolling update of a group's running instances |
//! | [`images`] | image lifecycle: what reimage made, what uses it, retention |
//! | [`dispatch`] | how "run step X of execution E after N seconds" travels |
//! | [`functions`] | the four Function Compute functions, wired on the custom runtime |
//! | [`api`] | the HTTP API: tasks, executions, manual update, CI webhooks |
//! | [`notify`] | notifications when a run ends: the notice and its targets (DingTalk, Lark, Slack, HTTPS) |
//! | [`wiring`] | the one place the engine, runs, scheduler and API are wired together |
//!
//! Domain code never reads the clock, the environment or a random source directly: a
//! [`clock::Clock`], the [`settings`] and an [`ids::IdSource`] are passed in.

pub mod api;
pub mod dispatch;
pub mod functions;
pub mod images;
pub mod model;
pub mod notify;
pub mod retention;
pub mod rollout;
pub mod schedule;
pub mod secrets;
pub mod steps;
pub mod store;
pub mod wiring;

pub use reimage_cloud::{aliyun, clock, ids, report, server, settings};
pub use reimage_fc_runtime as runtime;
