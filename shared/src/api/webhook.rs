//! CI webhook authentication: pure checks of a request's headers and raw body against a
//! task's [`WebhookSecret`]s, and the identity of the run a request may start.
//!
//! Three forms are accepted, tried in this order by which header is present:
//!
//! | CI system | header | check |
//! |---|---|---|
//! | GitHub | `X-Hub-Signature-256: sha256=<hex>` | HMAC-SHA256 of the raw body |
//! | GitLab | `X-Gitlab-Token: <secret>` | the shared token itself |
//! | any other | `X-Reimage-Signature: t=<unix>,v1=<hex>` | HMAC-SHA256 of `<t>.<body>`, `t` within 5 minutes of now |
//!
//! **Identity.** Which run a request starts, or returns, is decided only by what its
//! signature covers ([`Verified::identity`]): the body for GitHub and GitLab, the signed `t`
//! and the body for `X-Reimage-Signature`. A header no signature covers (`X-GitHub-Delivery`,
//! `X-Gitlab-Event-UUID`, `Idempotency-Key`) never decides anything; [`delivery_id`] is kept
//! in the run's trigger for information only. So a body signed once starts one run whatever
//! delivery id comes with it, a GitHub redelivery returns the first run (it is the same body),
//! and a re-spelled `X-Reimage-Signature` names the same run.
//!
//! **`X-Reimage-Signature`** is parsed once into a [`ReimageSignature`]: comma-separated
//! `key=value` fields, blanks around each ignored; exactly one `t`, in canonical decimal (no
//! sign, no leading zero), so that one signed string has one spelling; one to eight `v1`,
//! each 64 hex digits; fields of other schemes (a future `v2`) ignored, as Stripe-style
//! receivers do; anything else is malformed. The window check cannot overflow: a `t` near
//! `i64::MIN` or `i64::MAX` is simply stale.
//!
//! Every comparison is constant-time ([`subtle`]), so the time a refusal takes says nothing
//! about how much of a signature was right; a GitLab token is compared by its SHA-256, so not
//! even the secret's length shows. With no secret to check against (an unknown task, a task
//! without a webhook) the same work is done against a throw-away key and the answer is the
//! same [`WebhookError::Mismatch`].

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::model::task::WebhookSecret;

/// GitHub's signature header.
pub const GITHUB_SIGNATURE: &str = "x-hub-signature-256";
/// GitLab's token header.
pub const GITLAB_TOKEN: &str = "x-gitlab-token";
/// reimage's own signature header.
pub const REIMAGE_SIGNATURE: &str = "x-reimage-signature";
/// The delivery id headers, in the order they are looked at.
pub const DELIVERY_HEADERS: [&str; 3] = [
    "x-github-delivery",
    "x-gitlab-event-uuid",
    "idempotency-key",
];

/// How far the `t=` of an `X-Reimage-Signature` may be from now, either way.
pub const REPLAY_WINDOW_SECONDS: i64 = 300;

/// The most `v1=` values one `X-Reimage-Signature` may carry.
pub const MAX_V1: usize = 8;

/// The longest delivery id kept.
const DELIVERY_ID_MAX: usize = 200;

/// The key MACs are computed with when there is no secret to check against: the work is the
/// same, the outcome is always a mismatch.
const NO_SECRET: &[u8] = b"reimage: no webhook secret to check against";

/// Which form authenticated a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookSource {
    /// `X-Hub-Signature-256`.
    GitHub,
    /// `X-Gitlab-Token`.
    GitLab,
    /// `X-Reimage-Signature`.
    Reimage,
}

impl HookSource {
    /// `github`, `gitlab` or `reimage`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::GitLab => "gitlab",
            Self::Reimage => "reimage",
        }
    }
}

