//! Timestamps as Unix milliseconds, and the clock they come from.
//!
//! Every stored time is a [`UnixMillis`]: an integer both SQLite and
//! PostgreSQL index cheaply. The engine reads time only through a [`Clock`], so
//! tests move time with a [`ManualClock`] instead of sleeping.
//!
//! A clock also rings alarms ([`Clock::alarm`]): a [`ManualClock`] wakes
//! whoever waits for an instant as soon as it is moved to it, so a service
//! sleeping on the clock runs at once when a test moves time. This crate
//! has no timer of its own: the server races each alarm with the runtime's
//! timer (`rampart_server::timer`), which is what wakes sleepers on the
//! [`SystemClock`].

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
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

/// A future that resolves when a clock has been moved to an instant; see
/// [`Clock::alarm`].
pub type Alarm = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The source of "now" for everything that stores or compares times.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> UnixMillis;

    /// Resolves once this clock has been moved by hand to `at` or past it.
    ///
    /// A clock that moves by itself is never moved by hand: its alarm never
    /// rings (the default), and sleepers on it are woken by their own timer
    /// after the time left. A [`ManualClock`] rings it from
    /// [`ManualClock::advance`] or [`ManualClock::set`].
    fn alarm(&self, at: UnixMillis) -> Alarm {
        let _ = at;
        Box::pin(std::future::pending())
    }
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

/// A clock that moves only when told to, for tests. Moving it rings the
/// alarms it has reached.
#[derive(Debug, Default)]
pub struct ManualClock {
    shared: Arc<Manual>,
}

/// The time of a [`ManualClock`] and the alarms waiting on it.
#[derive(Debug, Default)]
struct Manual {
    now: AtomicI64,
    alarms: Mutex<Waiting>,
}

/// The alarms that have been polled and not rung, by id: the instant each
/// waits for and the task to wake.
#[derive(Debug, Default)]
struct Waiting {
    next_id: u64,
    by_id: HashMap<u64, (i64, Waker)>,
}

impl Manual {
    fn alarms(&self) -> MutexGuard<'_, Waiting> {
        // A panic while holding the lock leaves the map whole: keep using it.
        self.alarms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the alarms the time has reached. Called after every move, with
    /// the new time stored first: an alarm polled concurrently either sees
    /// the new time or is in the map when this looks.
    fn ring(&self) {
        let now = self.now.load(Ordering::SeqCst);
        let due: Vec<Waker> = {
            let mut alarms = self.alarms();
            let ids: Vec<u64> = alarms.by_id.iter().filter(|(_, (at, _))| *at <= now).map(|(id, _)| *id).collect();
            ids.iter().filter_map(|id| alarms.by_id.remove(id)).map(|(_, waker)| waker).collect()
        };
        for waker in due {
            waker.wake();
        }
    }
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: UnixMillis) -> Self {
        ManualClock { shared: Arc::new(Manual { now: AtomicI64::new(start.0), alarms: Mutex::default() }) }
    }

    /// Moves the clock forward by `d`, ringing the alarms it reaches.
    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self.shared.now.fetch_add(ms, Ordering::SeqCst);
        self.shared.ring();
    }

    /// Sets the clock to `t`, ringing the alarms it reaches.
    pub fn set(&self, t: UnixMillis) {
        self.shared.now.store(t.0, Ordering::SeqCst);
        self.shared.ring();
    }

    /// How many alarms wait on this clock: a test sees by it that a service
    /// has gone to sleep before it moves the clock.
    pub fn sleepers(&self) -> usize {
        self.shared.alarms().by_id.len()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixMillis {
        UnixMillis(self.shared.now.load(Ordering::SeqCst))
    }

    fn alarm(&self, at: UnixMillis) -> Alarm {
        Box::pin(ManualAlarm { shared: Arc::clone(&self.shared), at: at.0, id: None })
    }
}

/// An alarm of a [`ManualClock`]: registered with the clock while it
/// waits, removed when it rings or is dropped.
struct ManualAlarm {
    shared: Arc<Manual>,
    at: i64,
    /// Its key among the clock's alarms, once polled.
    id: Option<u64>,
}

