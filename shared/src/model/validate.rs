//! One rule per kind of input, used by the engine, tasks, the HTTP API and the CLI alike, so
//! that an id or an ARN one entry point accepts is accepted by every other.
//!
//! - Resource ids: a prefix (`i-`, `asc-`, `m-`) followed by 1 to 64 ASCII letters
//!   and digits, the form ECS and ESS give their ids.
//! - RAM role ARNs: `acs:ram::<account-id>:role/<role-name>`, the account id all digits, the
//!   role name 1 to 64 letters, digits, `.`, `-` or `_`
//!   (<https://www.alibabacloud.com/help/en/ram/user-guide/create-a-ram-role-for-a-trusted-alibaba-cloud-account>).
//! - Image names: [`super::naming::validate_image_name`], which is the client's own check.

/// The prefix of an ECS instance id.
pub const INSTANCE: &str = "i-";
/// The prefix of a scaling configuration id.
pub const CONFIGURATION: &str = "asc-";
/// The prefix of a custom image id.
pub const IMAGE: &str = "m-";

/// The longest part after a resource id's prefix.
const RESOURCE_ID_MAX: usize = 64;

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Not a resource id of the expected kind.
    #[error("{id:?} is not {what} ({prefix} and 1 to 64 letters and digits)")]
    ResourceId {
        /// The input.
        id: String,
        /// What it should have been, with its article: `an ECS instance id`.
        what: &'static str,
        /// The prefix it should have had.
        prefix: &'static str,
    },
    /// Not a RAM role ARN.
    #[error("{0:?} is not a RAM role ARN (acs:ram::<account-id>:role/<role-name>)")]
    RoleArn(String),
}

/// Whether `id` is `prefix` followed by 1 to 64 ASCII letters and digits.
pub fn is_resource_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= RESOURCE_ID_MAX
            && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

fn resource_id(id: &str, prefix: &'static str, what: &'static str) -> Result<(), Invalid> {
    if is_resource_id(id, prefix) {
        Ok(())
    } else {
        Err(Invalid::ResourceId {
            id: id.to_owned(),
            what,
            prefix,
        })
    }
}

/// Checks an ECS instance id (`i-…`).
pub fn instance_id(id: &str) -> Result<(), Invalid> {
    resource_id(id, INSTANCE, "an ECS instance id")
}

/// Checks a scaling configuration id (`asc-…`).
pub fn configuration_id(id: &str) -> Result<(), Invalid> {
    resource_id(id, CONFIGURATION, "a scaling configuration id")
}

/// Checks a scaling group id (`asg-…`).
pub fn group_id(id: &str) -> Result<(), Invalid> {
    resource_id(id, "asg-", "a scaling group id")
}

/// Checks a RAM role ARN: `acs:ram::<account-id>:role/<role-name>`.
pub fn role_arn(arn: &str) -> Result<(), Invalid> {
    let ok = arn
        .strip_prefix("acs:ram::")
        .and_then(|rest| rest.split_once(":role/"))
        .is_some_and(|(account, role)| {
            !account.is_empty()
                && account.bytes().all(|b| b.is_ascii_digit())
                && (1..=64).contains(&role.len())
                && role
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        });
    if ok {
        Ok(())
    } else {
        Err(Invalid::RoleArn(arn.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_are_a_prefix_and_letters_and_digits() {
        instance_id("i-bp1demoweb000000001").unwrap();
        configuration_id("asc-bp1demoweb0000001").unwrap();
        for bad in [
            "",
            "i-",
            "bp1",
            "i-a_b",
            "i-a-b",
            "i-a/b",
            "asc-1",
            &format!("i-{}", "a".repeat(65)),
        ] {
            let err = instance_id(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
            assert!(err.to_string().contains("an ECS instance id"), "{err}");
        }
        instance_id(&format!("i-{}", "a".repeat(64))).unwrap();
        assert!(configuration_id("i-1").is_err());
    }

    #[test]
    fn role_arns_name_an_account_and_a_role() {
        role_arn("acs:ram::1234567890123456:role/reimage-updater").unwrap();
        role_arn("acs:ram::1:role/a.b_c-d").unwrap();
        for bad in [
            "",
            "acs:ram::",
            "acs:ram:::role/x",
            "acs:ram::12a:role/x",
            "acs:ram::1:role/",
            "acs:ram::1:role/a b",
            "acs:ram::1:user/x",
            "acs:ram::1:role/x:role/y",
            &format!("acs:ram::1:role/{}", "r".repeat(65)),
        ] {
            assert_eq!(
                role_arn(bad),
                Err(Invalid::RoleArn(bad.to_owned())),
                "{bad}"
            );
        }
    }
}
