//! The policy syncer: keeps this node's rate-limit policies equal to those
//! in the store, which any node may change through the admin API. It polls
//! the store's policy revision, a one-row read, and reloads only when it
//! moved.

use std::time::Duration;

use rampart_store::{Store, StoreError};

use super::loops::{Loops, names};
use crate::ratelimit::{RateLimiter, stored};
use crate::shutdown::Shutdown;
use crate::timer::Ticks;

/// How the syncer runs.
#[derive(Debug, Clone)]
pub struct PolicySyncerConfig {
    /// Time between looks at the revision: how late another node's change
    /// reaches this one, at most.
    pub interval: Duration,
}

impl Default for PolicySyncerConfig {
    fn default() -> Self {
        PolicySyncerConfig { interval: Duration::from_secs(1) }
    }
}

/// Reloads stored policies when they change.
pub struct PolicySyncer {
    config: PolicySyncerConfig,
    store: Store,
    limiter: RateLimiter,
    /// The revision last loaded; `None` before the first load.
    seen: Option<u64>,
    loops: Loops,
}

impl PolicySyncer {
    /// A syncer of `limiter`'s stored policies with `store`.
    pub fn new(config: PolicySyncerConfig, store: Store, limiter: RateLimiter) -> PolicySyncer {
        PolicySyncer { config, store, limiter, seen: None, loops: Loops::default() }
    }

    /// Reports each run to `loops` (the server's registry, for the admin diagnostics).
    pub fn with_loops(mut self, loops: Loops) -> Self {
        self.loops = loops;
        self
    }

    /// One look; answers whether it reloaded.
    pub async fn run_once(&mut self) -> Result<bool, StoreError> {
        let revision = self.store.ratelimit_policy_revision().await?;
        if self.seen == Some(revision) {
            return Ok(false);
        }
        self.seen = Some(stored::reload(&self.store, &self.limiter).await?);
        Ok(true)
    }

    /// Looks until shutdown.
    pub async fn run(mut self, shutdown: Shutdown) {
        let mut ticks = Ticks::new(self.config.interval, self.limiter.clock().clone(), shutdown);
        while ticks.next().await {
            let result = self.run_once().await;
            self.loops.report(names::POLICY_SYNCER, &result);
            if let Err(e) = result {
                tracing::warn!(error = %e, "cannot read the stored rate-limit policies; retrying on the next tick");
            }
        }
    }
}
