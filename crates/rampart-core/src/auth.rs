//! API-key roles and what each may do.

use std::fmt;
use std::str::FromStr;

/// The role an API key carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, including keys, retries, purges and pauses.
    Admin,
    /// Enqueues jobs, checks rate limits and reads.
    Producer,
    /// Leases, heartbeats and acknowledges jobs, checks rate limits and reads.
    Worker,
    /// Reads only.
    Reader,
}

/// What a route does, as far as permission goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Look at jobs, queues and metrics.
    Read,
    /// Add jobs.
    Enqueue,
    /// Lease, heartbeat, complete and fail jobs.
    Work,
    /// Check (and so count against) a rate limit: what apps do with the
    /// producer and worker keys they already hold, while a reader only looks.
    RateLimit,
    /// Change what exists: retry, cancel, purge, pause, manage keys.
    Admin,
    /// Report the app's own state to rampart (the state of its third-party
    /// connections): what an app does with the producer key it holds.
    Report,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Producer, Role::Worker, Role::Reader];

    /// Whether a key with this role may perform `action`.
    pub fn allows(self, action: Action) -> bool {
        match self {
            Role::Admin => true,
            Role::Producer => matches!(action, Action::Read | Action::Enqueue | Action::RateLimit | Action::Report),
            Role::Worker => matches!(action, Action::Read | Action::Work | Action::RateLimit),
            Role::Reader => matches!(action, Action::Read),
        }
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Producer => "producer",
            Role::Worker => "worker",
            Role::Reader => "reader",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a role name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a role: use admin, producer, worker or reader")]
pub struct RoleError(pub String);

impl FromStr for Role {
    type Err = RoleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| RoleError(s.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_matrix() {
        use Action::*;
        let table = [
            // Read, Enqueue, Work, RateLimit, Admin, Report
            (Role::Admin, [true, true, true, true, true, true]),
            (Role::Producer, [true, true, false, true, false, true]),
            (Role::Worker, [true, false, true, true, false, false]),
            (Role::Reader, [true, false, false, false, false, false]),
        ];
        for (role, expected) in table {
            let got = [Read, Enqueue, Work, RateLimit, Admin, Report].map(|a| role.allows(a));
            assert_eq!(got, expected, "{role}");
        }
    }
}
