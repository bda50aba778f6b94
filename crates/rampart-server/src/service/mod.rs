//! Background services (reaper, promoter, relay, and the rate limiter's sweeper). Each is an agent noun in its own file with a
//! `run(shutdown)` loop and a `run_once()` step that tests drive directly
//! (and its own `…Config` when it has settings); every loop ends when the
//! shutdown signal fires.

pub mod promoter;
pub mod reaper;
pub mod relay;
pub mod sweeper;

pub use promoter::{Promoter, PromoterConfig};
pub use reaper::{Reaper, ReaperConfig};
pub use relay::Relay;
pub use sweeper::{Sweeper, SweeperConfig};
