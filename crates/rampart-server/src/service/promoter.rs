//! The promoter: makes delayed and retrying jobs available when their time
//! comes. It sleeps on the engine's clock until the earliest due time (at
//! most `max_sleep`), and is woken early whenever a job is scheduled, so a
//! delayed job starts on time.

use std::time::Duration;

use super::loops::{Loops, names};
use crate::engine::{Engine, EngineError};
use crate::shutdown::Shutdown;
use crate::timer::Timer as _;

/// How the promoter runs.
#[derive(Debug, Clone)]
pub struct PromoterConfig {
    /// Longest sleep between looks, a safety net against missed wake-ups.
    pub max_sleep: Duration,
}

impl Default for PromoterConfig {
    fn default() -> Self {
        PromoterConfig { max_sleep: Duration::from_secs(1) }
    }
}

/// Promotes due scheduled jobs.
pub struct Promoter {
    config: PromoterConfig,
    engine: Engine,
    loops: Loops,
}

impl Promoter {
    /// A promoter over `engine`.
    pub fn new(config: PromoterConfig, engine: Engine) -> Promoter {
        Promoter { config, engine, loops: Loops::default() }
    }

    /// Reports each run to `loops` (the server's registry, for the admin diagnostics).
    pub fn with_loops(mut self, loops: Loops) -> Self {
        self.loops = loops;
        self
    }

    /// Promotes everything due now; answers how many jobs.
    pub async fn run_once(&self) -> Result<u64, EngineError> {
        let mut total = 0;
        loop {
            let n = self.engine.promote_once().await?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    async fn sleep_for(&self) -> Duration {
        match self.engine.next_due().await {
            Ok(Some(due)) => {
                let now = self.engine.now();
                due.since(now).min(self.config.max_sleep)
            }
            Ok(None) => self.config.max_sleep,
            Err(_) => self.config.max_sleep,
        }
    }

    /// Promotes until shutdown.
    pub async fn run(self, shutdown: Shutdown) {
        loop {
            let result = self.run_once().await;
            self.loops.report(names::PROMOTER, &result);
            if let Err(e) = result {
                tracing::warn!(error = %e, "promoting due jobs failed; retrying shortly");
            }
            let sleep = self.sleep_for().await;
            tokio::select! {
                _ = self.engine.clock().sleep(sleep) => {}
                _ = self.engine.promoter_woken() => {}
                _ = shutdown.wait() => return,
            }
        }
    }
}
