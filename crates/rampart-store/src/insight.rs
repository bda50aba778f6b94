//! Records of what apps report about themselves (migration 0013): each
//! cache's latest snapshot, its counters per interval and its latest
//! evictions; error events and their counts per kind, fingerprint and
//! interval.
//!
//! Everything here is bounded: a cache keeps one snapshot, one row per
//! interval and at most [`EVICTIONS_KEPT`] evictions (each report trims its
//! cache's in the same transaction), and retention
//! ([`crate::Store::cache_prune`], [`crate::Store::error_prune`]) deletes
//! intervals, evictions and events by age in bounded batches. A report is
//! one transaction: the snapshot is read, the interval gains what the
//! counters gained since ([`CacheTally::between`]), and the new snapshot,
//! the interval and the evictions are written together.

use rampart_core::id::CacheName;
use rampart_core::insight::{ErrorLevel, EvictionReason};
use rampart_core::time::UnixMillis;
pub use rampart_insight::cache::{CacheSnapshot, CacheTally, EVICTIONS_KEPT};

use crate::Store;
use crate::error::StoreError;
use crate::nul;
use crate::row::Row;

/// The start of the interval `at` falls in, for intervals of `width_ms`.
pub fn interval_start(at: UnixMillis, width_ms: i64) -> UnixMillis {
    UnixMillis(at.0 - at.0.rem_euclid(width_ms.max(1)))
}

/// One eviction a report carries.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheEvictionInsert {
    /// When it happened.
    pub at: UnixMillis,
    /// The entry's key.
    pub key: Option<String>,
    /// The user it belonged to.
    pub user: Option<String>,
    /// Why it was dropped.
    pub reason: EvictionReason,
    /// How long it had been idle, in milliseconds.
    pub idle_ms: Option<f64>,
}

/// What [`crate::Store::cache_report`] records.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheReportParams {
    /// The cache.
    pub name: CacheName,
    /// Its state now, when the report has one.
    pub snapshot: Option<CacheSnapshot>,
    /// What the report's events count (evictions; lookups only without a
    /// snapshot); the snapshot's gain is added by the store.
    pub events: CacheTally,
    /// The evictions to keep.
    pub evictions: Vec<CacheEvictionInsert>,
    /// Width of an interval in milliseconds (`monitoring.interval`).
    pub interval_ms: i64,
    /// When: the interval the counts go to.
    pub now: UnixMillis,
}

/// A cache that reported, with its latest snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheSnapshotRecord {
    /// The cache.
    pub name: CacheName,
    /// The latest snapshot it reported; `None` while it reported only events.
    pub snapshot: Option<CacheSnapshot>,
    /// When it last reported.
    pub reported_at: UnixMillis,
}

/// What a cache counted in one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheIntervalRecord {
    /// The interval's start.
    pub start: UnixMillis,
    /// Its counts.
    pub tally: CacheTally,
}

/// A kept eviction.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheEvictionRecord {
    /// Its id, increasing.
    pub id: i64,
    /// When it happened.
    pub at: UnixMillis,
    /// The entry's key.
    pub key: Option<String>,
    /// The user it belonged to.
    pub user: Option<String>,
    /// Why.
    pub reason: EvictionReason,
    /// How long it had been idle.
    pub idle_ms: Option<f64>,
}

/// How many rows one prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsightPruned {
    /// Rows deleted (intervals, evictions, snapshots; or events and counts).
    pub rows: u64,
}

/// One error event to keep, scrubbed and fingerprinted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorEventInsert {
    /// When it happened.
    pub at: UnixMillis,
    /// How bad.
    pub level: ErrorLevel,
    /// Its kind.
    pub kind: String,
    /// Its message.
    pub message: String,
    /// Its group.
    pub fingerprint: String,
    /// Its tenant.
    pub tenant: Option<String>,
    /// Its tags as a JSON object.
    pub tags: String,
}

/// What [`crate::Store::error_insert`] records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInsertParams {
    /// The events, each counted in the interval of its `at`.
    pub events: Vec<ErrorEventInsert>,
    /// Width of an interval in milliseconds.
    pub interval_ms: i64,
}

