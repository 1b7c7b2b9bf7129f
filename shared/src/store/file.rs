//! The file store: the embedded default, one file per record under a state directory.
//!
//! A key `executions/exec-1/000003.json` is the file `<dir>/executions/exec-1/000003.json`.
//!
//! Create-if-absent is atomic and a record is whole or absent even if the process dies
//! mid-write: the value is written to a temporary file in the record's own directory and
//! flushed to disk, then hard-linked to the record's name. `link` fails if the name exists, so
//! of two concurrent creators exactly one wins, and the record's name only ever points at a
//! complete file. Temporary names contain `#`, which no key may contain, so a temporary file
//! left behind by a crash is never listed nor read as a record. They also carry 64 random
//! bits drawn once per process, so processes that share the directory (two containers on one
//! volume are both PID 1) never pick the same temporary name.
//!
//! The state directory is created `0700` and every record `0600`: records hold who runs what,
//! where, and sealed secrets, which are nobody else's business on a shared machine.
//!
//! The directory comes from `--state-dir` or `REIMAGE_STATE_DIR` (default `./.reimage`), as
//! resolved by [`crate::settings::Env::state_dir`]; this module only takes the path.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{StateStore, StoreError, StoreFuture, validate_key};

/// Distinguishes temporary files of concurrent writers within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Distinguishes this process's temporary files from those of every other process sharing
/// the directory, whatever its pid.
static PROCESS_TAG: LazyLock<u64> = LazyLock::new(rand::random);

/// The temporary name of a record being written as `file_name`: `<name>#tmp-<process
/// tag>-<pid>-<counter>`.
fn temp_name(file_name: &str) -> String {
    format!(
        "{file_name}#tmp-{:016x}-{}-{}",
        *PROCESS_TAG,
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(unix)]
fn private_dir_builder() -> fs::DirBuilder {
    use std::os::unix::fs::DirBuilderExt as _;
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true).mode(0o700);
    builder
}

#[cfg(not(unix))]
fn private_dir_builder() -> fs::DirBuilder {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    builder
}

/// Records as files under a directory.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = dir.into();
        private_dir_builder()
            .create(&root)
            .map_err(|e| backend("open", &root.display().to_string(), &e))?;
        Ok(Self { root })
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn create_blocking(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        validate_key(key)?;
        let path = self.root.join(key);
        let dir = path.parent().unwrap_or(&self.root);
        private_dir_builder()
            .create(dir)
            .map_err(|e| backend("create", key, &e))?;
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("record");
        let temp = dir.join(temp_name(file_name));
        let mut file = match private_file(&temp) {
            Ok(file) => file,
            // A taken temporary name is somebody else's file and no taken record: leave it,
            // and never report it as `AlreadyExists`.
            Err(e) => return Err(backend("create", key, &e)),
        };
        let result = file
            .write_all(value)
            .and_then(|()| file.sync_all())
            .and_then(|()| fs::hard_link(&temp, &path));
        drop(file);
        // The temporary file is ours; whatever happened, it goes.
        let _ = fs::remove_file(&temp);
        match result {
            Ok(()) => {
                // Make the new name durable too.
                if let Ok(d) = fs::File::open(dir) {
                    let _ = d.sync_all();
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(StoreError::AlreadyExists {
                key: key.to_owned(),
            }),
            Err(e) => Err(backend("create", key, &e)),
        }
    }

    /// Removes the record `key` (gone already is fine), and the directories it leaves empty.
    /// Not part of [`StateStore`]: reimage never deletes a record at work; only
    /// `reimage records prune` removes history from a file store.
    pub fn remove(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        let path = self.root.join(key);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(backend("remove", key, &e)),
        }
        let mut dir = path.parent();
        while let Some(d) = dir {
            // Stops at the first directory that is not empty (or is the root).
            if d == self.root || fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }

    fn get_blocking(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        validate_key(key)?;
        match fs::read(self.root.join(key)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(backend("get", key, &e)),
        }
    }

    fn list_blocking(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        // The directory part of the prefix names where to start walking.
        let (dir_part, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        if !prefix.is_empty() {
            let check = prefix.strip_suffix('/').unwrap_or(prefix);
            validate_key(check)?;
        }
        let start = if dir_part.is_empty() {
            self.root.clone()
        } else {
            self.root.join(dir_part)
        };
        let mut keys = Vec::new();
        let base = if dir_part.is_empty() {
            String::new()
        } else {
            format!("{dir_part}/")
        };
        walk(&start, &base, prefix, &mut keys).map_err(|e| backend("list", prefix, &e))?;
        keys.sort();
        Ok(keys)
    }
}

/// Creates the new file `temp`, readable and writable by its owner only; fails if it exists.
fn private_file(temp: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(temp)
}

/// Collects the keys of record files under `dir` (whose key prefix is `base`) that start
/// with `prefix`, skipping anything whose name is not a legal key segment.
fn walk(dir: &Path, base: &str, prefix: &str, keys: &mut Vec<String>) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !is_key_segment(&name) {
            continue; // temporary files and anything else that is not a record
        }
        let key = format!("{base}{name}");
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            let sub = format!("{key}/");
            // Descend only where keys can still match the prefix.
            if sub.starts_with(prefix) || prefix.starts_with(&sub) {
                walk(&entry.path(), &sub, prefix, keys)?;
            }
        } else if file_type.is_file() && key.starts_with(prefix) {
            keys.push(key);
        }
    }
    Ok(())
}

