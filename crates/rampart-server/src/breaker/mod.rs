//! Circuit breakers in the server: the in-process breakers of this node,
//! named, so the API can list them beside the shared ones.
//!
//! - [`local`]: [`LocalBreakers`], the registry of this node's
//!   `rampart_guard::Breaker`s (the push dispatcher registers one per target
//!   host as `push:<host>`). Their state is per node: another node has its own.
//! - [`shared`]: [`SharedBreakers`], the breakers apps use over HTTP, kept
//!   in the store so every node agrees, with this node's policies for them.

pub mod local;
pub mod shared;

pub use local::LocalBreakers;
pub use shared::SharedBreakers;

use rampart_core::breaker::BreakerState;
use rampart_store::StoreError;

rampart_core::named_enum! {
    /// Where a breaker's state lives, as monitoring labels it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Scope {
        /// In the store: the same on every node.
        Shared = "shared",
        /// In this node's memory.
        Node = "node",
    }
}

/// A breaker's name, scope and state as a caller would meet it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerStatus {
    /// Its name.
    pub name: String,
    /// Where its state lives.
    pub scope: Scope,
    /// Its state now (an open breaker past its cooldown reads half-open).
    pub state: BreakerState,
}

/// The state of every breaker in use: the shared ones in the store, then
/// this node's. Configured shared breakers never used are closed and left out.
pub async fn statuses(shared: &SharedBreakers, local: &LocalBreakers) -> Result<Vec<BreakerStatus>, StoreError> {
    let now = shared.now();
    let mut out: Vec<BreakerStatus> = shared
        .list()
        .await?
        .iter()
        .map(|r| BreakerStatus {
            name: r.name.to_string(),
            scope: Scope::Shared,
            state: r.machine.state_at(shared.policy(r.name.as_str()), now),
        })
        .collect();
    out.extend(statuses_local(local));
    Ok(out)
}

/// The state of this node's breakers only.
pub fn statuses_local(local: &LocalBreakers) -> Vec<BreakerStatus> {
    local
        .list()
        .iter()
        .map(|(name, b)| BreakerStatus { name: name.to_string(), scope: Scope::Node, state: b.state() })
        .collect()
}
