//! Background services: reaper, promoter, relay, the cron scheduler and the
//! pruner, the push dispatcher, the monitoring sampler, the alerter and
//! notifier, and the rate limiter's sweeper, policy syncer and Redis prober;
//! each reports its runs to the [`Loops`] registry the admin diagnostics
//! read. Each is an agent noun in its own file with a `run(shutdown)` loop
//! and a `run_once()` step that tests drive directly (and its own `…Config`
//! when it has settings); every loop ends when the shutdown signal fires.

pub mod alerter;
pub mod dispatcher;
pub mod loops;
pub mod notifier;
pub mod policy_syncer;
pub mod promoter;
pub mod pruner;
pub mod reaper;
pub mod redis_prober;
pub mod relay;
pub mod sampler;
pub mod scheduler;
pub mod sweeper;

pub use alerter::{AlertSample, Alerter, AlerterConfig, QueueSample};
pub use dispatcher::{Dispatcher, DispatcherConfig};
pub use loops::{LoopStatus, Loops};
pub use notifier::{Notifier, NotifierConfig};
pub use policy_syncer::{PolicySyncer, PolicySyncerConfig};
pub use promoter::{Promoter, PromoterConfig};
pub use pruner::{PruneReport, Pruner, PrunerConfig};
pub use reaper::{Reaper, ReaperConfig};
pub use redis_prober::{RedisProber, RedisProberConfig};
pub use relay::Relay;
pub use sampler::{Sampler, SamplerConfig};
pub use scheduler::{Scheduler, SchedulerConfig};
pub use sweeper::{Sweeper, SweeperConfig};

/// A tick every interval until shutdown: the loop of each service that polls.
/// A tick that comes late is not made up for (`MissedTickBehavior::Delay`).
pub(crate) struct Ticks {
    tick: tokio::time::Interval,
    shutdown: crate::shutdown::Shutdown,
}

impl Ticks {
    /// Ticks every `interval`, the first at once.
    pub(crate) fn new(interval: std::time::Duration, shutdown: crate::shutdown::Shutdown) -> Ticks {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Ticks { tick, shutdown }
    }

    /// Waits for the next tick; false once shutdown has fired.
    pub(crate) async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.tick.tick() => true,
            _ = self.shutdown.wait() => false,
        }
    }
}
