//! Secrets at rest: what a record holds in place of a webhook secret.
//!
//! A [`SecretSealer`] seals a secret for one context (the task id) and opens it again only for
//! that context, so a sealed secret copied into another task's record does not open. Two
//! sealers:
//!
//! - [`KmsSealer`], under Function Compute: KMS `Encrypt`/`Decrypt` with the key named by
//!   `REIMAGE_KMS_KEY_ID` (template.yml's `SecretsKmsKeyId` parameter), the context as KMS's
//!   `EncryptionContext` (`{"reimage:task": "<task-id>"}`). The key never leaves KMS.
//! - [`LocalSealer`], for `reimage serve` and the CLI: AES-256-GCM under a 32-byte key file
//!   (`REIMAGE_SECRETS_KEY_FILE`, else `<state-dir>.key` beside the state directory), created
//!   0600 on first use; the context is the associated data, a fresh random 96-bit nonce per
//!   seal.
//!
//! [`sealer_from_env`] picks one. Neither ever puts a plaintext secret into an error or a log.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::future::BoxFuture;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::aliyun::Client;
use crate::aliyun::kms::{DecryptRequest, EncryptRequest};
use crate::settings::Env;

/// The length of a local key file.
pub const KEY_LEN: usize = 32;

/// The AES-GCM tag length.
const TAG_LEN: usize = 16;

/// What a local seal binds besides the context, so that a ciphertext made for something else
/// under the same key does not open here.
const LOCAL_AAD_PREFIX: &[u8] = b"reimage sealed secret v1\0";

/// The `EncryptionContext` key that carries the context under KMS.
pub const KMS_CONTEXT_KEY: &str = "reimage:task";

/// Which sealer made a [`SealedSecret`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SealScheme {
    /// AES-256-GCM under a local key file.
    Local,
    /// KMS Encrypt.
    Kms,
}

impl fmt::Display for SealScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SealScheme::Local => "a local key file",
            SealScheme::Kms => "KMS",
        })
    }
}

/// A sealed secret, as records hold it. Nothing in it is secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedSecret {
    /// Who sealed it.
    pub sealed_with: SealScheme,
    /// Which key: the local key's fingerprint (the first 8 bytes of its SHA-256, hex), or the
    /// KMS key id Encrypt answered.
    pub key: String,
    /// Base64: nonce, ciphertext and tag (local), or KMS's `CiphertextBlob`.
    pub ciphertext: String,
}

/// Why a secret could not be sealed or opened. No variant carries the secret.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// No sealer is configured, so the secret can be neither stored nor read.
    #[error(
        "no key to seal secrets with: set REIMAGE_KMS_KEY_ID (KMS) or REIMAGE_SECRETS_KEY_FILE \
         (a local key file), or give a state directory"
    )]
    NoSealer,
    /// The secret was sealed by the other kind of sealer.
    #[error("the secret was sealed with {sealed}, but this process seals with {configured}")]
    OtherScheme {
        /// Who sealed it.
        sealed: SealScheme,
        /// Who is configured.
        configured: SealScheme,
    },
    /// The secret was sealed under another local key.
    #[error(
        "the secret was sealed under local key {sealed}, but the key file {path} is key {have}"
    )]
    WrongKey {
        /// The sealing key's fingerprint.
        sealed: String,
        /// This key's fingerprint.
        have: String,
        /// This key's file.
        path: String,
    },
    /// The sealed form is not well formed (not Base64, too short).
    #[error("the sealed secret is malformed: {0}")]
    Malformed(String),
    /// The ciphertext does not open for this context under this key: it was sealed for
    /// another task, or altered.
    #[error(
        "the sealed secret does not open for {context}: it was sealed for another task, or altered"
    )]
    Rejected {
        /// The context it was opened for.
        context: String,
    },
    /// The key file cannot be read or created.
    #[error("secrets key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// KMS refused or failed.
    #[error("KMS {action} failed: {message}")]
    Kms {
        /// `Encrypt` or `Decrypt`.
        action: &'static str,
        /// The cloud's error (it never contains the plaintext).
        message: String,
    },
}

