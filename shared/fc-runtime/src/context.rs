//! What Function Compute tells a handler about the current request: the `x-fc-*` headers
//! (<https://www.alibabacloud.com/help/doc-detail/425057.htm>), with the instance environment as
//! the fallback for what describes the function.

use http::HeaderMap;

use reimage_cloud::aliyun::Credentials;
use reimage_cloud::settings::Env;

use super::control::ControlPath;

/// Header names FC sends with every request to a custom runtime.
pub mod headers {
    /// The invocation's request id, used in the log markers.
    pub const REQUEST_ID: &str = "x-fc-request-id";
    /// Temporary AccessKey id of the service role.
    pub const ACCESS_KEY_ID: &str = "x-fc-access-key-id";
    /// Temporary AccessKey secret of the service role.
    pub const ACCESS_KEY_SECRET: &str = "x-fc-access-key-secret";
    /// STS security token of the service role.
    pub const SECURITY_TOKEN: &str = "x-fc-security-token";
    /// The function's name.
    pub const FUNCTION_NAME: &str = "x-fc-function-name";
    /// The function's `Handler` property.
    pub const FUNCTION_HANDLER: &str = "x-fc-function-handler";
    /// The function's memory in MB.
    pub const FUNCTION_MEMORY: &str = "x-fc-function-memory";
    /// The function's timeout in seconds.
    pub const FUNCTION_TIMEOUT: &str = "x-fc-function-timeout";
    /// The service's name (FC 2.0).
    pub const SERVICE_NAME: &str = "x-fc-service-name";
    /// The region id, e.g. `cn-hangzhou`.
    pub const REGION: &str = "x-fc-region";
    /// The owner account's id.
    pub const ACCOUNT_ID: &str = "x-fc-account-id";
    /// The alias or version invoked, e.g. `LATEST`.
    pub const QUALIFIER: &str = "x-fc-qualifier";
    /// The version id invoked.
    pub const VERSION_ID: &str = "x-fc-version-id";
    /// HTTP trigger only: the path prefix FC put in front of the client's path.
    pub const BASE_PATH: &str = "x-fc-base-path";
    /// Set by the runtime on its answer: `404` marks a failed invocation.
    pub const STATUS: &str = "x-fc-status";
}

/// Everything a handler learns about the request it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// What FC asked for.
    pub control_path: ControlPath,
    /// The request id (`x-fc-request-id`); every log line of the request carries it.
    pub request_id: String,
    /// The function's name (`x-fc-function-name`, else `FC_FUNCTION_NAME`).
    pub function_name: Option<String>,
    /// The function's `Handler` property (`x-fc-function-handler`, else `FC_FUNCTION_HANDLER`).
    pub function_handler: Option<String>,
    /// The service's name (`x-fc-service-name`, else `FC_SERVICE_NAME`).
    pub service_name: Option<String>,
    /// The region id (`x-fc-region`, else `FC_REGION`).
    pub region: Option<String>,
    /// The owner account id (`x-fc-account-id`, else `FC_ACCOUNT_ID`).
    pub account_id: Option<String>,
    /// The qualifier invoked (`x-fc-qualifier`).
    pub qualifier: Option<String>,
    /// The version id invoked (`x-fc-version-id`).
    pub version_id: Option<String>,
    /// Memory in MB (`x-fc-function-memory`, else `FC_FUNCTION_MEMORY_SIZE`).
    pub memory_mb: Option<u32>,
    /// Timeout in seconds (`x-fc-function-timeout`).
    pub timeout_secs: Option<u32>,
    /// HTTP trigger only: the prefix FC put before the client's path (`x-fc-base-path`).
    pub base_path: Option<String>,
    /// The service role's credentials, from the `x-fc-access-key-id`, `x-fc-access-key-secret`
    /// and `x-fc-security-token` headers. FC sends them with every request; without them, a
    /// function's credential chain goes on to its environment.
    pub credentials: Option<Credentials>,
}

