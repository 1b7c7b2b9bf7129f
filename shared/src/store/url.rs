//! Which store to use: one setting, `REIMAGE_STORE`.
//!
//! | value | store |
//! |---|---|
//! | unset | the file store in the state directory (`--state-dir`, `REIMAGE_STATE_DIR`, `./.reimage`) |
//! | `file:///var/lib/reimage` | the file store in that directory |
//! | `oss://reimage-state/prod` | OSS bucket `reimage-state`, objects under `prod/` |
//! | `oss://reimage-state` | OSS bucket `reimage-state`, at its root |
//!
//! The OSS endpoint and credentials are not part of the value: they come from the same
//! settings as every other cloud call (`REIMAGE_OSS_ENDPOINT` / `REIMAGE_ENDPOINT`, the region,
//! the credential chain), through the OSS client handed to [`open_store`] when the store is
//! in OSS.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::file::FileStore;
use super::oss::OssStore;
use super::{SharedStore, StoreError, validate_key};
use crate::aliyun::oss::OssClient;
use crate::settings::Env;

/// Where the records live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The file store in this directory.
    File(PathBuf),
    /// An OSS bucket, under a prefix (empty, or `/`-separated segments without slashes at
    /// either end).
    Oss {
        /// The bucket name.
        bucket: String,
        /// The prefix inside the bucket.
        prefix: String,
    },
}

