//! STS (API version 2015-04-01): AssumeRole, for tasks whose permission source is a RAM role,
//! and GetCallerIdentity, which says whose credentials a client's calls are made with (a dry
//! run's permission check).
//!
//! [`AssumeRoleProvider`] is the cached credentials provider built on AssumeRole.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Deserialize;

use super::credentials::{
    Credentials, CredentialsError, CredentialsProvider, REFRESH_BEFORE_EXPIRY, RoleSpec,
    SharedCredentialsProvider,
};
use super::error::{Error, RequestError};
use super::{Client, Params, RpcMethod, Service, validate};

/// `AssumeRole`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssumeRoleRequest {
    /// `RoleArn` (required): `acs:ram::<account>:role/<name>`.
    pub role_arn: String,
    /// `RoleSessionName` (required): 2 to 64 of letters, digits, `.`, `@`, `-`, `_`.
    pub role_session_name: String,
    /// `DurationSeconds`: at least 900; the upper bound is the role's maximum session
    /// duration (at most 43200).
    pub duration_seconds: Option<u32>,
    /// `Policy`: a JSON policy narrowing the role's permissions (1 to 2048 characters).
    pub policy: Option<String>,
}

impl AssumeRoleRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self) -> Result<Params, RequestError> {
        validate::non_empty("RoleArn", &self.role_arn)?;
        if !self.role_arn.starts_with("acs:ram::") || !self.role_arn.contains(":role/") {
            return Err(RequestError::new(
                "RoleArn",
                format!(
                    "is {:?}; must look like acs:ram::<account>:role/<name>",
                    self.role_arn
                ),
            ));
        }
        validate::non_empty("RoleSessionName", &self.role_session_name)?;
        let n = self.role_session_name.chars().count();
        if !(2..=64).contains(&n)
            || !self
                .role_session_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '@' | '-' | '_'))
        {
            return Err(RequestError::new(
                "RoleSessionName",
                "must be 2 to 64 of letters, digits, '.', '@', '-' and '_'",
            ));
        }
        if let Some(d) = self.duration_seconds {
            if !(900..=43200).contains(&d) {
                return Err(RequestError::new(
                    "DurationSeconds",
                    format!("is {d}; must be 900 to 43200"),
                ));
            }
        }
        if let Some(policy) = &self.policy {
            let n = policy.chars().count();
            if !(1..=2048).contains(&n) {
                return Err(RequestError::new("Policy", "must be 1 to 2048 characters"));
            }
        }
        let mut p = Params::new();
        p.put("RoleArn", &self.role_arn)
            .put("RoleSessionName", &self.role_session_name)
            .opt("DurationSeconds", self.duration_seconds)
            .opt_str("Policy", self.policy.as_deref());
        Ok(p)
    }
}

/// `AssumeRole` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AssumeRoleResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `AssumedRoleUser`.
    pub assumed_role_user: AssumedRoleUser,
    /// `Credentials`.
    pub credentials: StsCredentials,
}

/// `AssumedRoleUser`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AssumedRoleUser {
    /// `Arn`.
    pub arn: String,
    /// `AssumedRoleId`.
    pub assumed_role_id: String,
}

/// `Credentials` of an AssumeRole answer. Its `Debug` output hides the secret and token.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StsCredentials {
    /// `AccessKeyId` (`STS.…`).
    pub access_key_id: String,
    /// `AccessKeySecret`.
    pub access_key_secret: String,
    /// `SecurityToken`.
    pub security_token: String,
    /// `Expiration`: UTC, `yyyy-MM-ddTHH:mm:ssZ`.
    pub expiration: String,
}

