//! A queue's counters: what its attempts came to. One type for every place
//! that counts them: the engine's running totals since start, the deltas a
//! node adds to the store and the totals the store keeps, the samples of
//! monitoring and the totals `/v1/queues` shows. Also a queue's start
//! rate (`[queues.NAME] rate`, `rate_key`), which the store enforces when it
//! leases.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::duration::{format_duration, parse_duration};

/// Counters of one queue's attempts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounters {
    /// Attempts that ended, however.
    pub attempts: u64,
    /// Attempts that completed.
    pub completed: u64,
    /// Attempts that failed, for any reason.
    pub failed: u64,
    /// Failed attempts scheduled to retry.
    pub retries: u64,
    /// Jobs that went dead.
    pub dead: u64,
    /// Leases that expired.
    pub stalled: u64,
    /// Attempts that timed out.
    pub timeouts: u64,
    /// Run time of the ended attempts, summed, in milliseconds.
    pub run_ms: u64,
}

impl QueueCounters {
    /// Whether every counter is zero (nothing to add).
    pub fn is_zero(&self) -> bool {
        *self == QueueCounters::default()
    }

    /// Adds `other`'s counts to these (saturating).
    pub fn add(&mut self, other: &QueueCounters) {
        self.attempts = self.attempts.saturating_add(other.attempts);
        self.completed = self.completed.saturating_add(other.completed);
        self.failed = self.failed.saturating_add(other.failed);
        self.retries = self.retries.saturating_add(other.retries);
        self.dead = self.dead.saturating_add(other.dead);
        self.stalled = self.stalled.saturating_add(other.stalled);
        self.timeouts = self.timeouts.saturating_add(other.timeouts);
        self.run_ms = self.run_ms.saturating_add(other.run_ms);
    }

    /// What was counted between `earlier` and these (zero where a counter
    /// went back, which only another server's counters could do).
    pub fn since(&self, earlier: &QueueCounters) -> QueueCounters {
        QueueCounters {
            attempts: self.attempts.saturating_sub(earlier.attempts),
            completed: self.completed.saturating_sub(earlier.completed),
            failed: self.failed.saturating_sub(earlier.failed),
            retries: self.retries.saturating_sub(earlier.retries),
            dead: self.dead.saturating_sub(earlier.dead),
            stalled: self.stalled.saturating_sub(earlier.stalled),
            timeouts: self.timeouts.saturating_sub(earlier.timeouts),
            run_ms: self.run_ms.saturating_sub(earlier.run_ms),
        }
    }

    /// Mean run time of the ended attempts, in milliseconds (0 with none).
    pub fn mean_ms(&self) -> f64 {
        if self.attempts == 0 { 0.0 } else { self.run_ms as f64 / self.attempts as f64 }
    }
}

/// How many jobs of a queue may start (be leased for an attempt) in a
/// window: `"100/1m"`.
///
/// The window is BullMQ's limiter's: a fixed window that opens at the first
/// start after the previous one ended and lasts `per`; within it at most
/// `limit` leases are given out, then the jobs wait, `available`, until it
/// ends. Every lease counts, a re-lease after a stall or a retry too; a
/// lease given back does not return its slot (the work may have begun).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartRate {
    /// Starts allowed per window (at least 1).
    pub limit: u32,
    /// The window's length (at least 1s).
    pub per: Duration,
}

/// Why a start rate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a start rate: {1}; write starts per window, e.g. \"100/1m\" or \"5/1s\"")]
pub struct StartRateError(pub String, pub String);

impl StartRate {
    /// The shortest window: shorter ones would count starts finer than
    /// the clocks of several nodes agree.
    pub const MIN_WINDOW: Duration = Duration::from_secs(1);
}

impl FromStr for StartRate {
    type Err = StartRateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why: &str| StartRateError(s.to_string(), why.to_string());
        let (limit, per) = s.split_once('/').ok_or_else(|| err("it has no `/`"))?;
        let limit: u32 = limit.trim().parse().map_err(|_| err("the count before `/` must be a whole number"))?;
        if limit == 0 {
            return Err(err("the count must be at least 1"));
        }
        let per = parse_duration(per.trim()).map_err(|e| err(&format!("the window {e}")))?;
        if per < StartRate::MIN_WINDOW {
            return Err(err("the window must be at least 1s"));
        }
        Ok(StartRate { limit, per })
    }
}

impl fmt::Display for StartRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.limit, format_duration(self.per))
    }
}

/// Why a rate key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a rate key: the only group key jobs carry is \"tenant\" (leave the key out for one rate for the whole queue)"
)]
pub struct RateKeyError(pub String);

crate::named_enum! {
    /// What splits a queue's starts into groups, each with a window of its
    /// own (`rate_key`); without one the whole queue shares one window.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum RateKey {
        /// The job's tenant; jobs without one form one group of their own.
        Tenant = "tenant",
    }
    parse_error: RateKeyError = |s| RateKeyError(s.to_string());
}

/// A queue's start rate with its group key, as the store's lease applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueRate {
    /// Starts per window.
    pub rate: StartRate,
    /// The group each job's window is kept by; `None` is the whole queue.
    pub key: Option<RateKey>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_and_subtract_back() {
        let a =
            QueueCounters { attempts: 4, completed: 3, failed: 1, retries: 1, run_ms: 40, ..QueueCounters::default() };
        let mut b = a;
        b.add(&QueueCounters { attempts: 1, dead: 1, failed: 1, run_ms: 10, ..QueueCounters::default() });
        assert_eq!(
            b.since(&a),
            QueueCounters { attempts: 1, dead: 1, failed: 1, run_ms: 10, ..QueueCounters::default() }
        );
        assert_eq!(a.since(&b).attempts, 0, "a counter that went back counts zero");
        assert_eq!((a.mean_ms(), QueueCounters::default().mean_ms()), (10.0, 0.0));
        assert!(QueueCounters::default().is_zero() && !a.is_zero());
    }

    #[test]
    fn start_rates_read_count_slash_window() {
        let ok = |s: &str| s.parse::<StartRate>().map(|r| (r.limit, r.per));
        assert_eq!(ok("100/1m"), Ok((100, Duration::from_secs(60))));
        assert_eq!(ok(" 5 / 1s "), Ok((5, Duration::from_secs(1))));
        assert_eq!(ok("1/1h30m"), Ok((1, Duration::from_secs(5400))));
        assert_eq!("100/1m".parse::<StartRate>().unwrap().to_string(), "100/1m");
        for (bad, why) in [
            ("100", "has no `/`"),
            ("0/1m", "at least 1"),
            ("-1/1m", "whole number"),
            ("x/1m", "whole number"),
            ("10/500ms", "at least 1s"),
            ("10/0s", "at least 1s"),
            ("10/60", "a unit is missing"),
            ("10/", "it is empty"),
        ] {
            let e = bad.parse::<StartRate>().unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert_eq!("tenant".parse::<RateKey>(), Ok(RateKey::Tenant));
        assert!("user".parse::<RateKey>().unwrap_err().to_string().contains("only group key jobs carry is \"tenant\""));
    }
}
