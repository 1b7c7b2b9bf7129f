//! Credentials: a static AccessKey, STS tokens, where they are read from, and the
//! [`CredentialsProvider`] every signed call asks.
//!
//! Credentials are read from the credentials Function Compute passes with each request (the
//! `x-fc-access-key-id`, `x-fc-access-key-secret` and `x-fc-security-token` headers,
//! [`Credentials::from_fc_headers`]), from `ALIBABA_CLOUD_ACCESS_KEY_ID` /
//! `ALIBABA_CLOUD_ACCESS_KEY_SECRET` / `ALIBABA_CLOUD_SECURITY_TOKEN`
//! ([`Credentials::from_env`]), or from a profile of the aliyun CLI's `~/.aliyun/config.json`
//! ([`load_profile`]). The order they are tried in is [`super::chain`]'s; a RAM role is
//! reached through [`super::sts::AssumeRoleProvider`].
//!
//! Secrets never show: the `Debug` output of every type here prints `<redacted>` in their place.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::Deserialize;

use crate::settings::Env;

/// How long before expiry cached STS credentials are renewed.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// One set of credentials: an AccessKey pair, with an STS token when temporary.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key_id: String,
    access_key_secret: String,
    security_token: Option<String>,
    expiration: Option<DateTime<Utc>>,
}

impl Credentials {
    /// A long-lived AccessKey.
    pub fn access_key(id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            access_key_id: id.into(),
            access_key_secret: secret.into(),
            security_token: None,
            expiration: None,
        }
    }

    /// Temporary STS credentials.
    pub fn sts(
        id: impl Into<String>,
        secret: impl Into<String>,
        security_token: impl Into<String>,
    ) -> Self {
        Self {
            security_token: Some(security_token.into()),
            ..Self::access_key(id, secret)
        }
    }

    /// These credentials, known to expire at `at`.
    pub fn expiring_at(mut self, at: DateTime<Utc>) -> Self {
        self.expiration = Some(at);
        self
    }

    /// The credentials Function Compute hands to a handler in the `x-fc-access-key-id`,
    /// `x-fc-access-key-secret` and `x-fc-security-token` request headers. An empty token
    /// (FC sends none for a long-lived key) means an AccessKey without token.
    pub fn from_fc_headers(
        access_key_id: &str,
        access_key_secret: &str,
        security_token: &str,
    ) -> Result<Self, CredentialsError> {
        if access_key_id.is_empty() {
            return Err(CredentialsError::Incomplete {
                source_name: "Function Compute request headers".into(),
                missing: "x-fc-access-key-id".into(),
            });
        }
        if access_key_secret.is_empty() {
            return Err(CredentialsError::Incomplete {
                source_name: "Function Compute request headers".into(),
                missing: "x-fc-access-key-secret".into(),
            });
        }
        Ok(if security_token.is_empty() {
            Self::access_key(access_key_id, access_key_secret)
        } else {
            Self::sts(access_key_id, access_key_secret, security_token)
        })
    }

    /// `ALIBABA_CLOUD_ACCESS_KEY_ID` / `_SECRET` / `_SECURITY_TOKEN`; `Ok(None)` when the id is
    /// not set, an error when the id is set without its secret.
    pub fn from_env(env: &Env) -> Result<Option<Self>, CredentialsError> {
        let Some(id) = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID") else {
            return Ok(None);
        };
        let Some(secret) = env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET") else {
            return Err(CredentialsError::Incomplete {
                source_name: "environment".into(),
                missing: "ALIBABA_CLOUD_ACCESS_KEY_SECRET".into(),
            });
        };
        Ok(Some(match env.get("ALIBABA_CLOUD_SECURITY_TOKEN") {
            Some(token) => Self::sts(id, secret, token),
            None => Self::access_key(id, secret),
        }))
    }

    /// The AccessKeyId (not secret).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The AccessKeySecret. Only the signers should read it.
    pub fn secret(&self) -> &str {
        &self.access_key_secret
    }

    /// The STS token, for temporary credentials.
    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }

    /// When these credentials expire, if they do.
    pub fn expiration(&self) -> Option<DateTime<Utc>> {
        self.expiration
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// Why no credentials could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CredentialsError {
    /// No source in the chain is configured.
    #[error(
        "no Alibaba Cloud credentials found (tried: {tried}); set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or run `aliyun configure`"
    )]
    NotFound {
        /// The sources looked at, in order.
        tried: String,
    },
    /// A source is configured but lacks a part.
    #[error("credentials from {source_name} lack {missing}")]
    Incomplete {
        /// The source.
        source_name: String,
        /// What it lacks.
        missing: String,
    },
    /// The profile file cannot be used.
    #[error("aliyun CLI profile file {path}: {problem}")]
    Profile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// STS AssumeRole failed.
    #[error("cannot assume role {role_arn}")]
    AssumeRole {
        /// The role.
        role_arn: String,
        /// Why: the STS call's error (it never holds a secret).
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
}

