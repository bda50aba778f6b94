//! The circuit breaker as a pure state machine: time is an argument, no I/O.
//!
//! The in-process breaker (`rampart_guard::Breaker`) and the shared breaker
//! service (the store's `breaker_apply`) both run this one machine, so a
//! breaker behaves the same whether it lives in memory or in the database.
//!
//! # API
//!
//! ```text
//! BreakerPolicy { failure_threshold: u32, failure_rate: Option<FailureRate>,
//!                 cooldown: Duration, half_open_max: u32, slow_call: Option<Duration> }
//!     Default: 5 failures, no rate rule, 30s cooldown, 1 probe, no slow-call rule.
//!     validate(&self) -> Result<(), BreakerPolicyError>   every bad field named
//! FailureRate { threshold: f64 in (0, 1], window: Duration ≥ 100ms, min_calls: u32 ≥ 1 }
//! BreakerState { Closed, Open, HalfOpen }                  as_str(): closed | open | half_open
//! Outcome { Success, Failure }                             as_str(): success | failure
//! Admission { Allowed { probe: bool }, Rejected { retry_after: Duration } }
//! Transition { at: UnixMillis, from: BreakerState, to: BreakerState, reason: TransitionReason }
//!
//! BreakerMachine::new(now)                                 closed, no history
//!   .acquire(&policy, now) -> (Admission, Option<Transition>)
//!   .record(&policy, outcome, duration, now) -> Option<Transition>
//!   .reset(now) -> Option<Transition>
//!   .state() / .state_at(&policy, now) / .since() / .consecutive_failures()
//!   .window_counts(&policy, now) -> WindowCounts { calls, failures }
//!   .probes_in_flight(now) / .retry_after(&policy, now)
//! ```
//!
//! # Semantics
//!
//! - **Closed**: every call is allowed. A failure counts, and so does a
//!   success slower than `slow_call` when that is set. The breaker opens
//!   when `failure_threshold` failures come in a row, or, with
//!   `failure_rate`, when at least `min_calls` calls were recorded in the
//!   last `window` and the failed fraction is `threshold` or more.
//! - **Open**: every call is rejected with the time left of `cooldown`.
//!   Results recorded while open (calls admitted before it opened) are
//!   ignored.
//! - **Half-open**: the first acquire after the cooldown moves the breaker
//!   to half-open and is admitted as a probe; at most `half_open_max` probes
//!   are in flight at once, the rest are rejected. The first recorded
//!   success closes the breaker (counters start afresh); a recorded failure
//!   opens it again for another cooldown. A probe that never records is
//!   forgotten after one `cooldown`, so a lost caller cannot wedge the
//!   breaker half-open. In half-open, every recorded result counts as a
//!   probe's: the machine has no way to tell a late answer from a probe.
//!
//! The sliding window is ten buckets, each a tenth of `window` wide, so it
//! counts the calls of the last `window` to within a tenth of it, in
//! constant memory, and the whole state serialises in a few hundred bytes.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::format_duration;
use crate::time::UnixMillis;

/// How many buckets the failure-rate window is cut into.
const BUCKETS: usize = 10;

/// The shortest failure-rate window: ten buckets of 10 ms.
pub const MIN_WINDOW: Duration = Duration::from_millis(100);

/// When a breaker opens, how long it stays open and how it probes.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the breaker (≥ 1).
    pub failure_threshold: u32,
    /// A second reason to open: too many failures among recent calls.
    pub failure_rate: Option<FailureRate>,
    /// How long the breaker stays open before it lets a probe through; also
    /// how long a probe may stay unrecorded before its slot is freed.
    pub cooldown: Duration,
    /// Probe calls allowed in flight at once while half-open (≥ 1).
    pub half_open_max: u32,
    /// A success slower than this counts as a failure.
    pub slow_call: Option<Duration>,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            failure_threshold: 5,
            failure_rate: None,
            cooldown: Duration::from_secs(30),
            half_open_max: 1,
            slow_call: None,
        }
    }
}

/// The failure-rate rule: open when the failed fraction of the calls in the
/// last `window` reaches `threshold`, once there are `min_calls` of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FailureRate {
    /// The failed fraction that opens the breaker, in `(0, 1]` (0.5 = half).
    pub threshold: f64,
    /// How far back calls count (≥ [`MIN_WINDOW`]).
    pub window: Duration,
    /// Fewer calls than this in the window never open the breaker (≥ 1):
    /// one failure out of one call is not a rate.
    pub min_calls: u32,
}

/// One thing wrong with a policy, named by its configuration key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    /// The key: `failure_threshold`, `failure_rate`, `window`, `min_calls`,
    /// `cooldown`, `half_open_max` or `slow_call`.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// Why a policy was refused: every problem, each naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.problems.iter().map(|p| format!("`{}` {}", p.field, p.message)).collect::<Vec<_>>().join("; "))]
