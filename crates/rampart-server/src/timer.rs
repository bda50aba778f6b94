//! Sleeping on the injected clock: how every service and the engine's
//! long-poll wait for time to pass.
//!
//! A sleep until an instant of the clock ends when the time left runs out
//! on the runtime's timer, or as soon as the clock's alarm for that instant
//! rings ([`Clock::alarm`]), whichever comes first. On the system clock the
//! alarm never rings, so sleeping is the runtime's timer, as it always was.
//! On a `ManualClock` a service keeps its pace on real time, and runs at
//! once when a test moves the clock past its next look: tests move time and
//! wait on a condition instead of polling through a service's interval.

use std::future::Future;
use std::time::Duration;

use rampart_core::time::{Alarm, Clock, SharedClock, UnixMillis};

use crate::shutdown::Shutdown;

/// Sleeping on a [`Clock`]; implemented for every clock, `dyn Clock` included.
pub trait Timer {
    /// Sleeps until the clock reads `deadline`: the time left is measured
    /// when this is called, so a future made once and polled in a loop
    /// keeps one deadline.
    fn sleep_until(&self, deadline: UnixMillis) -> impl Future<Output = ()> + Send + 'static;

    /// Sleeps for `d` of the clock's time from now.
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send + 'static;
}

impl<C: Clock + ?Sized> Timer for C {
    fn sleep_until(&self, deadline: UnixMillis) -> impl Future<Output = ()> + Send + 'static {
        let until = tokio::time::Instant::now() + deadline.since(self.now());
        let alarm = self.alarm(deadline);
        async move {
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                () = alarm => {}
            }
        }
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send + 'static {
        self.sleep_until(self.now().plus(d))
    }
}

/// A tick every `interval` of the clock until shutdown: the loop of each
/// service that polls. The first tick comes at once; each next one when the
/// interval has passed on the runtime's timer since the last, or when the
/// clock is moved to the last tick's time plus the interval. A tick that
/// comes late is not made up for.
pub(crate) struct Ticks {
    clock: SharedClock,
    interval: Duration,
    tick: tokio::time::Interval,
    /// The clock's time at the last tick; `None` before the first.
    last: Option<UnixMillis>,
    shutdown: Shutdown,
}

impl Ticks {
    /// Ticks every `interval` of `clock`, the first at once.
    pub(crate) fn new(interval: Duration, clock: SharedClock, shutdown: Shutdown) -> Ticks {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Ticks { clock, interval, tick, last: None, shutdown }
    }

    /// Waits for the next tick; false once shutdown has fired.
    pub(crate) async fn next(&mut self) -> bool {
        let alarm: Alarm = match self.last {
            Some(at) => self.clock.alarm(at.plus(self.interval)),
            None => Box::pin(std::future::pending()),
        };
        tokio::select! {
            _ = self.tick.tick() => {}
            // The clock was moved: the runtime's timer counts the next
            // interval from here.
            () = alarm => self.tick.reset(),
            () = self.shutdown.wait() => return false,
        }
        self.last = Some(self.clock.now());
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rampart_core::time::{ManualClock, SystemClock};

    use super::*;

    const LONG: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn a_sleep_on_a_manual_clock_ends_when_the_clock_reaches_it() {
        let clock = Arc::new(ManualClock::new(UnixMillis(0)));
        let shared: SharedClock = clock.clone();
        let sleeping = tokio::spawn(shared.sleep(LONG));
        while clock.sleepers() == 0 {
            tokio::task::yield_now().await;
        }
        clock.advance(Duration::from_secs(1_800));
        assert_eq!(clock.sleepers(), 1, "half way: still asleep");
        clock.advance(Duration::from_secs(1_800));
        sleeping.await.unwrap();
        assert_eq!(clock.sleepers(), 0);
    }

    #[tokio::test]
    async fn a_sleep_on_the_system_clock_is_the_runtimes_timer() {
        let started = tokio::time::Instant::now();
        SystemClock.sleep(Duration::from_millis(30)).await;
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    #[tokio::test]
    async fn a_sleep_on_a_manual_clock_still_ends_on_real_time() {
        let clock = ManualClock::new(UnixMillis(0));
        let started = tokio::time::Instant::now();
        clock.sleep(Duration::from_millis(30)).await;
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert_eq!(clock.sleepers(), 0, "the alarm left the clock with the sleep");
    }

    #[tokio::test]
    async fn ticks_come_at_once_then_whenever_the_clock_passes_an_interval() {
        let clock = Arc::new(ManualClock::new(UnixMillis(0)));
        let (trigger, shutdown) = Shutdown::new();
        let mut ticks = Ticks::new(LONG, clock.clone(), shutdown);
        assert!(ticks.next().await, "the first tick comes at once");
        let next = tokio::spawn(async move {
            let more = ticks.next().await;
            (ticks, more)
        });
        while clock.sleepers() == 0 {
            tokio::task::yield_now().await;
        }
        clock.advance(LONG);
        let (mut ticks, more) = next.await.unwrap();
        assert!(more, "moving the clock an interval on brings the next tick");
        trigger.trigger();
        assert!(!ticks.next().await, "shutdown ends the ticks");
    }
}