/// Why a webhook was refused. Every variant means 401; none carries the secret or the
/// expected signature, and none says whether the task exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No signature header at all.
    #[error(
        "no webhook signature: send X-Hub-Signature-256, X-Gitlab-Token or X-Reimage-Signature"
    )]
    Missing,
    /// A signature header that is not in its documented form.
    #[error("{header} is malformed: {reason}")]
    Malformed {
        /// The header.
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A well-formed signature that does not match (or a task that takes no webhook: the
    /// answer is the same).
    #[error("{header} does not match the request body")]
    Mismatch {
        /// The header.
        header: &'static str,
    },
    /// An `X-Reimage-Signature` timestamp outside the replay window.
    #[error(
        "x-reimage-signature timestamp {t} is more than {REPLAY_WINDOW_SECONDS} seconds from now"
    )]
    Stale {
        /// The `t=` value.
        t: i64,
    },
}

/// An `X-Reimage-Signature` header, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReimageSignature {
    /// The signed unix time.
    pub t: i64,
    /// The candidate MACs (several while a secret is rotated).
    pub v1: Vec<[u8; 32]>,
}

impl ReimageSignature {
    /// Parses a header value (see the module documentation for the rules).
    pub fn parse(value: &str) -> Result<Self, WebhookError> {
        let malformed = |reason| WebhookError::Malformed {
            header: REIMAGE_SIGNATURE,
            reason,
        };
        let mut t: Option<i64> = None;
        let mut v1 = Vec::new();
        for part in value.split(',') {
            let Some((key, val)) = part.trim().split_once('=') else {
                return Err(malformed("expected t=<unix>,v1=<hex>"));
            };
            match key.trim() {
                "t" => {
                    if t.is_some() {
                        return Err(malformed("more than one t="));
                    }
                    let val = val.trim();
                    let parsed: i64 = val
                        .parse()
                        .map_err(|_| malformed("t must be unix seconds"))?;
                    // One signed string, one spelling: `+5`, `05` and `-0` are refused.
                    if parsed.to_string() != val {
                        return Err(malformed("t must be unix seconds in plain decimal"));
                    }
                    t = Some(parsed);
                }
                "v1" => {
                    if v1.len() == MAX_V1 {
                        return Err(malformed("more than 8 v1= values"));
                    }
                    v1.push(decode_mac(val).ok_or(malformed("v1 must be 64 hex digits"))?);
                }
                "" => return Err(malformed("expected t=<unix>,v1=<hex>")),
                // Other schemes (a future v2) are ignored, as Stripe-style receivers do.
                _ => {}
            }
        }
        let t = t.ok_or(malformed("no t=<unix seconds>"))?;
        if v1.is_empty() {
            return Err(malformed("no v1=<hex>"));
        }
        Ok(Self { t, v1 })
    }

    /// Whether `t` is within [`REPLAY_WINDOW_SECONDS`] of `now`, either way, with checked
    /// arithmetic: no `t` can overflow the check.
    pub fn check_fresh(&self, now: DateTime<Utc>) -> Result<(), WebhookError> {
        let fresh = now
            .timestamp()
            .checked_sub(self.t)
            .is_some_and(|age| age.unsigned_abs() <= REPLAY_WINDOW_SECONDS.unsigned_abs());
        if fresh {
            Ok(())
        } else {
            Err(WebhookError::Stale { t: self.t })
        }
    }
}

/// The signature a request presents, parsed, before any secret is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// `X-Hub-Signature-256`'s MAC.
    GitHub([u8; 32]),
    /// The SHA-256 of `X-Gitlab-Token`'s value.
    GitLab([u8; 32]),
    /// `X-Reimage-Signature`.
    Reimage(ReimageSignature),
}