/// Something that hands out credentials, maybe fetching or refreshing them.
pub trait CredentialsProvider: Send + Sync + fmt::Debug {
    /// Current credentials.
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, CredentialsError>>;
}

/// A shared credentials provider.
pub type SharedCredentialsProvider = Arc<dyn CredentialsProvider>;

/// Always the same credentials.
#[derive(Debug, Clone)]
pub struct StaticProvider(Credentials);

impl StaticProvider {
    /// A provider of `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        Self(credentials)
    }

    /// The same, shared.
    pub fn shared(credentials: Credentials) -> SharedCredentialsProvider {
        Arc::new(Self(credentials))
    }
}

impl CredentialsProvider for StaticProvider {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, CredentialsError>> {
        let c = self.0.clone();
        Box::pin(async move { Ok(c) })
    }
}

/// What to ask STS for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSpec {
    /// `acs:ram::<account>:role/<name>`.
    pub role_arn: String,
    /// Names the session in the role's audit trail.
    pub role_session_name: String,
    /// Lifetime of the temporary credentials (900 s up to the role's maximum).
    pub duration_seconds: u32,
}

/// A profile of the aliyun CLI's `config.json`, as far as reimage uses it.
#[derive(Clone, PartialEq, Eq)]
pub enum Profile {
    /// Mode `AK`: a long-lived AccessKey.
    AccessKey(Credentials),
    /// Mode `StsToken`: temporary credentials.
    StsToken(Credentials),
    /// Mode `RamRoleArn`: assume `role` with `base` (an AccessKey, or STS credentials when the
    /// profile also holds `sts_token`).
    RamRoleArn {
        /// The credentials AssumeRole is called with.
        base: Credentials,
        /// The role.
        role: RoleSpec,
    },
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Profile::AccessKey(c) => f.debug_tuple("AccessKey").field(c).finish(),
            Profile::StsToken(c) => f.debug_tuple("StsToken").field(c).finish(),
            Profile::RamRoleArn { base, role } => f
                .debug_struct("RamRoleArn")
                .field("base", base)
                .field("role", role)
                .finish(),
        }
    }
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    current: String,
    #[serde(default)]
    profiles: Vec<ProfileEntry>,
}

#[derive(Deserialize)]
struct ProfileEntry {
    #[serde(default)]
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    access_key_secret: String,
    #[serde(default)]
    sts_token: String,
    #[serde(default)]
    ram_role_arn: String,
    #[serde(default)]
    ram_session_name: String,
    #[serde(default)]
    expired_seconds: u32,
}

/// The aliyun CLI's profile file under `home`: `<home>/.aliyun/config.json`.
pub fn profile_path(home: &Path) -> PathBuf {
    home.join(".aliyun").join("config.json")
}

