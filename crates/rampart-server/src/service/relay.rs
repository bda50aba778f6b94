//! The relay: passes on what the other nodes sharing the store report, so a
//! job enqueued through one node wakes the leases long-polling on another at
//! once instead of at their next look. The store turns its notifications into
//! [`StoreSignal`]s; the relay hands each to [`Engine::on_store_signal`].
//!
//! Only a store shared by several nodes (PostgreSQL) has signals; the server
//! starts a relay when [`rampart_store::Store::subscribe`] gives a receiver.

use rampart_store::StoreSignal;
use tokio::sync::broadcast::{self, error::RecvError};

use super::loops::{Loops, names};
use crate::engine::Engine;
use crate::shutdown::Shutdown;

/// The shortest time between two reports of the relay's runs.
const REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Wakes this node's waiters on other nodes' signals.
pub struct Relay {
    engine: Engine,
    signals: broadcast::Receiver<StoreSignal>,
    loops: Loops,
    /// When the relay last reported to `loops`: at most once a second, since
    /// signals come once per commit of another node.
    reported: Option<tokio::time::Instant>,
}

impl Relay {
    /// A relay of `signals` to `engine`.
    pub fn new(engine: Engine, signals: broadcast::Receiver<StoreSignal>) -> Relay {
        Relay { engine, signals, loops: Loops::default(), reported: None }
    }

    /// Reports each run to `loops` (the server's registry, for the admin diagnostics).
    pub fn with_loops(mut self, loops: Loops) -> Self {
        self.loops = loops;
        self
    }

    /// Waits for the next signal and acts on it; false once the store sends
    /// no more.
    ///
    /// A relay that fell behind the channel has lost signals, so it acts as
    /// on [`StoreSignal::Resync`]: every waiter looks again.
    pub async fn run_once(&mut self) -> bool {
        let signal = match self.signals.recv().await {
            Ok(signal) => signal,
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "store signals were missed; waking every waiter");
                StoreSignal::Resync
            }
            Err(RecvError::Closed) => return false,
        };
        self.engine.on_store_signal(&signal);
        let now = tokio::time::Instant::now();
        if self.reported.is_none_or(|at| now.duration_since(at) >= REPORT_EVERY) {
            self.reported = Some(now);
            self.loops.ok(names::RELAY);
        }
        true
    }

    /// Relays until shutdown, or until the store sends no more.
    pub async fn run(mut self, shutdown: Shutdown) {
        loop {
            tokio::select! {
                more = self.run_once() => if !more {
                    tracing::debug!("the store closed its signals; the relay stops");
                    return;
                },
                _ = shutdown.wait() => return,
            }
        }
    }
}