impl StsCredentials {
    /// As [`Credentials`] that expire at `Expiration`; an error names a missing or malformed
    /// field.
    pub fn into_credentials(self) -> Result<Credentials, String> {
        for (name, value) in [
            ("AccessKeyId", &self.access_key_id),
            ("AccessKeySecret", &self.access_key_secret),
            ("SecurityToken", &self.security_token),
        ] {
            if value.is_empty() {
                return Err(format!("the answer has no {name}"));
            }
        }
        let expiration = chrono::DateTime::parse_from_rfc3339(&self.expiration)
            .map_err(|e| format!("Expiration {:?} is not a UTC time: {e}", self.expiration))?
            .with_timezone(&chrono::Utc);
        Ok(Credentials::sts(
            self.access_key_id,
            self.access_key_secret,
            self.security_token,
        )
        .expiring_at(expiration))
    }
}

impl fmt::Debug for StsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("security_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// `GetCallerIdentity` answer: who the credentials that signed the request belong to. Any
/// valid credentials may call it; no RAM policy is needed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetCallerIdentityResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `AccountId`: the Alibaba Cloud account.
    pub account_id: String,
    /// `Arn`: `acs:ram::<account>:root`, `acs:ram::<account>:user/<name>`, or for an assumed
    /// role `acs:ram::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
    /// `IdentityType`: `Account`, `RAMUser` or `AssumedRoleUser`.
    pub identity_type: String,
    /// `PrincipalId`.
    pub principal_id: String,
    /// `UserId` (a RAM user or the account).
    pub user_id: String,
    /// `RoleId` (an assumed role).
    pub role_id: String,
}

/// STS operations of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Sts<'a> {
    client: &'a Client,
}

impl<'a> Sts<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// `AssumeRole` (sent as `POST`, as the official SDK does).
    pub async fn assume_role(&self, req: &AssumeRoleRequest) -> Result<AssumeRoleResponse, Error> {
        let params = req.to_params().map_err(|source| Error::InvalidRequest {
            action: "AssumeRole".into(),
            source,
        })?;
        self.client
            .call(Service::Sts, RpcMethod::Post, "AssumeRole", params)
            .await
    }

    /// `GetCallerIdentity`: whose credentials this client signs with (for a client whose
    /// credentials come from AssumeRole, the assumed role).
    pub async fn get_caller_identity(&self) -> Result<GetCallerIdentityResponse, Error> {
        self.client
            .call(
                Service::Sts,
                RpcMethod::Post,
                "GetCallerIdentity",
                Params::new(),
            )
            .await
    }
}

/// Credentials of a RAM role, by STS AssumeRole, cached until [`REFRESH_BEFORE_EXPIRY`]
/// before they expire.
///
/// The `sts` client carries the credentials AssumeRole is called with (and the clock that
/// decides when the cache is stale).
pub struct AssumeRoleProvider {
    sts: Client,
    role: RoleSpec,
    cached: tokio::sync::Mutex<Option<Credentials>>,
}

