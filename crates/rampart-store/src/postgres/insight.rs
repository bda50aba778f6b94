//! SQL of cache telemetry and error events on PostgreSQL. A report is one
//! transaction that locks its cache's row first (made if missing), so two
//! nodes taking reports of one cache at once count each gain once.

use rampart_core::id::CacheName;
use rampart_core::time::UnixMillis;

use super::Client;
use crate::error::StoreError;
use crate::insight::*;
use crate::row::Row as _;

const SNAPSHOT: &str = "name, size, max_size, loads, hits, misses, avg_load_ms, memory_bytes, reported_at";
const TALLY: &str = "loads, hits, misses, evicted_lru, evicted_timeout, evicted_manual";
const EVICTION: &str = "id, at, key, user_ref, reason, idle_ms";
const EVENT: &str = "id, at, level, kind, message, fingerprint, tenant, tags";

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) async fn report(c: &mut Client, p: &CacheReportParams) -> Result<(), StoreError> {
    let name = p.name.as_str();
    let tx = c.transaction().await?;
    tx.execute(
        "INSERT INTO cache_snapshots (name, reported_at) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET reported_at = GREATEST(cache_snapshots.reported_at, excluded.reported_at)",
        &[&name, &p.now.0],
    )
    .await?;
    let row =
        tx.query_one(&format!("SELECT {SNAPSHOT} FROM cache_snapshots WHERE name = $1 FOR UPDATE"), &[&name]).await?;
    let before = CacheSnapshotRecord::from_row(&row)?.snapshot;
    let mut tally = p.events;
    if let Some(now) = &p.snapshot {
        let gained = CacheTally::between(before.as_ref(), now);
        tally.loads += gained.loads;
        tally.hits += gained.hits;
        tally.misses += gained.misses;
        tx.execute(
            "UPDATE cache_snapshots SET size = $2, max_size = $3, loads = $4, hits = $5, misses = $6,
                 avg_load_ms = $7, memory_bytes = $8 WHERE name = $1",
            &[
                &name,
                &count(now.size),
                &count(now.max_size),
                &count(now.loads),
                &count(now.hits),
                &count(now.misses),
                &now.avg_load_ms,
                &now.memory_bytes.map(count),
            ],
        )
        .await?;
    }
    if !tally.is_empty() {
        tx.execute(
            &format!(
                "INSERT INTO cache_intervals AS i (name, bucket, {TALLY}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (name, bucket) DO UPDATE SET loads = i.loads + excluded.loads,
                     hits = i.hits + excluded.hits, misses = i.misses + excluded.misses,
                     evicted_lru = i.evicted_lru + excluded.evicted_lru,
                     evicted_timeout = i.evicted_timeout + excluded.evicted_timeout,
                     evicted_manual = i.evicted_manual + excluded.evicted_manual"
            ),
            &[
                &name,
                &interval_start(p.now, p.interval_ms).0,
                &count(tally.loads),
                &count(tally.hits),
                &count(tally.misses),
                &count(tally.evicted_lru),
                &count(tally.evicted_timeout),
                &count(tally.evicted_manual),
            ],
        )
        .await?;
    }
    if !p.evictions.is_empty() {
        let at: Vec<i64> = p.evictions.iter().map(|e| e.at.0).collect();
        let keys: Vec<Option<&str>> = p.evictions.iter().map(|e| e.key.as_deref()).collect();
        let users: Vec<Option<&str>> = p.evictions.iter().map(|e| e.user.as_deref()).collect();
        let reasons: Vec<&str> = p.evictions.iter().map(|e| e.reason.as_str()).collect();
        let idle: Vec<Option<f64>> = p.evictions.iter().map(|e| e.idle_ms).collect();
        tx.execute(
            "INSERT INTO cache_evictions (name, at, key, user_ref, reason, idle_ms)
             SELECT $1, a, k, u, r, i FROM UNNEST($2::int8[], $3::text[], $4::text[], $5::text[], $6::float8[])
                 WITH ORDINALITY AS e(a, k, u, r, i, n) ORDER BY n",
            &[&name, &at, &keys, &users, &reasons, &idle],
        )
        .await?;
        tx.execute(
            "DELETE FROM cache_evictions WHERE name = $1 AND id <= (
                 SELECT id FROM cache_evictions WHERE name = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
            &[&name, &i64::from(EVICTIONS_KEPT)],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn list(c: &mut Client) -> Result<Vec<CacheSnapshotRecord>, StoreError> {
    let stmt = c.prepare_cached(&format!("SELECT {SNAPSHOT} FROM cache_snapshots ORDER BY name")).await?;
    c.query(&stmt, &[]).await?.iter().map(CacheSnapshotRecord::from_row).collect()
}

pub(super) async fn one(c: &mut Client, name: &CacheName) -> Result<Option<CacheSnapshotRecord>, StoreError> {
    let stmt = c.prepare_cached(&format!("SELECT {SNAPSHOT} FROM cache_snapshots WHERE name = $1")).await?;
    c.query_opt(&stmt, &[&name.as_str()]).await?.as_ref().map(CacheSnapshotRecord::from_row).transpose()
}

pub(super) async fn intervals(
    c: &mut Client,
    name: &CacheName,
    since: UnixMillis,
) -> Result<Vec<CacheIntervalRecord>, StoreError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT bucket, {TALLY} FROM cache_intervals WHERE name = $1 AND bucket >= $2 ORDER BY bucket"
        ))
        .await?;
    c.query(&stmt, &[&name.as_str(), &since.0]).await?.iter().map(CacheIntervalRecord::from_row).collect()
}

