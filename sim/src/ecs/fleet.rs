//! Instances stopping, starting and getting a new system disk: StopInstance(s),
//! StartInstance(s) and ReplaceSystemDisk, with the cloud's transitional states.
//!
//! Nothing runs in the background: a stop or start records when it settles
//! ([`Instance::settles_at`]) and [`Ecs::settle`] applies what finished before every call. A
//! stop shows `Stopping` until then, a start `Starting`; a replaced system disk is `ReIniting`
//! until its replacement is written. How long each takes is [`PowerTiming`] (zero unless the
//! admin interface or the builder sets it).
//!
//! Documentation:
//! <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-stopinstances>,
//! <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-startinstances>,
//! <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-replacesystemdisk>.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::errors;
use super::state::{Disk, Ecs, ImageStatus, Instance, InstanceStatus, later};
use crate::ctx::Ctx;
use crate::error::RpcError;
use crate::params::Params;

/// How long instances take to stop, to boot, and to get a new system disk written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PowerTiming {
    /// `Stopping` → `Stopped`.
    pub stop: Duration,
    /// `Starting` → `Running`.
    pub boot: Duration,
    /// A new system disk `ReIniting` → `In_use`.
    pub replace: Duration,
}

/// Most `InstanceId.N` of StopInstances and StartInstances.
pub const MAX_BATCH: usize = 100;

/// The stop modes a request may name; `Not-applicable` is only ever an answer.
const STOPPED_MODES: [&str; 2] = ["KeepCharging", "StopCharging"];

impl Instance {
    /// Whether a security lock holds the instance.
    fn security_locked(&self) -> bool {
        self.locks.iter().any(|l| l == "security")
    }

    /// The `StoppedMode` DescribeInstances reports.
    pub fn stopped_mode_shown(&self) -> &str {
        match (self.status, &self.stopped_mode) {
            (InstanceStatus::Stopped | InstanceStatus::Stopping, Some(mode)) => mode,
            _ => "Not-applicable",
        }
    }
}

impl Ecs {
    /// Applies the stops and starts that finished by `now`.
    pub fn settle(&mut self, now: DateTime<Utc>) {
        for instance in &mut self.instances {
            if instance.settles_at.is_some_and(|t| t <= now) {
                instance.settles_at = None;
                instance.status = match instance.status {
                    InstanceStatus::Stopping => InstanceStatus::Stopped,
                    InstanceStatus::Starting | InstanceStatus::Pending => InstanceStatus::Running,
                    other => other,
                };
            }
        }
    }

    /// The system disk attached to `instance_id`.
    fn system_disk(&self, instance_id: &str) -> Option<&Disk> {
        self.disks
            .iter()
            .find(|d| d.kind == "system" && d.instance_id.as_deref() == Some(instance_id))
    }

    /// Why `id` cannot be stopped now, if it cannot.
    fn check_stop(&self, id: &str) -> Result<(), RpcError> {
        let instance = self.instance(id)?;
        if instance.security_locked() {
            return Err(errors::locked_for_security(id));
        }
        if instance.status != InstanceStatus::Running {
            return Err(forbidden_status(id, instance.status));
        }
        Ok(())
    }

    /// Why `id` cannot be started now, if it cannot.
    fn check_start(&self, id: &str, now: DateTime<Utc>) -> Result<(), RpcError> {
        let instance = self.instance(id)?;
        if instance.security_locked() {
            return Err(errors::locked_for_security(id));
        }
        if instance.status != InstanceStatus::Stopped {
            return Err(forbidden_status(id, instance.status));
        }
        if self
            .system_disk(id)
            .is_some_and(|d| d.status(now) != "In_use")
        {
            return Err(errors::disk_error(id));
        }
        Ok(())
    }

    /// Stops `id` (checked): `Stopping` until the stop time has passed. Answers the
    /// statuses before and after.
    fn stop(
        &mut self,
        id: &str,
        mode: &str,
        now: DateTime<Utc>,
    ) -> (InstanceStatus, InstanceStatus) {
        let until = later(now, self.power.stop);
        let Ok(instance) = self.instance_mut(id) else {
            unreachable!("checked before");
        };
        let previous = instance.status;
        instance.status = InstanceStatus::Stopping;
        instance.settles_at = Some(until);
        instance.stopped_mode = Some(mode.to_owned());
        (previous, InstanceStatus::Stopping)
    }

