//! The store contract for AI usage and budgets (usage rows idempotent by
//! call id, summaries, budgets kept through the API, reservations held all
//! or none, settled once, released on expiry), run on every backend through
//! the `backend!` list in `conformance.rs`; plus two PostgreSQL nodes
//! reserving on one database.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rampart_core::cron::Timezone;
use rampart_core::id::BudgetName;
use rampart_core::time::UnixMillis;
use rampart_store::*;

const T0: UnixMillis = UnixMillis(1_800_000_000_000);

fn at(ms: i64) -> UnixMillis {
    UnixMillis(T0.0 + ms)
}

fn key(budget: &str, subject: &str) -> BudgetWindowKey {
    BudgetWindowKey { budget: BudgetName::new(budget).unwrap(), subject: subject.into(), period: "2027-01".into() }
}

fn hold(budget: &str, subject: &str, limit: i64, enforce: bool) -> BudgetHold {
    BudgetHold { key: key(budget, subject), limit_micros: limit, enforce }
}

fn row(call_id: &str, model: &str, cost: i64, duration_ms: i64) -> UsageRow {
    UsageRow {
        call_id: call_id.into(),
        at: T0,
        model: model.into(),
        provider: Some("openai".into()),
        feature: Some("chat".into()),
        tenant: Some("acme".into()),
        user: None,
        input_tokens: 100,
        cached_input_tokens: 10,
        cache_write_tokens: 0,
        output_tokens: 20,
        reasoning_tokens: 5,
        cost_micros: cost,
        price_version: Some("m@1".into()),
        duration_ms,
        success: true,
        reservation_id: None,
        charges: Vec::new(),
    }
}

async fn insert(store: &Store, rows: Vec<UsageRow>) -> UsageInserted {
    store.usage_insert_many(UsageInsertParams { rows, now: at(1) }).await.unwrap()
}

fn reserve_params(id: &str, amount: i64, holds: Vec<BudgetHold>) -> BudgetReserveParams {
    BudgetReserveParams { id: id.into(), amount_micros: amount, holds, expires_at: at(600_000), now: T0 }
}

async fn window(store: &Store, budget: &str, subject: &str) -> (i64, i64) {
    let list = store.budget_window_list(&BudgetName::new(budget).unwrap(), "2027-01").await.unwrap();
    list.iter().find(|w| w.key.subject == subject).map_or((0, 0), |w| (w.spent_micros, w.reserved_micros))
}

pub async fn usage_rows_are_kept_once_per_call_and_summarised(store: Store) {
    let mut failed = row("c3", "gpt-4o", 300, 30);
    failed.success = false;
    let rows = vec![row("c1", "gpt-4o", 100, 10), row("c2", "gpt-4o", 200, 20), failed, row("c1", "gpt-4o", 999, 99)];
    let out = insert(&store, rows).await;
    assert_eq!(out.duplicate, [false, false, false, true]);
    let again = insert(&store, vec![row("c2", "gpt-4o", 999, 99), row("c4", "claude", 50, 5)]).await;
    assert_eq!(again.duplicate, [true, false]);
    let summary =
        |group_by| UsageSummaryParams { group_by, since: T0, until: at(1), timezone: Timezone::UTC, only: None };
    let total = store.usage_summary(summary(None)).await.unwrap();
    assert_eq!(total.len(), 1);
    let t = &total[0];
    assert_eq!((t.key.as_deref(), t.calls, t.failures, t.cost_micros), (None, 4, 1, 650));
    assert_eq!((t.input_tokens, t.cached_input_tokens, t.output_tokens, t.reasoning_tokens), (400, 40, 80, 20));
    assert_eq!((t.p50_ms, t.p95_ms), (10, 30));
    let by_model = store.usage_summary(summary(Some(UsageGroup::Model))).await.unwrap();
    let keys: Vec<_> = by_model.iter().map(|g| (g.key.clone().unwrap(), g.calls, g.cost_micros, g.p50_ms)).collect();
    assert_eq!(keys, [("claude".into(), 1, 50, 5), ("gpt-4o".into(), 3, 600, 20)]);
    let by_user = store.usage_summary(summary(Some(UsageGroup::User))).await.unwrap();
    assert_eq!((by_user.len(), by_user[0].key.as_deref(), by_user[0].calls), (1, None, 4));
    let by_day = store.usage_summary(summary(Some(UsageGroup::Day))).await.unwrap();
    assert_eq!(by_day[0].key.as_deref(), Some("2027-01-15"));
    let outside = UsageSummaryParams { group_by: None, since: at(1), ..summary(None) };
    assert_eq!(store.usage_summary(outside).await.unwrap()[0].calls, 0);
    // Retention deletes what is older than its cut, in bounded steps.
    let pruned = store.usage_prune(at(1), 3).await.unwrap();
    assert_eq!(pruned.events, 3);
    assert_eq!(store.usage_prune(at(1), 3).await.unwrap().events, 1);
}

