//! The sim's buckets and objects.
//!
//! Objects live in a sorted map per bucket, so listings come out in key (byte) order as OSS's
//! do. Continuation tokens are opaque to clients: base64 of the last key or common prefix
//! returned, which is all the sim needs to resume.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::errors::OssError;

/// One stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The content.
    pub data: Bytes,
    /// `"<MD5 in upper-case hex>"`, quotes included.
    pub etag: String,
    /// The `Content-Type` it was stored with.
    pub content_type: String,
    /// When it was written.
    pub last_modified: DateTime<Utc>,
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// The key.
    pub key: String,
    /// The size in bytes.
    pub size: usize,
    /// The ETag.
    pub etag: String,
    /// When it was written.
    pub last_modified: DateTime<Utc>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    /// The objects of the page.
    pub objects: Vec<ListedObject>,
    /// The common prefixes (with a delimiter).
    pub common_prefixes: Vec<String>,
    /// The token of the next page, if the listing is truncated.
    pub next_token: Option<String>,
}

/// Every bucket of the region.
#[derive(Debug, Default)]
pub struct OssState {
    buckets: BTreeMap<String, BTreeMap<String, Object>>,
}

pub use crate::names::valid_bucket_name;

/// Checks an object key: 1–1023 bytes of UTF-8, not starting with `/` or `\`.
pub fn check_key(key: &str) -> Result<(), OssError> {
    if key.is_empty() || key.len() > 1023 {
        return Err(OssError::invalid_object_name(
            "The object name must be 1 to 1023 bytes long.",
        ));
    }
    if key.starts_with('/') || key.starts_with('\\') {
        return Err(OssError::invalid_object_name(
            "The object name must not start with / or \\.",
        ));
    }
    Ok(())
}

/// The ETag OSS gives a simple upload: the upper-case hex MD5, in double quotes.
pub fn etag_of(data: &[u8]) -> String {
    use md5::Digest as _;
    let digest = md5::Md5::digest(data);
    format!("\"{}\"", hex::encode_upper(digest))
}

impl OssState {
    /// Creates `bucket`; `false` if it exists.
    pub fn create_bucket(&mut self, bucket: &str) -> bool {
        if self.buckets.contains_key(bucket) {
            return false;
        }
        self.buckets.insert(bucket.to_owned(), BTreeMap::new());
        true
    }

    /// Whether `bucket` exists.
    pub fn has_bucket(&self, bucket: &str) -> bool {
        self.buckets.contains_key(bucket)
    }

    /// The names of all buckets.
    pub fn bucket_names(&self) -> Vec<String> {
        self.buckets.keys().cloned().collect()
    }

    fn bucket(&self, bucket: &str) -> Result<&BTreeMap<String, Object>, OssError> {
        self.buckets
            .get(bucket)
            .ok_or_else(|| OssError::no_such_bucket(bucket))
    }

    /// Stores an object and returns its ETag; with `forbid_overwrite`, a taken key is
    /// `FileAlreadyExists`.
    pub fn put(
        &mut self,
        bucket: &str,
        key: &str,
        object: Object,
        forbid_overwrite: bool,
    ) -> Result<String, OssError> {
        let objects = self
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| OssError::no_such_bucket(bucket))?;
        if forbid_overwrite && objects.contains_key(key) {
            return Err(OssError::file_already_exists(key));
        }
        let etag = object.etag.clone();
        objects.insert(key.to_owned(), object);
        Ok(etag)
    }

    /// The object at `key`.
    pub fn get(&self, bucket: &str, key: &str) -> Result<&Object, OssError> {
        self.bucket(bucket)?
            .get(key)
            .ok_or_else(|| OssError::no_such_key(key))
    }

    /// Deletes `key` (no error if it is absent, as OSS).
    pub fn delete(&mut self, bucket: &str, key: &str) -> Result<(), OssError> {
        self.buckets
            .get_mut(bucket)
            .ok_or_else(|| OssError::no_such_bucket(bucket))?
            .remove(key);
        Ok(())
    }

    /// One page of ListObjectsV2.
    pub fn list(&self, bucket: &str, query: &ListQuery) -> Result<Listing, OssError> {
        let objects = self.bucket(bucket)?;
        let after_token = if query.continuation_token.is_empty() {
            None
        } else {
            Some(decode_token(&query.continuation_token)?)
        };
        // Resume strictly after both the start-after key and the token's key.
        let after = match (after_token, query.start_after.as_str()) {
            (Some(t), s) if t.as_str() >= s => Some(t),
            (_, "") => None,
            (_, s) => Some(s.to_owned()),
        };
        let mut listing = Listing::default();
        let mut count = 0;
        let mut last: Option<String> = None;
        // The keys under a prefix are contiguous in order: start at the prefix (or past the
        // resume point, if later) and stop at the first key outside it.
        let start = match &after {
            Some(a) if a.as_str() >= query.prefix.as_str() => std::ops::Bound::Excluded(a.clone()),
            _ => std::ops::Bound::Included(query.prefix.clone()),
        };
        let range = objects
            .range::<String, _>((start, std::ops::Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&query.prefix));
        for (key, object) in range {
            // With a delimiter, keys that share a prefix up to it fold into one entry.
            let folded = (!query.delimiter.is_empty())
                .then(|| {
                    key[query.prefix.len()..]
                        .find(&query.delimiter)
                        .map(|i| key[..query.prefix.len() + i + query.delimiter.len()].to_owned())
                })
                .flatten();
            if let Some(common) = &folded {
                if listing.common_prefixes.last() == Some(common) {
                    continue;
                }
                // A prefix the previous page already returned ends in the token; skip past it.
                if after
                    .as_deref()
                    .is_some_and(|a| a.starts_with(common.as_str()))
                {
                    continue;
                }
            }
            if count == query.max_keys {
                listing.next_token = last.as_deref().map(encode_token);
                break;
            }
            match folded {
                Some(common) => {
                    last = Some(common.clone());
                    listing.common_prefixes.push(common);
                }
                None => {
                    last = Some(key.clone());
                    listing.objects.push(ListedObject {
                        key: key.clone(),
                        size: object.data.len(),
                        etag: object.etag.clone(),
                        last_modified: object.last_modified,
                    });
                }
            }
            count += 1;
        }
        Ok(listing)
    }
}