    /// Starts `id` (checked): `Starting` until the boot time has passed.
    fn start(&mut self, id: &str, now: DateTime<Utc>) -> (InstanceStatus, InstanceStatus) {
        let until = later(now, self.power.boot);
        let Ok(instance) = self.instance_mut(id) else {
            unreachable!("checked before");
        };
        let previous = instance.status;
        instance.status = InstanceStatus::Starting;
        instance.settles_at = Some(until);
        instance.stopped_mode = None;
        (previous, InstanceStatus::Starting)
    }

    /// ReplaceSystemDisk: the new system disk's id.
    pub fn replace_system_disk(
        &mut self,
        req: &ReplaceSystemDisk,
        now: DateTime<Utc>,
    ) -> Result<String, RpcError> {
        let fingerprint = format!(
            "{}|{}|{:?}|{}|{:?}",
            req.instance_id, req.image_id, req.size, req.password_inherit, req.key_pair_name
        );
        if let Some(id) = self.token_lookup(
            "ReplaceSystemDisk",
            req.client_token.as_deref(),
            &fingerprint,
        )? {
            return Ok(id);
        }
        let instance = self.instance(&req.instance_id)?;
        if instance.security_locked() {
            return Err(errors::locked_for_security(&req.instance_id));
        }
        if instance.status != InstanceStatus::Stopped {
            return Err(forbidden_status(&req.instance_id, instance.status));
        }
        let Some(old) = self.system_disk(&req.instance_id).cloned() else {
            return Err(RpcError::bad_request(
                "InvalidInstance.NotFoundSystemDisk",
                "The specified instance has no system disk.",
            ));
        };
        if old.status(now) != "In_use" {
            return Err(RpcError::forbidden(
                "IncorrectDiskStatus",
                format!(
                    "The current disk status does not support this operation: system disk {} is {}.",
                    old.disk_id,
                    old.status(now)
                ),
            ));
        }
        let image = self
            .image(&req.image_id)
            .filter(|m| m.status(now).0 == ImageStatus::Available)
            .ok_or_else(|| errors::image_not_found(&req.image_id))?;
        let image_size = image.size;
        let size = match req.size {
            None => image_size.max(old.size).max(40),
            Some(size) if size < image_size => {
                return Err(RpcError::not_found(
                    "InvalidSystemDiskSize.LessThanImageSize",
                    format!(
                        "The specified parameter SystemDisk.Size ({size} GiB) is less than the image size ({image_size} GiB)."
                    ),
                ));
            }
            Some(size) if size < old.size => {
                return Err(RpcError::bad_request(
                    "InvalidSystemDiskSize.ValueNotSupported",
                    format!(
                        "The specified parameter SystemDisk.Size is invalid: {size} GiB is less than the current system disk ({} GiB).",
                        old.size
                    ),
                ));
            }
            Some(size) if size > 2048 => {
                return Err(RpcError::not_found(
                    "InvalidSystemDiskSize.MoreThanMaxSize",
                    "The specified SystemDisk.Size parameter exceeds the maximum size (2048 GiB).",
                ));
            }
            Some(size) => size,
        };
        let disk_id = self.new_id("d");
        let reiniting_until = later(now, self.power.replace);
        self.disks.retain(|d| d.disk_id != old.disk_id);
        self.disks.push(Disk {
            disk_id: disk_id.clone(),
            size,
            image_id: req.image_id.clone(),
            creation_time: now,
            reiniting_until: Some(reiniting_until),
            ..old
        });
        // DescribeInstances' ImageId is "the ID of the image that the instance is running".
        let instance = self.instance_mut(&req.instance_id)?;
        instance.image_id = req.image_id.clone();
        instance.replacements += 1;
        if let Some(key) = &req.key_pair_name {
            instance.key_pair_name = Some(key.clone());
        }
        self.token_remember(
            "ReplaceSystemDisk",
            req.client_token.as_deref(),
            fingerprint,
            &disk_id,
        );
        Ok(disk_id)
    }
}

