//! Cache telemetry: what a cache reports and what rampart makes of it.
//!
//! A cache reports a [`CacheSnapshot`] (its size and cumulative counters
//! now) and/or [`CacheEvent`]s (one load, hit, miss or eviction each). The
//! counters an interval gains come from the difference of two snapshots
//! ([`CacheTally::between`]; a counter that went down means the cache
//! restarted, and then counts from zero), plus evictions from the events.
//! Load, hit and miss events count only in a report without a snapshot:
//! a cache reports its counts one way or the other, never twice.
//!
//! The rules ([`CacheThresholds`]) fire when utilisation is above 90%, the
//! hit rate below 50% once at least 20 loads were counted, or the memory
//! estimate above 2 GiB; each cache can override each threshold.

use rampart_core::insight::{CacheEventKind, EvictionReason};
use rampart_core::time::UnixMillis;

use crate::{ReportError, check_len};

/// Longest key or user in an event, in characters.
pub const MAX_KEY_CHARS: usize = 256;
/// Most events in one report.
pub const MAX_EVENTS: usize = 1_000;
/// Evictions kept per cache, newest; older ones are dropped as new come.
pub const EVICTIONS_KEPT: u32 = 1_000;
/// Longest duration a report may carry (`avg_load_ms`, `idle_ms`, `load_ms`): one week.
pub const MAX_MS: f64 = 7.0 * 86_400_000.0;

/// A cache's state as it reports it: its size and its counters since it started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheSnapshot {
    /// Entries now.
    pub size: u64,
    /// Entries it holds at most; 0 for no bound (then it has no utilisation).
    pub max_size: u64,
    /// Values loaded since it started.
    pub loads: u64,
    /// Lookups that found their value since it started.
    pub hits: u64,
    /// Lookups that did not since it started.
    pub misses: u64,
    /// The mean time of a load, in milliseconds.
    pub avg_load_ms: f64,
    /// Its estimated memory in bytes, when it knows.
    pub memory_bytes: Option<u64>,
}

impl CacheSnapshot {
    /// Checks what counters cannot say for themselves.
    pub fn validate(&self) -> Result<(), ReportError> {
        if !(self.avg_load_ms.is_finite() && (0.0..=MAX_MS).contains(&self.avg_load_ms)) {
            return Err(ReportError::new(
                "snapshot.avg_load_ms",
                format!("must be a number of milliseconds from 0 to {MAX_MS}"),
            ));
        }
        Ok(())
    }

    /// Hits over lookups; `None` before the first lookup.
    pub fn hit_rate(&self) -> Option<f64> {
        hit_rate(self.hits, self.misses)
    }

    /// Size over `max_size`; `None` for a cache without a bound.
    pub fn utilisation(&self) -> Option<f64> {
        (self.max_size > 0).then(|| self.size as f64 / self.max_size as f64)
    }
}

/// Hits over lookups; `None` without lookups.
pub fn hit_rate(hits: u64, misses: u64) -> Option<f64> {
    let lookups = hits.saturating_add(misses);
    (lookups > 0).then(|| hits as f64 / lookups as f64)
}

/// One thing that happened in a cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheEvent {
    /// What happened.
    pub kind: CacheEventKind,
    /// The entry's key (scrubbed of nothing: apps send keys, not secrets).
    pub key: Option<String>,
    /// The user the entry belonged to.
    pub user: Option<String>,
    /// Why an entry was dropped: required for `evict`, refused otherwise.
    pub reason: Option<EvictionReason>,
    /// How long an evicted entry had been idle, in milliseconds.
    pub idle_ms: Option<f64>,
    /// How long a load took, in milliseconds.
    pub load_ms: Option<f64>,
    /// When it happened; the report's arrival when left out.
    pub at: Option<UnixMillis>,
}

