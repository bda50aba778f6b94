//! The node registry: each node reports itself once per monitoring
//! interval with the time on its own clock; the store keeps that time and
//! the database's own at the write. The doctor reads them back to tell a
//! node gone quiet (its last report long ago by the database's clock) from
//! one whose clock drifts (its time and the database's apart). A node not
//! heard from for [`FORGET_AFTER`] is dropped at the next report of any node.

use std::time::Duration;

use rampart_core::time::UnixMillis;

/// How long a node that stopped reporting is kept.
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

/// What [`crate::Store::node_report`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeReportParams {
    /// The node's name (`host:port (pid N)`).
    pub node: String,
    /// When the node started, on its clock.
    pub started_at: UnixMillis,
    /// Now, on its clock.
    pub now: UnixMillis,
}

/// A node as it last reported itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// Its name.
    pub node: String,
    /// When it started, on its clock.
    pub started_at: UnixMillis,
    /// When it last reported, on its clock.
    pub node_at: UnixMillis,
    /// When it last reported, on the database's clock.
    pub db_at: UnixMillis,
}

/// Every node, with the database's clock as they were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeList {
    /// The database's time now.
    pub db_now: UnixMillis,
    /// The nodes, by name.
    pub nodes: Vec<NodeRecord>,
}
