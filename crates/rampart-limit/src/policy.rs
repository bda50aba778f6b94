//! Policies and their decisions: pure functions of a key's state, a cost and
//! the time, so every backend and every test runs the same arithmetic.
//!
//! The algorithms and exactly what they promise:
//!
//! - [`Algorithm::FixedWindow`]: windows aligned to multiples of `window`
//!   since the Unix epoch; at most `limit` per window. A burst of `2 × limit`
//!   can straddle a window boundary.
//! - [`Algorithm::SlidingWindow`] (the default): the weighted two-counter
//!   approximation. The estimate at time `t`, a fraction `f` into the current
//!   aligned window, is `previous × (1 − f) + current`; a check is allowed
//!   when the estimate plus its cost is at most `limit`. Bounds: at most
//!   `limit` per aligned window, at most `2 × limit` in any span of one
//!   window (when the previous window's traffic all came at its end), and a
//!   check is never denied when the previous and current aligned windows
//!   together, plus its cost, stay within `limit`. With evenly spread
//!   traffic the estimate is exact.
//! - [`Algorithm::Gcra`]: the generic cell rate algorithm, a rate of `limit`
//!   per `window` with bursts of `burst` (default `limit`): exactly a token
//!   bucket of `burst` tokens refilled at `limit / window`, kept as one
//!   timestamp per key (the theoretical arrival time). In any span of length
//!   `d` it admits at most `burst + d × limit / window`.
//!
//! All arithmetic is integer and exact: GCRA keeps its time scaled by
//! `limit` (nanoseconds × limit) so the emission interval `window / limit`
//! never rounds.

use std::time::Duration;

/// Nanoseconds since the Unix epoch.
pub type Nanos = u64;

/// The largest `limit` (and `burst`) a policy may have: far above any real
/// rate, low enough that no arithmetic below can overflow.
pub const MAX_LIMIT: u64 = 1 << 40;
/// The longest window a policy may have.
pub const MAX_WINDOW: Duration = Duration::from_secs(366 * 24 * 3600);

rampart_core::named_enum! {
    /// How a policy counts (its name is the one used in configuration and
    /// over HTTP).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub enum Algorithm {
        /// About `limit` in any sliding window (weighted two counters).
        #[default]
        SlidingWindow = "sliding_window",
        /// At most `limit` per aligned window.
        FixedWindow = "fixed_window",
        /// `limit` per `window` with bursts of `burst` (a token bucket).
        Gcra = "gcra",
    }
    parse_error: PolicyError = |s| PolicyError::UnknownAlgorithm(s.to_string());
}

/// Why a policy cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// `limit` is 0 or above [`MAX_LIMIT`].
    #[error("`limit` must be between 1 and {MAX_LIMIT}; it is {0}")]
    Limit(u64),
    /// `window` is shorter than a millisecond or longer than [`MAX_WINDOW`].
    #[error("`window` must be between 1ms and 366 days")]
    Window,
    /// `burst` was given to an algorithm without bursts, or is out of range.
    #[error("{0}")]
    Burst(String),
    /// The algorithm's name is not known.
    #[error("unknown algorithm `{0}`; use sliding_window, fixed_window or gcra")]
    UnknownAlgorithm(String),
}

/// A rate limit: what a key may do in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    limit: u64,
    window_ns: u64,
    algorithm: Algorithm,
    burst: u64,
}

/// What a key's counters hold between checks. A key with no state is fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The aligned window's index and what it admitted.
    Fixed {
        /// `now / window`.
        window: u64,
        /// Cost admitted in it.
        count: u64,
    },
    /// The current aligned window's index and the two counters.
    Sliding {
        /// `now / window` when `current` was last counted.
        window: u64,
        /// Cost admitted in the window before it.
        previous: u64,
        /// Cost admitted in it.
        current: u64,
    },
    /// The theoretical arrival time, in nanoseconds × limit.
    Gcra {
        /// When the bucket will be empty again, scaled by the limit.
        tat: u128,
    },
}

