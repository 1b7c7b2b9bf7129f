//! The one place that reads the process environment.
//!
//! [`Env`] is a snapshot of the variables reimage cares about, taken once at start-up by
//! the binaries ([`Env::from_process`]) and built from a map in tests ([`Env::from_pairs`]),
//! so no test ever sets a process-wide variable.

use std::collections::BTreeMap;

/// A read-only view of environment variables.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// Snapshot of the current process environment (variables that are not UTF-8 are skipped).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment holding exactly these pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `name`, if set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The state directory of the file store: `flag` (`--state-dir`) if given, else
    /// `REIMAGE_STATE_DIR`, else `./.reimage`.
    pub fn state_dir(&self, flag: Option<&std::path::Path>) -> std::path::PathBuf {
        match (flag, self.get("REIMAGE_STATE_DIR")) {
            (Some(flag), _) => flag.to_path_buf(),
            (None, Some(dir)) => std::path::PathBuf::from(dir),
            (None, None) => std::path::PathBuf::from(".reimage"),
        }
    }

    /// The user's home directory (`HOME`).
    pub fn home(&self) -> Option<std::path::PathBuf> {
        self.get("HOME").map(std::path::PathBuf::from)
    }
}

/// Prints the variable names only: any value may be a secret (an AccessKey secret, a token,
/// a webhook secret passed through `--webhook-secret-env`), and no list of secret names can
/// be complete.
impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Env").field(&self.vars.keys()).finish()
    }
}

/// Whether `REIMAGE_ALLOW_HTTP` allows plain `http://` endpoints other than loopback
/// (`1` or `true`): see [`crate::aliyun::ClientConfig::allow_plain_http`].
pub fn allow_plain_http(env: &Env) -> bool {
    env.get("REIMAGE_ALLOW_HTTP")
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dir_prefers_flag_then_variable_then_default() {
        use std::path::{Path, PathBuf};
        let env = Env::from_pairs([("REIMAGE_STATE_DIR", "/var/lib/reimage")]);
        assert_eq!(
            env.state_dir(Some(Path::new("/tmp/s"))),
            PathBuf::from("/tmp/s")
        );
        assert_eq!(env.state_dir(None), PathBuf::from("/var/lib/reimage"));
        let empty = Env::from_pairs([("REIMAGE_STATE_DIR", "")]);
        assert_eq!(empty.state_dir(None), PathBuf::from(".reimage"));
    }

    #[test]
    fn debug_output_shows_variable_names_only() {
        let env = Env::from_pairs([
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIvisible"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "very-secret-value"),
            ("MY_CI_HOOK_SECRET", "another-secret-value"),
        ]);
        let shown = format!("{env:?}");
        assert!(shown.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"), "{shown}");
        assert!(shown.contains("MY_CI_HOOK_SECRET"), "{shown}");
        for value in ["LTAIvisible", "very-secret-value", "another-secret-value"] {
            assert!(!shown.contains(value), "{shown}");
        }
        let pretty = format!("{env:#?}");
        assert!(!pretty.contains("another-secret-value"), "{pretty}");
        assert_eq!(
            env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
            Some("very-secret-value")
        );
    }
}
