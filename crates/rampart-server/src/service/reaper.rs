//! The reaper: finds active jobs whose lease expired or whose timeout passed
//! and fails their attempt (`lease_expired` / `timeout`), so the retry policy
//! takes over. It polls on a short interval of the engine's clock:
//! detection within about a second.

use std::time::Duration;

use super::loops::{Loops, names};
use crate::engine::{Engine, EngineError};
use crate::shutdown::Shutdown;
use crate::timer::Ticks;

/// How the reaper runs.
#[derive(Debug, Clone)]
pub struct ReaperConfig {
    /// Time between sweeps.
    pub interval: Duration,
}

impl Default for ReaperConfig {
    fn default() -> Self {
        ReaperConfig { interval: Duration::from_millis(250) }
    }
}

/// Fails attempts whose worker went silent or ran too long.
pub struct Reaper {
    config: ReaperConfig,
    engine: Engine,
    loops: Loops,
}

impl Reaper {
    /// A reaper over `engine`.
    pub fn new(config: ReaperConfig, engine: Engine) -> Reaper {
        Reaper { config, engine, loops: Loops::default() }
    }

    /// Reports each run to `loops` (the server's registry, for the admin diagnostics).
    pub fn with_loops(mut self, loops: Loops) -> Self {
        self.loops = loops;
        self
    }

    /// One sweep; answers how many attempts it failed.
    pub async fn run_once(&self) -> Result<usize, EngineError> {
        let mut total = 0;
        loop {
            let n = self.engine.reap_once().await?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// Sweeps until shutdown.
    pub async fn run(self, shutdown: Shutdown) {
        let mut ticks = Ticks::new(self.config.interval, self.engine.clock().clone(), shutdown);
        while ticks.next().await {
            let result = self.run_once().await;
            self.loops.report(names::REAPER, &result);
            if let Err(e) = result {
                tracing::warn!(error = %e, "reaper sweep failed; retrying on the next tick");
            }
        }
    }
}