pub struct BreakerPolicyError {
    /// The problems, in field order.
    pub problems: Vec<PolicyProblem>,
}

impl BreakerPolicy {
    /// Checks every field and names each one that is wrong.
    pub fn validate(&self) -> Result<(), BreakerPolicyError> {
        let mut problems = Vec::new();
        let mut bad = |field: &'static str, message: &str| {
            problems.push(PolicyProblem { field, message: message.to_string() });
        };
        if self.failure_threshold == 0 {
            bad("failure_threshold", "must be at least 1");
        }
        if let Some(rate) = &self.failure_rate {
            if !(rate.threshold > 0.0 && rate.threshold <= 1.0) {
                bad("failure_rate", "must be a fraction above 0 and at most 1, e.g. 0.5 for half the calls");
            }
            if rate.window < MIN_WINDOW {
                bad("window", "must be at least 100ms");
            }
            if rate.min_calls == 0 {
                bad("min_calls", "must be at least 1");
            }
        }
        if self.cooldown.is_zero() {
            bad("cooldown", "must be longer than 0s");
        }
        if self.half_open_max == 0 {
            bad("half_open_max", "must be at least 1");
        }
        if self.slow_call.is_some_and(|d| d.is_zero()) {
            bad("slow_call", "must be longer than 0s");
        }
        if problems.is_empty() { Ok(()) } else { Err(BreakerPolicyError { problems }) }
    }
}

crate::named_enum! {
    /// Where a breaker stands.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum BreakerState {
        /// Calls go through; failures are counted.
        Closed = "closed",
        /// Calls are rejected until the cooldown ends.
        Open = "open",
        /// A few probe calls test whether the other side has recovered.
        HalfOpen = "half_open",
    }
    parse_error: BreakerStateError = |s| BreakerStateError(s.chars().take(64).collect());
}

/// Why a breaker state name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a breaker state: use closed, open or half_open")]
pub struct BreakerStateError(pub String);

crate::named_enum! {
    /// How a call guarded by a breaker ended.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Outcome {
        /// It worked (but may still count as a failure if slower than `slow_call`).
        Success = "success",
        /// It failed.
        Failure = "failure",
    }
    parse_error: String = |s| format!("{s:?} is not an outcome; use \"success\" or \"failure\"");
}

/// Whether a call may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Make the call, then record its outcome.
    Allowed {
        /// The call is a half-open probe: its outcome decides the state.
        probe: bool,
    },
    /// Do not make the call; ask again after `retry_after`.
    Rejected {
        /// When asking again may be admitted.
        retry_after: Duration,
    },
}

impl Admission {
    /// Whether the call may go ahead.
    pub fn is_allowed(self) -> bool {
        matches!(self, Admission::Allowed { .. })
    }
}

/// Why a breaker changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TransitionReason {
    /// `count` failures in a row (slow calls included) reached the threshold.
    ConsecutiveFailures {
        /// How many.
        count: u32,
    },
    /// The failed fraction of the calls in the window reached the threshold.
    FailureRate {
        /// Failed calls in the window.
        failures: u32,
        /// All calls in the window.
        calls: u32,
    },
    /// The cooldown ended and a probe was admitted.
    CooldownElapsed,
    /// A probe succeeded.
    ProbeSucceeded,
    /// A probe failed, or was slower than `slow_call`.
    ProbeFailed {
        /// It succeeded, but too slowly.
        slow: bool,
    },
    /// Someone reset the breaker.
    Reset,
}

impl fmt::Display for TransitionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransitionReason::ConsecutiveFailures { count } => write!(f, "{count} consecutive failures"),
            TransitionReason::FailureRate { failures, calls } => {
                write!(f, "{failures} of the last {calls} calls failed")
            }
            TransitionReason::CooldownElapsed => f.write_str("the cooldown elapsed; probing"),
            TransitionReason::ProbeSucceeded => f.write_str("a probe call succeeded"),
            TransitionReason::ProbeFailed { slow: false } => f.write_str("a probe call failed"),
            TransitionReason::ProbeFailed { slow: true } => f.write_str("a probe call was too slow"),
            TransitionReason::Reset => f.write_str("reset"),
        }
    }
}

/// A change of state, with when and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// When it happened.
    pub at: UnixMillis,
    /// The state before.
    pub from: BreakerState,
    /// The state after.
    pub to: BreakerState,
    /// Why.
    pub reason: TransitionReason,
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {} at {}: {}", self.from, self.to, self.at, self.reason)
    }
}

/// Calls and failures counted in the failure-rate window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowCounts {
    /// Calls recorded.
    pub calls: u32,
    /// Of which failed (slow ones included).
    pub failures: u32,
}

