//! Background services: reaper, promoter, relay, and the rate limiter's
//! sweeper, policy syncer and Redis prober. Each is an agent noun in its own
//! file with a `run(shutdown)` loop and a `run_once()` step that tests drive directly
//! (and its own `…Config` when it has settings); every loop ends when the
//! shutdown signal fires.

pub mod policy_syncer;
pub mod promoter;
pub mod reaper;
pub mod redis_prober;
pub mod relay;
pub mod sweeper;

pub use policy_syncer::{PolicySyncer, PolicySyncerConfig};
pub use promoter::{Promoter, PromoterConfig};
pub use reaper::{Reaper, ReaperConfig};
pub use redis_prober::{RedisProber, RedisProberConfig};
pub use relay::Relay;
pub use sweeper::{Sweeper, SweeperConfig};
