//! Signed clients for the Alibaba Cloud services reimage calls.
//!
//! Layers, bottom up: [`sign`] (pure signers), [`http`] (transport, retry classification,
//! backoff), [`credentials`] (the credential chain, AssumeRole), [`endpoints`], and one module
//! of typed operations per service ([`ecs`], [`ess`], [`sts`], [`fc`], [`oss`]), using the
//! cloud's exact parameter names and response nesting.

pub mod credentials;
pub mod ecs;
pub mod endpoints;
pub mod error;
pub mod ess;
pub mod fc;
pub mod http;
pub mod oss;
pub mod sign;
pub mod sts;