/// 403 `IncorrectInstanceStatus`, as StopInstance(s), StartInstance(s) and ReplaceSystemDisk
/// answer it.
fn forbidden_status(id: &str, status: InstanceStatus) -> RpcError {
    let mut err = errors::incorrect_instance_status(id, status.as_str());
    err.status = http::StatusCode::FORBIDDEN;
    err
}

/// A ReplaceSystemDisk request, checked.
#[derive(Debug, Clone)]
pub struct ReplaceSystemDisk {
    /// `InstanceId`.
    pub instance_id: String,
    /// `ImageId`.
    pub image_id: String,
    /// `SystemDisk.Size`, GiB.
    pub size: Option<u32>,
    /// `PasswordInherit`.
    pub password_inherit: bool,
    /// `KeyPairName`.
    pub key_pair_name: Option<String>,
    /// `ClientToken`.
    pub client_token: Option<String>,
}

/// `BatchOptimization`: all or nothing (the default), or each instance on its own.
fn success_first(p: &Params) -> Result<bool, RpcError> {
    match p.get("BatchOptimization") {
        None | Some("AllTogether") => Ok(false),
        Some("SuccessFirst") => Ok(true),
        Some(_) => Err(RpcError::invalid(
            "BatchOptimization",
            "must be AllTogether or SuccessFirst",
        )),
    }
}

fn stopped_mode(p: &Params) -> Result<String, RpcError> {
    match p.get("StoppedMode") {
        // Economical mode is never on by default in the sim: a stop keeps charging.
        None => Ok("KeepCharging".to_owned()),
        Some(mode) if STOPPED_MODES.contains(&mode) => Ok(mode.to_owned()),
        Some(_) => Err(RpcError::invalid(
            "StoppedMode",
            "must be StopCharging or KeepCharging",
        )),
    }
}

/// A passed dry run of a batch operation.
fn dry_run_success() -> RpcError {
    RpcError::bad_request(
        "DRYRUN.SUCCESS",
        "This request is a dryrun request with successful result.",
    )
}

/// StopInstances and StartInstances: the batch, checked all together or each on its own.
fn batch(
    ecs: &mut Ecs,
    p: &Params,
    ctx: &Ctx,
    check: impl Fn(&Ecs, &str) -> Result<(), RpcError>,
    mut act: impl FnMut(&mut Ecs, &str) -> (InstanceStatus, InstanceStatus),
) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let ids = p.list("InstanceId", MAX_BATCH)?;
    if ids.is_empty() {
        return Err(RpcError::missing("InstanceId.1"));
    }
    let success_first = success_first(p)?;
    let dry_run = p.bool("DryRun", false)?;
    if !success_first {
        for id in &ids {
            check(ecs, id)?;
        }
        if dry_run {
            return Err(dry_run_success());
        }
    } else if dry_run {
        return Err(dry_run_success());
    }
    let answers: Vec<Value> = ids
        .iter()
        .map(|id| match check(ecs, id) {
            Ok(()) => {
                let (previous, current) = act(ecs, id);
                json!({
                    "InstanceId": id,
                    "Code": "200",
                    "Message": "success",
                    "PreviousStatus": previous.as_str(),
                    "CurrentStatus": current.as_str(),
                })
            }
            Err(e) => json!({
                "InstanceId": id,
                "Code": e.code,
                "Message": e.message,
                "PreviousStatus": "",
                "CurrentStatus": "",
            }),
        })
        .collect();
    Ok(json!({"InstanceResponses": {"InstanceResponse": answers}}))
}

/// StopInstances.
pub fn stop_instances(ecs: &mut Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    let mode = stopped_mode(p)?;
    p.bool("ForceStop", false)?;
    let now = ctx.now;
    batch(ecs, p, ctx, Ecs::check_stop, |ecs, id| {
        ecs.stop(id, &mode, now)
    })
}

