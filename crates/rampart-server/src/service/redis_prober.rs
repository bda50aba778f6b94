//! The Redis prober: connects the limiter's Redis backend at start, and
//! whenever a check marks it down, pings it until it answers again, so that
//! checks return to Redis by themselves. Checks never wait for this: while
//! the backend is down they skip it.

use std::sync::Arc;
use std::time::Duration;

use rampart_core::time::SharedClock;

use super::loops::{Loops, names};
use crate::ratelimit::redis::RedisBackend;
use crate::shutdown::Shutdown;
use crate::timer::Timer as _;

/// How the prober runs.
#[derive(Debug, Clone)]
pub struct RedisProberConfig {
    /// Time between probes while Redis is down: the longest a recovered
    /// Redis goes unused.
    pub interval: Duration,
}

impl Default for RedisProberConfig {
    fn default() -> Self {
        RedisProberConfig { interval: Duration::from_millis(500) }
    }
}

/// Brings the Redis backend back up.
pub struct RedisProber {
    config: RedisProberConfig,
    backend: Arc<RedisBackend>,
    clock: SharedClock,
    loops: Loops,
}

impl RedisProber {
    /// A prober of `backend`.
    pub fn new(config: RedisProberConfig, backend: Arc<RedisBackend>, clock: SharedClock) -> RedisProber {
        RedisProber { config, backend, clock, loops: Loops::default() }
    }

    /// Reports each run to `loops` (the server's registry, for the admin diagnostics).
    pub fn with_loops(mut self, loops: Loops) -> Self {
        self.loops = loops;
        self
    }

    /// One probe; answers whether Redis is up.
    pub async fn run_once(&self) -> bool {
        let up = self.backend.probe(self.clock.now()).await;
        match self.backend.health().last_error.filter(|_| !up) {
            Some(error) => self.loops.failed(names::REDIS_PROBER, &error),
            None => self.loops.ok(names::REDIS_PROBER),
        }
        up
    }

    /// Probes while Redis is down, sleeps while it is up, until shutdown.
    pub async fn run(self, shutdown: Shutdown) {
        loop {
            if !self.backend.is_up() && !self.run_once().await {
                tokio::select! {
                    _ = self.clock.sleep(self.config.interval) => continue,
                    _ = shutdown.wait() => return,
                }
            }
            tokio::select! {
                _ = self.backend.wait_down() => {}
                _ = shutdown.wait() => return,
            }
        }
    }
}
