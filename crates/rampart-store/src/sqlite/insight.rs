//! SQL of cache telemetry and error events on SQLite. A report is one
//! write of the writer thread, so its read of the previous snapshot and
//! its writes see no other report in between.

use rampart_core::id::CacheName;
use rampart_core::time::UnixMillis;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StoreError;
use crate::insight::*;

const SNAPSHOT: &str = "name, size, max_size, loads, hits, misses, avg_load_ms, memory_bytes, reported_at";
const TALLY: &str = "loads, hits, misses, evicted_lru, evicted_timeout, evicted_manual";
const EVICTION: &str = "id, at, key, user_ref, reason, idle_ms";
const EVENT: &str = "id, at, level, kind, message, fingerprint, tenant, tags";

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn get(c: &Connection, name: &str) -> Result<Option<CacheSnapshotRecord>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {SNAPSHOT} FROM cache_snapshots WHERE name = ?1"))?
        .query_row([name], |r| CacheSnapshotRecord::from_row(r))
        .optional()?)
}

pub(super) fn report(c: &Connection, p: &CacheReportParams) -> Result<(), StoreError> {
    let name = p.name.as_str();
    let mut tally = p.events;
    if let Some(now) = &p.snapshot {
        let before = get(c, name)?.and_then(|r| r.snapshot);
        let gained = CacheTally::between(before.as_ref(), now);
        tally.loads += gained.loads;
        tally.hits += gained.hits;
        tally.misses += gained.misses;
        c.prepare_cached(&format!(
            "INSERT INTO cache_snapshots ({SNAPSHOT}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (name) DO UPDATE SET size = excluded.size, max_size = excluded.max_size,
                 loads = excluded.loads, hits = excluded.hits, misses = excluded.misses,
                 avg_load_ms = excluded.avg_load_ms, memory_bytes = excluded.memory_bytes,
                 reported_at = excluded.reported_at"
        ))?
        .execute(params![
            name,
            count(now.size),
            count(now.max_size),
            count(now.loads),
            count(now.hits),
            count(now.misses),
            now.avg_load_ms,
            now.memory_bytes.map(count),
            p.now.0
        ])?;
    } else {
        c.prepare_cached(
            "INSERT INTO cache_snapshots (name, reported_at) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET reported_at = excluded.reported_at",
        )?
        .execute(params![name, p.now.0])?;
    }
    if !tally.is_empty() {
        c.prepare_cached(&format!(
            "INSERT INTO cache_intervals (name, bucket, {TALLY}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (name, bucket) DO UPDATE SET loads = loads + excluded.loads, hits = hits + excluded.hits,
                 misses = misses + excluded.misses, evicted_lru = evicted_lru + excluded.evicted_lru,
                 evicted_timeout = evicted_timeout + excluded.evicted_timeout,
                 evicted_manual = evicted_manual + excluded.evicted_manual"
        ))?
        .execute(params![
            name,
            interval_start(p.now, p.interval_ms).0,
            count(tally.loads),
            count(tally.hits),
            count(tally.misses),
            count(tally.evicted_lru),
            count(tally.evicted_timeout),
            count(tally.evicted_manual)
        ])?;
    }
    if !p.evictions.is_empty() {
        let mut insert = c.prepare_cached(
            "INSERT INTO cache_evictions (name, at, key, user_ref, reason, idle_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for e in &p.evictions {
            insert.execute(params![name, e.at.0, e.key, e.user, e.reason.as_str(), e.idle_ms])?;
        }
        c.prepare_cached(
            "DELETE FROM cache_evictions WHERE name = ?1 AND id <= (
                 SELECT id FROM cache_evictions WHERE name = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        )?
        .execute(params![name, EVICTIONS_KEPT])?;
    }
    Ok(())
}

pub(super) fn list(c: &Connection) -> Result<Vec<CacheSnapshotRecord>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {SNAPSHOT} FROM cache_snapshots ORDER BY name"))?
        .query_map([], |r| CacheSnapshotRecord::from_row(r))?
        .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn one(c: &Connection, name: &CacheName) -> Result<Option<CacheSnapshotRecord>, StoreError> {
    get(c, name.as_str())
}