impl Presented {
    /// Reads the signature headers: [`WebhookError::Missing`] without any, `Malformed` for
    /// one that is not in its documented form. Needs no secret and reads nothing.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, WebhookError> {
        if let Some(value) = headers.get(GITHUB_SIGNATURE) {
            let malformed = |reason| WebhookError::Malformed {
                header: GITHUB_SIGNATURE,
                reason,
            };
            let hex_sig = value
                .to_str()
                .ok()
                .and_then(|v| v.trim().strip_prefix("sha256="))
                .ok_or(malformed("expected sha256=<hex>"))?;
            return Ok(Self::GitHub(
                decode_mac(hex_sig).ok_or(malformed("expected 64 hex digits"))?,
            ));
        }
        if let Some(value) = headers.get(GITLAB_TOKEN) {
            return Ok(Self::GitLab(Sha256::digest(value.as_bytes()).into()));
        }
        let value = headers
            .get(REIMAGE_SIGNATURE)
            .ok_or(WebhookError::Missing)?
            .to_str()
            .map_err(|_| WebhookError::Malformed {
                header: REIMAGE_SIGNATURE,
                reason: "not visible ASCII",
            })?;
        ReimageSignature::parse(value).map(Self::Reimage)
    }

    /// The form.
    pub fn source(&self) -> HookSource {
        match self {
            Self::GitHub(_) => HookSource::GitHub,
            Self::GitLab(_) => HookSource::GitLab,
            Self::Reimage(_) => HookSource::Reimage,
        }
    }

    /// Checks the signature of `body` against each of `secrets` (the current one and, during
    /// a rotation, the previous one). With no secret the same work is done against a
    /// throw-away key and the answer is [`WebhookError::Mismatch`]. Freshness is checked by
    /// [`ReimageSignature::check_fresh`], before.
    pub fn authenticate(
        &self,
        body: &[u8],
        secrets: &[&WebhookSecret],
    ) -> Result<Verified, WebhookError> {
        let possible = !secrets.is_empty();
        let no_secret = [NO_SECRET];
        let candidates = secrets
            .iter()
            .map(|s| s.expose())
            .chain(no_secret.into_iter().filter(|_| !possible));
        let mut matched = subtle::Choice::from(0);
        let mut matched_mac = [0u8; 32];
        for secret in candidates {
            match self {
                Self::GitHub(given) => {
                    matched |= given.ct_eq(&hmac_key(secret, &[body]));
                }
                Self::GitLab(given) => {
                    let expected: [u8; 32] = Sha256::digest(secret).into();
                    matched |= given.ct_eq(&expected);
                }
                Self::Reimage(sig) => {
                    let t = sig.t.to_string();
                    let expected = hmac_key(secret, &[t.as_bytes(), b".", body]);
                    // Check every candidate, so the time taken does not depend on which one
                    // matched.
                    for given in &sig.v1 {
                        let hit = given.ct_eq(&expected);
                        matched |= hit;
                        for (kept, byte) in matched_mac.iter_mut().zip(given) {
                            kept.conditional_assign(byte, hit);
                        }
                    }
                }
            }
        }
        let header = match self {
            Self::GitHub(_) => GITHUB_SIGNATURE,
            Self::GitLab(_) => GITLAB_TOKEN,
            Self::Reimage(_) => REIMAGE_SIGNATURE,
        };
        if !(possible && bool::from(matched)) {
            return Err(WebhookError::Mismatch { header });
        }
        let body_hex = hex::encode(Sha256::digest(body));
        Ok(match self {
            Self::GitHub(_) | Self::GitLab(_) => Verified {
                source: self.source(),
                identity: format!("body:{body_hex}"),
                accepted: None,
            },
            Self::Reimage(sig) => Verified {
                source: HookSource::Reimage,
                identity: format!("t:{}:body:{body_hex}", sig.t),
                accepted: Some((sig.t, matched_mac)),
            },
        })
    }
}

/// An authenticated webhook request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The form that authenticated it.
    pub source: HookSource,
    /// What names its run: `body:<sha256 of the body>`, or `t:<t>:body:<sha256>` for
    /// `X-Reimage-Signature`. Only signed material goes in.
    pub identity: String,
    /// For `X-Reimage-Signature`, the `(t, MAC)` pair that matched (for the replay cache).
    pub accepted: Option<(i64, [u8; 32])>,
}

