//! The delivery log of webhook intake: a delivery's id and status.
//!
//! A delivery is one request to `POST /in/{source}`. A verified, new event
//! follows its job (`pending` → `processing` → `completed`, `failed` while
//! it will be retried, `dead_letter` when its job is dead); a redelivery of
//! a known event is logged as `duplicate`, a request whose signature did
//! not verify as `rejected`.

use std::fmt;
use std::str::FromStr;

/// A delivery's id. Clients see it as an opaque string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryId(pub i64);

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a delivery id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a delivery id; ids are the strings `rampart webhooks deliveries` lists")]
pub struct DeliveryIdError(pub String);

impl FromStr for DeliveryId {
    type Err = DeliveryIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::id::parse_id(s).map(DeliveryId).ok_or_else(|| DeliveryIdError(s.chars().take(64).collect()))
    }
}

/// Why a delivery status was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a delivery status; use pending, processing, completed, failed, dead_letter, cancelled, duplicate or rejected"
)]
pub struct DeliveryStatusError(pub String);

crate::named_enum! {
    /// Where a delivery stands.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum DeliveryStatus {
        /// Its job waits for a worker.
        Pending = "pending",
        /// A worker holds its job.
        Processing = "processing",
        /// Its job completed.
        Completed = "completed",
        /// An attempt failed; its job will be retried.
        Failed = "failed",
        /// Its job is dead: every attempt failed. Replay makes it live again.
        DeadLetter = "dead_letter",
        /// Its job was cancelled.
        Cancelled = "cancelled",
        /// A redelivery of an event already taken; nothing was enqueued.
        Duplicate = "duplicate",
        /// Its signature did not verify; nothing was enqueued.
        Rejected = "rejected",
    }
    parse_error: DeliveryStatusError = |s| DeliveryStatusError(s.chars().take(64).collect());
}
