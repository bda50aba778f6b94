//! Two `rampart serve` nodes on one PostgreSQL database, both running the
//! same every-second schedule: each tick fires exactly once across the
//! cluster (one run, one job), and no tick between the first and the last
//! is skipped.
//!
//! Without PostgreSQL on `127.0.0.1:5432` (or `TEST_DATABASE_URL`) the test
//! prints that it skipped, except under `CI=true`, where it fails.

use std::collections::BTreeSet;
use std::time::Duration;

use rampart_core::id::{CronName, QueueName};
use rampart_store::postgres::PgConfig;
use rampart_store::postgres::testing::TestDatabase;
use rampart_store::{CronRunListParams, JobListParams, Store};

use crate::harness::{TestServer, eventually_within};

/// The schedule both nodes are configured with.
const EVERY_SECOND: &str = r#"
[[cron]]
name = "tick"
schedule = "* * * * * *"
queue = "ticks"
"#;

/// Ticks to watch: about ten seconds of the two nodes racing.
const TICKS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_fire_each_tick_of_a_schedule_exactly_once() {
    let Some(db) = TestDatabase::create("cron on two nodes").await else { return };
    let node = |key: Option<&str>| {
        let mut builder = TestServer::builder()
            .config(EVERY_SECOND)
            .env("DATABASE_URL", &db.url)
            .env("RAMPART_POSTGRES__POOL_SIZE", "4");
        if let Some(key) = key {
            builder = builder.api_key(key);
        }
        builder.start()
    };
    let mut a = node(None).await;
    let mut b = node(Some(a.api_key())).await;
    let store = Store::open_postgres(PgConfig { pool_size: 2, ..PgConfig::new(db.url.clone()) })
        .await
        .unwrap_or_else(|e| panic!("cannot open the test database as a store: {e}"));
    let name = CronName::new("tick").unwrap();
    let runs = || store.cron_run_list(CronRunListParams { name: name.clone(), before: None, limit: 10_000 });
    // Both nodes must be firing: the second started after the first, so
    // wait for ticks beyond the second's start.
    let since_both = runs().await.unwrap().len();
    eventually_within("ten ticks with both nodes up", Duration::from_secs(120), || async {
        (runs().await.unwrap().len() >= since_both + TICKS).then_some(())
    })
    .await;
    a.kill();
    b.kill();

    let mut all = runs().await.unwrap();
    all.reverse();
    assert!(all.len() >= TICKS, "{} runs", all.len());
    let ticks: Vec<i64> = all.iter().map(|r| r.scheduled_at.0).collect();
    let distinct: BTreeSet<i64> = ticks.iter().copied().collect();
    assert_eq!(distinct.len(), ticks.len(), "a tick fired twice: {ticks:?}");
    for pair in ticks.windows(2) {
        assert_eq!(pair[1] - pair[0], 1_000, "ticks follow each other a second apart, none skipped: {ticks:?}");
    }
    assert!(all.iter().all(|r| r.trigger.as_str() == "schedule"), "no tick counted as missed");
    let job_ids: BTreeSet<_> = all.iter().map(|r| r.job_id.expect("every run has its job")).collect();
    assert_eq!(job_ids.len(), all.len(), "each run has a job of its own");
    let params = JobListParams {
        queue: QueueName::new("ticks").unwrap(),
        state: None,
        tenant: None,
        after: None,
        limit: 10_000,
    };
    let jobs = store.job_list(params).await.unwrap();
    assert_eq!(jobs.len(), all.len(), "one job per run, none more");
    assert!(jobs.iter().all(|j| job_ids.contains(&j.id)), "every job belongs to a run");
}