/// Why the headers of a request could not be read into a [`Context`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// A header every request must carry is absent.
    #[error("the request has no `{0}` header")]
    MissingHeader(&'static str),
    /// A header is present but unusable.
    #[error("the `{name}` header is invalid: {reason}")]
    InvalidHeader {
        /// The header's name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Only half of an AccessKey pair arrived.
    #[error("the request carries `{present}` but not `{missing}`")]
    PartialCredentials {
        /// The credential header that is present.
        present: &'static str,
        /// The one that should accompany it.
        missing: &'static str,
    },
}

impl Context {
    /// Reads the context of a request FC sent for `control_path`, falling back to `env` for
    /// what the headers do not say.
    pub fn from_headers(
        control_path: ControlPath,
        map: &HeaderMap,
        env: &Env,
    ) -> Result<Self, ContextError> {
        let request_id = header(map, headers::REQUEST_ID)?
            .ok_or(ContextError::MissingHeader(headers::REQUEST_ID))?;
        let or_env = |name: &'static str, var: &str| -> Result<Option<String>, ContextError> {
            Ok(header(map, name)?.or_else(|| env.get(var).map(str::to_owned)))
        };
        Ok(Self {
            control_path,
            request_id,
            function_name: or_env(headers::FUNCTION_NAME, "FC_FUNCTION_NAME")?,
            function_handler: or_env(headers::FUNCTION_HANDLER, "FC_FUNCTION_HANDLER")?,
            service_name: or_env(headers::SERVICE_NAME, "FC_SERVICE_NAME")?,
            region: or_env(headers::REGION, "FC_REGION")?,
            account_id: or_env(headers::ACCOUNT_ID, "FC_ACCOUNT_ID")?,
            qualifier: header(map, headers::QUALIFIER)?,
            version_id: header(map, headers::VERSION_ID)?,
            memory_mb: number(
                headers::FUNCTION_MEMORY,
                or_env(headers::FUNCTION_MEMORY, "FC_FUNCTION_MEMORY_SIZE")?,
            )?,
            timeout_secs: number(
                headers::FUNCTION_TIMEOUT,
                header(map, headers::FUNCTION_TIMEOUT)?,
            )?,
            base_path: header(map, headers::BASE_PATH)?,
            credentials: credentials(map)?,
        })
    }
}

/// The value of header `name`, trimmed; `None` when absent or empty.
fn header(map: &HeaderMap, name: &'static str) -> Result<Option<String>, ContextError> {
    let Some(value) = map.get(name) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| ContextError::InvalidHeader {
        name,
        reason: "it is not visible ASCII".to_owned(),
    })?;
    let text = text.trim();
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

fn number(name: &'static str, value: Option<String>) -> Result<Option<u32>, ContextError> {
    value
        .map(|v| {
            v.parse::<u32>().map_err(|_| ContextError::InvalidHeader {
                name,
                reason: format!("{v:?} is not a whole number"),
            })
        })
        .transpose()
}