/// StartInstances.
pub fn start_instances(ecs: &mut Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    let now = ctx.now;
    batch(
        ecs,
        p,
        ctx,
        |ecs, id| ecs.check_start(id, now),
        |ecs, id| ecs.start(id, now),
    )
}

/// StopInstance (no RegionId: the instance id says where it lives).
pub fn stop_instance(ecs: &mut Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    let id = p.required("InstanceId")?;
    let mode = stopped_mode(p)?;
    p.bool("ForceStop", false)?;
    ecs.check_stop(id)?;
    if p.bool("DryRun", false)? {
        return Err(errors::dry_run_operation());
    }
    ecs.stop(id, &mode, ctx.now);
    Ok(json!({}))
}

/// StartInstance.
pub fn start_instance(ecs: &mut Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    let id = p.required("InstanceId")?;
    ecs.check_start(id, ctx.now)?;
    if p.bool("DryRun", false)? {
        return Err(errors::dry_run_operation());
    }
    ecs.start(id, ctx.now);
    Ok(json!({}))
}

/// The password rule: 8 to 30 characters, with at least three of upper-case letters,
/// lower-case letters, digits and the documented special characters.
pub(super) fn password_ok(password: &str) -> bool {
    const SPECIAL: &str = "()`~!@#$%^&*-_+=|{}[]:;'<>,.?/";
    let len = password.chars().count();
    if !(8..=30).contains(&len) || !password.chars().all(|c| c.is_ascii_graphic()) {
        return false;
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| SPECIAL.contains(c)),
    ];
    classes.iter().filter(|c| **c).count() >= 3
        && password
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || SPECIAL.contains(c))
}

/// ReplaceSystemDisk (no RegionId).
pub fn replace_system_disk(ecs: &mut Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    let instance_id = p.required("InstanceId")?;
    let image_id = match (p.get("ImageId"), p.get("DiskId")) {
        (Some(_), Some(_)) => {
            return Err(RpcError::invalid(
                "DiskId",
                "ImageId and DiskId cannot both be set",
            ));
        }
        (Some(image), None) => image,
        (None, Some(_)) => {
            return Err(RpcError::invalid(
                "DiskId",
                "replacing from a disk is available to selected users only; set ImageId",
            ));
        }
        (None, None) => return Err(RpcError::missing("ImageId")),
    };
    let password_inherit = p.bool("PasswordInherit", false)?;
    if let Some(password) = p.get("Password") {
        if password_inherit {
            return Err(RpcError::bad_request(
                "InvalidPasswordParam.Mismatch",
                "The input password should be null when passwdInherit is true.",
            ));
        }
        if !password_ok(password) {
            return Err(RpcError::bad_request(
                "InvalidPassword.Malformed",
                "The specified parameter \"Password\" is not valid.",
            ));
        }
    }
    let size = p
        .get("SystemDisk.Size")
        .map(|_| p.int("SystemDisk.Size", 1, 65_536, 0))
        .transpose()?
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    let client_token = p.get("ClientToken");
    if client_token.is_some_and(|t| t.len() > 64 || !t.is_ascii()) {
        return Err(RpcError::invalid(
            "ClientToken",
            "at most 64 ASCII characters",
        ));
    }
    let req = ReplaceSystemDisk {
        instance_id: instance_id.to_owned(),
        image_id: image_id.to_owned(),
        size,
        password_inherit,
        key_pair_name: p.get("KeyPairName").map(str::to_owned),
        client_token: client_token.map(str::to_owned),
    };
    let disk_id = ecs.replace_system_disk(&req, ctx.now)?;
    Ok(json!({ "DiskId": disk_id }))
}

#[cfg(test)]
mod tests {
    use super::password_ok;

    #[test]
    fn passwords_need_three_kinds_of_characters() {
        for ok in ["Abcdefg1", "abcdef1!", "ABCDEF1!", "Abc!defgh"] {
            assert!(password_ok(ok), "{ok}");
        }
        for bad in [
            "abcdefgh",
            "Abcdefgh",
            "Ab1!",
            "Abcdefg1 ",
            &"Ab1!".repeat(8),
        ] {
            assert!(!password_ok(bad), "{bad}");
        }
    }
}
