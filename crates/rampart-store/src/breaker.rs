//! Shared circuit breakers: one row per breaker holding the state machine
//! of `rampart_core::breaker`, and the transitions it went through.
//!
//! Every node of a cluster runs acquire, record and reset through
//! [`Store::breaker_apply`](crate::Store::breaker_apply), which loads the
//! breaker, runs the machine and writes it back (with a transition row when
//! the state changed) in one transaction under the row's lock, so nodes
//! agree on the state and each transition is recorded once. A step that
//! changes nothing (an acquire on a closed breaker, a success with no
//! failures counted) is answered from a read, without a write.
//!
//! The policy is not stored: it is configuration, passed in by the caller
//! on every call, like a queue's retry policy. The machine is stored as its
//! compact JSON; the state also has a column of its own for operators.

use std::time::Duration;

use rampart_core::breaker::{Admission, BreakerMachine, BreakerPolicy, BreakerState, Outcome, Transition};
use rampart_core::id::BreakerName;
use rampart_core::time::UnixMillis;

use crate::error::StoreError;
use crate::row::Row;

/// How many of a breaker's latest transitions the store keeps; older ones
/// are deleted when a new one is recorded.
pub const BREAKER_TRANSITIONS_KEPT: u32 = 100;

/// What to do to a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerOp {
    /// Ask to make a call.
    Acquire,
    /// Tell how a call ended and how long it took.
    Record {
        /// How it ended.
        outcome: Outcome,
        /// How long it took (slow calls may count as failures).
        duration: Duration,
    },
    /// Close the breaker and forget its counts.
    Reset,
}

/// A step of a shared breaker; a breaker that does not exist yet is created
/// closed first.
#[derive(Debug, Clone)]
pub struct BreakerApplyParams {
    /// The breaker.
    pub name: BreakerName,
    /// Its policy, as the caller's configuration has it.
    pub policy: BreakerPolicy,
    /// What to do.
    pub op: BreakerOp,
    /// The time of the step.
    pub now: UnixMillis,
}

impl BreakerApplyParams {
    /// Runs the step on `machine`: the admission (for an acquire) and the
    /// transition it caused.
    pub(crate) fn step(&self, machine: &mut BreakerMachine) -> (Option<Admission>, Option<Transition>) {
        match self.op {
            BreakerOp::Acquire => {
                let (admission, transition) = machine.acquire(&self.policy, self.now);
                (Some(admission), transition)
            }
            BreakerOp::Record { outcome, duration } => {
                (None, machine.record(&self.policy, outcome, duration, self.now))
            }
            BreakerOp::Reset => (None, machine.reset(self.now)),
        }
    }
}

/// What a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerApplied {
    /// The breaker after the step.
    pub machine: BreakerMachine,
    /// For an acquire, whether the call may go ahead.
    pub admission: Option<Admission>,
    /// The transition the step caused, recorded with it.
    pub transition: Option<Transition>,
}

/// A stored breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerRecord {
    /// Its name.
    pub name: BreakerName,
    /// Its state and counts.
    pub machine: BreakerMachine,
    /// When it was first used.
    pub created_at: UnixMillis,
    /// When it was last written.
    pub updated_at: UnixMillis,
    /// Its latest transitions, oldest first (only from
    /// [`Store::breaker_get`](crate::Store::breaker_get)).
    pub transitions: Vec<BreakerTransitionRecord>,
}

/// A recorded change of a breaker's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerTransitionRecord {
    /// Increasing with every transition of any breaker.
    pub id: i64,
    /// When it happened.
    pub at: UnixMillis,
    /// The state before.
    pub from: BreakerState,
    /// The state after.
    pub to: BreakerState,
    /// Why, in words (`5 consecutive failures`).
    pub reason: String,
}

pub(crate) fn encode(machine: &BreakerMachine) -> Result<String, StoreError> {
    serde_json::to_string(machine).map_err(|e| StoreError::Internal(format!("cannot encode a breaker: {e}")))
}

pub(crate) fn decode(name: &str, text: &str) -> Result<BreakerMachine, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Internal(format!("stored breaker `{name}` is unreadable: {e}")))
}

pub(crate) fn state_from(text: &str) -> Result<BreakerState, StoreError> {
    text.parse().map_err(|e| StoreError::Internal(format!("stored breaker transition: {e}")))
}

impl BreakerRecord {
    /// The record of a row read with the columns `name, machine,
    /// created_at, updated_at`, without its transitions.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<BreakerRecord, R::Error> {
        let name: BreakerName = r.parsed(0, "breaker name")?;
        let machine =
            serde_json::from_str(&r.text(1)?).map_err(|e| r.invalid(1, &format!("breaker `{name}`, unreadable"), e))?;
        Ok(BreakerRecord { name, machine, created_at: r.time(2)?, updated_at: r.time(3)?, transitions: Vec::new() })
    }
}