pub(super) async fn totals(c: &mut Client, since: UnixMillis) -> Result<Vec<(CacheName, CacheTally)>, StoreError> {
    let stmt = c
        .prepare_cached(
            "SELECT name, SUM(loads)::int8, SUM(hits)::int8, SUM(misses)::int8, SUM(evicted_lru)::int8,
                    SUM(evicted_timeout)::int8, SUM(evicted_manual)::int8
             FROM cache_intervals WHERE bucket >= $1 GROUP BY name ORDER BY name",
        )
        .await?;
    c.query(&stmt, &[&since.0]).await?.iter().map(|r| Ok((r.parsed(0, "cache name")?, tally_from_row(r, 1)?))).collect()
}

pub(super) async fn evictions(
    c: &mut Client,
    name: &CacheName,
    limit: u32,
) -> Result<Vec<CacheEvictionRecord>, StoreError> {
    let stmt = c
        .prepare_cached(&format!("SELECT {EVICTION} FROM cache_evictions WHERE name = $1 ORDER BY id DESC LIMIT $2"))
        .await?;
    c.query(&stmt, &[&name.as_str(), &i64::from(limit)]).await?.iter().map(CacheEvictionRecord::from_row).collect()
}

pub(super) async fn cache_prune(c: &mut Client, before: UnixMillis, limit: u32) -> Result<InsightPruned, StoreError> {
    let limit = i64::from(limit);
    let intervals = c
        .execute(
            "DELETE FROM cache_intervals WHERE (name, bucket) IN (
                 SELECT name, bucket FROM cache_intervals WHERE bucket < $1 ORDER BY bucket LIMIT $2
                 FOR UPDATE SKIP LOCKED)",
            &[&before.0, &limit],
        )
        .await?;
    let evictions = c
        .execute(
            "DELETE FROM cache_evictions WHERE id IN (
                 SELECT id FROM cache_evictions WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[&before.0, &limit],
        )
        .await?;
    let caches = c
        .execute(
            "DELETE FROM cache_snapshots WHERE name IN (
                 SELECT name FROM cache_snapshots WHERE reported_at < $1 ORDER BY reported_at LIMIT $2
                 FOR UPDATE SKIP LOCKED)",
            &[&before.0, &limit],
        )
        .await?;
    Ok(InsightPruned { rows: intervals + evictions + caches })
}