/// Seals secrets for a context and opens them for the same context only.
pub trait SecretSealer: Send + Sync + fmt::Debug + 'static {
    /// Seals `plaintext` for `context`.
    fn seal<'a>(
        &'a self,
        plaintext: &'a [u8],
        context: &'a str,
    ) -> BoxFuture<'a, Result<SealedSecret, SealError>>;

    /// Opens `sealed` for `context`.
    fn open<'a>(
        &'a self,
        sealed: &'a SealedSecret,
        context: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u8>, SealError>>;
}

/// Shared handle to a sealer.
pub type SharedSealer = Arc<dyn SecretSealer>;

fn local_aad(context: &str) -> Vec<u8> {
    let mut aad = LOCAL_AAD_PREFIX.to_vec();
    aad.extend_from_slice(context.as_bytes());
    aad
}

/// The fingerprint of a local key: the first 8 bytes of its SHA-256, hex.
fn fingerprint(key: &[u8; KEY_LEN]) -> String {
    hex::encode(&Sha256::digest(key)[..8])
}

/// AES-256-GCM under a 32-byte key file, created 0600 on first use.
pub struct LocalSealer {
    path: PathBuf,
    key: Mutex<Option<[u8; KEY_LEN]>>,
    rng: SystemRandom,
}

impl fmt::Debug for LocalSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSealer")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LocalSealer {
    /// A sealer whose key is the file at `path`; the file is read (or created) on first use.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            key: Mutex::new(None),
            rng: SystemRandom::new(),
        }
    }

    /// A sealer with this key (tests).
    pub fn with_key(key: [u8; KEY_LEN]) -> Self {
        Self {
            path: PathBuf::from("<in memory>"),
            key: Mutex::new(Some(key)),
            rng: SystemRandom::new(),
        }
    }

    /// The key file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn key(&self) -> Result<[u8; KEY_LEN], SealError> {
        let mut slot = self.key.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = *slot {
            return Ok(key);
        }
        let key = load_or_create_key(&self.path, &self.rng)?;
        *slot = Some(key);
        Ok(key)
    }

    fn seal_now(&self, plaintext: &[u8], context: &str) -> Result<SealedSecret, SealError> {
        let key = self.key()?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| SealError::Malformed("the system random generator failed".into()))?;
        let sealing = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &key)
                .map_err(|_| SealError::Malformed("the key is not an AES-256 key".into()))?,
        );
        let mut buf = plaintext.to_vec();
        sealing
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(local_aad(context)),
                &mut buf,
            )
            .map_err(|_| SealError::Malformed("the plaintext is too long".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(SealedSecret {
            sealed_with: SealScheme::Local,
            key: fingerprint(&key),
            ciphertext: BASE64.encode(out),
        })
    }

    fn open_now(&self, sealed: &SealedSecret, context: &str) -> Result<Vec<u8>, SealError> {
        if sealed.sealed_with != SealScheme::Local {
            return Err(SealError::OtherScheme {
                sealed: sealed.sealed_with,
                configured: SealScheme::Local,
            });
        }
        let key = self.key()?;
        let have = fingerprint(&key);
        if sealed.key != have {
            return Err(SealError::WrongKey {
                sealed: sealed.key.clone(),
                have,
                path: self.path.display().to_string(),
            });
        }
        let bytes = BASE64
            .decode(sealed.ciphertext.as_bytes())
            .map_err(|e| SealError::Malformed(format!("ciphertext is not Base64: {e}")))?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Malformed(format!(
                "ciphertext is {} bytes, shorter than a nonce and a tag ({})",
                bytes.len(),
                NONCE_LEN + TAG_LEN
            )));
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| SealError::Malformed("bad nonce".into()))?;
        let opening = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &key)
                .map_err(|_| SealError::Malformed("the key is not an AES-256 key".into()))?,
        );
        let mut buf = rest.to_vec();
        let plain = opening
            .open_in_place(nonce, Aad::from(local_aad(context)), &mut buf)
            .map_err(|_| SealError::Rejected {
                context: context.to_owned(),
            })?;
        Ok(plain.to_vec())
    }
}

