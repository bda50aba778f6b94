//! Parent/child flows: a job enqueued with children waits (`waiting`) until
//! every child has ended, then becomes due; its lease carries the children's
//! outcomes. The rules both backends keep (`sqlite/flow.rs`,
//! `postgres/flow.rs`), each in the transaction of the change that causes it:
//!
//! - every terminal transition of a child (completed, dead, cancelled)
//!   updates its waiting parent: completed, or ended otherwise under
//!   [`ChildDeadPolicy::Ignore`], takes one from `pending_children`, and the
//!   last one makes the parent `scheduled`, due now (the promoter makes it
//!   available and wakes the workers, on every node); dead or cancelled
//!   under [`ChildDeadPolicy::Fail`] makes the parent `dead` with an error
//!   naming the child, and cancels the parent's children not yet started
//!   (`scheduled`, `available`, `waiting`, their own children with them);
//! - rows are only ever deleted once terminal (purge, retention, the
//!   dashboard's bulk purge), so a deletion never leaves a parent waiting:
//!   the child's end was counted when it ended;
//! - cancelling a waiting parent cancels its children not yet started; a
//!   running child finishes, and its end finds no waiting parent;
//! - a parent's `timeout` is a stored due time (`flow_timeout_at`) the
//!   promoter sweeps: the parent dies and its children not yet started are
//!   cancelled.

use std::time::Duration;

use rampart_core::id::{JobId, QueueName};
use rampart_core::job::{ChildDeadPolicy, JobState};
use rampart_core::time::UnixMillis;

use crate::job::{JobInserted, NewJob};

/// Most children's outcomes a parent's lease carries (a flow holds at most
/// [`rampart_core::job::MAX_FLOW_JOBS`] jobs, so this is every child).
pub const MAX_CHILDREN_SHOWN: u32 = 1000;

/// A job of a flow: the job, and for a parent its children.
#[derive(Debug, Clone)]
pub struct FlowJob {
    /// The job itself (a child's `unique_key` is refused before the store).
    pub job: NewJob,
    /// `Some` makes the job a parent, waiting on these children (none:
    /// due at once, with an empty list of children in its lease).
    pub children: Option<Vec<FlowJob>>,
    /// What a child that ends without completing does to this parent.
    pub on_child_dead: ChildDeadPolicy,
    /// Longest the parent waits on its children from its creation.
    pub timeout: Option<Duration>,
}

impl FlowJob {
    /// A job that is no parent.
    pub fn plain(job: NewJob) -> FlowJob {
        FlowJob { job, children: None, on_child_dead: ChildDeadPolicy::Fail, timeout: None }
    }
}

/// Inserts jobs with their children, all-or-nothing in one transaction.
#[derive(Debug, Clone)]
pub struct JobFlowInsertParams {
    /// The top-level jobs.
    pub jobs: Vec<FlowJob>,
    /// Creation time.
    pub now: UnixMillis,
}

/// What inserting a job of a flow did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowInserted {
    /// The job (a duplicate by unique key inserts no children).
    pub job: JobInserted,
    /// Its children, in request order.
    pub children: Vec<FlowInserted>,
}

impl FlowInserted {
    /// Every job of the tree, this one first, depth first.
    pub fn all(&self) -> Vec<&JobInserted> {
        let mut out = vec![&self.job];
        for c in &self.children {
            out.extend(c.all());
        }
        out
    }
}

/// A child as its parent's lease shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildOutcome {
    /// The child.
    pub id: JobId,
    /// Its queue.
    pub queue: QueueName,
    /// Its state (a running child of a parent that stopped waiting is `active`).
    pub state: JobState,
    /// Its JSON result, once completed.
    pub result: Option<String>,
    /// Its last error, if any.
    pub error: Option<String>,
}

/// The state a flow's job is stored in.
pub(crate) fn initial_state(flow: &FlowJob, now: UnixMillis) -> JobState {
    match &flow.children {
        Some(children) if !children.is_empty() => JobState::Waiting,
        _ if flow.job.run_at > now => JobState::Scheduled,
        _ => JobState::Available,
    }
}

/// The error a parent dies with when a child ends without completing.
pub(crate) fn child_dead_error(child: JobId, queue: &str, state: JobState, error: Option<&str>) -> String {
    match error {
        Some(e) => format!("child job {child} (queue `{queue}`) ended {state}: {e}"),
        None => format!("child job {child} (queue `{queue}`) ended {state}"),
    }
}

/// The error a parent dies with when its children are not done in time.
pub(crate) fn timeout_error(pending: i64) -> String {
    format!("flow timeout: {pending} child job(s) had not ended by the parent's timeout; the rest were cancelled")
}