/// The answer to one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the check is admitted (and its cost counted).
    pub allowed: bool,
    /// The policy's limit.
    pub limit: u64,
    /// What could still be admitted now, after this check.
    pub remaining: u64,
    /// Until the counters reset: the current window's end, or for GCRA
    /// until the bucket is full again.
    pub reset_after: Duration,
    /// When denied: the earliest wait after which the same check would be
    /// admitted, if nothing else is; `None` when allowed, or when its cost is
    /// above [`Policy::max_cost`] and no wait helps.
    pub retry_after: Option<Duration>,
}

impl Policy {
    /// A policy, checked: `limit` in 1..=[`MAX_LIMIT`], `window` from 1 ms to
    /// [`MAX_WINDOW`], `burst` only for GCRA (default `limit`).
    pub fn new(limit: u64, window: Duration, algorithm: Algorithm, burst: Option<u64>) -> Result<Policy, PolicyError> {
        if limit == 0 || limit > MAX_LIMIT {
            return Err(PolicyError::Limit(limit));
        }
        if window < Duration::from_millis(1) || window > MAX_WINDOW {
            return Err(PolicyError::Window);
        }
        let burst = match (algorithm, burst) {
            (Algorithm::Gcra, Some(b)) if b == 0 || b > MAX_LIMIT => {
                return Err(PolicyError::Burst(format!("`burst` must be between 1 and {MAX_LIMIT}; it is {b}")));
            }
            (Algorithm::Gcra, Some(b)) => b,
            (_, None) => limit,
            (other, Some(_)) => {
                return Err(PolicyError::Burst(format!("`burst` applies to gcra only, not to {other}")));
            }
        };
        let window_ns = u64::try_from(window.as_nanos()).map_err(|_| PolicyError::Window)?;
        Ok(Policy { limit, window_ns, algorithm, burst })
    }