fn encode_token(last: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(last.as_bytes())
}

fn decode_token(token: &str) -> Result<String, OssError> {
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            OssError::invalid_argument(
                "continuation-token",
                token,
                "The continuation token provided is incorrect.",
            )
        })
}

/// The query of a ListObjectsV2 call, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// `prefix`.
    pub prefix: String,
    /// `delimiter` (empty: none).
    pub delimiter: String,
    /// `start-after`.
    pub start_after: String,
    /// `continuation-token`, as sent.
    pub continuation_token: String,
    /// `max-keys`, 1–1000, default 100.
    pub max_keys: usize,
    /// `encoding-type=url`.
    pub url_encoded: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(data: &'static [u8]) -> Object {
        Object {
            data: Bytes::from_static(data),
            etag: etag_of(data),
            content_type: "application/octet-stream".into(),
            last_modified: DateTime::UNIX_EPOCH,
        }
    }

    fn query(prefix: &str, delimiter: &str, token: &str, max_keys: usize) -> ListQuery {
        ListQuery {
            prefix: prefix.into(),
            delimiter: delimiter.into(),
            start_after: String::new(),
            continuation_token: token.into(),
            max_keys,
            url_encoded: false,
        }
    }

    fn state_with(keys: &[&str]) -> OssState {
        let mut s = OssState::default();
        s.create_bucket("b");
        for k in keys {
            s.put("b", k, object(b"x"), false).expect("stored");
        }
        s
    }

    #[test]
    fn forbid_overwrite_refuses_a_taken_key_and_keeps_the_first_value() {
        let mut s = state_with(&[]);
        s.put("b", "k", object(b"first"), true).expect("created");
        let err = s.put("b", "k", object(b"second"), true).expect_err("taken");
        assert_eq!(
            (err.code.as_str(), err.status.as_u16()),
            ("FileAlreadyExists", 409)
        );
        assert_eq!(
            s.get("b", "k").expect("kept").data,
            Bytes::from_static(b"first")
        );
        s.put("b", "k", object(b"third"), false)
            .expect("overwrite allowed");
        assert_eq!(
            s.get("b", "k").expect("kept").data,
            Bytes::from_static(b"third")
        );
    }

    #[test]
    fn missing_bucket_and_key_have_their_own_codes() {
        let s = state_with(&[]);
        assert_eq!(s.get("b", "nope").expect_err("missing").code, "NoSuchKey");
        assert_eq!(s.get("zz", "k").expect_err("missing").code, "NoSuchBucket");
        assert_eq!(
            s.list("zz", &query("", "", "", 10))
                .expect_err("missing")
                .code,
            "NoSuchBucket"
        );
    }

    #[test]
    fn etag_is_quoted_upper_case_md5() {
        assert_eq!(
            etag_of(b"0123456789"),
            "\"781E5E245D69B566979B86E28D23F2C7\""
        );
    }

    #[test]
    fn pages_follow_each_other_without_gaps_or_repeats() {
        let keys: Vec<String> = (0..23).map(|i| format!("p/{i:03}")).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut s = state_with(&refs);
        s.put("b", "other/1", object(b"x"), false).expect("stored");
        let mut seen = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = s.list("b", &query("p/", "", &token, 5)).expect("lists");
            pages += 1;
            assert!(page.objects.len() <= 5);
            seen.extend(page.objects.into_iter().map(|o| o.key));
            match page.next_token {
                Some(t) => token = t,
                None => break,
            }
        }
        assert_eq!(seen, keys);
        assert_eq!(pages, 5);
    }

    #[test]
    fn delimiter_folds_keys_into_common_prefixes_across_pages() {
        let s = state_with(&["a/1", "a/2", "b", "c/1", "c/2", "d"]);
        let first = s.list("b", &query("", "/", "", 2)).expect("lists");
        assert_eq!(first.common_prefixes, ["a/"]);
        assert_eq!(first.objects.len(), 1);
        let token = first.next_token.expect("more");
        let second = s.list("b", &query("", "/", &token, 2)).expect("lists");
        assert_eq!(second.common_prefixes, ["c/"]);
        assert_eq!(second.objects[0].key, "d");
        assert_eq!(second.next_token, None);
    }

    #[test]
    fn garbage_tokens_are_invalid_arguments() {
        let s = state_with(&["a"]);
        let err = s
            .list("b", &query("", "", "%%%", 2))
            .expect_err("bad token");
        assert_eq!(
            (err.code.as_str(), err.status.as_u16()),
            ("InvalidArgument", 400)
        );
    }

    #[test]
    fn key_and_bucket_rules() {
        check_key("a/b c/é").unwrap();
        assert!(check_key("").is_err());
        assert!(check_key("/a").is_err());
        assert!(check_key(&"k".repeat(1024)).is_err());
        assert!(valid_bucket_name("reimage-state"));
        assert!(!valid_bucket_name("Reimage"));
        assert!(!valid_bucket_name("-ab"));
        assert!(!valid_bucket_name("ab"));
    }
}
