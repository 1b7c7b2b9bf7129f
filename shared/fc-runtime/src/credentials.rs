//! The credentials of the request being served.
//!
//! FC hands a function its service role's STS credentials with every request (the
//! `x-fc-access-key-*` headers), and they expire. A function builds its cloud clients once, at
//! start, over a chain whose first link is a [`RequestCredentials`]; each invocation stores
//! the credentials of its [`super::Context`] in it before doing any work.

use std::fmt;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

use reimage_cloud::aliyun::Credentials;
use reimage_cloud::aliyun::credentials::{CredentialsError, CredentialsProvider};

use super::Context;

/// A credentials provider that answers with the credentials of the latest request.
#[derive(Clone, Default)]
pub struct RequestCredentials {
    current: Arc<Mutex<Option<Credentials>>>,
}

impl fmt::Debug for RequestCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.current.lock().map(|c| c.is_some()).unwrap_or(false);
        f.debug_struct("RequestCredentials")
            .field("set", &set)
            .finish()
    }
}

impl RequestCredentials {
    /// A provider with no credentials yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `credentials` from now on.
    pub fn set(&self, credentials: Credentials) {
        if let Ok(mut current) = self.current.lock() {
            *current = Some(credentials);
        }
    }

    /// Uses the credentials of `ctx`; when it carries none, answers `NotFound` until a
    /// request does, so that a chain moves on to its next link. Returns whether it had any.
    pub fn set_from(&self, ctx: &Context) -> bool {
        if let Ok(mut current) = self.current.lock() {
            current.clone_from(&ctx.credentials);
        }
        ctx.credentials.is_some()
    }
}

impl CredentialsProvider for RequestCredentials {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, CredentialsError>> {
        let current = self.current.lock().ok().and_then(|c| c.clone());
        Box::pin(async move {
            current.ok_or_else(|| CredentialsError::NotFound {
                tried: "the x-fc-access-key-* headers of the current request".into(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ControlPath;

    fn ctx(credentials: Option<Credentials>) -> Context {
        Context {
            control_path: ControlPath::Invoke,
            request_id: "r".into(),
            function_name: None,
            function_handler: None,
            service_name: None,
            region: None,
            account_id: None,
            qualifier: None,
            version_id: None,
            memory_mb: None,
            timeout_secs: None,
            base_path: None,
            credentials,
        }
    }

    #[tokio::test]
    async fn answers_the_latest_requests_credentials() {
        let provider = RequestCredentials::new();
        let err = provider.credentials().await.expect_err("nothing yet");
        assert!(err.to_string().contains("x-fc-access-key"), "{err}");

        assert!(provider.set_from(&ctx(Some(Credentials::sts("STS.one", "s1", "t1")))));
        let first = provider.credentials().await.expect("set");
        assert_eq!(first.access_key_id(), "STS.one");
        assert_eq!(first.security_token(), Some("t1"));

        // A request without credentials does not reuse the last request's.
        assert!(!provider.set_from(&ctx(None)));
        provider
            .credentials()
            .await
            .expect_err("none for this request");
        provider.set(Credentials::access_key("LTAI.two", "s2"));
        let second = provider.credentials().await.expect("set");
        assert_eq!(second.access_key_id(), "LTAI.two");
        assert_eq!(second.security_token(), None);
        assert!(!format!("{provider:?}").contains("s2"));
    }
}
