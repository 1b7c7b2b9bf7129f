//! CI webhook authentication: pure checks of a request's headers and raw body against a
//! task's [`WebhookSecret`].
//!
//! Three forms are accepted, tried in this order by which header is present:
//!
//! | CI system | header | check |
//! |---|---|---|
//! | GitHub | `X-Hub-Signature-256: sha256=<hex>` | HMAC-SHA256 of the raw body |
//! | GitLab | `X-Gitlab-Token: <secret>` | the shared token itself |
//! | any other | `X-Reimage-Signature: t=<unix>,v1=<hex>` | HMAC-SHA256 of `<t>.<body>`, `t` within 5 minutes of now |
//!
//! Every comparison is constant-time ([`subtle`]), so the time a refusal takes says nothing
//! about how much of a signature was right. A redelivery is recognised by its delivery id
//! ([`delivery_id`]): `X-GitHub-Delivery`, `X-Gitlab-Event-UUID` or `Idempotency-Key`.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use sha2::Sha256;
use subtle::ConstantTimeEq;

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

/// The longest delivery id accepted.
const DELIVERY_ID_MAX: usize = 200;

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
/// expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No signature header at all.
    #[error(
        "no webhook signature: send X-Hub-Signature-256, X-Gitlab-Token or X-Reimage-Signature"
    )]
    Missing,
    /// The task has no webhook secret, so it takes no webhooks.
    #[error("this task has no webhook secret")]
    NotConfigured,
    /// A signature header that is not in its documented form.
    #[error("{header} is malformed: {reason}")]
    Malformed {
        /// The header.
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A well-formed signature that does not match.
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

/// Checks a webhook request. `secret` is the task's; `now` bounds the replay window.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    secret: Option<&WebhookSecret>,
    now: DateTime<Utc>,
) -> Result<HookSource, WebhookError> {
    let github = headers.get(GITHUB_SIGNATURE);
    let gitlab = headers.get(GITLAB_TOKEN);
    let reimage = headers.get(REIMAGE_SIGNATURE);
    if github.is_none() && gitlab.is_none() && reimage.is_none() {
        return Err(WebhookError::Missing);
    }
    let secret = secret.ok_or(WebhookError::NotConfigured)?;
    if let Some(value) = github {
        let malformed = |reason| WebhookError::Malformed {
            header: GITHUB_SIGNATURE,
            reason,
        };
        let hex_sig = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("sha256="))
            .ok_or(malformed("expected sha256=<hex>"))?;
        let given = decode_mac(hex_sig).ok_or(malformed("expected 64 hex digits"))?;
        let expected = hmac_parts(secret, &[body]);
        return if bool::from(given.ct_eq(&expected)) {
            Ok(HookSource::GitHub)
        } else {
            Err(WebhookError::Mismatch {
                header: GITHUB_SIGNATURE,
            })
        };
    }
    if let Some(value) = gitlab {
        return if bool::from(value.as_bytes().ct_eq(secret.expose())) {
            Ok(HookSource::GitLab)
        } else {
            Err(WebhookError::Mismatch {
                header: GITLAB_TOKEN,
            })
        };
    }
    let value = reimage.ok_or(WebhookError::Missing)?;
    let malformed = |reason| WebhookError::Malformed {
        header: REIMAGE_SIGNATURE,
        reason,
    };
    let value = value.to_str().map_err(|_| malformed("not visible ASCII"))?;
    let mut t: Option<&str> = None;
    let mut signatures: Vec<[u8; 32]> = Vec::new();
    for part in value.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v),
            Some(("v1", v)) => {
                signatures.push(decode_mac(v).ok_or(malformed("v1 must be 64 hex digits"))?)
            }
            // Other schemes (a future v2) are ignored, as Stripe-style receivers do.
            Some(_) => {}
            None => return Err(malformed("expected t=<unix>,v1=<hex>")),
        }
    }
    let t_text = t.ok_or(malformed("no t=<unix seconds>"))?;
    let t_value: i64 = t_text
        .parse()
        .map_err(|_| malformed("t must be unix seconds"))?;
    if signatures.is_empty() {
        return Err(malformed("no v1=<hex>"));
    }
    if (now.timestamp() - t_value).abs() > REPLAY_WINDOW_SECONDS {
        return Err(WebhookError::Stale { t: t_value });
    }
    let expected = hmac_parts(secret, &[t_text.as_bytes(), b".", body]);
    // Check every candidate, so the time taken does not depend on which one matched.
    let matched = signatures.iter().fold(subtle::Choice::from(0), |acc, sig| {
        acc | sig.ct_eq(&expected)
    });
    if bool::from(matched) {
        Ok(HookSource::Reimage)
    } else {
        Err(WebhookError::Mismatch {
            header: REIMAGE_SIGNATURE,
        })
    }
}

