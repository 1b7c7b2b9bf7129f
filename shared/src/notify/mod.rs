//! Notifications: telling people that an execution or a rollout ended.
//!
//! This module is the pure foundation: the [`Notice`] (what ran, how it ended, why, what
//! changed) with its one text rendering, and the [`Target`]s it can be sent to, each of
//! which turns a notice into the exact HTTP request its service expects
//! ([`Target::request`]). Nothing here reads the clock or touches the network; sending,
//! retries and per-task configuration are built on top.
//!
//! | target | what it is | documentation |
//! |---|---|---|
//! | [`Target::DingTalk`] | a DingTalk group's custom robot, optionally signed (加签) | <https://developers.dingtalk.com/document/app/custom-robot-access>, <https://open.dingtalk.com/document/development/robot-message-type> |
//! | [`Target::Lark`] | a Feishu / Lark group's custom bot, optionally signed (签名校验) | <https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot>, <https://open.larkoffice.com/document/ukTMukTMukTM/ucTM5YjL3ETO24yNxkjN> |
//! | [`Target::Slack`] | a Slack incoming webhook | <https://api.slack.com/messaging/webhooks> |
//! | [`Target::Https`] | any HTTPS endpoint, the [`Notice`] as JSON, signed like reimage's own webhooks ([`crate::api::webhook::reimage_signature`]) | — |

pub mod build;
pub mod delivery;
pub mod message;
pub mod stored;
pub mod targets;

pub use delivery::{DeliveryConfig, DeliveryRecord, DeliveryState, Notifier};
pub use message::{Cause, ImageChange, Notice, Outcome, Subject};
pub use stored::{Defaults, StoredTarget};
pub use targets::{OutgoingRequest, Target, TargetError, TargetSecret, WebhookUrl};