fn is_key_segment(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn backend(op: &'static str, key: &str, e: &io::Error) -> StoreError {
    StoreError::Backend {
        op,
        key: key.to_owned(),
        message: e.to_string(),
        transient: matches!(
            e.kind(),
            io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    op: &'static str,
    key: &str,
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend {
            op,
            key: key.to_owned(),
            message: format!("file store worker failed: {e}"),
            transient: true,
        })?
}

impl StateStore for FileStore {
    fn create<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StoreFuture<'a, ()> {
        let store = self.clone();
        let (k, v) = (key.to_owned(), value.to_vec());
        Box::pin(blocking("create", key, move || {
            store.create_blocking(&k, &v)
        }))
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        let store = self.clone();
        let k = key.to_owned();
        Box::pin(blocking("get", key, move || store.get_blocking(&k)))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<String>> {
        let store = self.clone();
        let p = prefix.to_owned();
        Box::pin(blocking("list", prefix, move || store.list_blocking(&p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn store() -> (tempfile::TempDir, FileStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path().join("state")).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn create_get_and_refuse_overwrite() {
        let (_dir, store) = store();
        store
            .create("executions/e-1/000000.json", b"first")
            .await
            .unwrap();
        let err = store
            .create("executions/e-1/000000.json", b"second")
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::AlreadyExists { ref key } if key == "executions/e-1/000000.json")
        );
        assert_eq!(
            store
                .get("executions/e-1/000000.json")
                .await
                .unwrap()
                .as_deref(),
            Some(&b"first"[..])
        );
        assert_eq!(store.get("executions/e-1/000001.json").await.unwrap(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_creators_of_one_key_exactly_one_wins() {
        let (_dir, store) = store();
        let store = Arc::new(store);
        let mut handles = Vec::new();
        for i in 0..16u8 {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                let value = vec![i; 4096];
                store
                    .create("tasks/t-1/000001.json", &value)
                    .await
                    .map(|()| i)
            }));
        }
        let mut winners = Vec::new();
        for handle in handles {
            match handle.await.unwrap() {
                Ok(i) => winners.push(i),
                Err(StoreError::AlreadyExists { .. }) => {}
                Err(other) => panic!("unexpected {other}"),
            }
        }
        assert_eq!(winners.len(), 1, "winners: {winners:?}");
        let stored = store.get("tasks/t-1/000001.json").await.unwrap().unwrap();
        assert_eq!(stored, vec![winners[0]; 4096]);
        // No temporary file is left behind by winners or losers.
        let names: Vec<_> = fs::read_dir(store.root().join("tasks/t-1"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["000001.json".to_owned()]);
    }

    #[tokio::test]
    async fn leftover_temp_file_of_a_crashed_write_is_not_a_record() {
        let (_dir, store) = store();
        store
            .create("executions/e-1/000000.json", b"{}")
            .await
            .unwrap();
        // What a writer that died between writing and linking leaves behind.
        let leftover = store.root().join("executions/e-1/000001.json#tmp-999-0");
        fs::write(&leftover, b"{\"half").unwrap();
        assert_eq!(
            store.list("executions/").await.unwrap(),
            vec!["executions/e-1/000000.json".to_owned()]
        );
        assert_eq!(store.get("executions/e-1/000001.json").await.unwrap(), None);
        // And the record can still be created afterwards.
        store
            .create("executions/e-1/000001.json", b"whole")
            .await
            .unwrap();
        assert_eq!(
            store
                .get("executions/e-1/000001.json")
                .await
                .unwrap()
                .as_deref(),
            Some(&b"whole"[..])
        );
    }

    #[tokio::test]
    async fn list_by_prefix_is_sorted_and_exact() {
        let (_dir, store) = store();
        for key in [
            "executions/exec-2/000001.json",
            "executions/exec-10/000000.json",
            "executions/exec-2/000000.json",
            "executions/exec-1/000000.json",
            "tasks/t-1/000000.json",
        ] {
            store.create(key, b"x").await.unwrap();
        }
        assert_eq!(
            store.list("executions/exec-2/").await.unwrap(),
            vec![
                "executions/exec-2/000000.json".to_owned(),
                "executions/exec-2/000001.json".to_owned()
            ]
        );
        assert_eq!(
            store.list("executions/exec-1").await.unwrap(),
            vec![
                "executions/exec-1/000000.json".to_owned(),
                "executions/exec-10/000000.json".to_owned()
            ]
        );
        assert_eq!(store.list("").await.unwrap().len(), 5);
        assert_eq!(store.list("nothing/").await.unwrap(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn illegal_keys_are_refused_before_touching_disk() {
        let (_dir, store) = store();
        for key in ["", "../escape", "a//b", "a/./b", "a b", "/abs", "a#b"] {
            let err = store.create(key, b"x").await.unwrap_err();
            assert!(matches!(err, StoreError::InvalidKey { .. }), "{key}: {err}");
            assert!(matches!(
                store.get(key).await.unwrap_err(),
                StoreError::InvalidKey { .. }
            ));
        }
        assert!(matches!(
            store.list("../").await.unwrap_err(),
            StoreError::InvalidKey { .. }
        ));
        assert!(!store.root().parent().unwrap().join("escape").exists());
    }

    #[tokio::test]
    async fn records_survive_reopening() {
        let (dir, store) = store();
        store.create("tasks/t/000000.json", b"kept").await.unwrap();
        let again = FileStore::open(dir.path().join("state")).unwrap();
        assert_eq!(
            again.get("tasks/t/000000.json").await.unwrap().as_deref(),
            Some(&b"kept"[..])
        );
    }
}

#[cfg(all(test, unix))]
mod private_tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("exists").permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn the_state_directory_is_0700_and_records_0600() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("state");
        let store = FileStore::open(&root).expect("opens");
        store
            .create("executions/exec-1/000000.json", b"{}")
            .await
            .expect("created");
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("executions")), 0o700);
        assert_eq!(mode(&root.join("executions/exec-1")), 0o700);
        assert_eq!(mode(&root.join("executions/exec-1/000000.json")), 0o600);
    }

    #[tokio::test]
    async fn a_temporary_name_taken_by_another_process_is_not_a_taken_record() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FileStore::open(dir.path()).expect("opens");
        // Another process sharing the volume, with the same pid and counter as ours: its
        // temporary file sits where a pid-and-counter-only name would put ours.
        let record_dir = dir.path().join("tasks/t-1");
        fs::create_dir_all(&record_dir).expect("dir");
        let theirs = record_dir.join(format!(
            "0000000000.json#tmp-{}-{}",
            std::process::id(),
            TEMP_COUNTER.load(Ordering::Relaxed)
        ));
        fs::write(&theirs, b"half a record").expect("their temp file");
        store
            .create("tasks/t-1/0000000000.json", b"{\"whole\":true}")
            .await
            .expect("our record is written beside their temporary file");
        assert_eq!(
            store.get("tasks/t-1/0000000000.json").await.expect("read"),
            Some(b"{\"whole\":true}".to_vec())
        );
        assert!(theirs.exists(), "their temporary file is left alone");
        // Two names drawn in one process differ; so do those of two processes, by the tag.
        assert_ne!(temp_name("x"), temp_name("x"));
        assert!(temp_name("x").starts_with(&format!("x#tmp-{:016x}-", *PROCESS_TAG)));
    }
}
