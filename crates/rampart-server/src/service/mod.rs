//! Background services. Each is an agent noun in its own file with its own
//! `…Config`, a `run(shutdown)` loop and a `run_once()` step that tests drive
//! directly; every loop ends when the shutdown signal fires.

pub mod promoter;
pub mod reaper;

pub use promoter::{Promoter, PromoterConfig};
pub use reaper::{Reaper, ReaperConfig};
