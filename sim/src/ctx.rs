//! What every handler is given besides the resources it works on: the sim's time, its region,
//! how long builds take, and who is calling.

use chrono::{DateTime, Duration, Utc};

use crate::error::RpcError;
use crate::keys::Principal;
use crate::params::Params;

/// How long things take.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// An image from creation to Available.
    pub image: Duration,
    /// A snapshot from creation to accomplished.
    pub snapshot: Duration,
}

/// What a handler needs besides the resources.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The sim's time (its clock plus the admin offset).
    pub now: DateTime<Utc>,
    /// The region the sim serves.
    pub region_id: String,
    /// How long snapshots and images take.
    pub timing: Timing,
    /// Who is calling.
    pub principal: Principal,
}

impl Ctx {
    /// Checks the `RegionId` parameter: required, and the sim's own region.
    pub fn region(&self, p: &Params) -> Result<(), RpcError> {
        let region = p.required("RegionId")?;
        if region != self.region_id {
            return Err(RpcError::not_found(
                "InvalidRegionId.NotFound",
                format!(
                    "The specified RegionId \"{}\" does not exist; this region is {}.",
                    crate::params::truncate(region, 64),
                    self.region_id
                ),
            ));
        }
        Ok(())
    }
}
