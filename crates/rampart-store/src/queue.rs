//! Records of queue operations.

use rampart_core::id::QueueName;
use rampart_core::job::JobState;

/// A queue known to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    /// The queue.
    pub name: QueueName,
    /// Whether leasing is paused.
    pub paused: bool,
}

/// How many jobs a queue holds in each state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueCounts {
    /// The queue.
    pub queue: QueueName,
    /// Jobs per state, in [`JobState::ALL`] order.
    pub counts: [u64; JobState::ALL.len()],
}

impl QueueCounts {
    /// Zero jobs in every state.
    pub fn empty(queue: QueueName) -> Self {
        QueueCounts { queue, counts: [0; JobState::ALL.len()] }
    }

    /// The count for one state.
    pub fn get(&self, state: JobState) -> u64 {
        self.counts[state_index(state)]
    }

    /// Sets the count for one state.
    pub fn set(&mut self, state: JobState, n: u64) {
        self.counts[state_index(state)] = n;
    }
}

fn state_index(state: JobState) -> usize {
    JobState::ALL.iter().position(|s| *s == state).unwrap_or(0)
}