    /// The limit per window.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The window.
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window_ns)
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The burst (GCRA); the limit for the other algorithms.
    pub fn burst(&self) -> u64 {
        self.burst
    }

    /// The largest cost one check can ever be admitted with; a larger cost
    /// is bad input, not a denial.
    pub fn max_cost(&self) -> u64 {
        self.burst
    }

    /// Decides a check of `cost` at `now` against a key's `state` (`None`
    /// for a fresh key). Answers the decision and the key's state after it;
    /// the caller stores that state only when it keeps the decision (a
    /// denied multi-policy check stores none).
    pub fn evaluate(&self, state: Option<&State>, cost: u64, now: Nanos) -> (Decision, State) {
        let (mut decision, state) = match self.algorithm {
            Algorithm::FixedWindow => self.fixed(state, cost, now),
            Algorithm::SlidingWindow => self.sliding(state, cost, now),
            Algorithm::Gcra => self.gcra(state, cost, now),
        };
        if cost > self.max_cost() {
            decision.retry_after = None;
        }
        (decision, state)
    }

    /// From this time on, `state` decides like a fresh key: it can be dropped.
    pub fn idle_at(&self, state: &State) -> Nanos {
        match *state {
            State::Fixed { window, .. } => window.saturating_add(1).saturating_mul(self.window_ns),
            State::Sliding { window, .. } => window.saturating_add(2).saturating_mul(self.window_ns),
            State::Gcra { tat } => u64::try_from(tat.div_ceil(u128::from(self.limit))).unwrap_or(u64::MAX),
        }
    }

    fn fixed(&self, state: Option<&State>, cost: u64, now: Nanos) -> (Decision, State) {
        let window = now / self.window_ns;
        let count = match state {
            Some(&State::Fixed { window: w, count }) if w == window => count,
            _ => 0,
        };
        let allowed = count.saturating_add(cost) <= self.limit;
        let count = if allowed { count + cost } else { count };
        let reset_after = nanos((window + 1) * self.window_ns - now);
        let decision = Decision {
            allowed,
            limit: self.limit,
            // Saturating: a state kept from before the policy was lowered may exceed it.
            remaining: self.limit.saturating_sub(count),
            reset_after,
            retry_after: (!allowed).then_some(reset_after),
        };
        (decision, State::Fixed { window, count })
    }

    fn sliding(&self, state: Option<&State>, cost: u64, now: Nanos) -> (Decision, State) {
        let w = u128::from(self.window_ns);
        let window = now / self.window_ns;
        let elapsed = u128::from(now % self.window_ns);
        let (previous, current) = match state {
            Some(&State::Sliding { window: s, previous, current }) if s == window => (previous, current),
            Some(&State::Sliding { window: s, current, .. }) if s + 1 == window => (current, 0),
            _ => (0, 0),
        };
        // Everything scaled by the window, so the weight never rounds.
        let estimate = |current: u64| u128::from(previous) * (w - elapsed) + u128::from(current) * w;
        let capacity = u128::from(self.limit) * w;
        let allowed = estimate(current) + u128::from(cost) * w <= capacity;
        let current = if allowed { current + cost } else { current };
        let remaining = u64::try_from(capacity.saturating_sub(estimate(current)) / w).unwrap_or(0);
        let reset_after = nanos((window + 1) * self.window_ns - now);
        let retry_after = (!allowed).then(|| self.sliding_wait(previous, current, cost, elapsed));
        let decision = Decision { allowed, limit: self.limit, remaining, reset_after, retry_after };
        (decision, State::Sliding { window, previous, current })
    }

    /// The least wait after which `cost` fits the sliding estimate, with no
    /// other traffic meanwhile.
    fn sliding_wait(&self, previous: u64, current: u64, cost: u64, elapsed: u128) -> Duration {
        let w = u128::from(self.window_ns);
        let (limit, cost) = (u128::from(self.limit), u128::from(cost));
        // The earliest point `e` into a window with counters (p, c) where
        // p × (w − e) + (c + cost) × w ≤ limit × w; None if not in it.
        let fits_at = |p: u128, c: u128| -> Option<u128> {
            let room = (limit * w).checked_sub((c + cost) * w)?;
            if p == 0 {
                return Some(0);
            }
            // p × (w − e) ≤ room  ⇔  e ≥ w − room / p
            Some(w.saturating_sub(room / p))
        };
        let (p, c) = (u128::from(previous), u128::from(current));
        let wait = match fits_at(p, c) {
            Some(e) if e < w => e.saturating_sub(elapsed).max(1),
            // Not before this window ends: the current counter becomes the previous one.
            _ => (w - elapsed) + fits_at(c, 0).unwrap_or(w).min(w),
        };
        nanos(u64::try_from(wait).unwrap_or(u64::MAX))
    }

    fn gcra(&self, state: Option<&State>, cost: u64, now: Nanos) -> (Decision, State) {
        let (limit, w) = (u128::from(self.limit), u128::from(self.window_ns));
        let now_s = u128::from(now) * limit;
        let stored = match state {
            Some(&State::Gcra { tat }) => tat,
            _ => now_s,
        };
        let tat = stored.max(now_s);
        let tolerance = u128::from(self.burst) * w;
        let new_tat = tat + u128::from(cost) * w;
        let allowed = new_tat - now_s <= tolerance;
        let kept = if allowed { new_tat } else { tat };
        let remaining = u64::try_from(tolerance.saturating_sub(kept - now_s) / w).unwrap_or(0);
        let to_ns = |scaled: u128| nanos(u64::try_from(scaled.div_ceil(limit)).unwrap_or(u64::MAX));
        let decision = Decision {
            allowed,
            limit: self.limit,
            remaining,
            reset_after: to_ns(kept - now_s),
            retry_after: (!allowed).then(|| to_ns((new_tat - now_s).saturating_sub(tolerance))),
        };
        (decision, State::Gcra { tat: kept })
    }
}

fn nanos(n: u64) -> Duration {
    Duration::from_nanos(n)
}

#[cfg(test)]
mod tests;
