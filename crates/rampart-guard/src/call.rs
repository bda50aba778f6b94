//! `safe_call`: one outbound call made safe — a timeout per attempt,
//! retries with exponential backoff and ±20% jitter, a classifier that
//! decides which errors are worth retrying, and an optional circuit breaker.
//!
//! # API
//!
//! ```text
//! safe_call(&CallPolicy<C>, || async { … Result<T, E> }) -> Result<T, CallError<E>>
//!
//! CallPolicy { timeout: Option<Duration>, max_attempts: u32, backoff: Backoff,
//!              budget: Duration, breaker: Option<Arc<Breaker>>, classifier: C }
//!     Default: 30s per attempt, 3 attempts, 1s → 2s → 4s ±20%, 2m budget,
//!              no breaker, every error retryable (RetryAll).
//!     .with_classifier(|e: &E| -> ErrorKind)   .with_breaker(Arc<Breaker>)
//!     .with_classifier(RetryHttpFailures)   for errors that are `HttpFailure`s:
//!              network errors, timeouts, 408, 429 (after its Retry-After)
//!              and 5xx retried, any other status given up at once.
//! ErrorKind { Retryable, Permanent, RateLimited { retry_after } }
//! CallError<E> { Timeout { attempts, timeout }, CircuitOpen { retry_after },
//!                RateLimited { attempts, retry_after, last }, Exhausted { attempts, last },
//!                Permanent { attempts, error } }
//! ```
//!
//! # What happens
//!
//! Each attempt first asks the breaker, when there is one: rejected means
//! no call is made and `CircuitOpen` comes back at once (also between
//! retries, when earlier failures opened it). An admitted attempt runs
//! under `timeout`; its outcome and duration go to the breaker. Then:
//!
//! - `Ok` is returned.
//! - An error the classifier calls `Permanent` is returned as `Permanent`
//!   without a retry. For the breaker it is a success: the other side
//!   answered (a 404 says nothing about its health).
//! - A `Retryable` error or a timeout is a breaker failure and is retried
//!   after the backoff delay for that attempt (`backoff.delay(n, unit)` with
//!   a fresh random unit, so ±`jitter` around the exponential curve).
//! - A `RateLimited { retry_after }` error is a breaker failure and is
//!   retried after exactly `retry_after`, the other side's wish, no jitter.
//!
//! It gives up when `max_attempts` attempts were made (at least one always
//! is) or when the wait before the next attempt would end more than `budget`
//! after the first attempt began: the wait is then not taken. Giving up
//! answers the last attempt's failure: `Timeout`, `RateLimited` or
//! `Exhausted` with the last error. The time of an attempt itself is bounded
//! by `timeout`, not by `budget`.
//!
//! Timers are tokio's: the call must run inside a runtime with time enabled,
//! and tests drive it with `tokio::time::pause()`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rampart_core::breaker::{Admission, Outcome};
use rampart_core::retry::Backoff;
use tokio::time::Instant;

use crate::breaker::Breaker;

/// What an error means for retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Worth another attempt after the backoff.
    Retryable,
    /// Another attempt would fail the same way: give up now.
    Permanent,
    /// The other side asked us to wait this long before trying again.
    RateLimited {
        /// How long.
        retry_after: Duration,
    },
}

/// Decides what an error of type `E` means for retrying.
///
/// Any `Fn(&E) -> ErrorKind` is one; [`RetryAll`] retries every error.
pub trait Classify<E> {
    /// What `error` means for retrying.
    fn classify(&self, error: &E) -> ErrorKind;
}

impl<E, F> Classify<E> for F
where
    F: Fn(&E) -> ErrorKind,
{
    fn classify(&self, error: &E) -> ErrorKind {
        self(error)
    }
}

/// The default classifier: every error is retryable.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryAll;

impl<E> Classify<E> for RetryAll {
    fn classify(&self, _error: &E) -> ErrorKind {
        ErrorKind::Retryable
    }
}

/// The backoff between attempts of a call: 1 s, 2 s, 4 s (at most), ±20%
/// jitter — what the apps rampart serves used before it.
pub const CALL_BACKOFF: Backoff =
    Backoff { initial: Duration::from_secs(1), factor: 2.0, max: Duration::from_secs(4), jitter: 0.2 };