/// A kept error event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorEventRecord {
    /// Its id, increasing.
    pub id: i64,
    /// When it happened.
    pub at: UnixMillis,
    /// How bad.
    pub level: ErrorLevel,
    /// Its kind.
    pub kind: String,
    /// Its message.
    pub message: String,
    /// Its group.
    pub fingerprint: String,
    /// Its tenant.
    pub tenant: Option<String>,
    /// Its tags as a JSON object.
    pub tags: String,
}

/// A page of error events ([`crate::Store::error_list`]), newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorListParams {
    /// Only this level and worse.
    pub level: Option<ErrorLevel>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this fingerprint.
    pub fingerprint: Option<String>,
    /// Only this tenant.
    pub tenant: Option<String>,
    /// Only events at or after this time.
    pub since: Option<UnixMillis>,
    /// Only events with a smaller id (the last id of the previous page).
    pub before: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// Which counts [`crate::Store::error_counts`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCountsParams {
    /// Intervals starting at or after this.
    pub since: UnixMillis,
    /// Only this kind.
    pub kind: Option<String>,
    /// Most groups answered, the largest counts first.
    pub limit: u32,
}

/// Error events of one kind and fingerprint counted over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCountRecord {
    /// The kind.
    pub kind: String,
    /// The fingerprint.
    pub fingerprint: String,
    /// Events in the window.
    pub count: u64,
    /// The start of the latest interval with one.
    pub last_interval: UnixMillis,
}

/// The levels at `level` and worse, as stored.
pub(crate) fn levels_from(level: Option<ErrorLevel>) -> Vec<&'static str> {
    ErrorLevel::ALL.iter().filter(|l| level.is_none_or(|min| **l >= min)).map(|l| l.as_str()).collect()
}

impl CacheSnapshotRecord {
    /// The record of a row read with the columns `name, size, max_size,
    /// loads, hits, misses, avg_load_ms, memory_bytes, reported_at`.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<CacheSnapshotRecord, R::Error> {
        Ok(CacheSnapshotRecord {
            name: r.parsed(0, "cache name")?,
            snapshot: match r.opt_int(1)? {
                None => None,
                Some(size) => Some(CacheSnapshot {
                    size: size.max(0) as u64,
                    max_size: r.counter(2)?,
                    loads: r.counter(3)?,
                    hits: r.counter(4)?,
                    misses: r.counter(5)?,
                    avg_load_ms: r.float(6)?,
                    memory_bytes: r.opt_int(7)?.map(|m| m.max(0) as u64),
                }),
            },
            reported_at: r.time(8)?,
        })
    }
}

impl CacheIntervalRecord {
    /// The record of a row read with the columns `bucket, loads, hits,
    /// misses, evicted_lru, evicted_timeout, evicted_manual`.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<CacheIntervalRecord, R::Error> {
        Ok(CacheIntervalRecord { start: r.time(0)?, tally: tally_from_row(r, 1)? })
    }
}

/// A tally read from six columns from `first` on: loads, hits, misses,
/// evicted_lru, evicted_timeout, evicted_manual.
pub(crate) fn tally_from_row<R: Row>(r: &R, first: usize) -> Result<CacheTally, R::Error> {
    Ok(CacheTally {
        loads: r.counter(first)?,
        hits: r.counter(first + 1)?,
        misses: r.counter(first + 2)?,
        evicted_lru: r.counter(first + 3)?,
        evicted_timeout: r.counter(first + 4)?,
        evicted_manual: r.counter(first + 5)?,
    })
}

impl CacheEvictionRecord {
    /// The record of a row read with the columns `id, at, key, user_ref,
    /// reason, idle_ms`.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<CacheEvictionRecord, R::Error> {
        Ok(CacheEvictionRecord {
            id: r.int(0)?,
            at: r.time(1)?,
            key: r.opt_text(2)?,
            user: r.opt_text(3)?,
            reason: r.parsed(4, "eviction reason")?,
            idle_ms: r.opt_float(5)?,
        })
    }
}

impl ErrorEventRecord {
    /// The record of a row read with the columns `id, at, level, kind,
    /// message, fingerprint, tenant, tags`.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<ErrorEventRecord, R::Error> {
        Ok(ErrorEventRecord {
            id: r.int(0)?,
            at: r.time(1)?,
            level: r.parsed(2, "error level")?,
            kind: r.text(3)?,
            message: r.text(4)?,
            fingerprint: r.text(5)?,
            tenant: r.opt_text(6)?,
            tags: r.text(7)?,
        })
    }
}

