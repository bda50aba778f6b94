//! The loop status registry: each background loop reports the outcome of
//! each run by name (`ok`, or the error), and the admin diagnostics show the
//! last run and the last error of every loop.
//!
//! A report is one lock of a small map, made once per tick or per unit of
//! work a loop does, never per job. A loop that has not run yet shows once
//! it is registered (the server registers each loop it starts), so a loop
//! that never got going is visible too.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use rampart_core::time::{SharedClock, SystemClock, UnixMillis};

/// What one loop last did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoopStatus {
    /// When it last finished a run, successful or not.
    pub last_run_at: Option<UnixMillis>,
    /// When a run last succeeded.
    pub last_ok_at: Option<UnixMillis>,
    /// The error of the last failed run; it stays after later successes so
    /// an operator sees what happened, with [`LoopStatus::last_error_at`].
    pub last_error: Option<String>,
    /// When a run last failed.
    pub last_error_at: Option<UnixMillis>,
    /// Runs since start.
    pub runs: u64,
    /// Failed runs since start.
    pub failures: u64,
    /// Whether the last run failed.
    pub failing: bool,
}

/// The registry; cloning shares it.
#[derive(Clone)]
pub struct Loops {
    clock: SharedClock,
    loops: Arc<Mutex<BTreeMap<&'static str, LoopStatus>>>,
}

impl Default for Loops {
    /// A registry on the system clock that nothing reads: what a service
    /// built without one reports into.
    fn default() -> Self {
        Loops::new(Arc::new(SystemClock))
    }
}

impl fmt::Debug for Loops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loops").field("loops", &self.snapshot()).finish()
    }
}

/// The loop names the server uses, so the diagnostics and the services agree.
pub mod names {
    /// [`crate::service::Reaper`].
    pub const REAPER: &str = "reaper";
    /// [`crate::service::Promoter`].
    pub const PROMOTER: &str = "promoter";
    /// [`crate::service::Relay`].
    pub const RELAY: &str = "relay";
    /// [`crate::service::Sweeper`].
    pub const SWEEPER: &str = "sweeper";
    /// [`crate::service::PolicySyncer`].
    pub const POLICY_SYNCER: &str = "policy_syncer";
    /// [`crate::service::RedisProber`].
    pub const REDIS_PROBER: &str = "redis_prober";
    /// The cron scheduler.
    pub const SCHEDULER: &str = "scheduler";
    /// The push dispatcher.
    pub const DISPATCHER: &str = "dispatcher";
    /// The retention pruner.
    pub const PRUNER: &str = "pruner";
    /// The metrics sampler.
    pub const SAMPLER: &str = "sampler";
    /// The alert evaluator.
    pub const ALERTER: &str = "alerter";
    /// The sender of alert notices.
    pub const NOTIFIER: &str = "notifier";
    /// [`crate::service::Releaser`].
    pub const RELEASER: &str = "releaser";
}

impl Loops {
    /// An empty registry stamping reports with `clock`.
    pub fn new(clock: SharedClock) -> Loops {
        Loops { clock, loops: Arc::new(Mutex::new(BTreeMap::new())) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<&'static str, LoopStatus>) -> T) -> T {
        f(&mut self.loops.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Lists a loop before its first run.
    pub fn register(&self, name: &'static str) {
        self.with(|loops| {
            loops.entry(name).or_default();
        });
    }

    /// Records a successful run of `name`.
    pub fn ok(&self, name: &'static str) {
        let now = self.clock.now();
        self.with(|loops| {
            let status = loops.entry(name).or_default();
            status.last_run_at = Some(now);
            status.last_ok_at = Some(now);
            status.runs += 1;
            status.failing = false;
        });
    }

    /// Records a failed run of `name` with its error.
    pub fn failed(&self, name: &'static str, error: &dyn fmt::Display) {
        let now = self.clock.now();
        let error = error.to_string();
        self.with(|loops| {
            let status = loops.entry(name).or_default();
            status.last_run_at = Some(now);
            status.last_error = Some(error);
            status.last_error_at = Some(now);
            status.runs += 1;
            status.failures += 1;
            status.failing = true;
        });
    }

    /// Records the outcome of a run of `name`: the one line a loop adds
    /// (`loops.report(names::REAPER, &result)`).
    pub fn report<T, E: fmt::Display>(&self, name: &'static str, result: &Result<T, E>) {
        match result {
            Ok(_) => self.ok(name),
            Err(e) => self.failed(name, e),
        }
    }

    /// Every loop with its status, by name.
    pub fn snapshot(&self) -> Vec<(&'static str, LoopStatus)> {
        self.with(|loops| loops.iter().map(|(name, status)| (*name, status.clone())).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rampart_core::time::ManualClock;

    use super::*;

    #[test]
    fn reports_keep_the_last_run_and_the_last_error() {
        let clock = Arc::new(ManualClock::new(UnixMillis(1_000)));
        let loops = Loops::new(clock.clone());
        loops.register("reaper");
        loops.register("pruner");
        assert_eq!(loops.snapshot(), vec![("pruner", LoopStatus::default()), ("reaper", LoopStatus::default())]);

        loops.report::<(), &str>("reaper", &Err("database down"));
        let (_, status) = loops.snapshot().into_iter().find(|(n, _)| *n == "reaper").unwrap();
        assert!(status.failing);
        assert_eq!(status.last_error.as_deref(), Some("database down"));

        clock.advance(Duration::from_secs(1));
        loops.report::<u32, &str>("reaper", &Ok(3));
        let (_, status) = loops.snapshot().into_iter().find(|(n, _)| *n == "reaper").unwrap();
        assert_eq!(
            status,
            LoopStatus {
                last_run_at: Some(UnixMillis(2_000)),
                last_ok_at: Some(UnixMillis(2_000)),
                last_error: Some("database down".into()),
                last_error_at: Some(UnixMillis(1_000)),
                runs: 2,
                failures: 1,
                failing: false,
            }
        );
    }
}