/// Checks a webhook request against `secrets` at time `now`: parse, freshness, signature.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    secrets: &[&WebhookSecret],
    now: DateTime<Utc>,
) -> Result<Verified, WebhookError> {
    let presented = Presented::from_headers(headers)?;
    if let Presented::Reimage(sig) = &presented {
        sig.check_fresh(now)?;
    }
    presented.authenticate(body, secrets)
}

/// The CI system's delivery id, if the request carries one: recorded in the run's trigger,
/// for information only (no signature covers it).
pub fn delivery_id(headers: &HeaderMap) -> Option<String> {
    DELIVERY_HEADERS.iter().find_map(|name| {
        let value = headers.get(*name)?.to_str().ok()?.trim();
        (!value.is_empty() && value.len() <= DELIVERY_ID_MAX).then(|| value.to_owned())
    })
}

/// The `X-Reimage-Signature` value for `body` at unix time `t`, for clients and tests.
pub fn reimage_signature(secret: &WebhookSecret, t: i64, body: &[u8]) -> String {
    let t = t.to_string();
    format!(
        "t={t},v1={}",
        hex::encode(hmac_parts(secret, &[t.as_bytes(), b".", body]))
    )
}

/// The `X-Hub-Signature-256` value GitHub sends for `body`.
pub fn github_signature(secret: &WebhookSecret, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac_parts(secret, &[body])))
}

fn hmac_parts(secret: &WebhookSecret, parts: &[&[u8]]) -> [u8; 32] {
    hmac_key(secret.expose(), parts)
}