/// An error that may carry an HTTP answer, for [`RetryHttpFailures`].
/// Implement it for the error type of the HTTP client the call uses.
pub trait HttpFailure {
    /// The answer's status; `None` for a network error or a timeout.
    fn status(&self) -> Option<u16>;
    /// The answer's `Retry-After`, when it sent one.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// The classifier of HTTP calls: network errors and timeouts (no status),
/// `408`, `429` (after its `Retry-After`, else the backoff) and `5xx` are
/// retried; any other status is the caller's mistake, given up at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryHttpFailures;

impl<E: HttpFailure> Classify<E> for RetryHttpFailures {
    fn classify(&self, error: &E) -> ErrorKind {
        match error.status() {
            None | Some(408) => ErrorKind::Retryable,
            Some(429) => {
                error.retry_after().map_or(ErrorKind::Retryable, |retry_after| ErrorKind::RateLimited { retry_after })
            }
            Some(status) if status >= 500 => ErrorKind::Retryable,
            Some(_) => ErrorKind::Permanent,
        }
    }
}

/// How [`safe_call`] makes a call; see the module doc for the semantics.
#[derive(Clone)]
pub struct CallPolicy<C = RetryAll> {
    /// The longest one attempt may take; `None` for no limit.
    pub timeout: Option<Duration>,
    /// Attempts in all, the first included (0 counts as 1).
    pub max_attempts: u32,
    /// Delays between attempts.
    pub backoff: Backoff,
    /// No wait is started that would end more than this after the first
    /// attempt began.
    pub budget: Duration,
    /// Asked before every attempt and told every outcome.
    pub breaker: Option<Arc<Breaker>>,
    /// Which errors are retried.
    pub classifier: C,
}

impl Default for CallPolicy<RetryAll> {
    fn default() -> Self {
        CallPolicy {
            timeout: Some(Duration::from_secs(30)),
            max_attempts: 3,
            backoff: CALL_BACKOFF,
            // Room for three attempts that each time out and the waits between them.
            budget: Duration::from_secs(120),
            breaker: None,
            classifier: RetryAll,
        }
    }
}

impl<C> CallPolicy<C> {
    /// The same policy with another classifier.
    pub fn with_classifier<D>(self, classifier: D) -> CallPolicy<D> {
        let CallPolicy { timeout, max_attempts, backoff, budget, breaker, .. } = self;
        CallPolicy { timeout, max_attempts, backoff, budget, breaker, classifier }
    }

    /// The same policy guarded by `breaker`.
    pub fn with_breaker(self, breaker: Arc<Breaker>) -> Self {
        CallPolicy { breaker: Some(breaker), ..self }
    }
}

impl<C> std::fmt::Debug for CallPolicy<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallPolicy")
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .field("budget", &self.budget)
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

/// Why [`safe_call`] gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError<E> {
    /// The last attempt ran out of time and no retry was left.
    #[error("the call timed out after {timeout:?} (attempt {attempts})")]
    Timeout {
        /// Attempts made.
        attempts: u32,
        /// The per-attempt limit it hit.
        timeout: Duration,
    },
    /// The breaker is open: no call was made for this attempt.
    #[error("the circuit is open; try again in {retry_after:?}")]
    CircuitOpen {
        /// When the breaker may admit a call again.
        retry_after: Duration,
    },
    /// The other side rate-limited the last attempt, and waiting as asked
    /// would overrun the budget or no attempt was left.
    #[error("rate limited after {attempts} attempt(s); the other side asks to wait {retry_after:?}: {last}")]
    RateLimited {
        /// Attempts made.
        attempts: u32,
        /// How long the other side asked to wait.
        retry_after: Duration,
        /// The error that said so.
        last: E,
    },
    /// Every attempt failed with a retryable error (or the budget ran out).
    #[error("the call failed {attempts} time(s); last error: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        last: E,
    },
    /// An error the classifier called permanent: not retried.
    #[error("the call failed and is not worth retrying: {error}")]
    Permanent {
        /// Attempts made.
        attempts: u32,
        /// The error.
        error: E,
    },
}

/// How one attempt failed, kept until it is known whether another follows.
enum Failure<E> {
    Timeout(Duration),
    Retryable(E),
    RateLimited(E, Duration),
}

impl<E> Failure<E> {
    fn into_error(self, attempts: u32) -> CallError<E> {
        match self {
            Failure::Timeout(timeout) => CallError::Timeout { attempts, timeout },
            Failure::Retryable(last) => CallError::Exhausted { attempts, last },
            Failure::RateLimited(last, retry_after) => CallError::RateLimited { attempts, retry_after, last },
        }
    }
}

/// Makes the call `op` builds, under `policy`: see the module doc.
pub async fn safe_call<T, E, C, F, Fut>(policy: &CallPolicy<C>, mut op: F) -> Result<T, CallError<E>>
where
    C: Classify<E>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let first = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        if let Some(breaker) = &policy.breaker
            && let Admission::Rejected { retry_after } = breaker.acquire()
        {
            return Err(CallError::CircuitOpen { retry_after });
        }
        let began = Instant::now();
        let result = match policy.timeout {
            Some(limit) => tokio::time::timeout(limit, op()).await.map_err(|_| limit),
            None => Ok(op().await),
        };
        let outcome = |o| {
            if let Some(b) = &policy.breaker {
                b.record(o, began.elapsed());
            }
        };
        let failure = match result {
            Ok(Ok(value)) => {
                outcome(Outcome::Success);
                return Ok(value);
            }
            Ok(Err(error)) => match policy.classifier.classify(&error) {
                ErrorKind::Permanent => {
                    outcome(Outcome::Success);
                    return Err(CallError::Permanent { attempts, error });
                }
                ErrorKind::Retryable => Failure::Retryable(error),
                ErrorKind::RateLimited { retry_after } => Failure::RateLimited(error, retry_after),
            },
            Err(limit) => Failure::Timeout(limit),
        };
        outcome(Outcome::Failure);
        let wait = match &failure {
            Failure::RateLimited(_, retry_after) => *retry_after,
            _ => policy.backoff.delay(attempts, rand::random::<f64>()),
        };
        if attempts >= policy.max_attempts.max(1) || first.elapsed() + wait > policy.budget {
            return Err(failure.into_error(attempts));
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests;