/// A store setting that cannot be used, or a store that cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreConfigError {
    /// `REIMAGE_STORE` is not a store location.
    #[error("REIMAGE_STORE={value:?} cannot be used: {reason}")]
    Invalid {
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store could not be opened.
    #[error("cannot open the state store {location}")]
    Open {
        /// The location, as `file://…` or `oss://…`.
        location: String,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

const FORMS: &str = "use file:///absolute/path or oss://bucket/prefix";

impl StoreLocation {
    /// Parses a `REIMAGE_STORE` value.
    pub fn parse(value: &str) -> Result<Self, StoreConfigError> {
        let bad = |reason: String| StoreConfigError::Invalid {
            value: value.to_owned(),
            reason,
        };
        if let Some(rest) = value.strip_prefix("oss://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if !valid_bucket_name(bucket) {
                return Err(bad(format!(
                    "{bucket:?} is not an OSS bucket name (3 to 63 lower-case letters, digits \
                     and `-`, starting and ending with a letter or digit)"
                )));
            }
            let prefix = prefix.trim_matches('/');
            if !prefix.is_empty() {
                if let Err(StoreError::InvalidKey { reason, .. }) = validate_key(prefix) {
                    return Err(bad(format!(
                        "the prefix {prefix:?} is not usable: {reason}"
                    )));
                }
            }
            return Ok(Self::Oss {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        if value.starts_with("file:") {
            let url = url::Url::parse(value).map_err(|e| bad(format!("{e}; {FORMS}")))?;
            if !matches!(url.host_str(), None | Some("") | Some("localhost")) {
                return Err(bad(format!(
                    "a file store takes an absolute path, with three slashes: file:///{}{}",
                    url.host_str().unwrap_or(""),
                    url.path()
                )));
            }
            let path = url
                .to_file_path()
                .map_err(|()| bad(format!("not a local path; {FORMS}")))?;
            if path == Path::new("/") {
                return Err(bad("the file store needs a directory other than /".into()));
            }
            return Ok(Self::File(path));
        }
        Err(bad(match value.split_once("://") {
            Some((scheme, _)) => format!("unknown store scheme {scheme:?}; {FORMS}"),
            None => format!("not a store URL; {FORMS}"),
        }))
    }

    /// `REIMAGE_STORE` if set, else the file store in `state_dir`.
    pub fn from_env(env: &Env, state_dir: &Path) -> Result<Self, StoreConfigError> {
        match env.get("REIMAGE_STORE") {
            Some(value) => Self::parse(value),
            None => Ok(Self::File(state_dir.to_path_buf())),
        }
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "file://{}", path.display()),
            Self::Oss { bucket, prefix } if prefix.is_empty() => write!(f, "oss://{bucket}"),
            Self::Oss { bucket, prefix } => write!(f, "oss://{bucket}/{prefix}"),
        }
    }
}

fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.first().is_some_and(|c| *c != b'-')
        && b.last().is_some_and(|c| *c != b'-')
}

/// Opens the store at `location`. `oss` makes the OSS client (usually
/// [`OssClient::from_client`] of the cloud client, so the store shares its endpoint, credentials
/// and retry policy); it is called only for an OSS location, so a file store needs no
/// credentials.
pub fn open_store<F>(location: &StoreLocation, oss: F) -> Result<SharedStore, StoreConfigError>
where
    F: FnOnce() -> Result<OssClient, Box<dyn std::error::Error + Send + Sync>>,
{
    let open_err = |source: Box<dyn std::error::Error + Send + Sync>| StoreConfigError::Open {
        location: location.to_string(),
        source,
    };
    match location {
        StoreLocation::File(dir) => {
            let store = FileStore::open(dir).map_err(|e| open_err(Box::new(e)))?;
            Ok(Arc::new(store))
        }
        StoreLocation::Oss { bucket, prefix } => {
            let client = oss().map_err(open_err)?;
            Ok(Arc::new(OssStore::new(client, bucket.clone(), prefix)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        assert_eq!(
            StoreLocation::parse("file:///var/lib/reimage").expect("valid"),
            StoreLocation::File("/var/lib/reimage".into())
        );
        assert_eq!(
            StoreLocation::parse("file://localhost/srv/state").expect("valid"),
            StoreLocation::File("/srv/state".into())
        );
        assert_eq!(
            StoreLocation::parse("oss://reimage-state/prod/eu/").expect("valid"),
            StoreLocation::Oss {
                bucket: "reimage-state".into(),
                prefix: "prod/eu".into()
            }
        );
        assert_eq!(
            StoreLocation::parse("oss://reimage-state").expect("valid"),
            StoreLocation::Oss {
                bucket: "reimage-state".into(),
                prefix: String::new()
            }
        );
    }

    #[test]
    fn each_bad_value_names_its_problem() {
        for (value, expected) in [
            ("", "not a store URL"),
            ("/var/lib/reimage", "not a store URL"),
            ("s3://bucket/x", "unknown store scheme \"s3\""),
            ("file://relative/dir", "three slashes: file:///relative/dir"),
            ("file:///", "other than /"),
            (
                "oss://Bad_Bucket/x",
                "\"Bad_Bucket\" is not an OSS bucket name",
            ),
            ("oss://", "\"\" is not an OSS bucket name"),
            (
                "oss://ok-bucket/a/../b",
                "the prefix \"a/../b\" is not usable",
            ),
            ("oss://ok-bucket/a//b", "empty path segment"),
        ] {
            let err = StoreLocation::parse(value).expect_err(value).to_string();
            assert!(
                err.contains(expected) && err.contains(&format!("{value:?}")),
                "{value:?}: {err}"
            );
        }
    }

    #[test]
    fn default_is_the_file_store_in_the_state_directory() {
        let dir = Path::new("/tmp/reimage-state");
        assert_eq!(
            StoreLocation::from_env(&Env::default(), dir).expect("default"),
            StoreLocation::File(dir.into())
        );
        let env = Env::from_pairs([("REIMAGE_STORE", "oss://b-1/p")]);
        assert_eq!(
            StoreLocation::from_env(&env, dir).expect("set"),
            StoreLocation::Oss {
                bucket: "b-1".into(),
                prefix: "p".into()
            }
        );
        let env = Env::from_pairs([("REIMAGE_STORE", "nonsense")]);
        assert!(StoreLocation::from_env(&env, dir).is_err());
    }

    #[test]
    fn locations_print_as_they_are_written() {
        for value in ["file:///var/lib/reimage", "oss://b-1/p/q", "oss://b-1"] {
            assert_eq!(
                StoreLocation::parse(value).expect("valid").to_string(),
                value
            );
        }
    }

    #[tokio::test]
    async fn a_file_location_opens_without_asking_for_credentials() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open_store(&StoreLocation::File(dir.path().join("s")), || {
            Err("credentials must not be needed".into())
        })
        .expect("opens");
        store.create("a/b.json", b"1").await.expect("created");
        assert!(dir.path().join("s/a/b.json").exists());
    }

    #[test]
    fn an_oss_location_without_access_says_why() {
        let location = StoreLocation::parse("oss://reimage-state/prod").expect("valid");
        let err =
            open_store(&location, || Err("no AccessKey configured".into())).expect_err("no access");
        let err = crate::report::chain(&err);
        assert!(
            err.contains("oss://reimage-state/prod") && err.contains("no AccessKey configured"),
            "{err}"
        );
    }
}