/// One tenth of the window: the calls whose time falls in slot `idx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
struct Bucket {
    /// `time / bucket_ms`: which slice of time this bucket holds.
    #[serde(rename = "i")]
    idx: i64,
    #[serde(rename = "c")]
    calls: u32,
    #[serde(rename = "f")]
    failures: u32,
}

/// The failure-rate window: a ring of buckets, each knowing which slice of
/// time it holds, so a stale bucket is recognised and reused without a sweep.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
struct Window {
    /// Bucket width; 0 while no call was counted. A policy whose window
    /// changed has another width, and the window starts afresh.
    #[serde(rename = "w")]
    bucket_ms: i64,
    #[serde(rename = "b")]
    buckets: [Bucket; BUCKETS],
}

impl Window {
    fn is_empty(&self) -> bool {
        self.bucket_ms == 0
    }

    fn bucket_ms(window: Duration) -> i64 {
        (i64::try_from(window.as_millis()).unwrap_or(i64::MAX) / BUCKETS as i64).max(1)
    }

    fn add(&mut self, window: Duration, failed: bool, now: UnixMillis) {
        let width = Window::bucket_ms(window);
        if self.bucket_ms != width {
            *self = Window { bucket_ms: width, buckets: Default::default() };
        }
        let idx = now.0.div_euclid(width);
        let slot = &mut self.buckets[idx.rem_euclid(BUCKETS as i64) as usize];
        if slot.idx != idx {
            *slot = Bucket { idx, calls: 0, failures: 0 };
        }
        slot.calls = slot.calls.saturating_add(1);
        slot.failures = slot.failures.saturating_add(u32::from(failed));
    }

    fn counts(&self, window: Duration, now: UnixMillis) -> WindowCounts {
        let width = Window::bucket_ms(window);
        if self.bucket_ms != width {
            return WindowCounts::default();
        }
        let newest = now.0.div_euclid(width);
        let oldest = newest - (BUCKETS as i64 - 1);
        self.buckets.iter().filter(|b| b.idx >= oldest && b.idx <= newest).fold(WindowCounts::default(), |acc, b| {
            WindowCounts { calls: acc.calls.saturating_add(b.calls), failures: acc.failures.saturating_add(b.failures) }
        })
    }
}

/// A breaker's state with everything it counts: the value the in-process
/// breaker keeps under its lock and the store keeps as JSON.
///
/// Every method takes the policy and the time, so the value itself holds no
/// configuration and can be stored, loaded and run anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerMachine {
    state: BreakerState,
    /// When the current state began (for `open`, when it opened), ms.
    since: i64,
    /// Failures in a row while closed.
    #[serde(default)]
    consecutive: u32,
    /// Only kept when the policy has a failure-rate rule.
    #[serde(default, skip_serializing_if = "Window::is_empty")]
    window: Window,
    /// Expiry times (ms) of the probes in flight while half-open; at most
    /// `half_open_max` of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    probes: Vec<i64>,
}

impl BreakerMachine {
    /// A closed breaker with nothing counted.
    pub fn new(now: UnixMillis) -> BreakerMachine {
        BreakerMachine {
            state: BreakerState::Closed,
            since: now.0,
            consecutive: 0,
            window: Window::default(),
            probes: Vec::new(),
        }
    }

    /// The stored state. An open breaker whose cooldown has passed still
    /// reads `open` here until the next acquire; see [`Self::state_at`].
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// The state a caller would meet now: `half_open` for an open breaker
    /// whose cooldown has passed.
    pub fn state_at(&self, policy: &BreakerPolicy, now: UnixMillis) -> BreakerState {
        if self.state == BreakerState::Open && self.cooldown_over(policy, now) {
            BreakerState::HalfOpen
        } else {
            self.state
        }
    }

    /// When the current state began.
    pub fn since(&self) -> UnixMillis {
        UnixMillis(self.since)
    }