impl CacheEvent {
    /// Checks one event; `index` names it in the error (`events[2].reason`).
    pub fn validate(&self, index: usize) -> Result<(), ReportError> {
        let field = |name: &str| format!("events[{index}].{name}");
        match (self.kind, self.reason) {
            (CacheEventKind::Evict, None) => {
                return Err(ReportError::new(field("reason"), "an evict event needs a reason: lru, timeout or manual"));
            }
            (kind, Some(_)) if kind != CacheEventKind::Evict => {
                return Err(ReportError::new(field("reason"), "only an evict event has a reason"));
            }
            _ => {}
        }
        for (name, value) in [("idle_ms", self.idle_ms), ("load_ms", self.load_ms)] {
            if let Some(v) = value
                && !(v.is_finite() && (0.0..=MAX_MS).contains(&v))
            {
                return Err(ReportError::new(
                    field(name),
                    format!("must be a number of milliseconds from 0 to {MAX_MS}"),
                ));
            }
        }
        check_len(&field("key"), self.key.as_deref(), MAX_KEY_CHARS)?;
        check_len(&field("user"), self.user.as_deref(), MAX_KEY_CHARS)
    }
}

/// Checks a whole report: at most [`MAX_EVENTS`] events, each valid. An
/// empty report is valid: it says the cache is alive.
pub fn validate_report(snapshot: Option<&CacheSnapshot>, events: &[CacheEvent]) -> Result<(), ReportError> {
    if events.len() > MAX_EVENTS {
        return Err(ReportError::new("events", format!("at most {MAX_EVENTS} events per report")));
    }
    if let Some(s) = snapshot {
        s.validate()?;
    }
    events.iter().enumerate().try_for_each(|(i, e)| e.validate(i))
}

/// What an interval of a cache counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheTally {
    /// Values loaded.
    pub loads: u64,
    /// Lookups that hit.
    pub hits: u64,
    /// Lookups that missed.
    pub misses: u64,
    /// Entries dropped as least recently used.
    pub evicted_lru: u64,
    /// Entries dropped for their time.
    pub evicted_timeout: u64,
    /// Entries the app removed.
    pub evicted_manual: u64,
}

impl CacheTally {
    /// What the counters gained from `before` to `now`; a counter that went
    /// down means the cache restarted, so all of `now`'s count is new.
    pub fn between(before: Option<&CacheSnapshot>, now: &CacheSnapshot) -> CacheTally {
        let gained = |b: Option<u64>, n: u64| match b {
            Some(b) if b <= n => n - b,
            _ => n,
        };
        CacheTally {
            loads: gained(before.map(|b| b.loads), now.loads),
            hits: gained(before.map(|b| b.hits), now.hits),
            misses: gained(before.map(|b| b.misses), now.misses),
            ..CacheTally::default()
        }
    }

    /// Adds the events: evictions always, loads, hits and misses only when
    /// `with_lookups` (a report without a snapshot).
    pub fn add_events(&mut self, events: &[CacheEvent], with_lookups: bool) {
        for e in events {
            match (e.kind, e.reason) {
                (CacheEventKind::Evict, Some(EvictionReason::Lru)) => self.evicted_lru += 1,
                (CacheEventKind::Evict, Some(EvictionReason::Timeout)) => self.evicted_timeout += 1,
                (CacheEventKind::Evict, Some(EvictionReason::Manual)) => self.evicted_manual += 1,
                (CacheEventKind::Load, _) if with_lookups => self.loads += 1,
                (CacheEventKind::Hit, _) if with_lookups => self.hits += 1,
                (CacheEventKind::Miss, _) if with_lookups => self.misses += 1,
                _ => {}
            }
        }
    }

    /// Every eviction, whatever its reason.
    pub fn evictions(&self) -> u64 {
        self.evicted_lru + self.evicted_timeout + self.evicted_manual
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        *self == CacheTally::default()
    }
}

