//! The credential chain: where credentials are looked for, and in which order.
//!
//! Each place is a small link that answers "here they are", "not here" (the chain moves on)
//! or an error, which stops the chain: a source that is set in part (an AccessKey id without
//! its secret) or a profile file that cannot be read is a mistake to report, not a reason to
//! fall back on other credentials.
//!
//! [`resolve_chain`] runs once, at start (the CLI, `serve`), in this order:
//!
//! 1. explicit settings ([`ChainSources::explicit`]);
//! 2. the credentials of the current Function Compute request ([`ChainSources::fc_request`]);
//! 3. `ALIBABA_CLOUD_ACCESS_KEY_ID` / `_SECRET` / `_SECURITY_TOKEN` ([`Credentials::from_env`]);
//! 4. the aliyun CLI's profile file `~/.aliyun/config.json`, the current profile or a named
//!    one, in mode `AK`, `StsToken` or `RamRoleArn` ([`load_profile`]); a `RamRoleArn` profile
//!    assumes its role with [`AssumeRoleProvider`].
//!
//! [`ProviderChain`] asks its providers at every call instead: Function Compute functions ask
//! the credentials of the request being served, then the environment's ([`EnvProvider`]).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::credentials::{
    Credentials, CredentialsError, CredentialsProvider, Profile, SharedCredentialsProvider,
    StaticProvider, load_profile, profile_path,
};
use super::sts::AssumeRoleProvider;
use crate::settings::Env;

/// The inputs of the credential chain.
#[derive(Clone, Default)]
pub struct ChainSources {
    /// Credentials given explicitly (settings, command line).
    pub explicit: Option<Credentials>,
    /// Credentials from the current Function Compute request's `x-fc-*` headers.
    pub fc_request: Option<Credentials>,
    /// The environment (for `ALIBABA_CLOUD_*` and `HOME`).
    pub env: Env,
    /// Which aliyun CLI profile to use; `None` = the file's current profile.
    pub profile: Option<String>,
}

impl fmt::Debug for ChainSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainSources")
            .field("explicit", &self.explicit)
            .field("fc_request", &self.fc_request)
            .field("env", &self.env)
            .field("profile", &self.profile)
            .finish()
    }
}

/// Where the chain found the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsSource {
    /// Explicit settings.
    Explicit,
    /// The Function Compute request headers.
    FcRequest,
    /// `ALIBABA_CLOUD_*` variables.
    Environment,
    /// The aliyun CLI profile file (its path and profile name).
    Profile(PathBuf),
}

/// What a link of [`resolve_chain`] answers: the provider and where it was found, or `None`
/// for "not here".
type Found = Option<(SharedCredentialsProvider, CredentialsSource)>;

