//! RPC request parameters: decoding the query string and form body, and typed access.
//!
//! The wire form is `application/x-www-form-urlencoded` (`+` is a space, `%XY` a byte).
//! Decoding never fails on the bytes themselves: a `%` not followed by two hex digits is kept
//! literally, as browsers and the SDKs' servers do. What does fail, with an error naming the
//! parameter, is a name or value that is not UTF-8 once decoded, or a name given twice.

use crate::error::RpcError;

/// Longest parameter value the sim accepts (the cloud's own limits are far below this).
pub const MAX_VALUE_LEN: usize = 64 * 1024;

/// Raw `(name, value)` byte pairs, percent-decoded.
pub fn decode_pairs(input: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    input
        .split(|&b| b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = match part.iter().position(|&b| b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &[][..]),
            };
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let pair = input
                    .get(i + 1)
                    .and_then(|&h| hex(h))
                    .zip(input.get(i + 2).and_then(|&l| hex(l)));
                if let Some((h, l)) = pair {
                    out.push(h << 4 | l);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// The parameters of one RPC request, in the order they arrived.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may hold a SecurityToken or a Signature: only the names are shown.
        f.debug_struct("Params")
            .field(
                "names",
                &self.pairs.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Params {
    /// Checked parameters from decoded byte pairs.
    pub fn from_pairs(raw: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Self, RpcError> {
        let mut pairs: Vec<(String, String)> = Vec::with_capacity(raw.len());
        for (name, value) in raw {
            let name = String::from_utf8(name).map_err(|e| {
                RpcError::bad_request(
                    "InvalidParameter",
                    format!(
                        "A parameter name is not valid UTF-8: \"{}\"",
                        truncate(&String::from_utf8_lossy(e.as_bytes()), 64)
                    ),
                )
            })?;
            let shown = truncate(&name, 64);
            if name.is_empty() {
                return Err(RpcError::bad_request(
                    "InvalidParameter",
                    "A parameter has an empty name.",
                ));
            }
            let value = String::from_utf8(value)
                .map_err(|_| RpcError::invalid(&shown, "the value is not valid UTF-8"))?;
            if value.len() > MAX_VALUE_LEN {
                return Err(RpcError::invalid(
                    &shown,
                    format!("the value is longer than {MAX_VALUE_LEN} bytes"),
                ));
            }
            if pairs.iter().any(|(k, _)| *k == name) {
                return Err(RpcError::invalid(&shown, "the parameter is given twice"));
            }
            pairs.push((name, value));
        }
        Ok(Self { pairs })
    }

    /// Parameters from `(name, value)` strings (tests, admin).
    pub fn from_strs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// All pairs, for the signature.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The raw value of `name`, even when empty.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.raw(name).filter(|v| !v.is_empty())
    }

    /// The value of `name`, or `MissingParameter`.
    pub fn required(&self, name: &str) -> Result<&str, RpcError> {
        self.get(name).ok_or_else(|| RpcError::missing(name))
    }

    /// An integer in `min..=max`, `default` when absent.
    pub fn int(&self, name: &str, min: i64, max: i64, default: i64) -> Result<i64, RpcError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => {
                let n: i64 = v
                    .trim()
                    .parse()
                    .map_err(|_| RpcError::invalid(name, "not an integer"))?;
                if n < min || n > max {
                    return Err(RpcError::invalid(
                        name,
                        format!("must be between {min} and {max}"),
                    ));
                }
                Ok(n)
            }
        }
    }

    /// A boolean (`true`/`false`, any case), `default` when absent.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, RpcError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(RpcError::invalid(name, "must be true or false")),
        }
    }

    /// The repeated list `Name.1`, `Name.2`, … as values in index order.
    ///
    /// Indexes must be 1..=`max`; a gap is allowed (the SDKs never send one) and ignored.
    pub fn list(&self, name: &str, max: usize) -> Result<Vec<&str>, RpcError> {
        let prefix = format!("{name}.");
        let mut items: Vec<(usize, &str)> = Vec::new();
        for (k, v) in self.iter() {
            let Some(index) = k.strip_prefix(&prefix) else {
                continue;
            };
            if index.contains('.') {
                continue;
            }
            let n: usize = index
                .parse()
                .map_err(|_| RpcError::invalid(k, "the list index is not a number"))?;
            if n == 0 || n > max {
                return Err(RpcError::invalid(
                    k,
                    format!("{name}.N takes at most {max} items, numbered from 1"),
                ));
            }
            if !v.is_empty() {
                items.push((n, v));
            }
        }
        items.sort_by_key(|(n, _)| *n);
        Ok(items.into_iter().map(|(_, v)| v).collect())
    }

    /// The struct list `Name.N.Member`, as maps from member to value, in index order.
    pub fn struct_list(&self, name: &str, max: usize) -> Result<Vec<Vec<(&str, &str)>>, RpcError> {
        let prefix = format!("{name}.");
        let mut items: std::collections::BTreeMap<usize, Vec<(&str, &str)>> =
            std::collections::BTreeMap::new();
        for (k, v) in self.iter() {
            let Some(rest) = k.strip_prefix(&prefix) else {
                continue;
            };
            let Some((index, member)) = rest.split_once('.') else {
                continue;
            };
            let n: usize = index
                .parse()
                .map_err(|_| RpcError::invalid(k, "the list index is not a number"))?;
            if n == 0 || n > max {
                return Err(RpcError::invalid(
                    k,
                    format!("{name}.N takes at most {max} items, numbered from 1"),
                ));
            }
            items.entry(n).or_default().push((member, v));
        }
        Ok(items.into_values().collect())
    }

    /// `Tag.N.Key` / `Tag.N.Value` (N 1..=20), keys checked as the cloud checks them.
    pub fn tags(&self) -> Result<Vec<(String, String)>, RpcError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for members in self.struct_list("Tag", 20)? {
            let find = |m: &str| {
                members
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(m))
                    .map(|(_, v)| *v)
            };
            let key = find("Key").unwrap_or("");
            let value = find("Value").unwrap_or("");
            if key.is_empty() && value.is_empty() {
                continue;
            }
            if key.is_empty()
                || key.len() > 128
                || key.starts_with("aliyun")
                || key.starts_with("acs:")
                || key.contains("http://")
                || key.contains("https://")
            {
                return Err(RpcError::bad_request(
                    "InvalidTagKey.Malformed",
                    format!(
                        "The specified tag key \"{}\" is not valid.",
                        truncate(key, 64)
                    ),
                ));
            }
            if value.len() > 128 || value.starts_with("acs:") {
                return Err(RpcError::bad_request(
                    "InvalidTagValue.Malformed",
                    "The specified tag value is not valid.",
                ));
            }
            if out.iter().any(|(k, _)| k == key) {
                return Err(RpcError::bad_request(
                    "Duplicate.TagKey",
                    format!("The tag key \"{key}\" is given twice."),
                ));
            }
            out.push((key.to_owned(), value.to_owned()));
        }
        Ok(out)
    }

    /// A parameter holding a JSON array of strings (`InstanceIds`, `DiskIds`, `SnapshotIds`).
    pub fn json_array(&self, name: &str, max: usize) -> Result<Option<Vec<String>>, RpcError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        let items: Vec<String> = serde_json::from_str(raw)
            .map_err(|_| RpcError::invalid(name, "must be a JSON array of strings"))?;
        if items.len() > max {
            return Err(RpcError::invalid(
                name,
                format!("holds more than {max} items"),
            ));
        }
        Ok(Some(items))
    }

    /// `PageNumber` (from 1) and `PageSize` (1..=`max`, default 10).
    pub fn paging(&self, max: i64) -> Result<(usize, usize), RpcError> {
        let number = self.int("PageNumber", 1, i64::from(i32::MAX), 1)?;
        let size = self.int("PageSize", 1, max, 10)?;
        Ok((
            usize::try_from(number).unwrap_or(1),
            usize::try_from(size).unwrap_or(10),
        ))
    }
}