/// Reads profile `name` (or the file's `current` one) from the aliyun CLI profile file at
/// `path`. `Ok(None)` when the file does not exist.
///
/// A `RamRoleArn` profile without `ram_session_name` uses `reimage`; with `expired_seconds`
/// 0 it asks for 3600 s (the STS default).
pub fn load_profile(path: &Path, name: Option<&str>) -> Result<Option<Profile>, CredentialsError> {
    let err = |problem: String| CredentialsError::Profile {
        path: path.to_path_buf(),
        problem,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(format!("cannot read: {e}"))),
    };
    let file: ConfigFile =
        serde_json::from_str(&text).map_err(|e| err(format!("not valid JSON: {e}")))?;
    let wanted = match name {
        Some(n) => n.to_owned(),
        None if !file.current.is_empty() => file.current.clone(),
        None => "default".to_owned(),
    };
    let entry = file
        .profiles
        .iter()
        .find(|p| p.name == wanted)
        .ok_or_else(|| err(format!("no profile named {wanted:?}")))?;
    let need = |value: &str, field: &str| {
        if value.is_empty() {
            Err(err(format!(
                "profile {wanted:?} (mode {}) lacks {field}",
                entry.mode
            )))
        } else {
            Ok(())
        }
    };
    need(&entry.access_key_id, "access_key_id")?;
    need(&entry.access_key_secret, "access_key_secret")?;
    let key = || Credentials::access_key(&entry.access_key_id, &entry.access_key_secret);
    let profile = match entry.mode.as_str() {
        "AK" | "" => Profile::AccessKey(key()),
        "StsToken" => {
            need(&entry.sts_token, "sts_token")?;
            Profile::StsToken(Credentials::sts(
                &entry.access_key_id,
                &entry.access_key_secret,
                &entry.sts_token,
            ))
        }
        "RamRoleArn" => {
            need(&entry.ram_role_arn, "ram_role_arn")?;
            let base = if entry.sts_token.is_empty() {
                key()
            } else {
                Credentials::sts(
                    &entry.access_key_id,
                    &entry.access_key_secret,
                    &entry.sts_token,
                )
            };
            Profile::RamRoleArn {
                base,
                role: RoleSpec {
                    role_arn: entry.ram_role_arn.clone(),
                    role_session_name: if entry.ram_session_name.is_empty() {
                        "reimage".to_owned()
                    } else {
                        entry.ram_session_name.clone()
                    },
                    duration_seconds: if entry.expired_seconds == 0 {
                        3600
                    } else {
                        entry.expired_seconds
                    },
                },
            }
        }
        other => {
            return Err(err(format!(
                "profile {wanted:?} has mode {other:?}; reimage supports AK, StsToken and RamRoleArn"
            )));
        }
    };
    Ok(Some(profile))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "Zm9vYmFyLXNlY3JldC12YWx1ZQ";
    const TOKEN: &str = "CAISsecuritytokenvalue";

    fn write_config(dir: &Path, json: &str) {
        let d = dir.join(".aliyun");
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join("config.json"), json).expect("write config");
    }

    const PROFILES: &str = r#"{
      "current": "work",
      "profiles": [
        {"name": "default", "mode": "AK", "access_key_id": "LTAIdefault", "access_key_secret": "s-default", "region_id": "cn-hangzhou"},
        {"name": "work", "mode": "StsToken", "access_key_id": "STS.work", "access_key_secret": "s-work", "sts_token": "t-work"},
        {"name": "role", "mode": "RamRoleArn", "access_key_id": "LTAIrole", "access_key_secret": "s-role",
         "ram_role_arn": "acs:ram::123:role/reimage", "ram_session_name": "ci", "expired_seconds": 900},
        {"name": "ecs", "mode": "EcsRamRole", "access_key_id": "x", "access_key_secret": "y"}
      ]
    }"#;

    #[test]
    fn env_id_without_secret_names_the_missing_variable() {
        let env = Env::from_pairs([("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIx")]);
        let err = Credentials::from_env(&env).expect_err("incomplete");
        assert!(err.to_string().contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"));
        let env = Env::from_pairs([
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "STS.x"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s"),
            ("ALIBABA_CLOUD_SECURITY_TOKEN", "t"),
        ]);
        let c = Credentials::from_env(&env).expect("ok").expect("some");
        assert_eq!(c.security_token(), Some("t"));
        assert_eq!(Credentials::from_env(&Env::default()).expect("ok"), None);
    }

    #[test]
    fn fc_headers_with_and_without_token() {
        let c = Credentials::from_fc_headers("STS.a", "b", "c").expect("ok");
        assert_eq!(c.security_token(), Some("c"));
        let c = Credentials::from_fc_headers("LTAIa", "b", "").expect("ok");
        assert_eq!(c.security_token(), None);
        let e = Credentials::from_fc_headers("LTAIa", "", "").expect_err("no secret");
        assert!(e.to_string().contains("x-fc-access-key-secret"));
    }

    #[test]
    fn profile_modes_and_errors() {
        let home = tempfile::tempdir().expect("tempdir");
        write_config(home.path(), PROFILES);
        let path = profile_path(home.path());
        match load_profile(&path, Some("role")).expect("ok") {
            Some(Profile::RamRoleArn { base, role }) => {
                assert_eq!(base.access_key_id(), "LTAIrole");
                assert_eq!(base.security_token(), None);
                assert_eq!(role.role_arn, "acs:ram::123:role/reimage");
                assert_eq!(role.role_session_name, "ci");
                assert_eq!(role.duration_seconds, 900);
            }
            other => panic!("expected RamRoleArn, got {other:?}"),
        }
        let e = load_profile(&path, Some("ecs")).expect_err("unsupported mode");
        assert!(e.to_string().contains("EcsRamRole"), "{e}");
        let e = load_profile(&path, Some("nope")).expect_err("unknown profile");
        assert!(e.to_string().contains("\"nope\""), "{e}");
        assert_eq!(
            load_profile(&home.path().join("absent.json"), None).expect("ok"),
            None
        );

        write_config(home.path(), "{not json");
        let e = load_profile(&path, None).expect_err("bad json");
        assert!(e.to_string().contains("not valid JSON"), "{e}");

        write_config(
            home.path(),
            r#"{"current":"x","profiles":[{"name":"x","mode":"StsToken","access_key_id":"a","access_key_secret":"b"}]}"#,
        );
        let e = load_profile(&path, None).expect_err("no token");
        assert!(e.to_string().contains("sts_token"), "{e}");
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let c = Credentials::sts("STS.visible", SECRET, TOKEN);
        let profile = Profile::RamRoleArn {
            base: c.clone(),
            role: RoleSpec {
                role_arn: "acs:ram::1:role/r".into(),
                role_session_name: "s".into(),
                duration_seconds: 900,
            },
        };
        let provider = StaticProvider::new(c.clone());
        for shown in [
            format!("{c:?}"),
            format!("{c:#?}"),
            format!("{profile:?}"),
            format!("{provider:?}"),
            format!("{:?}", Profile::StsToken(c.clone())),
        ] {
            assert!(
                shown.contains("STS.visible") || shown.contains("<redacted>"),
                "{shown}"
            );
            assert!(!shown.contains(SECRET), "secret leaked: {shown}");
            assert!(!shown.contains(TOKEN), "token leaked: {shown}");
        }
    }
}