/// Walks the chain and answers the first configured source's provider, and where it was
/// found. A `RamRoleArn` profile becomes an [`AssumeRoleProvider`] whose STS calls use
/// `template` (its region, endpoints, clock, ids, retry policy and timeouts) with the
/// profile's own key.
pub fn resolve_chain(
    sources: &ChainSources,
    template: &super::ClientConfig,
) -> Result<(SharedCredentialsProvider, CredentialsSource), super::error::Error> {
    let wrap = |source| super::error::Error::Credentials {
        action: "resolve credentials".into(),
        source,
    };
    let given = |c: &Option<Credentials>, source: CredentialsSource| -> Found {
        c.clone().map(|c| (StaticProvider::shared(c), source))
    };
    let home = sources.env.home();
    let profile_place = match home {
        Some(_) => "~/.aliyun/config.json",
        None => "~/.aliyun/config.json (HOME not set)",
    };
    type Link<'a> = Box<dyn Fn() -> Result<Found, super::error::Error> + 'a>;
    let links: [(&str, Link<'_>); 4] = [
        (
            "explicit settings",
            Box::new(|| Ok(given(&sources.explicit, CredentialsSource::Explicit))),
        ),
        (
            "Function Compute request",
            Box::new(|| Ok(given(&sources.fc_request, CredentialsSource::FcRequest))),
        ),
        (
            "environment",
            Box::new(|| {
                let found = Credentials::from_env(&sources.env).map_err(wrap)?;
                Ok(given(&found, CredentialsSource::Environment))
            }),
        ),
        (
            profile_place,
            Box::new(|| {
                let Some(home) = &home else { return Ok(None) };
                let path = profile_path(home);
                let Some(profile) =
                    load_profile(&path, sources.profile.as_deref()).map_err(wrap)?
                else {
                    return Ok(None);
                };
                let provider = match profile {
                    Profile::AccessKey(c) | Profile::StsToken(c) => StaticProvider::shared(c),
                    Profile::RamRoleArn { base, role } => {
                        let sts = super::Client::new(super::ClientConfig {
                            credentials: StaticProvider::shared(base),
                            ..template.clone()
                        })?;
                        AssumeRoleProvider::shared(sts, role)
                    }
                };
                Ok(Some((provider, CredentialsSource::Profile(path))))
            }),
        ),
    ];
    let mut tried = Vec::new();
    for (place, link) in &links {
        if let Some(found) = link()? {
            return Ok(found);
        }
        tried.push(*place);
    }
    Err(wrap(CredentialsError::NotFound {
        tried: tried.join(", "),
    }))
}

/// Providers asked in order at every call: [`CredentialsError::NotFound`] from one moves on
/// to the next; any other error stops the chain and is the answer.
#[derive(Debug, Default)]
pub struct ProviderChain {
    links: Vec<(&'static str, SharedCredentialsProvider)>,
}

impl ProviderChain {
    /// A chain of no providers (it answers `NotFound`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks `provider`, named `place` in a `NotFound` error, after the ones before it.
    pub fn then(mut self, place: &'static str, provider: SharedCredentialsProvider) -> Self {
        self.links.push((place, provider));
        self
    }
}

impl CredentialsProvider for ProviderChain {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, CredentialsError>> {
        Box::pin(async move {
            let mut tried = Vec::new();
            for (place, provider) in &self.links {
                match provider.credentials().await {
                    Err(CredentialsError::NotFound { .. }) => tried.push(*place),
                    answer => return answer,
                }
            }
            Err(CredentialsError::NotFound {
                tried: tried.join(", "),
            })
        })
    }
}

/// The `ALIBABA_CLOUD_*` credentials of an environment: `NotFound` when the id is not set, an
/// error when it is set without its secret.
#[derive(Debug, Clone)]
pub struct EnvProvider(Env);

impl EnvProvider {
    /// A provider reading `env`.
    pub fn shared(env: Env) -> SharedCredentialsProvider {
        Arc::new(Self(env))
    }
}

impl CredentialsProvider for EnvProvider {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, CredentialsError>> {
        let found = Credentials::from_env(&self.0);
        Box::pin(async move {
            found?.ok_or_else(|| CredentialsError::NotFound {
                tried: "the ALIBABA_CLOUD_* environment".into(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_config(dir: &std::path::Path, json: &str) {
        let d = dir.join(".aliyun");
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join("config.json"), json).expect("write config");
    }

    fn template() -> super::super::ClientConfig {
        super::super::ClientConfig::new(
            "cn-hangzhou",
            super::super::endpoints::Endpoints::all_at("http://127.0.0.1:9"),
            StaticProvider::shared(Credentials::access_key("unused", "unused")),
        )
    }

    async fn resolved(sources: &ChainSources) -> (Credentials, CredentialsSource) {
        let (p, src) = resolve_chain(sources, &template()).expect("chain resolves");
        (p.credentials().await.expect("credentials"), src)
    }

    const PROFILES: &str = r#"{
      "current": "work",
      "profiles": [
        {"name": "default", "mode": "AK", "access_key_id": "LTAIdefault", "access_key_secret": "s-default", "region_id": "cn-hangzhou"},
        {"name": "work", "mode": "StsToken", "access_key_id": "STS.work", "access_key_secret": "s-work", "sts_token": "t-work"}
      ]
    }"#;

    #[tokio::test]
    async fn chain_order_explicit_then_fc_then_env_then_profile() {
        let home = tempfile::tempdir().expect("tempdir");
        write_config(home.path(), PROFILES);
        let home_str = home.path().to_str().expect("utf-8 path").to_owned();
        let env = Env::from_pairs([
            ("HOME", home_str.as_str()),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIenv"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s-env"),
        ]);
        let mut sources = ChainSources {
            explicit: Some(Credentials::access_key("LTAIexplicit", "s-explicit")),
            fc_request: Some(Credentials::sts("STS.fc", "s-fc", "t-fc")),
            env,
            profile: None,
        };
        let (c, src) = resolved(&sources).await;
        assert_eq!(
            (c.access_key_id(), src),
            ("LTAIexplicit", CredentialsSource::Explicit)
        );

        sources.explicit = None;
        let (c, src) = resolved(&sources).await;
        assert_eq!(c.access_key_id(), "STS.fc");
        assert_eq!(c.security_token(), Some("t-fc"));
        assert_eq!(src, CredentialsSource::FcRequest);

        sources.fc_request = None;
        let (c, src) = resolved(&sources).await;
        assert_eq!((c.access_key_id(), c.secret()), ("LTAIenv", "s-env"));
        assert_eq!(c.security_token(), None);
        assert_eq!(src, CredentialsSource::Environment);

        sources.env = Env::from_pairs([("HOME", home_str.as_str())]);
        let (c, src) = resolved(&sources).await;
        // The file's current profile is "work", an StsToken one.
        assert_eq!(c.access_key_id(), "STS.work");
        assert_eq!(c.security_token(), Some("t-work"));
        assert_eq!(
            src,
            CredentialsSource::Profile(home.path().join(".aliyun/config.json"))
        );

        sources.profile = Some("default".into());
        let (c, _) = resolved(&sources).await;
        assert_eq!(
            (c.access_key_id(), c.secret()),
            ("LTAIdefault", "s-default")
        );
    }

    #[test]
    fn nothing_configured_is_an_error_listing_what_was_tried() {
        let home = tempfile::tempdir().expect("tempdir");
        let sources = ChainSources {
            env: Env::from_pairs([("HOME", home.path().to_str().expect("utf-8"))]),
            ..ChainSources::default()
        };
        let err = resolve_chain(&sources, &template()).expect_err("nothing configured");
        let text = crate::report::chain(&err);
        assert!(
            text.contains("environment") && text.contains("config.json"),
            "{text}"
        );
    }

    #[test]
    fn a_half_set_environment_stops_the_chain_before_the_profile() {
        let home = tempfile::tempdir().expect("tempdir");
        write_config(home.path(), PROFILES);
        let sources = ChainSources {
            env: Env::from_pairs([
                ("HOME", home.path().to_str().expect("utf-8")),
                ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIhalf"),
            ]),
            ..ChainSources::default()
        };
        let err = resolve_chain(&sources, &template()).expect_err("incomplete");
        let source = std::error::Error::source(&err)
            .expect("a cause")
            .to_string();
        assert!(
            source.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
            "{source}"
        );
    }

    #[derive(Debug)]
    struct Answers(Result<Credentials, CredentialsError>);

    impl CredentialsProvider for Answers {
        fn credentials(&self) -> BoxFuture<'_, Result<Credentials, CredentialsError>> {
            let answer = self.0.clone();
            Box::pin(async move { answer })
        }
    }

    fn answers(answer: Result<Credentials, CredentialsError>) -> SharedCredentialsProvider {
        Arc::new(Answers(answer))
    }

    fn not_here() -> CredentialsError {
        CredentialsError::NotFound {
            tried: "nowhere".into(),
        }
    }

    #[tokio::test]
    async fn a_provider_chain_moves_on_past_not_found_and_stops_at_any_other_error() {
        let found = ProviderChain::new()
            .then("request", answers(Err(not_here())))
            .then(
                "environment",
                answers(Ok(Credentials::access_key("LTAIenv", "s"))),
            )
            .then("never asked", answers(Err(not_here())))
            .credentials()
            .await
            .expect("the second link answers");
        assert_eq!(found.access_key_id(), "LTAIenv");

        let incomplete = CredentialsError::Incomplete {
            source_name: "environment".into(),
            missing: "ALIBABA_CLOUD_ACCESS_KEY_SECRET".into(),
        };
        let err = ProviderChain::new()
            .then("request", answers(Err(not_here())))
            .then("environment", answers(Err(incomplete.clone())))
            .then(
                "fallback",
                answers(Ok(Credentials::access_key("LTAIx", "s"))),
            )
            .credentials()
            .await
            .expect_err("an incomplete source stops the chain");
        assert_eq!(err.to_string(), incomplete.to_string());

        let err = ProviderChain::new()
            .then("the request", answers(Err(not_here())))
            .then("the environment", EnvProvider::shared(Env::default()))
            .credentials()
            .await
            .expect_err("nothing anywhere");
        assert!(
            matches!(&err, CredentialsError::NotFound { tried } if tried == "the request, the environment"),
            "{err:?}"
        );
    }
}
