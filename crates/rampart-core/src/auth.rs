//! API-key roles and what each may do.

crate::named_enum! {
    /// The role an API key carries.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Role {
        /// Everything, including keys, retries, purges and pauses.
        Admin = "admin",
        /// Enqueues jobs, checks rate limits and reads.
        Producer = "producer",
        /// Leases, heartbeats and acknowledges jobs, checks rate limits and reads.
        Worker = "worker",
        /// Reads only.
        Reader = "reader",
    }
    parse_error: RoleError = |s| RoleError(s.chars().take(64).collect());
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
    /// Whether a key with this role may perform `action`.
    pub fn allows(self, action: Action) -> bool {
        match self {
            Role::Admin => true,
            Role::Producer => matches!(action, Action::Read | Action::Enqueue | Action::RateLimit | Action::Report),
            Role::Worker => matches!(action, Action::Read | Action::Work | Action::RateLimit),
            Role::Reader => matches!(action, Action::Read),
        }
    }
}

/// Why a role name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a role: use admin, producer, worker or reader")]
pub struct RoleError(pub String);

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
