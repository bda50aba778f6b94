//! rampart-guard: in-process guards for outbound calls.
//!
//! The pure breaker state machine lives in `rampart_core::breaker`; this
//! crate wraps it for use from many tasks at once, with time read from a
//! [`SharedClock`](rampart_core::time::SharedClock). It has no HTTP, no SQL
//! and no server: any Rust program can depend on it.
//!
//! Layout:
//! - [`breaker`]: [`Breaker`], a thread-safe circuit breaker with a
//!   lock-free check while closed.
//! - [`call`]: [`safe_call`], a timeout per attempt, retries with backoff
//!   and jitter, an error classifier and the breaker, with typed errors.
//!
//! Use one `Arc<Breaker>` per thing that fails on its own (a host, an API):
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use rampart_core::breaker::{Admission, BreakerPolicy, Outcome};
//! use rampart_core::time::SystemClock;
//! use rampart_guard::Breaker;
//!
//! let breaker = Arc::new(Breaker::new(BreakerPolicy::default(), Arc::new(SystemClock)).unwrap());
//! match breaker.acquire() {
//!     Admission::Allowed { .. } => {
//!         // make the call, time it, then:
//!         breaker.record(Outcome::Success, Duration::from_millis(12));
//!     }
//!     Admission::Rejected { retry_after } => {
//!         // do not call; try again after `retry_after`
//!         let _ = retry_after;
//!     }
//! }
//! ```

pub mod breaker;
pub mod call;

pub use breaker::{Breaker, BreakerSnapshot};
pub use call::{CallError, CallPolicy, Classify, ErrorKind, HttpFailure, RetryAll, RetryHttpFailures, safe_call};
pub use rampart_core::breaker::{Admission, BreakerPolicy, BreakerState, FailureRate, Outcome, Transition};
