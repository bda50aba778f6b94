//! The sweeper: drops rate-limit keys whose windows have passed, so the
//! memory backend holds only keys that still decide something (the named
//! policies' keys, and those of the API's own limits when given). A full shard
//! also reuses idle keys on its own; sweeping keeps memory low between floods.

use std::time::Duration;

use super::loops::{Loops, names};
use crate::ratelimit::RateLimiter;
use crate::ratelimit::own::OwnLimits;
use crate::shutdown::Shutdown;
use crate::timer::Ticks;

/// How the sweeper runs.
#[derive(Debug, Clone)]
pub struct SweeperConfig {
    /// Time between sweeps.
    pub interval: Duration,
}

impl Default for SweeperConfig {
    fn default() -> Self {
        SweeperConfig { interval: Duration::from_secs(10) }
    }
}

/// Drops idle rate-limit keys.
pub struct Sweeper {
    config: SweeperConfig,
    limiter: RateLimiter,
    own: Option<OwnLimits>,
    loops: Loops,
}

impl Sweeper {
    /// A sweeper over `limiter`.
    pub fn new(config: SweeperConfig, limiter: RateLimiter) -> Sweeper {
        Sweeper { config, limiter, own: None, loops: Loops::default() }
    }

    /// Reports each run to `loops` (the server's registry, for the admin diagnostics).
    pub fn with_loops(mut self, loops: Loops) -> Self {
        self.loops = loops;
        self
    }

    /// Sweeps the keys of the API's own limits too.
    pub fn with_own_limits(mut self, own: OwnLimits) -> Sweeper {
        self.own = Some(own);
        self
    }

    /// One sweep; answers how many keys it dropped.
    pub fn run_once(&self) -> usize {
        self.limiter.sweep() + self.own.as_ref().map_or(0, OwnLimits::sweep)
    }

    /// Sweeps until shutdown.
    pub async fn run(self, shutdown: Shutdown) {
        let mut ticks = Ticks::new(self.config.interval, self.limiter.clock().clone(), shutdown);
        while ticks.next().await {
            let dropped = self.run_once();
            self.loops.ok(names::SWEEPER);
            if dropped > 0 {
                tracing::debug!(dropped, "swept idle rate-limit keys");
            }
        }
    }
}