impl AssumeRoleProvider {
    /// A provider assuming `role` through `sts`.
    pub fn new(sts: Client, role: RoleSpec) -> Self {
        Self {
            sts,
            role,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// The same, shared.
    pub fn shared(sts: Client, role: RoleSpec) -> SharedCredentialsProvider {
        Arc::new(Self::new(sts, role))
    }

    async fn fetch(&self) -> Result<Credentials, CredentialsError> {
        let mut cached = self.cached.lock().await;
        let now = self.sts.clock().now();
        if let Some(c) = cached.as_ref() {
            let fresh = match c.expiration() {
                Some(exp) => {
                    now + chrono::Duration::from_std(REFRESH_BEFORE_EXPIRY).unwrap_or_default()
                        < exp
                }
                None => true,
            };
            if fresh {
                return Ok(c.clone());
            }
        }
        let request = AssumeRoleRequest {
            role_arn: self.role.role_arn.clone(),
            role_session_name: self.role.role_session_name.clone(),
            duration_seconds: Some(self.role.duration_seconds),
            policy: None,
        };
        let failed =
            |source: Arc<dyn std::error::Error + Send + Sync>| CredentialsError::AssumeRole {
                role_arn: self.role.role_arn.clone(),
                source,
            };
        let answer = self
            .sts
            .sts()
            .assume_role(&request)
            .await
            .map_err(|e| failed(Arc::new(e)))?;
        let creds = answer.credentials.into_credentials().map_err(|problem| {
            failed(Arc::from(Box::<dyn std::error::Error + Send + Sync>::from(
                problem,
            )))
        })?;
        *cached = Some(creds.clone());
        Ok(creds)
    }
}

impl fmt::Debug for AssumeRoleProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleProvider")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl CredentialsProvider for AssumeRoleProvider {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, CredentialsError>> {
        Box::pin(self.fetch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> AssumeRoleRequest {
        AssumeRoleRequest {
            role_arn: "acs:ram::1234567890:role/reimage".into(),
            role_session_name: "reimage@exec-1".into(),
            duration_seconds: Some(3600),
            policy: None,
        }
    }

    #[test]
    fn request_checks_name_the_parameter() {
        let p = valid().to_params().expect("valid");
        assert_eq!(p.get("RoleArn"), Some("acs:ram::1234567890:role/reimage"));
        assert_eq!(p.get("DurationSeconds"), Some("3600"));
        assert_eq!(p.get("RegionId"), None);
        let cases = [
            (
                AssumeRoleRequest {
                    role_arn: "arn:aws:iam::1:role/x".into(),
                    ..valid()
                },
                "RoleArn",
            ),
            (
                AssumeRoleRequest {
                    role_session_name: "has space".into(),
                    ..valid()
                },
                "RoleSessionName",
            ),
            (
                AssumeRoleRequest {
                    role_session_name: String::new(),
                    ..valid()
                },
                "RoleSessionName",
            ),
            (
                AssumeRoleRequest {
                    duration_seconds: Some(899),
                    ..valid()
                },
                "DurationSeconds",
            ),
            (
                AssumeRoleRequest {
                    policy: Some(String::new()),
                    ..valid()
                },
                "Policy",
            ),
        ];
        for (req, param) in cases {
            assert_eq!(req.to_params().expect_err(param).parameter, param);
        }
    }

    #[test]
    fn caller_identity_answer_reads_each_field() {
        let body = r#"{"RequestId":"R","AccountId":"1234567890","Arn":"acs:ram::1234567890:assumed-role/reimage/reimage","IdentityType":"AssumedRoleUser","PrincipalId":"3001:reimage","RoleId":"3001"}"#;
        let r: GetCallerIdentityResponse = serde_json::from_str(body).expect("parses");
        assert_eq!(r.account_id, "1234567890");
        assert_eq!(r.identity_type, "AssumedRoleUser");
        assert!(r.arn.ends_with(":assumed-role/reimage/reimage"));
        assert_eq!(r.role_id, "3001");
        assert_eq!(r.user_id, "");
    }

    #[test]
    fn answer_becomes_expiring_credentials_and_hides_secrets() {
        let body = r#"{"RequestId":"R","AssumedRoleUser":{"Arn":"acs:ram::1:role/r/s","AssumedRoleId":"1:s"},
          "Credentials":{"AccessKeyId":"STS.abc","AccessKeySecret":"sekrit-value","SecurityToken":"tok-value","Expiration":"2026-11-27T11:00:00Z"}}"#;
        let r: AssumeRoleResponse = serde_json::from_str(body).expect("parses");
        let shown = format!("{r:?}");
        assert!(shown.contains("STS.abc"));
        assert!(
            !shown.contains("sekrit-value") && !shown.contains("tok-value"),
            "{shown}"
        );
        let c = r.credentials.into_credentials().expect("complete");
        assert_eq!(c.security_token(), Some("tok-value"));
        assert_eq!(
            c.expiration().map(|e| e.to_rfc3339()),
            Some("2026-11-27T11:00:00+00:00".to_owned())
        );
        let e = StsCredentials::default()
            .into_credentials()
            .expect_err("empty");
        assert!(e.contains("AccessKeyId"));
        let e = StsCredentials {
            access_key_id: "a".into(),
            access_key_secret: "b".into(),
            security_token: "c".into(),
            expiration: "tomorrow".into(),
        }
        .into_credentials()
        .expect_err("bad time");
        assert!(e.contains("tomorrow"));
    }
}
