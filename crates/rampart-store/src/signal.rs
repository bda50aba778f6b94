//! Signals a shared store sends to every node: "jobs became available in
//! this queue" from another node's commit, and "the connection came back, look
//! at everything again" after a gap in which signals may have been missed.

use rampart_core::id::QueueName;

/// What a node hears from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSignal {
    /// Another node committed jobs that are available in this queue now.
    QueueReady(QueueName),
    /// Signals may have been lost (the listening connection was re-made):
    /// every waiter should look again.
    Resync,
}
