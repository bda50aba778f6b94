//! The store contract for what apps report: cache snapshots, interval
//! counts and the bounded eviction log; error events, their counts and
//! filters; retention of both. Run on every backend through the
//! `backend!` list in `conformance.rs`.

use rampart_core::id::CacheName;
use rampart_core::insight::{ErrorLevel, EvictionReason};
use rampart_core::time::UnixMillis;
use rampart_store::*;

const T0: UnixMillis = UnixMillis(1_800_000_000_000);
const MINUTE: i64 = 60_000;

fn at(ms: i64) -> UnixMillis {
    UnixMillis(T0.0 + ms)
}

fn cache(s: &str) -> CacheName {
    CacheName::new(s).unwrap()
}

fn snap(size: u64, loads: u64, hits: u64, misses: u64) -> CacheSnapshot {
    CacheSnapshot { size, max_size: 100, loads, hits, misses, avg_load_ms: 4.5, memory_bytes: Some(1 << 20) }
}

fn eviction(n: i64, reason: EvictionReason) -> CacheEvictionInsert {
    CacheEvictionInsert { at: at(n), key: Some(format!("k{n}")), user: Some("u1".into()), reason, idle_ms: Some(1.5) }
}

fn report(
    name: &str,
    snapshot: Option<CacheSnapshot>,
    evictions: Vec<CacheEvictionInsert>,
    now: UnixMillis,
) -> CacheReportParams {
    let mut events = CacheTally::default();
    for e in &evictions {
        match e.reason {
            EvictionReason::Lru => events.evicted_lru += 1,
            EvictionReason::Timeout => events.evicted_timeout += 1,
            EvictionReason::Manual => events.evicted_manual += 1,
        }
    }
    CacheReportParams { name: cache(name), snapshot, events, evictions, interval_ms: MINUTE, now }
}

pub async fn cache_reports_keep_the_latest_snapshot_and_count_gains_per_interval(store: Store) {
    store.cache_report(report("models", Some(snap(10, 10, 50, 10)), vec![], at(0))).await.unwrap();
    store.cache_report(report("models", Some(snap(12, 12, 80, 12)), vec![], at(30_000))).await.unwrap();
    // The next interval; the cache restarted (its counters went down), so all of them are new.
    store
        .cache_report(report("models", Some(snap(3, 3, 4, 3)), vec![eviction(61_000, EvictionReason::Lru)], at(61_000)))
        .await
        .unwrap();
    // Events only: the snapshot stays, the cache is known.
    store.cache_report(report("sessions", None, vec![eviction(1, EvictionReason::Timeout)], at(1))).await.unwrap();

    let got = store.cache_get(&cache("models")).await.unwrap().unwrap();
    assert_eq!((got.snapshot, got.reported_at), (Some(snap(3, 3, 4, 3)), at(61_000)));
    let intervals = store.cache_intervals(&cache("models"), T0).await.unwrap();
    assert_eq!(intervals.len(), 2);
    assert_eq!(intervals[0].start, T0);
    assert_eq!(
        intervals[0].tally,
        CacheTally { loads: 12, hits: 80, misses: 12, ..CacheTally::default() },
        "the first report counts all, the second its gain"
    );
    assert_eq!(intervals[1].start, at(MINUTE));
    assert_eq!(
        intervals[1].tally,
        CacheTally { loads: 3, hits: 4, misses: 3, evicted_lru: 1, ..CacheTally::default() }
    );
    assert_eq!(store.cache_intervals(&cache("models"), at(MINUTE)).await.unwrap().len(), 1);

    let list = store.cache_list().await.unwrap();
    let names: Vec<&str> = list.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["models", "sessions"]);
    assert_eq!(list[1].snapshot, None);
    let totals = store.cache_totals(T0).await.unwrap();
    assert_eq!(totals.len(), 2);
    assert_eq!((totals[0].1.loads, totals[0].1.evicted_lru), (15, 1));
    assert_eq!(totals[1].1.evicted_timeout, 1);
    assert!(store.cache_get(&cache("nothing")).await.unwrap().is_none());
}

pub async fn cache_evictions_keep_the_newest_thousand_per_cache(store: Store) {
    for batch in 0..3 {
        let evictions = (0..500).map(|i| eviction(batch * 500 + i, EvictionReason::Lru)).collect();
        store.cache_report(report("big", None, evictions, at(batch))).await.unwrap();
    }
    store.cache_report(report("small", None, vec![eviction(7, EvictionReason::Manual)], at(0))).await.unwrap();
    let kept = store.cache_evictions(&cache("big"), 5_000).await.unwrap();
    assert_eq!(kept.len(), 1_000);
    assert_eq!(kept[0].key.as_deref(), Some("k1499"), "newest first");
    assert_eq!(kept[999].key.as_deref(), Some("k500"));
    let small = store.cache_evictions(&cache("small"), 10).await.unwrap();
    assert_eq!(small.len(), 1, "another cache's evictions stay");
    let e = &small[0];
    assert_eq!((e.at, e.user.as_deref(), e.reason, e.idle_ms), (at(7), Some("u1"), EvictionReason::Manual, Some(1.5)));
    assert_eq!(store.cache_evictions(&cache("big"), 3).await.unwrap().len(), 3);
}

