//! An LRU cache that reports its own telemetry: rampart's reference client
//! for cache telemetry (`POST /v1/caches/{name}/report`).
//!
//! [`ReportingCache`] keeps at most `max_size` entries in an [`lru::LruCache`]
//! behind one mutex, optionally each for at most a time to live, and counts
//! what happens: loads (with their time), hits, misses, and each eviction
//! with its reason (`lru` when room was needed, `timeout` when an entry
//! outlived its time, `manual` when the app removed it), its key and how
//! long the entry had been idle. [`ReportingCache::report`] hands a snapshot
//! and the evictions since the last report to a [`CacheSink`]: a rampart
//! server through the [`Client`], or anything else that takes reports (the
//! server's own monitor, in the same process). A report that fails keeps
//! its evictions for the next one, up to [`MAX_PENDING`].
//!
//! ```no_run
//! # async fn demo(client: rampart_client::client::Client) {
//! use std::time::Duration;
//! use rampart_client::cache::ReportingCache;
//!
//! let models = ReportingCache::<String, Vec<f32>>::new("models", 1_000).with_ttl(Duration::from_secs(600));
//! let vector = models.get_or_load("doc:1".to_string(), || vec![0.0; 768]);
//! models.report(&client).await.expect("reported");
//! # let _ = vector;
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt::Display;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;
use rampart_core::insight::{CacheEventKind, EvictionReason};

use crate::client::{Client, ClientError};
use crate::wire::{CacheEventBody, CacheReportRequest, CacheSnapshotBody};

/// Evictions kept for the next report at most; older ones are dropped
/// (the server keeps only the newest 1,000 per cache anyway).
pub const MAX_PENDING: usize = 1_000;

/// Where a cache's reports go.
pub trait CacheSink {
    /// Takes one report of the cache `name`.
    fn report(&self, name: &str, report: &CacheReportRequest) -> impl Future<Output = Result<(), String>> + Send;
}

impl CacheSink for Client {
    async fn report(&self, name: &str, report: &CacheReportRequest) -> Result<(), String> {
        self.cache_report(name, report).await.map(|_| ()).map_err(|e: ClientError| e.to_string())
    }
}

struct Entry<V> {
    value: V,
    created: Instant,
    used: Instant,
}

struct State<K, V> {
    entries: LruCache<K, Entry<V>>,
    loads: u64,
    hits: u64,
    misses: u64,
    load_time: Duration,
    pending: VecDeque<CacheEventBody>,
}

/// An LRU cache that counts what happens in it and reports it.
pub struct ReportingCache<K, V> {
    name: String,
    max_size: NonZeroUsize,
    ttl: Option<Duration>,
    weigh: Option<fn(&K, &V) -> u64>,
    state: Mutex<State<K, V>>,
}

impl<K: Hash + Eq + Clone + Display, V: Clone> ReportingCache<K, V> {
    /// A cache named `name` (as the server lists it) of at most `max_size`
    /// entries (at least 1).
    pub fn new(name: impl Into<String>, max_size: usize) -> Self {
        let max_size = NonZeroUsize::new(max_size).unwrap_or(NonZeroUsize::MIN);
        ReportingCache {
            name: name.into(),
            max_size,
            ttl: None,
            weigh: None,
            state: Mutex::new(State {
                entries: LruCache::new(max_size),
                loads: 0,
                hits: 0,
                misses: 0,
                load_time: Duration::ZERO,
                pending: VecDeque::new(),
            }),
        }
    }

    /// Entries as old as `ttl` or older are dropped (reason `timeout`) when next looked up.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Estimates the memory of each entry, so reports carry `memory_bytes`.
    pub fn with_weigher(mut self, weigh: fn(&K, &V) -> u64) -> Self {
        self.weigh = Some(weigh);
        self
    }