impl SecretSealer for LocalSealer {
    fn seal<'a>(
        &'a self,
        plaintext: &'a [u8],
        context: &'a str,
    ) -> BoxFuture<'a, Result<SealedSecret, SealError>> {
        Box::pin(async move { self.seal_now(plaintext, context) })
    }

    fn open<'a>(
        &'a self,
        sealed: &'a SealedSecret,
        context: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u8>, SealError>> {
        Box::pin(async move { self.open_now(sealed, context) })
    }
}

fn key_file_error(path: &Path, reason: impl fmt::Display) -> SealError {
    SealError::KeyFile {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn read_key(path: &Path) -> Result<[u8; KEY_LEN], SealError> {
    let bytes = std::fs::read(path).map_err(|e| key_file_error(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| key_file_error(path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(key_file_error(
                path,
                format!(
                    "is readable by others (mode {:o}); make it 0600 (chmod 600)",
                    mode & 0o777
                ),
            ));
        }
    }
    bytes.try_into().map_err(|b: Vec<u8>| {
        key_file_error(
            path,
            format!(
                "holds {} bytes; a key file holds exactly {KEY_LEN}",
                b.len()
            ),
        )
    })
}

/// Reads the key at `path`, or creates it (0600, in a 0700 directory if the directory is
/// new). Two processes creating it at once agree on one key: each writes its own temporary
/// file and links it into place, and the one that loses reads the winner's.
fn load_or_create_key(path: &Path, rng: &SystemRandom) -> Result<[u8; KEY_LEN], SealError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => return read_key(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(key_file_error(path, e)),
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(|e| key_file_error(path, e))?;
    }
    let mut key = [0u8; KEY_LEN];
    rng.fill(&mut key)
        .map_err(|_| key_file_error(path, "the system random generator failed"))?;
    let mut tag = [0u8; 8];
    rng.fill(&mut tag)
        .map_err(|_| key_file_error(path, "the system random generator failed"))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", hex::encode(tag)));
    let written = (|| -> std::io::Result<()> {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(&key)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(key_file_error(path, e));
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key(path),
        Err(e) => Err(key_file_error(path, e)),
    }
}

/// KMS `Encrypt`/`Decrypt` with one key.
#[derive(Debug, Clone)]
pub struct KmsSealer {
    client: Client,
    key_id: String,
}

impl KmsSealer {
    /// Seals with `key_id` (an id, `alias/…` or ARN) through `client`.
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }

    fn context(context: &str) -> std::collections::BTreeMap<String, String> {
        std::collections::BTreeMap::from([(KMS_CONTEXT_KEY.to_owned(), context.to_owned())])
    }
}

fn kms_error(action: &'static str, err: &crate::aliyun::Error) -> SealError {
    SealError::Kms {
        action,
        message: crate::report::chain(err),
    }
}

impl SecretSealer for KmsSealer {
    fn seal<'a>(
        &'a self,
        plaintext: &'a [u8],
        context: &'a str,
    ) -> BoxFuture<'a, Result<SealedSecret, SealError>> {
        Box::pin(async move {
            let answer = self
                .client
                .kms()
                .encrypt(&EncryptRequest {
                    key_id: self.key_id.clone(),
                    // KMS takes text; Base64 carries any bytes.
                    plaintext: BASE64.encode(plaintext),
                    encryption_context: Self::context(context),
                })
                .await
                .map_err(|e| kms_error("Encrypt", &e))?;
            if answer.ciphertext_blob.is_empty() {
                return Err(SealError::Kms {
                    action: "Encrypt",
                    message: "the answer has no CiphertextBlob".into(),
                });
            }
            Ok(SealedSecret {
                sealed_with: SealScheme::Kms,
                key: if answer.key_id.is_empty() {
                    self.key_id.clone()
                } else {
                    answer.key_id
                },
                ciphertext: answer.ciphertext_blob,
            })
        })
    }

    fn open<'a>(
        &'a self,
        sealed: &'a SealedSecret,
        context: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u8>, SealError>> {
        Box::pin(async move {
            if sealed.sealed_with != SealScheme::Kms {
                return Err(SealError::OtherScheme {
                    sealed: sealed.sealed_with,
                    configured: SealScheme::Kms,
                });
            }
            let answer = self
                .client
                .kms()
                .decrypt(&DecryptRequest {
                    ciphertext_blob: sealed.ciphertext.clone(),
                    encryption_context: Self::context(context),
                })
                .await
                .map_err(|e| kms_error("Decrypt", &e))?;
            BASE64.decode(answer.plaintext.as_bytes()).map_err(|_| {
                SealError::Malformed("KMS answered a Plaintext that is not Base64".into())
            })
        })
    }
}