pub(super) fn intervals(
    c: &Connection,
    name: &CacheName,
    since: UnixMillis,
) -> Result<Vec<CacheIntervalRecord>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT bucket, {TALLY} FROM cache_intervals WHERE name = ?1 AND bucket >= ?2 ORDER BY bucket"
    ))?
    .query_map(params![name.as_str(), since.0], |r| CacheIntervalRecord::from_row(r))?
    .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn totals(c: &Connection, since: UnixMillis) -> Result<Vec<(CacheName, CacheTally)>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT name, SUM(loads), SUM(hits), SUM(misses), SUM(evicted_lru), SUM(evicted_timeout), SUM(evicted_manual)
         FROM cache_intervals WHERE bucket >= ?1 GROUP BY name ORDER BY name",
    )?
    .query_map([since.0], |r| {
        use crate::row::Row as _;
        Ok((r.parsed(0, "cache name")?, tally_from_row(r, 1)?))
    })?
    .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn evictions(c: &Connection, name: &CacheName, limit: u32) -> Result<Vec<CacheEvictionRecord>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {EVICTION} FROM cache_evictions WHERE name = ?1 ORDER BY id DESC LIMIT ?2"))?
        .query_map(params![name.as_str(), limit], |r| CacheEvictionRecord::from_row(r))?
        .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn cache_prune(c: &Connection, before: UnixMillis, limit: u32) -> Result<InsightPruned, StoreError> {
    let intervals = c
        .prepare_cached(
            "DELETE FROM cache_intervals WHERE (name, bucket) IN (
                 SELECT name, bucket FROM cache_intervals WHERE bucket < ?1 ORDER BY bucket LIMIT ?2)",
        )?
        .execute(params![before.0, limit])?;
    let evictions = c
        .prepare_cached(
            "DELETE FROM cache_evictions WHERE id IN (
                 SELECT id FROM cache_evictions WHERE at < ?1 ORDER BY at LIMIT ?2)",
        )?
        .execute(params![before.0, limit])?;
    let caches = c
        .prepare_cached(
            "DELETE FROM cache_snapshots WHERE name IN (
                 SELECT name FROM cache_snapshots WHERE reported_at < ?1 ORDER BY reported_at LIMIT ?2)",
        )?
        .execute(params![before.0, limit])?;
    Ok(InsightPruned { rows: (intervals + evictions + caches) as u64 })
}

pub(super) fn error_insert(c: &Connection, p: &ErrorInsertParams) -> Result<Vec<ErrorEventRecord>, StoreError> {
    let mut insert = c.prepare_cached(&format!(
        "INSERT INTO error_events (at, level, kind, message, fingerprint, tenant, tags)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING {EVENT}"
    ))?;
    let mut counted = c.prepare_cached(
        "INSERT INTO error_counts (kind, fingerprint, bucket, count) VALUES (?1, ?2, ?3, 1)
         ON CONFLICT (kind, fingerprint, bucket) DO UPDATE SET count = count + 1",
    )?;
    let mut out = Vec::with_capacity(p.events.len());
    for e in &p.events {
        out.push(
            insert.query_row(
                params![e.at.0, e.level.as_str(), e.kind, e.message, e.fingerprint, e.tenant, e.tags],
                |r| ErrorEventRecord::from_row(r),
            )?,
        );
        counted.execute(params![e.kind, e.fingerprint, interval_start(e.at, p.interval_ms).0])?;
    }
    Ok(out)
}

pub(super) fn error_list(c: &Connection, p: &ErrorListParams) -> Result<Vec<ErrorEventRecord>, StoreError> {
    let levels = format!(",{},", levels_from(p.level).join(","));
    Ok(c.prepare_cached(&format!(
        "SELECT {EVENT} FROM error_events
         WHERE id < ?1 AND instr(?2, ',' || level || ',') > 0 AND (?3 IS NULL OR kind = ?3)
           AND (?4 IS NULL OR fingerprint = ?4) AND (?5 IS NULL OR tenant = ?5) AND at >= ?6
         ORDER BY id DESC LIMIT ?7"
    ))?
    .query_map(
        params![
            p.before.unwrap_or(i64::MAX),
            levels,
            p.kind,
            p.fingerprint,
            p.tenant,
            p.since.map_or(i64::MIN, |s| s.0),
            p.limit
        ],
        |r| ErrorEventRecord::from_row(r),
    )?
    .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn error_counts(c: &Connection, p: &ErrorCountsParams) -> Result<Vec<ErrorCountRecord>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT kind, fingerprint, SUM(count) AS n, MAX(bucket) FROM error_counts
         WHERE bucket >= ?1 AND (?2 IS NULL OR kind = ?2)
         GROUP BY kind, fingerprint ORDER BY n DESC, kind, fingerprint LIMIT ?3",
    )?
    .query_map(params![p.since.0, p.kind, p.limit], |r| ErrorCountRecord::from_row(r))?
    .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn error_prune(c: &Connection, before: UnixMillis, limit: u32) -> Result<InsightPruned, StoreError> {
    let events = c
        .prepare_cached(
            "DELETE FROM error_events WHERE id IN (SELECT id FROM error_events WHERE at < ?1 ORDER BY at LIMIT ?2)",
        )?
        .execute(params![before.0, limit])?;
    let counts = c
        .prepare_cached(
            "DELETE FROM error_counts WHERE (kind, fingerprint, bucket) IN (
                 SELECT kind, fingerprint, bucket FROM error_counts WHERE bucket < ?1 ORDER BY bucket LIMIT ?2)",
        )?
        .execute(params![before.0, limit])?;
    Ok(InsightPruned { rows: (events + counts) as u64 })
}