fn credentials(map: &HeaderMap) -> Result<Option<Credentials>, ContextError> {
    let id = header(map, headers::ACCESS_KEY_ID)?;
    let secret = header(map, headers::ACCESS_KEY_SECRET)?;
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Some(match header(map, headers::SECURITY_TOKEN)? {
            Some(token) => Credentials::sts(id, secret, token),
            None => Credentials::access_key(id, secret),
        })),
        (Some(_), None) => Err(ContextError::PartialCredentials {
            present: headers::ACCESS_KEY_ID,
            missing: headers::ACCESS_KEY_SECRET,
        }),
        (None, Some(_)) => Err(ContextError::PartialCredentials {
            present: headers::ACCESS_KEY_SECRET,
            missing: headers::ACCESS_KEY_ID,
        }),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn map(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_str(v).expect("test header value"));
        }
        m
    }

    #[test]
    fn headers_fill_every_field() {
        let m = map(&[
            (headers::REQUEST_ID, "req-1"),
            (headers::FUNCTION_NAME, "wait-image"),
            (headers::FUNCTION_HANDLER, "bootstrap"),
            (headers::SERVICE_NAME, "reimage"),
            (headers::REGION, "cn-hangzhou"),
            (headers::ACCOUNT_ID, "1234567890"),
            (headers::QUALIFIER, "LATEST"),
            (headers::VERSION_ID, "3"),
            (headers::FUNCTION_MEMORY, "128"),
            (headers::FUNCTION_TIMEOUT, "60"),
            (headers::ACCESS_KEY_ID, "STS.id"),
            (headers::ACCESS_KEY_SECRET, "header-secret"),
            (headers::SECURITY_TOKEN, "header-token"),
        ]);
        let env = Env::from_pairs([
            ("FC_FUNCTION_NAME", "from-env"),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "env-id"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret"),
        ]);
        let ctx = Context::from_headers(ControlPath::Invoke, &m, &env).expect("valid headers");
        assert_eq!(ctx.request_id, "req-1");
        assert_eq!(ctx.function_name.as_deref(), Some("wait-image"));
        assert_eq!(ctx.function_handler.as_deref(), Some("bootstrap"));
        assert_eq!(ctx.service_name.as_deref(), Some("reimage"));
        assert_eq!(ctx.region.as_deref(), Some("cn-hangzhou"));
        assert_eq!(ctx.account_id.as_deref(), Some("1234567890"));
        assert_eq!(ctx.qualifier.as_deref(), Some("LATEST"));
        assert_eq!(ctx.version_id.as_deref(), Some("3"));
        assert_eq!(ctx.memory_mb, Some(128));
        assert_eq!(ctx.timeout_secs, Some(60));
        let creds = ctx.credentials.expect("credentials from headers");
        assert_eq!(creds.access_key_id(), "STS.id");
        assert_eq!(creds.secret(), "header-secret");
        assert_eq!(creds.security_token(), Some("header-token"));
    }

    #[test]
    fn environment_fills_what_the_headers_leave_out() {
        let m = map(&[(headers::REQUEST_ID, "req-2")]);
        let env = Env::from_pairs([
            ("FC_FUNCTION_NAME", "verify"),
            ("FC_SERVICE_NAME", "reimage"),
            ("FC_REGION", "cn-shanghai"),
            ("FC_ACCOUNT_ID", "42"),
            ("FC_FUNCTION_MEMORY_SIZE", "256"),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "env-id"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret"),
        ]);
        let ctx = Context::from_headers(ControlPath::Invoke, &m, &env).expect("valid headers");
        assert_eq!(ctx.function_name.as_deref(), Some("verify"));
        assert_eq!(ctx.service_name.as_deref(), Some("reimage"));
        assert_eq!(ctx.region.as_deref(), Some("cn-shanghai"));
        assert_eq!(ctx.account_id.as_deref(), Some("42"));
        assert_eq!(ctx.memory_mb, Some(256));
        assert_eq!(ctx.qualifier, None);
        // The environment's credentials are the chain's next link, not the request's.
        assert_eq!(ctx.credentials, None);
    }

    #[test]
    fn no_credential_headers_is_none() {
        let m = map(&[(headers::REQUEST_ID, "req-3")]);
        let ctx =
            Context::from_headers(ControlPath::Invoke, &m, &Env::default()).expect("valid headers");
        assert_eq!(ctx.credentials, None);
    }

    #[test]
    fn missing_request_id_is_an_error_naming_the_header() {
        let err = Context::from_headers(ControlPath::Invoke, &HeaderMap::new(), &Env::default())
            .expect_err("no request id");
        assert_eq!(err, ContextError::MissingHeader("x-fc-request-id"));
        assert!(err.to_string().contains("x-fc-request-id"));
    }

    #[test]
    fn malformed_memory_is_an_error_naming_the_header() {
        let m = map(&[
            (headers::REQUEST_ID, "r"),
            (headers::FUNCTION_MEMORY, "lots"),
        ]);
        let err = Context::from_headers(ControlPath::Invoke, &m, &Env::default())
            .expect_err("bad memory");
        assert!(err.to_string().contains("x-fc-function-memory"), "{err}");
        assert!(err.to_string().contains("lots"), "{err}");
    }

    #[test]
    fn half_a_key_pair_is_an_error_not_a_silent_fallback() {
        let m = map(&[(headers::REQUEST_ID, "r"), (headers::ACCESS_KEY_ID, "id")]);
        let env = Env::from_pairs([
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "env-id"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret"),
        ]);
        let err = Context::from_headers(ControlPath::Invoke, &m, &env).expect_err("partial");
        assert!(matches!(err, ContextError::PartialCredentials { .. }));
    }

    #[test]
    fn debug_output_never_shows_the_secret_or_token() {
        let m = map(&[
            (headers::REQUEST_ID, "r"),
            (headers::ACCESS_KEY_ID, "STS.visible"),
            (headers::ACCESS_KEY_SECRET, "hidden-secret-value"),
            (headers::SECURITY_TOKEN, "hidden-token-value"),
        ]);
        let ctx =
            Context::from_headers(ControlPath::Invoke, &m, &Env::default()).expect("valid headers");
        let shown = format!("{ctx:?}");
        assert!(shown.contains("STS.visible"));
        assert!(!shown.contains("hidden-secret-value"));
        assert!(!shown.contains("hidden-token-value"));
        assert!(shown.contains("<redacted>"));
    }
}