impl Future for ManualAlarm {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut alarms = this.shared.alarms();
        // Looked at under the lock that `ring` takes after each move, so a
        // move is never missed between this look and the registration.
        if this.shared.now.load(Ordering::SeqCst) >= this.at {
            if let Some(id) = this.id.take() {
                alarms.by_id.remove(&id);
            }
            return Poll::Ready(());
        }
        let id = match this.id {
            Some(id) => id,
            None => {
                let id = alarms.next_id;
                alarms.next_id += 1;
                this.id = Some(id);
                id
            }
        };
        alarms.by_id.insert(id, (this.at, cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for ManualAlarm {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.shared.alarms().by_id.remove(&id);
        }
    }
}

/// An HTTP `Retry-After` value as a time: whole seconds from `now`, or an
/// HTTP date; `None` for anything else.
pub fn parse_retry_after(value: &str, now: UnixMillis) -> Option<UnixMillis> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(now.plus(std::time::Duration::from_secs(seconds)));
    }
    chrono::DateTime::parse_from_rfc2822(value).ok().map(|t| UnixMillis(t.timestamp_millis()))
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

    /// Polls `alarm` once with a waker that counts its wakes.
    fn poll_counting(alarm: &mut Alarm, wakes: &Arc<WakeCount>) -> Poll<()> {
        let waker = Waker::from(Arc::clone(wakes));
        alarm.as_mut().poll(&mut Context::from_waker(&waker))
    }

    #[derive(Default)]
    struct WakeCount(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for WakeCount {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl WakeCount {
        fn get(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn a_manual_alarm_rings_when_the_clock_is_moved_to_it_and_not_before() {
        let c = ManualClock::new(UnixMillis(1000));
        let wakes = Arc::new(WakeCount::default());
        let mut alarm = c.alarm(UnixMillis(5000));
        assert_eq!(c.sleepers(), 0, "an alarm waits once polled");
        assert!(poll_counting(&mut alarm, &wakes).is_pending());
        assert_eq!(c.sleepers(), 1);
        c.advance(Duration::from_secs(2));
        assert_eq!(wakes.get(), 0, "3000 is before the alarm");
        assert!(poll_counting(&mut alarm, &wakes).is_pending());
        assert_eq!(c.sleepers(), 1, "polled again, still one sleeper");
        c.advance(Duration::from_secs(2));
        assert_eq!(wakes.get(), 1, "5000 rings it");
        assert_eq!(c.sleepers(), 0);
        assert!(poll_counting(&mut alarm, &wakes).is_ready());
    }

    #[test]
    fn set_rings_every_alarm_it_passes_and_a_dropped_alarm_stops_waiting() {
        let c = ManualClock::new(UnixMillis(0));
        let wakes = Arc::new(WakeCount::default());
        let mut alarms: Vec<Alarm> = [10, 20, 30].into_iter().map(|t| c.alarm(UnixMillis(t))).collect();
        for alarm in &mut alarms {
            assert!(poll_counting(alarm, &wakes).is_pending());
        }
        let late = alarms.pop();
        drop(late);
        assert_eq!(c.sleepers(), 2, "a dropped alarm leaves the clock");
        c.set(UnixMillis(25));
        assert_eq!(wakes.get(), 2);
        assert!(alarms.iter_mut().all(|a| poll_counting(a, &wakes).is_ready()));
        assert_eq!(c.sleepers(), 0);
    }

    #[test]
    fn an_alarm_already_reached_is_ready_at_once() {
        let c = ManualClock::new(UnixMillis(100));
        let wakes = Arc::new(WakeCount::default());
        assert!(poll_counting(&mut c.alarm(UnixMillis(100)), &wakes).is_ready());
        assert_eq!(c.sleepers(), 0);
    }

    #[test]
    fn the_system_clock_never_rings_an_alarm() {
        let wakes = Arc::new(WakeCount::default());
        let mut alarm = SystemClock.alarm(UnixMillis(0));
        assert!(poll_counting(&mut alarm, &wakes).is_pending(), "its sleepers' own timer wakes them");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(UnixMillis(1000));
        assert_eq!(c.now(), UnixMillis(1000));
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now(), UnixMillis(3000));
    }
}
