//! An in-memory store for unit tests: the same rules as the others, nothing kept.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{StateStore, StoreError, StoreFuture, validate_key};

/// Records in a map behind a lock.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn records(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl StateStore for MemoryStore {
    fn create<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            validate_key(key)?;
            let mut records = self.records();
            if records.contains_key(key) {
                return Err(StoreError::AlreadyExists {
                    key: key.to_owned(),
                });
            }
            records.insert(key.to_owned(), value.to_vec());
            Ok(())
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            validate_key(key)?;
            Ok(self.records().get(key).cloned())
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            if !prefix.is_empty() {
                validate_key(prefix.strip_suffix('/').unwrap_or(prefix))?;
            }
            Ok(self
                .records()
                .range(prefix.to_owned()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, _)| k.clone())
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_creators_of_one_key_exactly_one_wins() {
        let store = Arc::new(MemoryStore::new());
        let handles: Vec<_> = (0..16u8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { store.create("k/1", &[i]).await.map(|()| i) })
            })
            .collect();
        let mut winners = Vec::new();
        for handle in handles {
            if let Ok(i) = handle.await.unwrap() {
                winners.push(i);
            }
        }
        assert_eq!(winners.len(), 1);
        assert_eq!(store.get("k/1").await.unwrap(), Some(vec![winners[0]]));
    }

    #[tokio::test]
    async fn list_is_sorted_by_prefix_and_keys_are_checked() {
        let store = MemoryStore::new();
        for key in ["a/2", "a/1", "ab/1", "b/1"] {
            store.create(key, b"x").await.unwrap();
        }
        assert_eq!(store.list("a/").await.unwrap(), vec!["a/1", "a/2"]);
        assert_eq!(store.list("a").await.unwrap(), vec!["a/1", "a/2", "ab/1"]);
        assert!(matches!(
            store.create("a/../b", b"x").await.unwrap_err(),
            StoreError::InvalidKey { .. }
        ));
        assert!(matches!(
            store.get("").await.unwrap_err(),
            StoreError::InvalidKey { .. }
        ));
        assert!(matches!(
            store.create("a/1", b"y").await.unwrap_err(),
            StoreError::AlreadyExists { .. }
        ));
        assert_eq!(store.get("a/1").await.unwrap().as_deref(), Some(&b"x"[..]));
    }
}
