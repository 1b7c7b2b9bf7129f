//! Image names, as the Auto Scaling console's image update task gives them.
//!
//! - Without a given name: `UpdateImage_from_<instance-id>_on_<execution-id>`.
//! - With a given name: `<name>_on_<execution-id>_at_<UTC time as YYYY-MM-DDTHH:MM:SSZ>`.
//!
//! Every name is checked against ECS's rules for `ImageName` before any cloud call: 2 to 128
//! characters, starting with a letter, made only of letters, digits, `:`, `_` and `-`, and not
//! starting with `http://` or `https://` (the client's check, which also accepts Chinese
//! letters and refuses periods, the stricter reading of ECS's documentation).

use chrono::{DateTime, Utc};

use super::execution::ExecutionId;

/// The shortest image name ECS accepts.
pub const IMAGE_NAME_MIN: usize = 2;
/// The longest image name ECS accepts.
pub const IMAGE_NAME_MAX: usize = 128;

/// Why an image name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name breaks one of ECS's rules.
    #[error("image name {name:?} is not legal in ECS: {reason}")]
    Illegal {
        /// The name as given or built.
        name: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// The given name leaves no room for the `_on_<execution-id>_at_<time>` suffix.
    #[error(
        "image name {name:?} is {len} characters; with the suffix `{suffix}` reimage adds, \
         a given name may be at most {max} characters"
    )]
    TooLongForSuffix {
        /// The given name.
        name: String,
        /// Its length in characters.
        len: usize,
        /// The suffix that must fit after it.
        suffix: String,
        /// The longest given name that fits.
        max: usize,
    },
}

/// Checks `name` against ECS's rules for `ImageName` (the client's own check,
/// [`crate::aliyun::ecs::validate_image_name`], so reimage refuses exactly what its client
/// would refuse to send).
pub fn validate_image_name(name: &str) -> Result<(), NameError> {
    let illegal = |reason: String| NameError::Illegal {
        name: name.to_owned(),
        reason,
    };
    let len = name.chars().count();
    if len < IMAGE_NAME_MIN {
        return Err(illegal("shorter than 2 characters".into()));
    }
    if len > IMAGE_NAME_MAX {
        return Err(illegal("longer than 128 characters".into()));
    }
    crate::aliyun::ecs::validate_image_name(name).map_err(|e| illegal(e.problem))
}

/// The name of the image an execution creates.
///
/// `given` is the name the user chose, if any; `started_at` is the execution's start time,
/// used (to the second, UTC) in the `_at_` suffix. The result is checked with
/// [`validate_image_name`]; a given name too long for the suffix is refused with
/// [`NameError::TooLongForSuffix`], which says how long it may be.
pub fn image_name(
    instance_id: &str,
    given: Option<&str>,
    execution_id: &ExecutionId,
    started_at: DateTime<Utc>,
) -> Result<String, NameError> {
    let name = match given {
        None => format!("UpdateImage_from_{instance_id}_on_{execution_id}"),
        Some(given) => {
            let suffix = format!(
                "_on_{execution_id}_at_{}",
                started_at.format("%Y-%m-%dT%H:%M:%SZ")
            );
            let len = given.chars().count();
            let max = IMAGE_NAME_MAX.saturating_sub(suffix.chars().count());
            if len > max {
                return Err(NameError::TooLongForSuffix {
                    name: given.to_owned(),
                    len,
                    suffix,
                    max,
                });
            }
            // The given part must be a legal name on its own (2+ characters, starting with a
            // letter, legal characters), so that the message names the user's own text.
            validate_image_name(given)?;
            format!("{given}{suffix}")
        }
    };
    validate_image_name(&name)?;
    Ok(name)
}

