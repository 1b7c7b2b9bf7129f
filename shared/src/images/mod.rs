//! Image lifecycle: what reimage made, what still needs it, and retention that deletes the
//! rest without ever deleting an image in use.
//!
//! Every snapshot and image reimage creates is tagged `reimage:managed=true`, with the
//! execution and task that made it (`reimage:execution`, `reimage:task`), from the moment it
//! is created. Retention looks only at those. Per task (and a default for all) it keeps the
//! newest `keep` Available images and any younger than `keep_days`; of the rest, it deletes
//! none that:
//!
//! - any scaling configuration of the region launches from (not only the task's);
//! - any version of any launch template launches from;
//! - instances run from (DescribeImages `Usage`; ECS's own refusal to delete such an image
//!   is not enough alone, since it does not see configurations or templates);
//! - is shared with another account, published, or public;
//! - an execution or rollout at work may put back or move onto;
//! - is still being made.
//!
//! A deletion takes two passes: the first marks the image (the tag `reimage:prune-marked`,
//! its value the time), and a pass after the grace period (24 hours by default) deletes it,
//! with its snapshots, if it is still unneeded then; a mark on an image something needs again
//! is removed. Snapshots reimage made that no image or disk uses (left by an execution that
//! died before it cleaned up, or by a pass cut short between an image and its snapshot) go
//! the same way. Marks and deletions are read back from the region at each pass, so a pass
//! cut short at any point is finished by the next.
//!
//! See <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-deleteimage>
//! and <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeimages>.

pub mod pass;
pub mod policy;
pub mod region;

pub use pass::{Outcome, PassError, Policies, Survey, apply, daily, survey};
pub use policy::{Action, ImageVerdict, ManagedImage, ManagedSnapshot, Retention, Use, Why};
pub use region::{AliyunRegion, Deleted, ImageRegion, Kind, TAG_MARKED};
