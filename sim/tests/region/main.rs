//! End-to-end tests of the sim over real HTTP with real signatures.

mod common;

mod admin;
mod deletion;
mod ecs;
mod ess;
mod fleet;
mod fuzz;
mod launch;
mod refresh;
mod security;
mod sts;
mod tags;
mod template_groups;
mod templates;