/// Whether `name` has the form an execution's image name must have: exactly
/// [`image_name`]'s output for this instance, given name and execution, with any valid
/// timestamp in the `_at_` suffix.
///
/// `verify` uses this to check the image that ended up in the configurations.
pub fn has_expected_form(
    name: &str,
    instance_id: &str,
    given: Option<&str>,
    execution_id: &ExecutionId,
) -> bool {
    if validate_image_name(name).is_err() {
        return false;
    }
    match given {
        None => name == format!("UpdateImage_from_{instance_id}_on_{execution_id}"),
        Some(given) => {
            let Some(rest) = name.strip_prefix(&format!("{given}_on_{execution_id}_at_")) else {
                return false;
            };
            rest.len() == 20 && DateTime::parse_from_rfc3339(rest).is_ok() && rest.ends_with('Z')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn exec() -> ExecutionId {
        ExecutionId::parse("exec-0123456789abcdef0123456789abcdef").unwrap()
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap()
    }

    #[test]
    fn default_name_names_instance_and_execution() {
        let name = image_name("i-bp1abc", None, &exec(), at()).unwrap();
        assert_eq!(
            name,
            "UpdateImage_from_i-bp1abc_on_exec-0123456789abcdef0123456789abcdef"
        );
    }

    #[test]
    fn given_name_carries_execution_and_utc_second() {
        let name = image_name("web", Some("web-base"), &exec(), at()).unwrap();
        assert_eq!(
            name,
            "web-base_on_exec-0123456789abcdef0123456789abcdef_at_2026-03-04T05:06:07Z"
        );
        assert!(has_expected_form(&name, "web", Some("web-base"), &exec()));
        assert!(!has_expected_form(&name, "web", Some("web"), &exec()));
        assert!(!has_expected_form(&name, "web", None, &exec()));
    }

    #[test]
    fn given_name_too_long_for_suffix_says_how_long_it_may_be() {
        // suffix: "_on_" (4) + 37-char id + "_at_" (4) + 20-char time = 65, so 63 fit.
        let fits = "a".repeat(63);
        image_name("i-1", Some(&fits), &exec(), at()).unwrap();
        let long = "a".repeat(64);
        let err = image_name("i-1", Some(&long), &exec(), at()).unwrap_err();
        assert!(matches!(
            err,
            NameError::TooLongForSuffix {
                max: 63,
                len: 64,
                ..
            }
        ));
        assert!(err.to_string().contains("at most 63 characters"), "{err}");
    }

    #[test]
    fn ecs_rules_are_enforced() {
        validate_image_name("ab").unwrap();
        validate_image_name("a:b_c-d9").unwrap();
        assert!(validate_image_name("a").is_err());
        assert!(validate_image_name(&"a".repeat(129)).is_err());
        validate_image_name(&"a".repeat(128)).unwrap();
        assert!(validate_image_name("1abc").is_err());
        assert!(validate_image_name("_abc").is_err());
        assert!(validate_image_name("ab c").is_err());
        assert!(validate_image_name("ab.c").is_err());
        assert!(validate_image_name("ab/c").is_err());
        assert!(validate_image_name("http://x").is_err());
        assert!(validate_image_name("HTTPS://x").is_err());
        validate_image_name("镜像-web").unwrap();
        // "https" alone is a legal start; only the scheme prefix is refused.
        validate_image_name("https-base").unwrap();
    }

    #[test]
    fn given_name_errors_name_the_given_text() {
        let err = image_name("i-1", Some("9lives"), &exec(), at()).unwrap_err();
        match err {
            NameError::Illegal { name, reason } => {
                assert_eq!(name, "9lives");
                assert!(reason.contains("letter"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = image_name("i-1", Some("has space"), &exec(), at()).unwrap_err();
        assert!(err.to_string().contains("' '"), "{err}");
        assert!(image_name("i-1", Some("x"), &exec(), at()).is_err());
    }

    #[test]
    fn default_name_with_illegal_instance_id_is_refused() {
        let err = image_name("i-1/../x", None, &exec(), at()).unwrap_err();
        assert!(matches!(err, NameError::Illegal { .. }));
    }

    #[test]
    fn expected_form_rejects_bad_timestamps() {
        let id = exec();
        let base = format!("web_on_{id}_at_");
        assert!(has_expected_form(
            &format!("{base}2026-03-04T05:06:07Z"),
            "i",
            Some("web"),
            &id
        ));
        assert!(!has_expected_form(
            &format!("{base}2026-13-04T05:06:07Z"),
            "i",
            Some("web"),
            &id
        ));
        assert!(!has_expected_form(
            &format!("{base}2026-03-04T05:06:07+00:00"),
            "i",
            Some("web"),
            &id
        ));
        assert!(!has_expected_form(
            &format!("{base}now"),
            "i",
            Some("web"),
            &id
        ));
    }
}
