//! Circuit breakers in the server: the in-process breakers of this node,
//! named, so the API can list them beside the shared ones.
//!
//! - [`local`]: [`LocalBreakers`], the registry of this node's
//!   `rampart_guard::Breaker`s (the push dispatcher registers one per target
//!   host as `push:<host>`). Their state is per node: another node has its own.

pub mod local;

pub use local::LocalBreakers;
