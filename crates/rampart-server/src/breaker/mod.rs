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
