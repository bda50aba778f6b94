//! rampart-client: the rampart HTTP API from Rust, without the server.
//!
//! An app that only enqueues and works jobs depends on this crate alone: it
//! pulls in no store, no server framework and no Redis client.
//!
//! Layout:
//! - [`wire`]: the JSON shapes of every route, shared with the server's
//!   handlers so the two cannot drift apart.
//! - [`endpoint`]: every route's method, path and success status, declared
//!   once for the client and the server's router.
//! - [`client`]: the typed HTTP client, one async method per route.
//! - [`worker`]: runs handlers for jobs, leasing from a [`worker::JobSource`]:
//!   a remote server through the [`client::Client`], or (in `rampart-server`)
//!   an engine in the same process.
//! - `cache` (feature `cache`): `ReportingCache`, an LRU cache (on the `lru`
//!   crate) that reports its own telemetry to a [`cache::CacheSink`]: a
//!   server through the [`client::Client`], or (in `rampart-server`) the
//!   server's own monitor in the same process.

#[cfg(feature = "cache")]
pub mod cache;
pub mod client;
pub mod endpoint;
pub mod wire;
pub mod worker;