    /// Failures in a row while closed.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive
    }

    /// Calls and failures in the failure-rate window (zero without the rule).
    pub fn window_counts(&self, policy: &BreakerPolicy, now: UnixMillis) -> WindowCounts {
        match &policy.failure_rate {
            Some(rate) => self.window.counts(rate.window, now),
            None => WindowCounts::default(),
        }
    }

    /// Probes admitted and neither recorded nor expired.
    pub fn probes_in_flight(&self, now: UnixMillis) -> u32 {
        u32::try_from(self.probes.iter().filter(|&&exp| exp > now.0).count()).unwrap_or(u32::MAX)
    }

    /// How long until a call may be admitted: zero when one would be now.
    pub fn retry_after(&self, policy: &BreakerPolicy, now: UnixMillis) -> Duration {
        match self.state {
            BreakerState::Closed => Duration::ZERO,
            BreakerState::Open => self.cooldown_end(policy).since(now),
            BreakerState::HalfOpen => {
                let live: Vec<i64> = self.probes.iter().copied().filter(|&exp| exp > now.0).collect();
                if live.len() < policy.half_open_max as usize {
                    Duration::ZERO
                } else {
                    live.iter().min().map_or(Duration::ZERO, |&exp| UnixMillis(exp).since(now))
                }
            }
        }
    }

    /// Asks to make a call: answers whether it may, and the transition the
    /// asking caused (open → half-open when the cooldown has passed).
    ///
    /// A closed breaker is not changed: the caller may skip saving it.
    pub fn acquire(&mut self, policy: &BreakerPolicy, now: UnixMillis) -> (Admission, Option<Transition>) {
        match self.state {
            BreakerState::Closed => (Admission::Allowed { probe: false }, None),
            BreakerState::Open => {
                if !self.cooldown_over(policy, now) {
                    return (Admission::Rejected { retry_after: self.cooldown_end(policy).since(now) }, None);
                }
                let t = self.enter(BreakerState::HalfOpen, TransitionReason::CooldownElapsed, now);
                self.probes.push(now.plus(policy.cooldown).0);
                (Admission::Allowed { probe: true }, Some(t))
            }
            BreakerState::HalfOpen => {
                self.probes.retain(|&exp| exp > now.0);
                if self.probes.len() < policy.half_open_max as usize {
                    self.probes.push(now.plus(policy.cooldown).0);
                    (Admission::Allowed { probe: true }, None)
                } else {
                    let first = self.probes.iter().copied().min().unwrap_or(now.0);
                    (Admission::Rejected { retry_after: UnixMillis(first).since(now) }, None)
                }
            }
        }
    }

    /// Records how an admitted call ended, and answers the transition it
    /// caused, if any.
    pub fn record(
        &mut self,
        policy: &BreakerPolicy,
        outcome: Outcome,
        duration: Duration,
        now: UnixMillis,
    ) -> Option<Transition> {
        let slow = outcome == Outcome::Success && policy.slow_call.is_some_and(|limit| duration > limit);
        let failed = outcome == Outcome::Failure || slow;
        match self.state {
            // A call admitted before the breaker opened: too late to matter.
            BreakerState::Open => None,
            BreakerState::HalfOpen => {
                if failed {
                    Some(self.enter(BreakerState::Open, TransitionReason::ProbeFailed { slow }, now))
                } else {
                    Some(self.enter(BreakerState::Closed, TransitionReason::ProbeSucceeded, now))
                }
            }
            BreakerState::Closed => {
                self.consecutive = if failed { self.consecutive.saturating_add(1) } else { 0 };
                if self.consecutive >= policy.failure_threshold {
                    let reason = TransitionReason::ConsecutiveFailures { count: self.consecutive };
                    return Some(self.enter(BreakerState::Open, reason, now));
                }
                let rate = policy.failure_rate?;
                self.window.add(rate.window, failed, now);
                let WindowCounts { calls, failures } = self.window.counts(rate.window, now);
                if failed && calls >= rate.min_calls && f64::from(failures) >= rate.threshold * f64::from(calls) {
                    return Some(self.enter(
                        BreakerState::Open,
                        TransitionReason::FailureRate { failures, calls },
                        now,
                    ));
                }
                None
            }
        }
    }

    /// Closes the breaker and forgets what it counted; the transition when
    /// it was not closed.
    pub fn reset(&mut self, now: UnixMillis) -> Option<Transition> {
        if self.state == BreakerState::Closed {
            self.consecutive = 0;
            self.window = Window::default();
            return None;
        }
        Some(self.enter(BreakerState::Closed, TransitionReason::Reset, now))
    }

    fn cooldown_end(&self, policy: &BreakerPolicy) -> UnixMillis {
        UnixMillis(self.since).plus(policy.cooldown)
    }

    fn cooldown_over(&self, policy: &BreakerPolicy, now: UnixMillis) -> bool {
        now >= self.cooldown_end(policy)
    }

    /// Moves to `to`, starting every counter afresh.
    fn enter(&mut self, to: BreakerState, reason: TransitionReason, now: UnixMillis) -> Transition {
        let from = self.state;
        *self =
            BreakerMachine { state: to, since: now.0, consecutive: 0, window: Window::default(), probes: Vec::new() };
        Transition { at: now, from, to, reason }
    }
}

/// Formats a policy for messages: `5 failures, 30s cooldown, 1 probe`.
impl fmt::Display for BreakerPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failures in a row", self.failure_threshold)?;
        if let Some(rate) = &self.failure_rate {
            write!(
                f,
                " or {}% of at least {} calls in {}",
                rate.threshold * 100.0,
                rate.min_calls,
                format_duration(rate.window)
            )?;
        }
        write!(f, ", {} cooldown, {} probe(s)", format_duration(self.cooldown), self.half_open_max)?;
        if let Some(slow) = self.slow_call {
            write!(f, ", slower than {} fails", format_duration(slow))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
