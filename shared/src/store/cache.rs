//! Records never change once created, so a warm process may keep what it has read.
//!
//! [`CachingStore`] answers a `get` it has answered before (or a record it created) from
//! memory, bounded in bytes, the oldest first out. A record that is absent is not remembered
//! (it may be created later), and listings always go to the store: they are how new records
//! are found. What a reused Function Compute instance or `reimage serve` reads every minute
//! (each task's latest record, the lease logs) is then read from the store once.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use super::{KeyPage, SharedStore, StateStore, StoreFuture};

/// How many bytes of records a warm process keeps by default.
pub const DEFAULT_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// A store that remembers the records read from (or written to) `inner`.
pub struct CachingStore {
    inner: SharedStore,
    limit: usize,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    records: HashMap<String, Arc<[u8]>>,
    order: VecDeque<String>,
    bytes: usize,
}

impl Cache {
    /// What an entry counts against the limit: its value, its key (twice: the map and the
    /// order) and some bookkeeping, so that empty records (index entries) count too.
    fn cost(key: &str, value: &[u8]) -> usize {
        value.len() + 2 * key.len() + 64
    }

    fn insert(&mut self, key: &str, value: &[u8], limit: usize) {
        if value.len() > limit / 4 || self.records.contains_key(key) {
            return;
        }
        self.records.insert(key.to_owned(), Arc::from(value));
        self.order.push_back(key.to_owned());
        self.bytes += Self::cost(key, value);
        while self.bytes > limit {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.records.remove(&oldest) {
                self.bytes -= Self::cost(&oldest, &gone);
            }
        }
    }
}

impl CachingStore {
    /// Remembers up to `limit` bytes of `inner`'s records.
    pub fn new(inner: SharedStore, limit: usize) -> Self {
        Self {
            inner,
            limit,
            cache: Mutex::new(Cache::default()),
        }
    }

    fn cached(&self, key: &str) -> Option<Vec<u8>> {
        let cache = self.cache.lock().ok()?;
        cache.records.get(key).map(|v| v.to_vec())
    }

    fn remember(&self, key: &str, value: &[u8]) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, value, self.limit);
        }
    }
}

impl fmt::Debug for CachingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachingStore")
            .field("inner", &self.inner)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl StateStore for CachingStore {
    fn create<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.inner.create(key, value).await?;
            self.remember(key, value);
            Ok(())
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            if let Some(value) = self.cached(key) {
                return Ok(Some(value));
            }
            let value = self.inner.get(key).await?;
            if let Some(v) = &value {
                self.remember(key, v);
            }
            Ok(value)
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<String>> {
        self.inner.list(prefix)
    }

    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        start_after: Option<&'a str>,
        max: usize,
    ) -> StoreFuture<'a, KeyPage> {
        self.inner.list_page(prefix, start_after, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testing::CountingStore;
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn a_record_is_read_once_an_absent_one_every_time_and_memory_stays_bounded() {
        let counting = CountingStore::new(Arc::new(MemoryStore::new()));
        let store = CachingStore::new(counting.clone(), 1000);
        store.create("a/1.json", b"0123456789").await.unwrap();
        counting.inner_create("b/1.json", b"abcdefghij").await;
        for _ in 0..3 {
            assert_eq!(store.get("a/1.json").await.unwrap().unwrap(), b"0123456789");
            assert_eq!(store.get("b/1.json").await.unwrap().unwrap(), b"abcdefghij");
            assert_eq!(store.get("c/1.json").await.unwrap(), None);
        }
        assert_eq!(
            counting.take_reads(),
            [
                "get b/1.json",
                "get c/1.json",
                "get c/1.json",
                "get c/1.json"
            ]
        );
        // Listings always go to the store.
        store.list("a/").await.unwrap();
        assert_eq!(counting.take_reads(), ["list a/"]);
        // Past the limit the oldest go first; empty records count too.
        for i in 0..20 {
            store.create(&format!("e/{i}"), b"").await.unwrap();
        }
        for i in 0..20 {
            store
                .create(&format!("d/{i}.json"), b"0123456789")
                .await
                .unwrap();
        }
        store.get("a/1.json").await.unwrap();
        store.get("d/19.json").await.unwrap();
        assert_eq!(counting.take_reads(), ["get a/1.json"]);
        let cache = store.cache.lock().unwrap();
        assert!(cache.bytes <= 1000 && cache.records.len() == cache.order.len());
        assert!(
            !cache.records.contains_key("e/0"),
            "the oldest empty record went"
        );
    }
}