rampart_core::named_enum! {
    /// The rules a cache's latest snapshot is held to.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum CacheRule {
        /// Size over `max_size` is above the threshold.
        Utilisation = "cache_utilisation",
        /// The hit rate is below the threshold, once enough loads were counted.
        HitRate = "cache_hit_rate",
        /// The memory estimate is above the threshold, in bytes.
        Memory = "cache_memory",
    }
}

/// The thresholds of a cache's rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheThresholds {
    /// Utilisation above which [`CacheRule::Utilisation`] holds (a fraction).
    pub utilisation: f64,
    /// Hit rate below which [`CacheRule::HitRate`] holds (a fraction)…
    pub hit_rate: f64,
    /// …once the cache counted at least this many loads.
    pub min_loads: u64,
    /// Memory in bytes above which [`CacheRule::Memory`] holds.
    pub memory_bytes: u64,
}

impl Default for CacheThresholds {
    /// The defaults: above 90% full, below 50% hits after 20 loads, above 2 GiB.
    fn default() -> CacheThresholds {
        CacheThresholds { utilisation: 0.9, hit_rate: 0.5, min_loads: 20, memory_bytes: 2 << 30 }
    }
}

/// One rule's verdict on a snapshot: the figure and whether it breaches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheVerdict {
    /// The rule.
    pub rule: CacheRule,
    /// The figure it looked at (a fraction, or bytes).
    pub value: f64,
    /// The threshold it was held to.
    pub threshold: f64,
    /// Whether the rule holds.
    pub holds: bool,
}