/// The CI system's delivery id, if the request carries one (used to recognise a redelivery).
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
    // HMAC takes keys of any length, so this cannot fail; an empty MAC would only refuse.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose()) else {
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

    #[test]
    fn github_documented_example_verifies() {
        // The example in GitHub's "Validating webhook deliveries" documentation.
        let h = headers(&[(
            GITHUB_SIGNATURE,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        )]);
        assert_eq!(
            verify(&h, b"Hello, World!", Some(&secret()), now()),
            Ok(HookSource::GitHub)
        );
        assert_eq!(
            verify(&h, b"Hello, World?", Some(&secret()), now()),
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
            let err = verify(
                &headers(&[(GITHUB_SIGNATURE, &bad)]),
                BODY,
                Some(&secret()),
                now(),
            )
            .unwrap_err();
            assert!(
                matches!(err, WebhookError::Malformed { .. }),
                "{bad}: {err:?}"
            );
        }
        let other = github_signature(&WebhookSecret::new("another secret value"), BODY);
        assert!(matches!(
            verify(
                &headers(&[(GITHUB_SIGNATURE, &other)]),
                BODY,
                Some(&secret()),
                now()
            ),
            Err(WebhookError::Mismatch { .. })
        ));
    }

    #[test]
    fn gitlab_token_is_compared_whole() {
        let s = secret();
        let ok = headers(&[(GITLAB_TOKEN, "It's a Secret to Everybody")]);
        assert_eq!(verify(&ok, BODY, Some(&s), now()), Ok(HookSource::GitLab));
        for bad in ["It's a Secret", "It's a Secret to Everybody!", ""] {
            assert!(
                verify(&headers(&[(GITLAB_TOKEN, bad)]), BODY, Some(&s), now()).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn reimage_signature_within_the_replay_window() {
        let s = secret();
        let t = now().timestamp();
        let sig = reimage_signature(&s, t - 200, BODY);
        assert_eq!(
            verify(
                &headers(&[(REIMAGE_SIGNATURE, &sig)]),
                BODY,
                Some(&s),
                now()
            ),
            Ok(HookSource::Reimage)
        );
        // The same request replayed six minutes later is refused.
        let sig = reimage_signature(&s, t - 360, BODY);
        assert_eq!(
            verify(
                &headers(&[(REIMAGE_SIGNATURE, &sig)]),
                BODY,
                Some(&s),
                now()
            ),
            Err(WebhookError::Stale { t: t - 360 })
        );
        // A timestamp moved into the window without re-signing does not match.
        let moved = sig.replace(&format!("t={}", t - 360), &format!("t={t}"));
        assert_eq!(
            verify(
                &headers(&[(REIMAGE_SIGNATURE, &moved)]),
                BODY,
                Some(&s),
                now()
            ),
            Err(WebhookError::Mismatch {
                header: REIMAGE_SIGNATURE
            })
        );
        // Several v1 values (secret rotation): one match is enough.
        let good = reimage_signature(&s, t, BODY);
        let v1 = good.split_once(",v1=").unwrap().1;
        let two = format!("t={t},v1={},v1={v1}", "0".repeat(64));
        assert_eq!(
            verify(
                &headers(&[(REIMAGE_SIGNATURE, &two)]),
                BODY,
                Some(&s),
                now()
            ),
            Ok(HookSource::Reimage)
        );
        for bad in ["v1=00", "t=abc,v1=00", &format!("t={t}"), "garbage"] {
            assert!(
                matches!(
                    verify(&headers(&[(REIMAGE_SIGNATURE, bad)]), BODY, Some(&s), now()),
                    Err(WebhookError::Malformed { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn no_header_or_no_secret_is_refused() {
        assert_eq!(
            verify(&HeaderMap::new(), BODY, Some(&secret()), now()),
            Err(WebhookError::Missing)
        );
        let sig = github_signature(&secret(), BODY);
        assert_eq!(
            verify(&headers(&[(GITHUB_SIGNATURE, &sig)]), BODY, None, now()),
            Err(WebhookError::NotConfigured)
        );
    }

    #[test]
    fn refusals_never_show_the_secret_or_the_expected_signature() {
        let s = secret();
        let expected = github_signature(&s, BODY);
        let wrong = github_signature(&WebhookSecret::new("wrong secret value"), BODY);
        let err = verify(
            &headers(&[(GITHUB_SIGNATURE, &wrong)]),
            BODY,
            Some(&s),
            now(),
        )
        .unwrap_err();
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