    /// The cache's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn lock(&self) -> MutexGuard<'_, State<K, V>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn evicted(state: &mut State<K, V>, key: &K, entry: &Entry<V>, reason: EvictionReason, now: Instant) {
        if state.pending.len() == MAX_PENDING {
            state.pending.pop_front();
        }
        state.pending.push_back(CacheEventBody {
            kind: CacheEventKind::Evict,
            key: Some(key.to_string()),
            user: None,
            reason: Some(reason),
            idle_ms: Some(now.duration_since(entry.used).as_secs_f64() * 1000.0),
            load_ms: None,
            at: None,
        });
    }

    /// The value of `key` (a hit), or `None` (a miss); an entry past its
    /// time to live is dropped and misses.
    pub fn get(&self, key: &K) -> Option<V> {
        let now = Instant::now();
        let mut state = self.lock();
        let expired = match state.entries.get_mut(key) {
            Some(e) if self.ttl.is_some_and(|ttl| now.duration_since(e.created) >= ttl) => true,
            Some(e) => {
                e.used = now;
                let value = e.value.clone();
                state.hits += 1;
                return Some(value);
            }
            None => false,
        };
        if expired && let Some(entry) = state.entries.pop(key) {
            Self::evicted(&mut state, key, &entry, EvictionReason::Timeout, now);
        }
        state.misses += 1;
        None
    }

    /// Puts a value in, dropping the least recently used entry when full.
    pub fn insert(&self, key: K, value: V) {
        let now = Instant::now();
        let mut state = self.lock();
        if let Some((old_key, old)) = state.entries.push(key.clone(), Entry { value, created: now, used: now })
            && old_key != key
        {
            Self::evicted(&mut state, &old_key, &old, EvictionReason::Lru, now);
        }
    }

    /// The value of `key`, loading it with `load` on a miss (timed and
    /// counted as a load). The lock is not held while loading.
    pub fn get_or_load(&self, key: K, load: impl FnOnce() -> V) -> V {
        if let Some(v) = self.get(&key) {
            return v;
        }
        let started = Instant::now();
        let value = load();
        let took = started.elapsed();
        {
            let mut state = self.lock();
            state.loads += 1;
            state.load_time += took;
        }
        self.insert(key, value.clone());
        value
    }

    /// Removes `key` (an eviction of reason `manual`); answers its value.
    pub fn remove(&self, key: &K) -> Option<V> {
        let mut state = self.lock();
        let entry = state.entries.pop(key)?;
        Self::evicted(&mut state, key, &entry, EvictionReason::Manual, Instant::now());
        Some(entry.value)
    }

    /// Entries now.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The report to send now: the snapshot and the evictions pending,
    /// which this takes out (put them back with a failed report's
    /// [`ReportingCache::restore`]).
    pub fn take_report(&self) -> CacheReportRequest {
        let mut state = self.lock();
        let memory_bytes = self.weigh.map(|w| state.entries.iter().map(|(k, e)| w(k, &e.value)).sum());
        let avg_load_ms =
            if state.loads == 0 { 0.0 } else { state.load_time.as_secs_f64() * 1000.0 / state.loads as f64 };
        let snapshot = CacheSnapshotBody {
            size: state.entries.len() as u64,
            max_size: self.max_size.get() as u64,
            loads: state.loads,
            hits: state.hits,
            misses: state.misses,
            avg_load_ms,
            memory_bytes,
        };
        CacheReportRequest { snapshot: Some(snapshot), events: state.pending.drain(..).collect() }
    }

    /// Puts a report's evictions back in front of those pending since, so
    /// the next report carries them (still at most [`MAX_PENDING`]).
    pub fn restore(&self, report: CacheReportRequest) {
        let mut state = self.lock();
        for e in report.events.into_iter().rev() {
            if state.pending.len() == MAX_PENDING {
                break;
            }
            state.pending.push_front(e);
        }
    }

    /// Sends a snapshot and the pending evictions to `sink`; on failure the
    /// evictions wait for the next report.
    pub async fn report(&self, sink: &impl CacheSink) -> Result<(), String> {
        let report = self.take_report();
        match sink.report(&self.name, &report).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.restore(report);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(r: &CacheReportRequest) -> Vec<(String, EvictionReason)> {
        r.events
            .iter()
            .map(|e| (e.key.clone().unwrap_or_default(), e.reason.unwrap_or(EvictionReason::Manual)))
            .collect()
    }

    #[test]
    fn it_counts_loads_hits_misses_and_evictions_by_reason() {
        let cache = ReportingCache::<String, u32>::new("c", 2).with_weigher(|_, _| 100);
        assert_eq!(cache.get_or_load("a".into(), || 1), 1);
        assert_eq!(cache.get_or_load("a".into(), || 9), 1, "a hit does not load");
        cache.get_or_load("b".into(), || 2);
        cache.get_or_load("c".into(), || 3);
        assert_eq!(cache.remove(&"c".to_string()), Some(3));
        assert_eq!(cache.get(&"zzz".to_string()), None);
        let report = cache.take_report();
        let s = report.snapshot.unwrap();
        assert_eq!((s.size, s.max_size, s.loads, s.hits, s.misses, s.memory_bytes), (1, 2, 3, 1, 4, Some(100)));
        assert_eq!(reasons(&report), [("a".into(), EvictionReason::Lru), ("c".into(), EvictionReason::Manual)]);
        assert!(cache.take_report().events.is_empty(), "evictions are reported once");
    }

    #[test]
    fn entries_past_their_time_to_live_miss_and_are_evicted_as_timeouts() {
        let cache = ReportingCache::<String, u32>::new("c", 10).with_ttl(Duration::ZERO);
        cache.insert("a".into(), 1);
        assert_eq!(cache.get(&"a".to_string()), None);
        assert_eq!(reasons(&cache.take_report()), [("a".into(), EvictionReason::Timeout)]);
    }

    struct Failing;

    impl CacheSink for Failing {
        async fn report(&self, _name: &str, _report: &CacheReportRequest) -> Result<(), String> {
            Err("down".into())
        }
    }

    #[tokio::test]
    async fn a_failed_report_keeps_its_evictions_for_the_next() {
        let cache = ReportingCache::<String, u32>::new("c", 1);
        cache.insert("a".into(), 1);
        cache.insert("b".into(), 2);
        assert_eq!(cache.report(&Failing).await, Err("down".into()));
        cache.insert("c".into(), 3);
        let keys: Vec<String> = reasons(&cache.take_report()).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b"], "oldest first");
    }
}