pub async fn usage_summary_days_are_the_time_zone_s_and_a_summary_narrows_to_one_value(store: Store) {
    const HOUR: i64 = 3_600_000;
    // 23:00 UTC on the 14th is midnight on the 15th in Berlin (winter time).
    let mut late = row("late", "gpt-4o", 100, 10);
    late.at = at(-9 * HOUR);
    let mut other = row("other", "claude", 40, 10);
    other.at = at(-9 * HOUR);
    other.tenant = Some("globex".into());
    insert(&store, vec![late, other, row("noon", "gpt-4o", 200, 10)]).await;
    let by_day = |timezone: &str, only: Option<(UsageGroup, String)>| UsageSummaryParams {
        group_by: Some(UsageGroup::Day),
        since: at(-24 * HOUR),
        until: at(1),
        timezone: timezone.parse().unwrap(),
        only,
    };
    let days = |groups: Vec<UsageSummaryRecord>| -> Vec<(String, u64)> {
        groups.into_iter().map(|g| (g.key.unwrap_or_default(), g.calls)).collect()
    };
    let utc = store.usage_summary(by_day("UTC", None)).await.unwrap();
    assert_eq!(days(utc), [("2027-01-14".into(), 2), ("2027-01-15".into(), 1)]);
    let berlin = store.usage_summary(by_day("Europe/Berlin", None)).await.unwrap();
    assert_eq!(days(berlin), [("2027-01-15".to_string(), 3)]);
    let acme = Some((UsageGroup::Tenant, "acme".to_string()));
    let acme_days = store.usage_summary(by_day("UTC", acme)).await.unwrap();
    assert_eq!(days(acme_days), [("2027-01-14".into(), 1), ("2027-01-15".into(), 1)]);
    let one_day = Some((UsageGroup::Day, "2027-01-15".to_string()));
    let params = UsageSummaryParams { group_by: Some(UsageGroup::Model), ..by_day("Europe/Berlin", one_day) };
    let models: Vec<_> =
        store.usage_summary(params).await.unwrap().into_iter().map(|g| (g.key.unwrap(), g.cost_micros)).collect();
    assert_eq!(models, [("claude".to_string(), 40), ("gpt-4o".to_string(), 300)]);
}

pub async fn usage_rows_charge_their_windows(store: Store) {
    let mut a = row("a", "m", 700, 1);
    a.charges = vec![key("all", ""), key("per-tenant", "acme")];
    let mut b = row("b", "m", 300, 1);
    b.charges = vec![key("all", "")];
    let out = insert(&store, vec![a.clone(), b]).await;
    let figures: Vec<_> = out.windows.iter().map(|w| (w.key.budget.as_str(), w.spent_micros)).collect();
    assert_eq!(figures, [("all", 1000), ("per-tenant", 700)]);
    // A repeated report charges nothing.
    assert!(insert(&store, vec![a]).await.windows.is_empty());
    assert_eq!(window(&store, "all", "").await, (1000, 0));
}