pub async fn cache_prune_drops_old_intervals_evictions_and_silent_caches_in_batches(store: Store) {
    store
        .cache_report(report("old", Some(snap(1, 1, 1, 1)), vec![eviction(0, EvictionReason::Lru)], at(0)))
        .await
        .unwrap();
    store
        .cache_report(report(
            "new",
            Some(snap(1, 1, 1, 1)),
            vec![eviction(10 * MINUTE, EvictionReason::Lru)],
            at(10 * MINUTE),
        ))
        .await
        .unwrap();
    let first = store.cache_prune(at(5 * MINUTE), 1).await.unwrap();
    assert_eq!(first.rows, 3, "one of each kind per call");
    assert_eq!(store.cache_prune(at(5 * MINUTE), 10).await.unwrap().rows, 0);
    let names: Vec<String> = store.cache_list().await.unwrap().into_iter().map(|r| r.name.to_string()).collect();
    assert_eq!(names, ["new"]);
    assert_eq!(store.cache_evictions(&cache("new"), 10).await.unwrap().len(), 1);
    assert_eq!(store.cache_intervals(&cache("new"), T0).await.unwrap().len(), 1);
}

fn error(level: ErrorLevel, kind: &str, fingerprint: &str, tenant: Option<&str>, ms: i64) -> ErrorEventInsert {
    ErrorEventInsert {
        at: at(ms),
        level,
        kind: kind.into(),
        message: format!("{kind} happened"),
        fingerprint: fingerprint.into(),
        tenant: tenant.map(Into::into),
        tags: r#"{"region":"eu"}"#.into(),
    }
}

pub async fn error_events_are_kept_counted_per_interval_and_filtered(store: Store) {
    let events = vec![
        error(ErrorLevel::Error, "db.timeout", "f1", Some("acme"), 0),
        error(ErrorLevel::Error, "db.timeout", "f1", None, 1_000),
        error(ErrorLevel::Warning, "db.timeout", "f2", None, 2_000),
        error(ErrorLevel::Critical, "payment", "p1", Some("acme"), MINUTE + 1),
        error(ErrorLevel::Info, "cache.cold", "c1", None, MINUTE + 2),
    ];
    let kept = store.error_insert(ErrorInsertParams { events, interval_ms: MINUTE }).await.unwrap();
    assert_eq!(kept.len(), 5);
    assert!(kept.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!((kept[0].tenant.as_deref(), kept[0].tags.as_str()), (Some("acme"), r#"{"region":"eu"}"#));
    store
        .error_insert(ErrorInsertParams {
            events: vec![error(ErrorLevel::Error, "db.timeout", "f1", None, MINUTE + 3)],
            interval_ms: MINUTE,
        })
        .await
        .unwrap();

    let counts = store.error_counts(ErrorCountsParams { since: T0, kind: None, limit: 10 }).await.unwrap();
    let view: Vec<(&str, &str, u64)> =
        counts.iter().map(|c| (c.kind.as_str(), c.fingerprint.as_str(), c.count)).collect();
    assert_eq!(view, [("db.timeout", "f1", 3), ("cache.cold", "c1", 1), ("db.timeout", "f2", 1), ("payment", "p1", 1)]);
    assert_eq!(counts[0].last_interval, at(MINUTE));
    let later = store
        .error_counts(ErrorCountsParams { since: at(MINUTE), kind: Some("db.timeout".into()), limit: 10 })
        .await
        .unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].count, 1);

    let list = |p: ErrorListParams| {
        let store = store.clone();
        async move {
            store.error_list(p).await.unwrap().into_iter().map(|e| e.kind + "/" + &e.fingerprint).collect::<Vec<_>>()
        }
    };
    let all = ErrorListParams { limit: 100, ..ErrorListParams::default() };
    assert_eq!(list(all.clone()).await.len(), 6);
    assert_eq!(
        list(ErrorListParams { level: Some(ErrorLevel::Error), ..all.clone() }).await,
        ["db.timeout/f1", "payment/p1", "db.timeout/f1", "db.timeout/f1"]
    );
    assert_eq!(list(ErrorListParams { level: Some(ErrorLevel::Critical), ..all.clone() }).await, ["payment/p1"]);
    assert_eq!(
        list(ErrorListParams { tenant: Some("acme".into()), ..all.clone() }).await,
        ["payment/p1", "db.timeout/f1"]
    );
    assert_eq!(list(ErrorListParams { fingerprint: Some("f2".into()), ..all.clone() }).await, ["db.timeout/f2"]);
    assert_eq!(list(ErrorListParams { kind: Some("payment".into()), ..all.clone() }).await, ["payment/p1"]);
    assert_eq!(list(ErrorListParams { since: Some(at(MINUTE)), ..all.clone() }).await.len(), 3);
    let page = store.error_list(ErrorListParams { limit: 2, ..all.clone() }).await.unwrap();
    let next = store.error_list(ErrorListParams { before: Some(page[1].id), limit: 2, ..all.clone() }).await.unwrap();
    assert!(next[0].id < page[1].id);
    assert_eq!(next.len(), 2);
}

pub async fn error_prune_drops_old_events_and_counts_in_batches(store: Store) {
    let events = vec![
        error(ErrorLevel::Error, "a", "f", None, 0),
        error(ErrorLevel::Error, "a", "f", None, 1),
        error(ErrorLevel::Error, "a", "f", None, 10 * MINUTE),
    ];
    store.error_insert(ErrorInsertParams { events, interval_ms: MINUTE }).await.unwrap();
    assert_eq!(store.error_prune(at(5 * MINUTE), 1).await.unwrap().rows, 2, "one event and one count");
    assert_eq!(store.error_prune(at(5 * MINUTE), 10).await.unwrap().rows, 1);
    assert_eq!(store.error_prune(at(5 * MINUTE), 10).await.unwrap().rows, 0);
    let left = store.error_list(ErrorListParams { limit: 10, ..ErrorListParams::default() }).await.unwrap();
    assert_eq!(left.len(), 1);
    let counts = store.error_counts(ErrorCountsParams { since: T0, kind: None, limit: 10 }).await.unwrap();
    assert_eq!(counts.iter().map(|c| c.count).sum::<u64>(), 1);
}
