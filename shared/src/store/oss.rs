//! The state store in an OSS bucket: what reimage uses when it runs in Function Compute.
//!
//! A store at `oss://<bucket>/<prefix>` keeps record `<key>` in object `<prefix>/<key>`.
//!
//! - create = PutObject with `x-oss-forbid-overwrite: true`; 409 `FileAlreadyExists` is
//!   [`StoreError::AlreadyExists`] (another writer won). The bucket must not have versioning
//!   enabled: OSS ignores forbid-overwrite on versioned buckets.
//! - get = GetObject; 404 `NoSuchKey` is `None`.
//! - list = ListObjectsV2 under `<prefix>/<given prefix>`, following continuation tokens;
//!   a page of a listing is one ListObjectsV2 with `start-after`.

use std::fmt;

use super::{KeyPage, StateStore, StoreError, StoreFuture, validate_key};
use crate::aliyun::oss::{ListRequest, OssClient, PutOutcome, explain};
use crate::aliyun::{Error, ErrorKind};

/// The most keys one ListObjectsV2 call answers, what the store asks for: OSS's default is 100
/// (<https://www.alibabacloud.com/help/en/oss/developer-reference/listobjectsv2>).
pub const MAX_KEYS: u32 = 1000;

/// A [`StateStore`] in one OSS bucket, under one prefix.
#[derive(Clone)]
pub struct OssStore {
    client: OssClient,
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
    page_size: Option<u32>,
}

impl fmt::Debug for OssStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OssStore")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("client", &self.client)
            .finish()
    }
}

impl OssStore {
    /// A store in `bucket` under `prefix` (leading and trailing `/` are ignored; empty for
    /// the bucket's root).
    pub fn new(client: OssClient, bucket: impl Into<String>, prefix: &str) -> Self {
        let trimmed = prefix.trim_matches('/');
        Self {
            client,
            bucket: bucket.into(),
            prefix: if trimmed.is_empty() {
                String::new()
            } else {
                format!("{trimmed}/")
            },
            page_size: Some(MAX_KEYS),
        }
    }

    /// Lists `page_size` keys per ListObjectsV2 call instead of [`MAX_KEYS`].
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size);
        self
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object key of record `key`.
    fn object_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

/// The store's error for a failed OSS call: the cloud's answer, plus what it usually means.
fn backend(op: &'static str, key: &str, err: Error) -> StoreError {
    let message = match err.code().and_then(explain) {
        Some(hint) => format!("{} ({hint})", crate::report::chain(&err)),
        None => crate::report::chain(&err),
    };
    StoreError::Backend {
        op,
        key: key.to_owned(),
        transient: err.kind() != ErrorKind::Client,
        message,
    }
}

impl StateStore for OssStore {
    fn create<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            validate_key(key)?;
            match self
                .client
                .put_object_if_absent(&self.bucket, &self.object_key(key), value)
                .await
                .map_err(|e| backend("create", key, e))?
            {
                PutOutcome::Created => Ok(()),
                PutOutcome::AlreadyExists => Err(StoreError::AlreadyExists {
                    key: key.to_owned(),
                }),
            }
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            validate_key(key)?;
            self.client
                .get_object(&self.bucket, &self.object_key(key))
                .await
                .map_err(|e| backend("get", key, e))
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let full = self.object_key(prefix);
            let mut keys: Vec<String> = self
                .client
                .list_all(&self.bucket, &full, self.page_size)
                .await
                .map_err(|e| backend("list", prefix, e))?
                .into_iter()
                .filter_map(|k| k.strip_prefix(&self.prefix).map(str::to_owned))
                .collect();
            keys.sort();
            Ok(keys)
        })
    }

    /// ListObjectsV2 with `start-after` and `max-keys`: one request per page of up to
    /// [`MAX_KEYS`] keys.
    /// <https://www.alibabacloud.com/help/en/oss/developer-reference/listobjectsv2>
    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        start_after: Option<&'a str>,
        max: usize,
    ) -> StoreFuture<'a, KeyPage> {
        Box::pin(async move {
            let full = self.object_key(prefix);
            let after = start_after.map(|k| self.object_key(k));
            let mut page = KeyPage::default();
            let mut token: Option<String> = None;
            while page.keys.len() < max {
                let most = self.page_size.unwrap_or(MAX_KEYS).min(MAX_KEYS) as usize;
                let want = (max - page.keys.len()).min(most);
                let answer = self
                    .client
                    .list_objects_v2(
                        &self.bucket,
                        &ListRequest {
                            prefix: &full,
                            continuation_token: token.as_deref(),
                            start_after: after.as_deref(),
                            max_keys: Some(u32::try_from(want).unwrap_or(MAX_KEYS)),
                            delimiter: None,
                        },
                    )
                    .await
                    .map_err(|e| backend("list", prefix, e))?;
                page.keys.extend(
                    answer
                        .objects
                        .into_iter()
                        .filter_map(|o| o.key.strip_prefix(&self.prefix).map(str::to_owned)),
                );
                page.more = answer.next_continuation_token.is_some();
                match answer.next_continuation_token {
                    Some(next) if token.as_deref() == Some(next.as_str()) => {
                        return Err(StoreError::Backend {
                            op: "list",
                            key: prefix.to_owned(),
                            message: "the same continuation token came back twice".into(),
                            transient: false,
                        });
                    }
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
            Ok(page)
        })
    }
}
