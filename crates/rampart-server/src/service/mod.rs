//! Background services: reaper, promoter, relay, the cron scheduler and the
//! pruner, the push dispatcher, the monitoring sampler, the alerter and
//! notifier, the releaser of expired budget reservations, and the rate limiter's sweeper, policy syncer and Redis prober;
//! each reports its runs to the [`Loops`] registry the admin diagnostics
//! read. Each is an agent noun in its own file with a `run(shutdown)` loop
//! and a `run_once()` step that tests drive directly (and its own `…Config`
//! when it has settings); every loop ends when the shutdown signal fires.
//! Each sleeps on the injected clock ([`crate::timer`]), so a test that
//! moves a manual clock sees the service run at once.

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
pub mod releaser;
pub mod sampler;
pub mod scheduler;
pub mod sweeper;

pub use alerter::{AlertSample, Alerter, AlerterConfig, QueueSample, ReportedSample};
pub use dispatcher::{Dispatcher, DispatcherConfig};
pub use loops::{LoopStatus, Loops};
pub use notifier::{Notifier, NotifierConfig};
pub use policy_syncer::{PolicySyncer, PolicySyncerConfig};
pub use promoter::{Promoter, PromoterConfig};
pub use pruner::{PruneReport, Pruner, PrunerConfig, WebhookPruneReport};
pub use reaper::{Reaper, ReaperConfig};
pub use redis_prober::{RedisProber, RedisProberConfig};
pub use relay::Relay;
pub use releaser::{Releaser, ReleaserConfig};
pub use sampler::{Sampler, SamplerConfig};
pub use scheduler::{Scheduler, SchedulerConfig};
pub use sweeper::{Sweeper, SweeperConfig};
