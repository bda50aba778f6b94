//! The releaser: gives back the holds of reservations never settled. A
//! reservation an app took and then lost (a crash, a timeout before the
//! call's report) would otherwise keep its estimate reserved and refuse
//! later calls with a phantom "budget exceeded"; once its
//! `usage.reservation_ttl` has passed, the releaser marks it `expired` and
//! releases its holds on every window, in bounded batches. On PostgreSQL
//! it claims reservations `SKIP LOCKED`, so every node may run it at once.

use std::time::Duration;

use super::loops::{Loops, names};
use crate::engine::Engine;
use crate::shutdown::Shutdown;
use crate::timer::Ticks;

/// How the releaser runs.
#[derive(Debug, Clone)]
pub struct ReleaserConfig {
    /// Time between passes.
    pub interval: Duration,
    /// Reservations released per transaction.
    pub batch: u32,
}

impl Default for ReleaserConfig {
    fn default() -> Self {
        ReleaserConfig { interval: Duration::from_secs(5), batch: 1_000 }
    }
}

/// Releases expired reservations.
pub struct Releaser {
    config: ReleaserConfig,
    engine: Engine,
    loops: Loops,
}

impl Releaser {
    /// A releaser over `engine`'s store.
    pub fn new(config: ReleaserConfig, engine: Engine) -> Releaser {
        Releaser { config, engine, loops: Loops::default() }
    }

    /// Reports each run to `loops` (the server's registry, for the admin diagnostics).
    pub fn with_loops(mut self, loops: Loops) -> Self {
        self.loops = loops;
        self
    }

    /// One pass: releases every reservation expired by now; answers how many.
    pub async fn run_once(&self) -> Result<u64, rampart_store::StoreError> {
        let mut released = 0;
        loop {
            let n = self.engine.store().budget_reservation_expire(self.engine.now(), self.config.batch).await?;
            released += n;
            if n < u64::from(self.config.batch) {
                return Ok(released);
            }
        }
    }

    /// Releases until shutdown.
    pub async fn run(self, shutdown: Shutdown) {
        let mut ticks = Ticks::new(self.config.interval, self.engine.clock().clone(), shutdown);
        while ticks.next().await {
            let result = self.run_once().await;
            self.loops.report(names::RELEASER, &result);
            match result {
                Ok(n) if n > 0 => tracing::info!(released = n, "released expired budget reservations"),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot release expired budget reservations; the next pass tries again")
                }
            }
        }
    }
}