pub(super) async fn error_insert(c: &mut Client, p: &ErrorInsertParams) -> Result<Vec<ErrorEventRecord>, StoreError> {
    let tx = c.transaction().await?;
    let insert = tx
        .prepare_cached(&format!(
            "INSERT INTO error_events (at, level, kind, message, fingerprint, tenant, tags)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {EVENT}"
        ))
        .await?;
    let mut out = Vec::with_capacity(p.events.len());
    for e in &p.events {
        let row = tx
            .query_one(&insert, &[&e.at.0, &e.level.as_str(), &e.kind, &e.message, &e.fingerprint, &e.tenant, &e.tags])
            .await?;
        out.push(ErrorEventRecord::from_row(&row)?);
    }
    // One upsert for the batch, its groups in key order so concurrent
    // batches take their rows' locks in one order.
    let mut groups: Vec<(&str, &str, i64)> = p
        .events
        .iter()
        .map(|e| (e.kind.as_str(), e.fingerprint.as_str(), interval_start(e.at, p.interval_ms).0))
        .collect();
    groups.sort_unstable();
    let kinds: Vec<&str> = groups.iter().map(|g| g.0).collect();
    let prints: Vec<&str> = groups.iter().map(|g| g.1).collect();
    let buckets: Vec<i64> = groups.iter().map(|g| g.2).collect();
    tx.execute(
        "INSERT INTO error_counts AS n (kind, fingerprint, bucket, count)
         SELECT k, f, b, count(*) FROM UNNEST($1::text[], $2::text[], $3::int8[]) AS g(k, f, b)
         GROUP BY k, f, b ORDER BY k COLLATE \"C\", f COLLATE \"C\", b
         ON CONFLICT (kind, fingerprint, bucket) DO UPDATE SET count = n.count + excluded.count",
        &[&kinds, &prints, &buckets],
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

pub(super) async fn error_list(c: &mut Client, p: &ErrorListParams) -> Result<Vec<ErrorEventRecord>, StoreError> {
    let levels = levels_from(p.level);
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {EVENT} FROM error_events
             WHERE id < $1 AND level = ANY($2::text[]) AND ($3::text IS NULL OR kind = $3)
               AND ($4::text IS NULL OR fingerprint = $4) AND ($5::text IS NULL OR tenant = $5) AND at >= $6
             ORDER BY id DESC LIMIT $7"
        ))
        .await?;
    c.query(
        &stmt,
        &[
            &p.before.unwrap_or(i64::MAX),
            &levels,
            &p.kind,
            &p.fingerprint,
            &p.tenant,
            &p.since.map_or(i64::MIN, |s| s.0),
            &i64::from(p.limit),
        ],
    )
    .await?
    .iter()
    .map(ErrorEventRecord::from_row)
    .collect()
}

pub(super) async fn error_counts(c: &mut Client, p: &ErrorCountsParams) -> Result<Vec<ErrorCountRecord>, StoreError> {
    let stmt = c
        .prepare_cached(
            "SELECT kind, fingerprint, SUM(count)::int8 AS n, MAX(bucket) FROM error_counts
             WHERE bucket >= $1 AND ($2::text IS NULL OR kind = $2)
             GROUP BY kind, fingerprint ORDER BY n DESC, kind, fingerprint LIMIT $3",
        )
        .await?;
    c.query(&stmt, &[&p.since.0, &p.kind, &i64::from(p.limit)]).await?.iter().map(ErrorCountRecord::from_row).collect()
}

pub(super) async fn error_prune(c: &mut Client, before: UnixMillis, limit: u32) -> Result<InsightPruned, StoreError> {
    let limit = i64::from(limit);
    let events = c
        .execute(
            "DELETE FROM error_events WHERE id IN (
                 SELECT id FROM error_events WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[&before.0, &limit],
        )
        .await?;
    let counts = c
        .execute(
            "DELETE FROM error_counts WHERE (kind, fingerprint, bucket) IN (
                 SELECT kind, fingerprint, bucket FROM error_counts WHERE bucket < $1 ORDER BY bucket LIMIT $2
                 FOR UPDATE SKIP LOCKED)",
            &[&before.0, &limit],
        )
        .await?;
    Ok(InsightPruned { rows: events + counts })
}