impl ErrorCountRecord {
    /// The record of a row read with the columns `kind, fingerprint,
    /// count, last_interval`.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<ErrorCountRecord, R::Error> {
        Ok(ErrorCountRecord {
            kind: r.text(0)?,
            fingerprint: r.text(1)?,
            count: r.counter(2)?,
            last_interval: r.time(3)?,
        })
    }
}

impl Store {
    /// Records a cache's report in one transaction: its snapshot (when it
    /// has one) replaces the kept one, the interval of `now` gains what the
    /// counters gained since the kept snapshot plus the events' counts, and
    /// the evictions are kept, trimmed to the cache's newest
    /// [`EVICTIONS_KEPT`]. Keys and users with NUL are cleaned.
    pub async fn cache_report(&self, mut params: CacheReportParams) -> Result<(), StoreError> {
        for e in &mut params.evictions {
            nul::clean_opt(&mut e.key);
            nul::clean_opt(&mut e.user);
        }
        dispatch!(self, s => s.cache_report(params))
    }

    /// Every cache that reported, with its latest snapshot, by name.
    pub async fn cache_list(&self) -> Result<Vec<CacheSnapshotRecord>, StoreError> {
        dispatch!(self, s => s.cache_list())
    }

    /// One cache with its latest snapshot; `None` when it never reported
    /// (or retention forgot it).
    pub async fn cache_get(&self, name: &CacheName) -> Result<Option<CacheSnapshotRecord>, StoreError> {
        dispatch!(self, s => s.cache_get(name))
    }

    /// A cache's counts per interval from `since` on, oldest first.
    pub async fn cache_intervals(
        &self,
        name: &CacheName,
        since: UnixMillis,
    ) -> Result<Vec<CacheIntervalRecord>, StoreError> {
        dispatch!(self, s => s.cache_intervals(name, since))
    }

    /// Every cache's counts summed over the intervals from `since` on, by name.
    pub async fn cache_totals(&self, since: UnixMillis) -> Result<Vec<(CacheName, CacheTally)>, StoreError> {
        dispatch!(self, s => s.cache_totals(since))
    }

    /// A cache's `limit` latest evictions, newest first.
    pub async fn cache_evictions(&self, name: &CacheName, limit: u32) -> Result<Vec<CacheEvictionRecord>, StoreError> {
        dispatch!(self, s => s.cache_evictions(name, limit))
    }

    /// Deletes, `limit` rows of each kind at most, the intervals and
    /// evictions before `before` and the caches that last reported before it.
    pub async fn cache_prune(&self, before: UnixMillis, limit: u32) -> Result<InsightPruned, StoreError> {
        dispatch!(self, s => s.cache_prune(before, limit))
    }

    /// Keeps error events (already scrubbed) and counts each in its kind's,
    /// fingerprint's and interval's count, all in one transaction; answers
    /// the kept events in order. Text with NUL is cleaned.
    pub async fn error_insert(&self, mut params: ErrorInsertParams) -> Result<Vec<ErrorEventRecord>, StoreError> {
        for e in &mut params.events {
            nul::clean(&mut e.kind);
            nul::clean(&mut e.message);
            nul::clean(&mut e.fingerprint);
            nul::clean_opt(&mut e.tenant);
            nul::clean(&mut e.tags);
        }
        dispatch!(self, s => s.error_insert(params))
    }

    /// A page of error events matching the filters, newest first.
    pub async fn error_list(&self, mut params: ErrorListParams) -> Result<Vec<ErrorEventRecord>, StoreError> {
        nul::clean_opt(&mut params.kind);
        nul::clean_opt(&mut params.fingerprint);
        nul::clean_opt(&mut params.tenant);
        dispatch!(self, s => s.error_list(params))
    }

    /// Error events counted per kind and fingerprint over the intervals from
    /// `since` on, the largest counts first.
    pub async fn error_counts(&self, mut params: ErrorCountsParams) -> Result<Vec<ErrorCountRecord>, StoreError> {
        nul::clean_opt(&mut params.kind);
        dispatch!(self, s => s.error_counts(params))
    }

    /// Deletes, `limit` rows of each kind at most, the error events and
    /// counts before `before`.
    pub async fn error_prune(&self, before: UnixMillis, limit: u32) -> Result<InsightPruned, StoreError> {
        dispatch!(self, s => s.error_prune(before, limit))
    }
}