/// At most `max` characters of `s`, for error messages.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

/// One page of `items` (1-based page number).
pub fn page<T>(items: Vec<T>, number: usize, size: usize) -> Vec<T> {
    let start = number.saturating_sub(1).saturating_mul(size);
    items.into_iter().skip(start).take(size).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Params, RpcError> {
        Params::from_pairs(decode_pairs(s.as_bytes()))
    }

    #[test]
    fn decodes_plus_percent_and_keeps_broken_escapes() {
        let p = parse("A=a+b%20c&B=100%&C=%zz%4&D").unwrap();
        assert_eq!(p.raw("A"), Some("a b c"));
        assert_eq!(p.raw("B"), Some("100%"));
        assert_eq!(p.raw("C"), Some("%zz%4"));
        assert_eq!(p.raw("D"), Some(""));
        assert_eq!(p.get("D"), None);
    }

    #[test]
    fn non_utf8_value_names_the_parameter() {
        let err = parse("ImageName=%FF%FE").unwrap_err();
        assert_eq!(err.code, "InvalidParameter");
        assert!(err.message.contains("ImageName"), "{}", err.message);
    }

    #[test]
    fn duplicate_names_are_refused() {
        let err = parse("A=1&A=2").unwrap_err();
        assert!(err.message.contains("twice"));
    }

    #[test]
    fn lists_are_ordered_by_index_and_bounded() {
        let p = parse("Id.2=b&Id.1=a&Id.10=j").unwrap();
        assert_eq!(p.list("Id", 10).unwrap(), vec!["a", "b", "j"]);
        let err = parse("Id.11=k").unwrap().list("Id", 10).unwrap_err();
        assert_eq!(err.code, "InvalidParameter");
        assert!(err.message.contains("Id.11"));
    }

    #[test]
    fn tags_reject_reserved_prefixes_and_duplicates() {
        let ok = parse("Tag.1.Key=team&Tag.1.Value=web&Tag.2.Key=env").unwrap();
        assert_eq!(
            ok.tags().unwrap(),
            vec![
                ("team".to_owned(), "web".to_owned()),
                ("env".to_owned(), String::new())
            ]
        );
        let bad = parse("Tag.1.Key=acs:x").unwrap().tags().unwrap_err();
        assert_eq!(bad.code, "InvalidTagKey.Malformed");
        let dup = parse("Tag.1.Key=a&Tag.2.Key=a")
            .unwrap()
            .tags()
            .unwrap_err();
        assert_eq!(dup.code, "Duplicate.TagKey");
    }

    #[test]
    fn integers_are_range_checked() {
        let p = parse("PageSize=101&PageNumber=x").unwrap();
        assert_eq!(
            p.int("PageSize", 1, 100, 10).unwrap_err().code,
            "InvalidParameter"
        );
        assert!(p.paging(100).is_err());
        assert_eq!(parse("").unwrap().paging(100).unwrap(), (1, 10));
    }

    #[test]
    fn json_arrays_are_checked() {
        let p = parse("InstanceIds=%5B%22i-a%22%5D&Bad=%5B1%5D").unwrap();
        assert_eq!(
            p.json_array("InstanceIds", 100).unwrap(),
            Some(vec!["i-a".to_owned()])
        );
        assert!(p.json_array("Bad", 100).is_err());
        assert_eq!(p.json_array("Absent", 100).unwrap(), None);
    }

    #[test]
    fn debug_shows_names_only() {
        let p = parse("SecurityToken=secret-token&Action=X").unwrap();
        let shown = format!("{p:?}");
        assert!(!shown.contains("secret-token"));
        assert!(shown.contains("SecurityToken"));
    }
}