/// HMAC-SHA256 of the concatenated `parts` under `key`.
pub(crate) fn hmac_key(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length, so this cannot fail; an empty MAC would only refuse.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn decode_mac(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use http::HeaderValue;

    const BODY: &[u8] = br#"{"ref":"refs/heads/main"}"#;

    fn secret() -> WebhookSecret {
        WebhookSecret::new("It's a Secret to Everybody")
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn check(pairs: &[(&'static str, &str)], body: &[u8]) -> Result<Verified, WebhookError> {
        verify(&headers(pairs), body, &[&secret()], now())
    }

    #[test]
    fn github_documented_example_verifies() {
        // The example in GitHub's "Validating webhook deliveries" documentation.
        let h = [(
            GITHUB_SIGNATURE,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        )];
        assert_eq!(
            check(&h, b"Hello, World!").map(|v| v.source),
            Ok(HookSource::GitHub)
        );
        assert_eq!(
            check(&h, b"Hello, World?"),
            Err(WebhookError::Mismatch {
                header: GITHUB_SIGNATURE
            })
        );
    }

    #[test]
    fn github_signature_forms_that_are_refused() {
        let good = github_signature(&secret(), BODY);
        for bad in [
            good.replace("sha256=", "sha1="),
            good[..good.len() - 2].to_owned(),
            good.replace("sha256=", "sha256=zz"),
        ] {
            let err = check(&[(GITHUB_SIGNATURE, &bad)], BODY).unwrap_err();
            assert!(
                matches!(err, WebhookError::Malformed { .. }),
                "{bad}: {err:?}"
            );
        }
        let other = github_signature(&WebhookSecret::new("another secret value"), BODY);
        assert!(matches!(
            check(&[(GITHUB_SIGNATURE, &other)], BODY),
            Err(WebhookError::Mismatch { .. })
        ));
    }

    #[test]
    fn gitlab_token_is_compared_whole() {
        let ok = [(GITLAB_TOKEN, "It's a Secret to Everybody")];
        assert_eq!(check(&ok, BODY).map(|v| v.source), Ok(HookSource::GitLab));
        for bad in ["It's a Secret", "It's a Secret to Everybody!", ""] {
            assert!(check(&[(GITLAB_TOKEN, bad)], BODY).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reimage_signature_within_the_replay_window() {
        let s = secret();
        let t = now().timestamp();
        let sig = reimage_signature(&s, t - 200, BODY);
        assert_eq!(
            check(&[(REIMAGE_SIGNATURE, &sig)], BODY).map(|v| v.source),
            Ok(HookSource::Reimage)
        );
        // The same request replayed six minutes later is refused.
        let sig = reimage_signature(&s, t - 360, BODY);
        assert_eq!(
            check(&[(REIMAGE_SIGNATURE, &sig)], BODY),
            Err(WebhookError::Stale { t: t - 360 })
        );
        // A timestamp moved into the window without re-signing does not match.
        let moved = sig.replace(&format!("t={}", t - 360), &format!("t={t}"));
        assert_eq!(
            check(&[(REIMAGE_SIGNATURE, &moved)], BODY),
            Err(WebhookError::Mismatch {
                header: REIMAGE_SIGNATURE
            })
        );
        // Several v1 values (secret rotation): one match is enough.
        let good = reimage_signature(&s, t, BODY);
        let v1 = good.split_once(",v1=").unwrap().1;
        let two = format!("t={t},v1={},v1={v1}", "0".repeat(64));
        assert_eq!(
            check(&[(REIMAGE_SIGNATURE, &two)], BODY).map(|v| v.source),
            Ok(HookSource::Reimage)
        );
        for bad in ["v1=00", "t=abc,v1=00", &format!("t={t}"), "garbage"] {
            assert!(
                matches!(
                    check(&[(REIMAGE_SIGNATURE, bad)], BODY),
                    Err(WebhookError::Malformed { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_re_spelled_signature_header_parses_to_the_same_fields_and_identity() {
        let t = now().timestamp();
        let good = reimage_signature(&secret(), t, BODY);
        let mac = good.split_once(",v1=").unwrap().1.to_owned();
        let spellings = [
            good.clone(),
            format!("t={t}, v1={mac}"),
            format!(" t = {t} ,v1={mac} "),
            format!("v1={mac},t={t}"),
            format!("t={t},v1={mac},v0=x"),
            format!("t={t},v1={},v2=abc", mac.to_uppercase()),
        ];
        let first = ReimageSignature::parse(&good).unwrap();
        let identity = check(&[(REIMAGE_SIGNATURE, &good)], BODY).unwrap();
        for spelling in &spellings {
            assert_eq!(
                ReimageSignature::parse(spelling).as_ref(),
                Ok(&first),
                "{spelling}"
            );
            assert_eq!(
                check(&[(REIMAGE_SIGNATURE, spelling)], BODY).as_ref(),
                Ok(&identity),
                "{spelling}"
            );
        }
        // Spellings of t that would sign a different string are not the same t: refused.
        let too_many = format!("t={t}{}", format!(",v1={mac}").repeat(MAX_V1 + 1));
        for bad in [
            format!("t={t},t={t},v1={mac}"),
            format!("t=+{t},v1={mac}"),
            format!("t=0{t},v1={mac}"),
            format!("t={t},,v1={mac}"),
            format!("t={t},=x,v1={mac}"),
            too_many,
        ] {
            assert!(
                matches!(
                    ReimageSignature::parse(&bad),
                    Err(WebhookError::Malformed { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_timestamp_at_the_ends_of_i64_is_stale_not_an_overflow() {
        let mac = "0".repeat(64);
        for t in [i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1] {
            let header = format!("t={t},v1={mac}");
            assert_eq!(
                check(&[(REIMAGE_SIGNATURE, &header)], BODY),
                Err(WebhookError::Stale { t }),
                "{t}"
            );
        }
        // The edges of the window itself.
        let n = now().timestamp();
        let sig = |t| ReimageSignature { t, v1: vec![] };
        sig(n - REPLAY_WINDOW_SECONDS).check_fresh(now()).unwrap();
        sig(n + REPLAY_WINDOW_SECONDS).check_fresh(now()).unwrap();
        assert!(
            sig(n + REPLAY_WINDOW_SECONDS + 1)
                .check_fresh(now())
                .is_err()
        );
    }

    #[test]
    fn identity_comes_from_signed_material_only() {
        let sig = github_signature(&secret(), BODY);
        let a = check(
            &[(GITHUB_SIGNATURE, &sig), ("x-github-delivery", "d-1")],
            BODY,
        )
        .unwrap();
        let b = check(
            &[
                (GITHUB_SIGNATURE, &sig),
                ("x-github-delivery", "d-2"),
                ("idempotency-key", "k"),
            ],
            BODY,
        )
        .unwrap();
        assert_eq!(a.identity, b.identity);
        let other_body = br#"{"ref":"refs/heads/dev"}"#;
        let c = check(
            &[(GITHUB_SIGNATURE, &github_signature(&secret(), other_body))],
            other_body,
        )
        .unwrap();
        assert_ne!(a.identity, c.identity);
        // For X-Reimage-Signature the signed t is part of it.
        let t = now().timestamp();
        let r1 = check(
            &[(REIMAGE_SIGNATURE, &reimage_signature(&secret(), t, BODY))],
            BODY,
        )
        .unwrap();
        let r2 = check(
            &[(
                REIMAGE_SIGNATURE,
                &reimage_signature(&secret(), t - 1, BODY),
            )],
            BODY,
        )
        .unwrap();
        assert_ne!(r1.identity, r2.identity);
        assert_eq!(r1.accepted.map(|(t, _)| t), Some(t));
    }

    #[test]
    fn no_header_is_missing_and_no_secret_is_the_same_mismatch_as_a_wrong_one() {
        assert_eq!(
            verify(&HeaderMap::new(), BODY, &[&secret()], now()),
            Err(WebhookError::Missing)
        );
        // Signed with the throw-away key itself: still refused without a secret.
        let no_secret = WebhookSecret::new(String::from_utf8_lossy(NO_SECRET));
        for sig in [
            github_signature(&secret(), BODY),
            github_signature(&no_secret, BODY),
        ] {
            let h = headers(&[(GITHUB_SIGNATURE, &sig)]);
            let without = verify(&h, BODY, &[], now());
            let wrong = verify(&h, BODY, &[&WebhookSecret::new("some other secret")], now());
            assert_eq!(without, wrong);
            assert_eq!(
                without,
                Err(WebhookError::Mismatch {
                    header: GITHUB_SIGNATURE
                })
            );
        }
    }

    #[test]
    fn during_a_rotation_either_secret_verifies() {
        let old = secret();
        let new = WebhookSecret::new("the new secret, also long");
        for signer in [&old, &new] {
            let h = headers(&[(GITHUB_SIGNATURE, &github_signature(signer, BODY))]);
            verify(&h, BODY, &[&new, &old], now()).unwrap();
        }
        let h = headers(&[(GITHUB_SIGNATURE, &github_signature(&old, BODY))]);
        assert!(verify(&h, BODY, &[&new], now()).is_err());
    }

    #[test]
    fn refusals_never_show_the_secret_or_the_expected_signature() {
        let expected = github_signature(&secret(), BODY);
        let wrong = github_signature(&WebhookSecret::new("wrong secret value"), BODY);
        let err = check(&[(GITHUB_SIGNATURE, &wrong)], BODY).unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains("Secret to Everybody"), "{shown}");
            assert!(!shown.contains(&expected[7..]), "{shown}");
        }
    }

    #[test]
    fn delivery_ids_from_each_ci_system() {
        assert_eq!(
            delivery_id(&headers(&[(
                "x-github-delivery",
                "72d3162e-cc78-11e3-81ab-4c9367dc0958"
            )])),
            Some("72d3162e-cc78-11e3-81ab-4c9367dc0958".into())
        );
        assert_eq!(
            delivery_id(&headers(&[(
                "x-gitlab-event-uuid",
                "13792a34-cac6-4fda-95a8-c58e00a3954e"
            )])),
            Some("13792a34-cac6-4fda-95a8-c58e00a3954e".into())
        );
        assert_eq!(
            delivery_id(&headers(&[("idempotency-key", "build-42")])),
            Some("build-42".into())
        );
        assert_eq!(delivery_id(&headers(&[("idempotency-key", " ")])), None);
        assert_eq!(delivery_id(&HeaderMap::new()), None);
    }
}
