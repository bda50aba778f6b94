//! The scheduler: fires cron schedules. Each pass ([`Scheduler::run_once`])
//! settles runs from their jobs and fires every due tick through
//! [`Cron::tick`]; then it sleeps on the engine's clock until the earliest
//! next tick, at most
//! `max_sleep`, so schedules added or changed on other nodes are seen
//! within it. Safe on every node at once: a tick fires through one store
//! compare-and-set, which exactly one node wins.

use std::time::Duration;

use super::loops::{Loops, names};
use crate::cron::{Cron, CronError, Tick};
use crate::shutdown::Shutdown;
use crate::timer::Timer as _;

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Longest sleep between passes.
    pub max_sleep: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig { max_sleep: Duration::from_secs(1) }
    }
}

/// Fires cron schedules.
pub struct Scheduler {
    config: SchedulerConfig,
    cron: Cron,
    loops: Loops,
}

impl Scheduler {
    /// A scheduler of `cron`.
    pub fn new(config: SchedulerConfig, cron: Cron) -> Scheduler {
        Scheduler { config, cron, loops: Loops::default() }
    }

    /// Reports each run to `loops` (the server's registry, for the admin diagnostics).
    pub fn with_loops(mut self, loops: Loops) -> Self {
        self.loops = loops;
        self
    }

    /// One pass: settles runs and fires what is due.
    pub async fn run_once(&self) -> Result<Tick, CronError> {
        self.cron.tick().await
    }

    /// Fires schedules until shutdown.
    pub async fn run(self, shutdown: Shutdown) {
        loop {
            let result = self.run_once().await;
            self.loops.report(names::SCHEDULER, &result);
            let sleep = match result {
                Ok(tick) => match tick.next_due {
                    Some(due) => due.since(self.cron.now()).min(self.config.max_sleep),
                    None => self.config.max_sleep,
                },
                Err(e) => {
                    tracing::warn!(error = %e, "the cron scheduler's pass failed; retrying shortly");
                    self.config.max_sleep
                }
            };
            tokio::select! {
                _ = self.cron.clock().sleep(sleep) => {}
                _ = shutdown.wait() => return,
            }
        }
    }
}