/// The local key file of a state directory: `<state-dir>.key`, beside it (so that copying
/// or backing up the state directory does not copy the key with it).
pub fn key_file_beside(state_dir: &Path) -> PathBuf {
    let name = state_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != "." && n != "..")
        .unwrap_or_else(|| "reimage-state".to_owned());
    let parent = state_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    parent.join(format!("{name}.key"))
}

/// The sealer the environment asks for:
///
/// | variable | sealer |
/// |---|---|
/// | `REIMAGE_KMS_KEY_ID` | [`KmsSealer`] with that key, through the client `kms` builds |
/// | `REIMAGE_SECRETS_KEY_FILE` | [`LocalSealer`] with that file |
/// | neither, with a `state_dir` | [`LocalSealer`] with [`key_file_beside`] the state directory |
/// | neither, no `state_dir` | none: storing a webhook secret is refused |
pub fn sealer_from_env<E>(
    env: &Env,
    state_dir: Option<&Path>,
    kms: impl FnOnce() -> Result<Client, E>,
) -> Result<Option<SharedSealer>, E> {
    if let Some(key_id) = env.get("REIMAGE_KMS_KEY_ID") {
        return Ok(Some(Arc::new(KmsSealer::new(kms()?, key_id))));
    }
    if let Some(file) = env.get("REIMAGE_SECRETS_KEY_FILE") {
        return Ok(Some(Arc::new(LocalSealer::at(file))));
    }
    Ok(state_dir.map(|dir| Arc::new(LocalSealer::at(key_file_beside(dir))) as SharedSealer))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef-webhook";

    #[tokio::test]
    async fn local_round_trip_binds_the_context_and_the_key() {
        let sealer = LocalSealer::with_key([7; KEY_LEN]);
        let sealed = sealer.seal(SECRET, "task-a").await.unwrap();
        assert_eq!(sealed.sealed_with, SealScheme::Local);
        let raw = serde_json::to_string(&sealed).unwrap();
        assert!(!raw.contains("0123456789abcdef"), "{raw}");
        assert_eq!(sealer.open(&sealed, "task-a").await.unwrap(), SECRET);
        // A fresh nonce each time: the same secret seals differently.
        let again = sealer.seal(SECRET, "task-a").await.unwrap();
        assert_ne!(again.ciphertext, sealed.ciphertext);

        // Moved to another task: refused.
        let err = sealer.open(&sealed, "task-b").await.unwrap_err();
        assert!(matches!(err, SealError::Rejected { .. }), "{err}");
        assert!(err.to_string().contains("task-b"));

        // Another key: refused by fingerprint, before any decryption.
        let other = LocalSealer::with_key([8; KEY_LEN]);
        let err = other.open(&sealed, "task-a").await.unwrap_err();
        assert!(matches!(err, SealError::WrongKey { .. }), "{err}");
        // Another key that claims the fingerprint: refused by the tag.
        let mut forged = other.seal(SECRET, "task-a").await.unwrap();
        forged.key = sealed.key.clone();
        assert!(matches!(
            sealer.open(&forged, "task-a").await.unwrap_err(),
            SealError::Rejected { .. }
        ));
    }

    #[tokio::test]
    async fn local_refuses_altered_truncated_and_foreign_ciphertexts() {
        let sealer = LocalSealer::with_key([7; KEY_LEN]);
        let sealed = sealer.seal(SECRET, "task-a").await.unwrap();
        let bytes = BASE64.decode(&sealed.ciphertext).unwrap();

        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let altered = SealedSecret {
            ciphertext: BASE64.encode(&flipped),
            ..sealed.clone()
        };
        assert!(matches!(
            sealer.open(&altered, "task-a").await.unwrap_err(),
            SealError::Rejected { .. }
        ));

        let cut = SealedSecret {
            ciphertext: BASE64.encode(&bytes[..bytes.len() - 1]),
            ..sealed.clone()
        };
        assert!(matches!(
            sealer.open(&cut, "task-a").await.unwrap_err(),
            SealError::Rejected { .. }
        ));
        let short = SealedSecret {
            ciphertext: BASE64.encode(&bytes[..NONCE_LEN + TAG_LEN - 1]),
            ..sealed.clone()
        };
        let err = sealer.open(&short, "task-a").await.unwrap_err();
        assert!(matches!(err, SealError::Malformed(_)), "{err}");
        let garbage = SealedSecret {
            ciphertext: "not base64!".into(),
            ..sealed.clone()
        };
        assert!(matches!(
            sealer.open(&garbage, "task-a").await.unwrap_err(),
            SealError::Malformed(_)
        ));
        let kms = SealedSecret {
            sealed_with: SealScheme::Kms,
            ..sealed
        };
        assert!(matches!(
            sealer.open(&kms, "task-a").await.unwrap_err(),
            SealError::OtherScheme { .. }
        ));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn key_file_is_created_0600_once_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let path = key_file_beside(&state);
        assert_eq!(path, dir.path().join("state.key"));
        assert!(!path.exists());

        let first = LocalSealer::at(&path);
        let sealed = first.seal(SECRET, "t").await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).unwrap().len(), KEY_LEN);
        // Only the key file is left: no temporary file.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        // Another process (a new sealer) reads the same key.
        let second = LocalSealer::at(&path);
        assert_eq!(second.open(&sealed, "t").await.unwrap(), SECRET);

        // A key file others can read is refused, naming the fix.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = LocalSealer::at(&path).open(&sealed, "t").await.unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        // A key file of the wrong length is refused, naming the length.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, b"short").unwrap();
        let err = LocalSealer::at(&path).seal(SECRET, "t").await.unwrap_err();
        assert!(err.to_string().contains("holds 5 bytes"), "{err}");
    }

    #[test]
    fn the_environment_picks_the_sealer() {
        let no_kms = || -> Result<Client, String> { Err("no client wanted".into()) };
        let env = Env::from_pairs([("REIMAGE_SECRETS_KEY_FILE", "/etc/reimage/secrets.key")]);
        let sealer = sealer_from_env(&env, Some(Path::new("/var/lib/r")), no_kms)
            .unwrap()
            .unwrap();
        assert!(format!("{sealer:?}").contains("/etc/reimage/secrets.key"));
        let sealer = sealer_from_env(&Env::default(), Some(Path::new("/var/lib/r")), no_kms)
            .unwrap()
            .unwrap();
        assert!(format!("{sealer:?}").contains("/var/lib/r.key"));
        assert!(
            sealer_from_env(&Env::default(), None, no_kms)
                .unwrap()
                .is_none()
        );
        let env = Env::from_pairs([("REIMAGE_KMS_KEY_ID", "alias/reimage")]);
        assert_eq!(
            sealer_from_env(&env, None, no_kms).unwrap_err(),
            "no client wanted"
        );
    }
}
