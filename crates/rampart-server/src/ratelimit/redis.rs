//! Redis as the limiter's shared backend, and what happens when it fails.
//!
//! Every check on a Redis policy goes to Redis, bounded by `redis_timeout`.
//! When a call fails or times out the backend is marked down: from then on
//! checks skip Redis at once (no check waits for a dead Redis) and each
//! policy's `on_backend_error` decides, while the [`RedisProber`] pings it in
//! the background and marks it up again when it answers. Each transition is
//! logged once.
//!
//! [`RedisProber`]: crate::service::RedisProber

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use rampart_core::time::UnixMillis;
use rampart_limit::policy::{Decision, Nanos, Policy};
pub use rampart_limit::redis::{RedisCheck, RedisConfig, RedisLimitError, RedisLimiter};
use tokio::sync::Notify;

use crate::config::{RateLimitConfig, RedisUrl};

/// The Redis backend with its health; shared by the limiter and the prober.
pub struct RedisBackend {
    config: RedisConfig,
    /// `None` until the first connection succeeds.
    limiter: ArcSwapOption<RedisLimiter>,
    up: AtomicBool,
    /// Wakes the prober when the backend goes down.
    went_down: Notify,
    state: Mutex<Health>,
    failures: AtomicU64,
}

/// What the backend last went through, for operators.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// When it last changed between up and down.
    pub since: Option<UnixMillis>,
    /// The error that marked it down, while down.
    pub last_error: Option<String>,
}

/// Why a Redis check was not decided by Redis.
#[derive(Debug)]
pub enum Unavailable {
    /// The backend is down and is being probed: not tried.
    Skipped,
    /// The call failed (and the backend is now down).
    Failed(RedisLimitError),
}

impl RedisBackend {
    /// A backend for `url`, not yet connected; [`connect`](Self::connect)
    /// or the prober connects it.
    pub fn new(url: &RedisUrl, config: &RateLimitConfig) -> RedisBackend {
        let config = RedisConfig {
            url: url.expose().to_string(),
            prefix: config.redis_prefix.clone(),
            timeout: config.redis_timeout,
            ..RedisConfig::default()
        };
        RedisBackend {
            config,
            limiter: ArcSwapOption::empty(),
            up: AtomicBool::new(false),
            went_down: Notify::new(),
            state: Mutex::new(Health { since: None, last_error: Some("not connected yet".into()) }),
            failures: AtomicU64::new(0),
        }
    }

    /// Connects (or, once connected, pings) and marks the backend up on
    /// success or down on failure. Answers whether it is up.
    pub async fn probe(&self, now: UnixMillis) -> bool {
        let result = match self.limiter.load_full() {
            Some(limiter) => limiter.ping().await,
            None => match RedisLimiter::connect(self.config.clone()).await {
                Ok(limiter) => {
                    self.limiter.store(Some(limiter.into()));
                    Ok(())
                }
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(()) => {
                self.mark_up(now);
                true
            }
            Err(e) => {
                self.mark_down(&e, now);
                false
            }
        }
    }

    /// Whether checks go to Redis now.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Calls that failed since start.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// When the backend last changed state and why it is down.
    pub fn health(&self) -> Health {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How long a call may take.
    pub fn timeout(&self) -> Duration {
        self.config.timeout
    }

    /// Waits until the backend is marked down (at once if it is).
    pub async fn wait_down(&self) {
        let notified = self.went_down.notified();
        if !self.is_up() {
            return;
        }
        notified.await;
    }

    /// Checks in Redis, atomically: see [`RedisLimiter::check`].
    pub async fn check(&self, checks: &[RedisCheck<'_>], now: UnixMillis) -> Result<(Decision, usize), Unavailable> {
        let limiter = self.usable()?;
        limiter.check(checks, None).await.map_err(|e| self.failed(e, now))
    }

    /// A key's state in Redis, counting nothing.
    pub async fn peek(
        &self,
        name: &str,
        policy: &Policy,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<Decision>, Unavailable> {
        let limiter = self.usable()?;
        limiter.peek(name, policy, key, None).await.map_err(|e| self.failed(e, now))
    }

    /// Forgets a key in Redis.
    pub async fn reset(&self, name: &str, policy: &Policy, key: &str, now: UnixMillis) -> Result<bool, Unavailable> {
        let limiter = self.usable()?;
        limiter.reset(name, policy, key).await.map_err(|e| self.failed(e, now))
    }

    /// Redis's `used_memory` (`INFO memory`), in bytes; `None` while the
    /// backend is down or the call fails (which does not mark it down:
    /// checks decide that).
    pub async fn used_memory(&self) -> Option<u64> {
        self.usable().ok()?.used_memory().await.ok()
    }

    fn usable(&self) -> Result<std::sync::Arc<RedisLimiter>, Unavailable> {
        if !self.is_up() {
            return Err(Unavailable::Skipped);
        }
        self.limiter.load_full().ok_or(Unavailable::Skipped)
    }

    fn failed(&self, e: RedisLimitError, now: UnixMillis) -> Unavailable {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.mark_down(&e, now);
        Unavailable::Failed(e)
    }

    fn mark_up(&self, now: UnixMillis) {
        if self.up.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let was = state.last_error.take();
        state.since = Some(now);
        tracing::info!(after = was.as_deref().unwrap_or(""), "Redis answers: rate-limit checks count in Redis again");
    }

    fn mark_down(&self, e: &RedisLimitError, now: UnixMillis) {
        let was_up = self.up.swap(false, Ordering::AcqRel);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if was_up || state.since.is_none() {
            tracing::warn!(
                error = %e,
                "Redis failed: rate-limit checks on Redis policies follow on_backend_error until it answers again"
            );
            state.since = Some(now);
        }
        state.last_error = Some(e.to_string());
        drop(state);
        if was_up {
            self.went_down.notify_waiters();
        }
    }
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend").field("up", &self.is_up()).finish_non_exhaustive()
    }
}

/// What a fallback that admits answers: the policy as if the key were fresh.
pub fn allowed_fallback(policy: &Policy, now: Nanos) -> Decision {
    let mut decision = policy.evaluate(None, 0, now).0;
    decision.allowed = true;
    decision
}

/// What a fallback that refuses answers: retry once the backend may be back.
pub fn denied_fallback(policy: &Policy, retry: Duration) -> Decision {
    Decision { allowed: false, limit: policy.limit(), remaining: 0, reset_after: retry, retry_after: Some(retry) }
}
