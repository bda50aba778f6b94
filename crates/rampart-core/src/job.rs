//! Job states and why a job moves between them.
//!
//! ```text
//!   enqueue ──► scheduled ──(run_at due)──► available ──lease──► active
//!                  ▲                            ▲                  │
//!                  └──── fail, retries left ────┼──────────────────┤
//!                                               │                  ├─► completed
//!                     retry (from dead/cancelled)                  └─► dead
//!   scheduled/available ──cancel──► cancelled
//! ```

use std::fmt;
use std::str::FromStr;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobState {
    /// Waiting for `run_at` (a delayed job, or one waiting to be retried).
    Scheduled,
    /// Ready to be leased.
    Available,
    /// Leased by a worker.
    Active,
    /// Finished successfully.
    Completed,
    /// Failed for good: its last attempt failed or the failure was not retryable.
    Dead,
    /// Cancelled by an operator before it ran.
    Cancelled,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 6] = [
        JobState::Scheduled,
        JobState::Available,
        JobState::Active,
        JobState::Completed,
        JobState::Dead,
        JobState::Cancelled,
    ];

    /// The state's name in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Scheduled => "scheduled",
            JobState::Available => "available",
            JobState::Active => "active",
            JobState::Completed => "completed",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }

    /// True when the job will not run again unless an operator retries it.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Completed | JobState::Dead | JobState::Cancelled)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a state name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a job state: use scheduled, available, active, completed, dead or cancelled")]
pub struct JobStateError(pub String);

impl FromStr for JobState {
    type Err = JobStateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| JobStateError(s.chars().take(64).collect()))
    }
}

/// Why an attempt ended without success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The worker reported a failure.
    Error,
    /// No heartbeat arrived within the lease.
    LeaseExpired,
    /// The job ran past its timeout.
    Timeout,
}

impl FailureKind {
    /// The reason recorded in the job's history.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Error => "error",
            FailureKind::LeaseExpired => "lease_expired",
            FailureKind::Timeout => "timeout",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip() {
        for s in JobState::ALL {
            assert_eq!(s.as_str().parse::<JobState>().unwrap(), s);
        }
        assert!("done".parse::<JobState>().is_err());
    }

    #[test]
    fn terminal_states_are_the_three_ends() {
        let terminal: Vec<_> = JobState::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, [JobState::Completed, JobState::Dead, JobState::Cancelled]);
    }
}
