//! Timestamps as Unix milliseconds, and the clock they come from.
//!
//! Every stored time is a [`UnixMillis`]: an integer both SQLite and
//! PostgreSQL index cheaply. The engine reads time only through a [`Clock`], so
//! tests move time with a [`ManualClock`] instead of sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    /// This time plus a duration, saturating instead of overflowing.
    pub fn plus(self, d: Duration) -> UnixMillis {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        UnixMillis(self.0.saturating_add(ms))
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: UnixMillis) -> Duration {
        Duration::from_millis(u64::try_from(self.0 - earlier.0).unwrap_or(0))
    }

    /// The earliest time RFC 3339 can write: `0000-01-01T00:00:00.000Z`.
    pub const RFC3339_MIN: UnixMillis = UnixMillis(-62_167_219_200_000);

    /// The latest time RFC 3339 can write: `9999-12-31T23:59:59.999Z`.
    pub const RFC3339_MAX: UnixMillis = UnixMillis(253_402_300_799_999);

    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-23T16:20:00.000Z`.
    /// A time beyond the years 0000 to 9999 (which RFC 3339 cannot write)
    /// shows as the nearest one it can, so the text is always RFC 3339.
    pub fn to_rfc3339(self) -> String {
        let clamped = self.0.clamp(Self::RFC3339_MIN.0, Self::RFC3339_MAX.0);
        chrono::DateTime::from_timestamp_millis(clamped)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    /// Parses an RFC 3339 timestamp with any offset.
    pub fn parse_rfc3339(s: &str) -> Result<UnixMillis, String> {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| UnixMillis(t.timestamp_millis()))
            .map_err(|e| format!("`{s}` is not an RFC 3339 time ({e}); use e.g. 2026-01-31T12:00:00Z"))
    }
}

impl std::str::FromStr for UnixMillis {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UnixMillis::parse_rfc3339(s)
    }
}

impl fmt::Display for UnixMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// The source of "now" for everything that stores or compares times.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> UnixMillis;
}

/// A shareable clock.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place that reads the wall clock; clippy.toml bans it elsewhere.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> UnixMillis {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        UnixMillis(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that moves only when told to, for tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: UnixMillis) -> Self {
        ManualClock { now: AtomicI64::new(start.0) }
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock to `t`.
    pub fn set(&self, t: UnixMillis) {
        self.now.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixMillis {
        UnixMillis(self.now.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_at_millisecond_precision() {
        let t = UnixMillis(1_795_000_000_123);
        let s = t.to_rfc3339();
        assert!(s.ends_with('Z'), "{s}");
        assert_eq!(UnixMillis::parse_rfc3339(&s).unwrap(), t);
    }

    #[test]
    fn every_time_writes_as_rfc3339() {
        assert_eq!(UnixMillis(i64::MAX).to_rfc3339(), "9999-12-31T23:59:59.999Z");
        assert_eq!(UnixMillis(i64::MIN).to_rfc3339(), "0000-01-01T00:00:00.000Z");
        assert_eq!(UnixMillis::parse_rfc3339(&UnixMillis::RFC3339_MAX.to_rfc3339()).unwrap(), UnixMillis::RFC3339_MAX);
        assert_eq!(UnixMillis::parse_rfc3339(&UnixMillis::RFC3339_MIN.to_rfc3339()).unwrap(), UnixMillis::RFC3339_MIN);
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        let a = UnixMillis::parse_rfc3339("2026-01-01T01:00:00+01:00").unwrap();
        let b = UnixMillis::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(a, b);
        assert!(UnixMillis::parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(UnixMillis(1000));
        assert_eq!(c.now(), UnixMillis(1000));
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now(), UnixMillis(3000));
    }
}
