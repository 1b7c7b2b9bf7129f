//! # reimage-cloud
//!
//! Everything reimage needs to talk to Alibaba Cloud, and nothing of reimage itself: the
//! signers (RPC, ACS3, OSS V1/V4, FC), the transport with its retries and limits, the
//! credential chain and AssumeRole, the endpoints, the typed ECS, ESS, STS, KMS, FC and OSS
//! clients, and the HTTP serving loop with its limits on slow clients. The emulated region
//! (`reimage-sim`) links this crate and no other part of reimage.
//!
//! | module | what lives there |
//! |---|---|
//! | [`aliyun`] | the signed clients: pure signers, transport, credentials, endpoints |
//! | [`clock`] | injected time ([`clock::Clock`]): the wall clock and a manual one for tests |
//! | [`ids`] | injected randomness ([`ids::IdSource`]): nonces and ids |
//! | [`settings`] | the process environment, read once ([`settings::Env`]) |
//! | [`server`] | one serving loop with header, body, connection and shutdown limits |
//! | [`report`] | an error and its causes on one line |
//!
//! Code here never reads the clock, the environment or a random source directly: a
//! [`clock::Clock`], an [`settings::Env`] and an [`ids::IdSource`] are passed in.

pub mod aliyun;
pub mod clock;
pub mod ids;
pub mod report;
pub mod server;
pub mod settings;