pub async fn reservations_hold_on_every_window_or_none(store: Store) {
    let holds = || vec![hold("all", "", 1_000, true), hold("acme", "acme", 500, true), hold("soft", "", 100, false)];
    let first = store.budget_reserve(reserve_params("r1", 400, holds())).await.unwrap();
    assert_eq!(first, BudgetReserved { allowed: true, remaining_micros: Some(-300), refused_by: None });
    // 400 more fits the global budget but not the tenant's: nothing is held.
    let second = store.budget_reserve(reserve_params("r2", 400, holds())).await.unwrap();
    assert!(!second.allowed);
    assert_eq!(second.refused_by.as_ref().map(BudgetName::as_str), Some("acme"));
    assert_eq!(second.remaining_micros, Some(-300));
    assert_eq!(window(&store, "all", "").await, (0, 400));
    assert_eq!(window(&store, "acme", "acme").await, (0, 400));
    assert!(store.budget_reservation_get("r2").await.unwrap().is_none());
    // A soft budget alone never refuses.
    let soft = store.budget_reserve(reserve_params("r3", 1_000, vec![hold("soft", "", 100, false)])).await.unwrap();
    assert!(soft.allowed);
    assert_eq!(window(&store, "soft", "").await, (0, 1_400));
}

pub async fn settling_is_idempotent_records_overshoot_and_failures_release(store: Store) {
    let holds = || vec![hold("all", "", 1_000, true)];
    store.budget_reserve(reserve_params("r1", 300, holds())).await.unwrap();
    store.budget_reserve(reserve_params("r2", 300, holds())).await.unwrap();
    assert_eq!(window(&store, "all", "").await, (0, 600));
    let mut settle = row("c1", "m", 450, 1);
    settle.reservation_id = Some("r1".into());
    settle.charges = vec![key("all", "")];
    let out = insert(&store, vec![settle.clone()]).await;
    assert_eq!(out.settled, 1);
    assert_eq!(window(&store, "all", "").await, (450, 300));
    let r1 = store.budget_reservation_get("r1").await.unwrap().unwrap();
    assert_eq!((r1.state.as_str(), r1.cost_micros, r1.overshoot_micros), ("settled", Some(450), Some(150)));
    assert_eq!(r1.settled_at, Some(at(1)));
    // The same report again, or another call naming a settled reservation: no second release.
    assert_eq!(insert(&store, vec![settle]).await.settled, 0);
    let mut other = row("c2", "m", 0, 1);
    other.reservation_id = Some("r1".into());
    other.charges = vec![key("all", "")];
    assert_eq!(insert(&store, vec![other]).await.settled, 0);
    assert_eq!(window(&store, "all", "").await, (450, 300));
    // A failed call costing nothing releases its hold.
    let mut failed = row("c3", "m", 0, 1);
    failed.success = false;
    failed.reservation_id = Some("r2".into());
    failed.charges = vec![key("all", "")];
    assert_eq!(insert(&store, vec![failed]).await.settled, 1);
    assert_eq!(window(&store, "all", "").await, (450, 0));
    let r2 = store.budget_reservation_get("r2").await.unwrap().unwrap();
    assert_eq!((r2.state.as_str(), r2.overshoot_micros), ("settled", Some(0)));
}

pub async fn a_leaked_reservation_is_released_after_expiry(store: Store) {
    let holds = vec![hold("all", "", 1_000, true)];
    assert!(store.budget_reserve(reserve_params("leak", 1_000, holds.clone())).await.unwrap().allowed);
    // Full: the next is refused until the leak expires.
    assert!(!store.budget_reserve(reserve_params("next", 1, holds.clone())).await.unwrap().allowed);
    assert_eq!(store.budget_reservation_expire(at(599_999), 100).await.unwrap(), 0);
    assert_eq!(store.budget_reservation_expire(at(600_000), 100).await.unwrap(), 1);
    assert_eq!(store.budget_reservation_expire(at(600_000), 100).await.unwrap(), 0);
    assert_eq!(window(&store, "all", "").await, (0, 0));
    let leak = store.budget_reservation_get("leak").await.unwrap().unwrap();
    assert_eq!((leak.state.as_str(), leak.settled_at), ("expired", Some(at(600_000))));
    assert!(store.budget_reserve(reserve_params("next", 1, holds)).await.unwrap().allowed);
    // A late report of the expired call still counts its cost, releasing nothing.
    let mut late = row("late", "m", 800, 1);
    late.reservation_id = Some("leak".into());
    late.charges = vec![key("all", "")];
    assert_eq!(insert(&store, vec![late]).await.settled, 0);
    assert_eq!(window(&store, "all", "").await, (800, 1));
    // Retention deletes the finished reservation, never a held one.
    assert_eq!(store.usage_prune(at(1_000_000), 10).await.unwrap().reservations, 1);
    assert!(store.budget_reservation_get("next").await.unwrap().is_some());
}

