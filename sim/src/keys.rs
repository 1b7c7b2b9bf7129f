//! Who may call the sim: static AccessKeys from the seed and the STS tokens the sim issued.
//!
//! Every front (RPC here, OSS and FC in their own modules) asks [`Keys::secret_for`] for the
//! secret that must have signed a request, then checks the signature its own way.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::seed::SeedAccessKey;

/// Why a request's credentials are refused. Each maps to the cloud's code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No such AccessKeyId.
    #[error("Specified access key is not found.")]
    NotFound,
    /// An STS AccessKeyId without its SecurityToken.
    #[error("SecurityToken is mandatory for this action.")]
    MissingSecurityToken,
    /// A SecurityToken that does not belong to the AccessKeyId.
    #[error("The Security Token does not match the AccessKeyId.")]
    TokenMismatch,
    /// The STS token has expired.
    #[error("The security token you provided has expired.")]
    TokenExpired,
}

impl AuthError {
    /// The cloud's error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "InvalidAccessKeyId.NotFound",
            Self::MissingSecurityToken => "MissingSecurityToken",
            Self::TokenMismatch => "InvalidSecurityToken.MismatchWithAccessKey",
            Self::TokenExpired => "InvalidSecurityToken.Expired",
        }
    }
}

/// Who is calling, once the credentials check out.
///
/// A static key of the seed is the root account's when it says `"root": true`, else its RAM
/// user's (`user_name`); STS credentials are the role session AssumeRole opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A static key of the root account.
    Root,
    /// A static key of a RAM user.
    User {
        /// The RAM user's name.
        user_name: String,
    },
    /// STS credentials of an assumed role.
    Role {
        /// The ARN of the assumed role.
        role_arn: String,
        /// The `RoleSessionName` AssumeRole was given.
        session_name: String,
    },
}

/// STS credentials the sim issued.
#[derive(Clone)]
pub struct IssuedToken {
    /// `STS.…`.
    pub access_key_id: String,
    /// Their secret.
    pub access_key_secret: String,
    /// The SecurityToken.
    pub security_token: String,
    /// When they stop working.
    pub expiration: DateTime<Utc>,
    /// The role they act as.
    pub role_arn: String,
    /// The `RoleSessionName` of the AssumeRole that issued them.
    pub session_name: String,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("security_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .finish()
    }
}

/// The key book: static keys and issued STS tokens.
pub struct Keys {
    statics: Vec<SeedAccessKey>,
    issued: Mutex<HashMap<String, IssuedToken>>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("statics", &self.statics)
            .field("issued", &self.lock().len())
            .finish()
    }
}

impl Keys {
    /// A key book holding `statics`.
    pub fn new(statics: Vec<SeedAccessKey>) -> Self {
        Self {
            statics,
            issued: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, IssuedToken>> {
        self.issued.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The first static key (what [`crate::Sim::access_key_id`] hands out).
    pub fn primary(&self) -> Option<&SeedAccessKey> {
        self.statics.first()
    }

    /// The secret that must have signed a request made with `access_key_id` (and, for STS
    /// credentials, `security_token`) at `now`.
    pub fn secret_for(
        &self,
        access_key_id: &str,
        security_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, AuthError> {
        self.authenticate(access_key_id, security_token, now)
            .map(|(secret, _)| secret)
    }

    /// Like [`Keys::secret_for`], also saying who the caller is.
    pub fn authenticate(
        &self,
        access_key_id: &str,
        security_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(String, Principal), AuthError> {
        if let Some(key) = self
            .statics
            .iter()
            .find(|k| k.access_key_id == access_key_id)
        {
            let who = if key.root {
                Principal::Root
            } else {
                Principal::User {
                    user_name: key.user_name.clone(),
                }
            };
            return Ok((key.access_key_secret.clone(), who));
        }
        let issued = self.lock();
        let token = issued.get(access_key_id).ok_or(AuthError::NotFound)?;
        let given = security_token
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::MissingSecurityToken)?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            given.as_bytes(),
            token.security_token.as_bytes(),
        )) {
            return Err(AuthError::TokenMismatch);
        }
        if now >= token.expiration {
            return Err(AuthError::TokenExpired);
        }
        Ok((
            token.access_key_secret.clone(),
            Principal::Role {
                role_arn: token.role_arn.clone(),
                session_name: token.session_name.clone(),
            },
        ))
    }

    /// Records STS credentials so later requests can use them.
    pub fn issue(&self, token: IssuedToken) {
        self.lock().insert(token.access_key_id.clone(), token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn keys() -> Keys {
        Keys::new(vec![SeedAccessKey {
            access_key_id: "AK".into(),
            access_key_secret: "SECRET".into(),
            root: false,
            user_name: "ops".into(),
        }])
    }

    #[test]
    fn static_and_issued_keys_resolve_until_expiry() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let keys = keys();
        assert_eq!(keys.secret_for("AK", None, t0).unwrap(), "SECRET");
        assert_eq!(keys.secret_for("nope", None, t0), Err(AuthError::NotFound));
        keys.issue(IssuedToken {
            access_key_id: "STS.x".into(),
            access_key_secret: "s2".into(),
            security_token: "tok".into(),
            expiration: t0 + chrono::Duration::seconds(900),
            role_arn: "acs:ram::1:role/r".into(),
            session_name: "s".into(),
        });
        assert_eq!(keys.secret_for("STS.x", Some("tok"), t0).unwrap(), "s2");
        assert_eq!(
            keys.authenticate("AK", None, t0).unwrap().1,
            Principal::User {
                user_name: "ops".into()
            }
        );
        assert_eq!(
            keys.authenticate("STS.x", Some("tok"), t0).unwrap().1,
            Principal::Role {
                role_arn: "acs:ram::1:role/r".into(),
                session_name: "s".into()
            }
        );
        assert_eq!(
            keys.secret_for("STS.x", None, t0),
            Err(AuthError::MissingSecurityToken)
        );
        assert_eq!(
            keys.secret_for("STS.x", Some("other"), t0),
            Err(AuthError::TokenMismatch)
        );
        assert_eq!(
            keys.secret_for("STS.x", Some("tok"), t0 + chrono::Duration::seconds(900)),
            Err(AuthError::TokenExpired)
        );
    }

    #[test]
    fn debug_redacts_secrets_and_tokens() {
        let keys = keys();
        keys.issue(IssuedToken {
            access_key_id: "STS.x".into(),
            access_key_secret: "issued-secret".into(),
            security_token: "issued-token".into(),
            expiration: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            role_arn: "r".into(),
            session_name: "s".into(),
        });
        let token = format!("{:?}", keys.lock().get("STS.x"));
        let shown = format!("{keys:?} {token}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(!shown.contains("issued-secret"), "{shown}");
        assert!(!shown.contains("issued-token"), "{shown}");
    }
}