impl CacheThresholds {
    /// Each rule's verdict on `snapshot`; a rule without its figure (no
    /// bound, no lookups, no memory estimate) gives none.
    pub fn verdicts(&self, snapshot: &CacheSnapshot) -> Vec<CacheVerdict> {
        let mut out = Vec::with_capacity(3);
        if let Some(u) = snapshot.utilisation() {
            out.push(CacheVerdict {
                rule: CacheRule::Utilisation,
                value: u,
                threshold: self.utilisation,
                holds: u > self.utilisation,
            });
        }
        if let Some(h) = snapshot.hit_rate() {
            let enough = snapshot.loads >= self.min_loads;
            out.push(CacheVerdict {
                rule: CacheRule::HitRate,
                value: h,
                threshold: self.hit_rate,
                holds: enough && h < self.hit_rate,
            });
        }
        if let Some(m) = snapshot.memory_bytes {
            out.push(CacheVerdict {
                rule: CacheRule::Memory,
                value: m as f64,
                threshold: self.memory_bytes as f64,
                holds: m > self.memory_bytes,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(size: u64, max_size: u64, loads: u64, hits: u64, misses: u64, memory: Option<u64>) -> CacheSnapshot {
        CacheSnapshot { size, max_size, loads, hits, misses, avg_load_ms: 12.5, memory_bytes: memory }
    }

    fn holding(s: &CacheSnapshot) -> Vec<CacheRule> {
        CacheThresholds::default().verdicts(s).into_iter().filter(|v| v.holds).map(|v| v.rule).collect()
    }

    #[test]
    fn the_seed_thresholds_fire_as_documented() {
        use CacheRule::*;
        let cases: &[(CacheSnapshot, &[CacheRule])] = &[
            (snap(90, 100, 100, 90, 10, Some(1 << 20)), &[]),
            (snap(91, 100, 100, 90, 10, None), &[Utilisation]),
            (snap(10, 100, 19, 1, 19, None), &[]),
            (snap(10, 100, 20, 9, 11, None), &[HitRate]),
            (snap(10, 100, 20, 10, 10, None), &[]),
            (snap(10, 0, 0, 0, 0, Some(2 << 30)), &[]),
            (snap(10, 0, 0, 0, 0, Some((2 << 30) + 1)), &[Memory]),
            (snap(100, 100, 50, 0, 50, Some(3 << 30)), &[Utilisation, HitRate, Memory]),
        ];
        for (s, expected) in cases {
            assert_eq!(holding(s), *expected, "{s:?}");
        }
    }

    #[test]
    fn overrides_move_each_threshold() {
        let t = CacheThresholds { utilisation: 0.5, hit_rate: 0.9, min_loads: 1, memory_bytes: 10 };
        let rules: Vec<_> =
            t.verdicts(&snap(60, 100, 1, 8, 2, Some(11))).into_iter().filter(|v| v.holds).map(|v| v.rule).collect();
        assert_eq!(rules, [CacheRule::Utilisation, CacheRule::HitRate, CacheRule::Memory]);
    }

    #[test]
    fn tallies_are_the_gain_between_snapshots_and_restart_from_zero() {
        let a = snap(1, 10, 10, 50, 5, None);
        let b = snap(1, 10, 12, 60, 5, None);
        assert_eq!(CacheTally::between(Some(&a), &b), CacheTally { loads: 2, hits: 10, ..Default::default() });
        assert_eq!(CacheTally::between(None, &a), CacheTally { loads: 10, hits: 50, misses: 5, ..Default::default() });
        let restarted = snap(1, 10, 3, 4, 1, None);
        assert_eq!(CacheTally::between(Some(&b), &restarted).hits, 4);
    }

    fn event(kind: CacheEventKind, reason: Option<EvictionReason>) -> CacheEvent {
        CacheEvent { kind, key: None, user: None, reason, idle_ms: None, load_ms: None, at: None }
    }

    #[test]
    fn events_count_evictions_by_reason_and_lookups_only_without_a_snapshot() {
        let events = [
            event(CacheEventKind::Evict, Some(EvictionReason::Lru)),
            event(CacheEventKind::Evict, Some(EvictionReason::Timeout)),
            event(CacheEventKind::Evict, Some(EvictionReason::Lru)),
            event(CacheEventKind::Hit, None),
            event(CacheEventKind::Miss, None),
            event(CacheEventKind::Load, None),
        ];
        let mut with = CacheTally::default();
        with.add_events(&events, true);
        assert_eq!((with.evicted_lru, with.evicted_timeout, with.evictions()), (2, 1, 3));
        assert_eq!((with.loads, with.hits, with.misses), (1, 1, 1));
        let mut without = CacheTally::default();
        without.add_events(&events, false);
        assert_eq!((without.loads, without.hits, without.misses, without.evictions()), (0, 0, 0, 3));
    }

    #[test]
    fn reports_are_refused_naming_the_field() {
        let check = |s: Option<CacheSnapshot>, e: Vec<CacheEvent>| validate_report(s.as_ref(), &e).map_err(|e| e.field);
        assert_eq!(check(None, vec![]), Ok(()), "an empty report says the cache is alive");
        assert_eq!(
            check(Some(CacheSnapshot { avg_load_ms: -1.0, ..snap(0, 0, 0, 0, 0, None) }), vec![]).unwrap_err(),
            "snapshot.avg_load_ms"
        );
        assert_eq!(
            check(None, vec![event(CacheEventKind::Hit, None), event(CacheEventKind::Evict, None)]),
            Err("events[1].reason".into())
        );
        assert_eq!(
            check(None, vec![event(CacheEventKind::Hit, Some(EvictionReason::Lru))]),
            Err("events[0].reason".into())
        );
        let long = CacheEvent { key: Some("k".repeat(257)), ..event(CacheEventKind::Hit, None) };
        assert_eq!(check(None, vec![long]), Err("events[0].key".into()));
        let nan = CacheEvent { load_ms: Some(f64::NAN), ..event(CacheEventKind::Load, None) };
        assert_eq!(check(None, vec![nan]), Err("events[0].load_ms".into()));
        assert_eq!(check(None, vec![event(CacheEventKind::Hit, None); MAX_EVENTS + 1]), Err("events".into()));
        assert_eq!(
            check(Some(snap(1, 2, 3, 4, 5, None)), vec![event(CacheEventKind::Evict, Some(EvictionReason::Manual))]),
            Ok(())
        );
    }
}
