//! Job states and why a job moves between them.
//!
//! ```text
//!   enqueue ──► scheduled ──(run_at due)──► available ──lease──► active
//!                  ▲                            ▲                  │
//!                  └──── fail, retries left ────┼──────────────────┤
//!                                               │                  ├─► completed
//!                     retry (from dead/cancelled)                  └─► dead
//!   scheduled/available ──cancel──► cancelled
//!   enqueue with children ──► waiting ──(last child ended)──► scheduled (due now)
//!                                │  └──(a child dead, fail; or its timeout)──► dead
//!                                └──cancel──► cancelled
//! ```

crate::named_enum! {
    /// Where a job is in its life (`ALL` in lifecycle order).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum JobState {
        /// Waiting for `run_at` (a delayed job, or one waiting to be retried).
        Scheduled = "scheduled",
        /// Ready to be leased.
        Available = "available",
        /// Parked until something else happens (a parent waiting on its
        /// children, a job waiting for an event or its wait's timeout):
        /// never leased, never promoted by `run_at`.
        Waiting = "waiting",
        /// Leased by a worker.
        Active = "active",
        /// Finished successfully.
        Completed = "completed",
        /// Failed for good: its last attempt failed or the failure was not retryable.
        Dead = "dead",
        /// Cancelled by an operator before it ran.
        Cancelled = "cancelled",
    }
    parse_error: JobStateError = |s| JobStateError(s.chars().take(64).collect());
}

impl JobState {
    /// True when the job will not run again unless an operator retries it.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Completed | JobState::Dead | JobState::Cancelled)
    }
}

/// Longest tenant a job may carry, in characters.
pub const MAX_TENANT_LEN: usize = 200;

/// Checks a job's tenant (the customer it belongs to, as the producer names
/// it): 1 to [`MAX_TENANT_LEN`] characters, no control character (NUL
/// included). The error says what is wrong, for a message naming the field.
pub fn check_tenant(tenant: &str) -> Result<(), String> {
    let n = tenant.chars().count();
    if n == 0 || n > MAX_TENANT_LEN {
        return Err(format!("use 1 to {MAX_TENANT_LEN} characters"));
    }
    if tenant.chars().any(char::is_control) {
        return Err("must not hold control characters".to_string());
    }
    Ok(())
}

/// Why a state name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a job state: use scheduled, available, waiting, active, completed, dead or cancelled")]
pub struct JobStateError(pub String);

crate::named_enum! {
    /// Why an attempt ended without success (its name is the reason recorded
    /// in the job's history).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum FailureKind {
        /// The worker reported a failure.
        Error = "error",
        /// No heartbeat arrived within the lease.
        LeaseExpired = "lease_expired",
        /// The job ran past its timeout.
        Timeout = "timeout",
    }
}

crate::named_enum! {
    /// What a child that ends without completing (dead, cancelled, or
    /// purged before it ended) does to its waiting parent.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub enum ChildDeadPolicy {
        /// The parent dies with an error naming the child, and its children
        /// not yet started are cancelled (the default).
        #[default]
        Fail = "fail",
        /// The child counts as done; the parent reads its error among its
        /// children's outcomes.
        Ignore = "ignore",
    }
    parse_error: ChildDeadPolicyError = |s| ChildDeadPolicyError(s.chars().take(64).collect());
}

/// Why an `on_child_dead` name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a child policy: use fail or ignore")]
pub struct ChildDeadPolicyError(pub String);

/// Deepest nesting of a flow: a parent's children are at depth 1, theirs at 2, …
pub const MAX_FLOW_DEPTH: usize = 5;
/// Most jobs in one flow, the parent included.
pub const MAX_FLOW_JOBS: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_are_short_printable_names() {
        assert_eq!(check_tenant("acme"), Ok(()));
        assert_eq!(check_tenant(&"é".repeat(MAX_TENANT_LEN)), Ok(()));
        assert!(check_tenant("").is_err());
        assert!(check_tenant(&"a".repeat(MAX_TENANT_LEN + 1)).is_err());
        assert!(check_tenant("a\0b").is_err());
        assert!(check_tenant("a\nb").is_err());
    }

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