/// 100 reservations at once against room for 10 on `stores` (one or two
/// nodes): exactly 10 are taken, and spent + reserved never passes the limit.
pub async fn reserve_concurrently(stores: &[Store]) {
    let limit = 10_000;
    let admitted = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..100 {
        let store = stores[i % stores.len()].clone();
        let admitted = admitted.clone();
        tasks.push(tokio::spawn(async move {
            let holds = vec![hold("all", "", limit, true), hold("tenant", "acme", limit * 2, true)];
            let got = store.budget_reserve(reserve_params(&format!("r{i}"), 1_000, holds)).await.unwrap();
            if got.allowed {
                admitted.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(admitted.load(Ordering::SeqCst), 10, "exactly the room is admitted");
    let (spent, reserved) = window(&stores[0], "all", "").await;
    assert_eq!(spent + reserved, limit);
    assert_eq!(window(&stores[0], "tenant", "acme").await, (0, limit));
}

pub async fn concurrent_reservations_admit_exactly_the_room(store: Store) {
    reserve_concurrently(&[store]).await;
}

pub async fn budgets_are_put_listed_deleted_and_thresholds_claimed_once(store: Store) {
    let name = BudgetName::new("monthly").unwrap();
    let put = store.budget_put(&name, r#"{"amount_usd":5}"#, T0).await.unwrap();
    assert_eq!((put.created_at, put.updated_at), (T0, T0));
    let replaced = store.budget_put(&name, r#"{"amount_usd":6}"#, at(5)).await.unwrap();
    assert_eq!((replaced.created_at, replaced.updated_at, replaced.spec.as_str()), (T0, at(5), r#"{"amount_usd":6}"#));
    store.budget_put(&BudgetName::new("a-first").unwrap(), "{}", T0).await.unwrap();
    let names: Vec<_> = store.budget_list().await.unwrap().into_iter().map(|b| b.name.to_string()).collect();
    assert_eq!(names, ["a-first", "monthly"]);
    assert!(store.budget_delete(&name).await.unwrap());
    assert!(!store.budget_delete(&name).await.unwrap());
    // Each threshold is claimed once per window, and a lower one after a higher never.
    let mut spend = row("c", "m", 1, 1);
    spend.charges = vec![key("monthly", "")];
    insert(&store, vec![spend]).await;
    let k = key("monthly", "");
    assert!(store.budget_window_alert(&k, 50).await.unwrap());
    assert!(!store.budget_window_alert(&k, 50).await.unwrap());
    assert!(store.budget_window_alert(&k, 100).await.unwrap());
    assert!(!store.budget_window_alert(&k, 80).await.unwrap());
    let listed = store.budget_window_list(&BudgetName::new("monthly").unwrap(), "2027-01").await.unwrap();
    assert_eq!(listed[0].alerted, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_nodes_admit_exactly_the_room() {
    let Some(db) = postgres::testing::TestDatabase::create("usage two nodes").await else { return };
    let open = || async {
        let config = postgres::PgConfig { pool_size: 8, ..postgres::PgConfig::new(db.url.clone()) };
        Store::open_postgres(config).await.unwrap()
    };
    let nodes = [open().await, open().await];
    reserve_concurrently(&nodes).await;
    // And a reservation that would go past the limit on either node stays refused.
    let holds = vec![hold("all", "", 10_000, true)];
    let refused = nodes[1].budget_reserve(reserve_params("late", 1, holds)).await.unwrap();
    assert_eq!((refused.allowed, refused.remaining_micros), (false, Some(0)));
}
