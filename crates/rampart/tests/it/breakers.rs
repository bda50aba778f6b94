//! Circuit breakers end to end: `rampart breakers` against a real server,
//! and two real nodes on one PostgreSQL database agreeing on a breaker's
//! state, with each transition recorded once.
//!
//! Without PostgreSQL on `127.0.0.1:5432` (or `TEST_DATABASE_URL`) the
//! two-node test prints that it skipped, except under `CI=true`, where it
//! fails.

use rampart_client::client::Client;
use rampart_client::wire::BreakerRecordRequest;
use rampart_store::postgres::testing::TestDatabase;
use tokio::task::JoinSet;

use crate::harness::TestServer;

/// Opens after 3 failures and stays open for an hour: no test waits for it.
const CONFIG: &str = "[breakers.payments]\nfailure_threshold = 3\ncooldown = \"1h\"\n";

fn failure() -> BreakerRecordRequest {
    BreakerRecordRequest { outcome: "failure".into(), duration_ms: Some(40) }
}

async fn fail_times(client: &Client, name: &str, times: usize) {
    for _ in 0..times {
        client.breaker_record(name, &failure()).await.expect("record a failure");
    }
}

#[tokio::test]
async fn breakers_commands_list_show_and_reset() {
    let server = TestServer::builder().config(CONFIG).start().await;
    let cli = server.cli();
    let empty = cli.run(&["breakers"]).await;
    empty.expect_code(0);
    assert!(empty.stdout.contains("payments") && empty.stdout.contains("closed"), "{}", empty.stdout);

    let client = server.client();
    assert!(client.breaker_acquire("payments").await.unwrap().allowed);
    fail_times(client, "payments", 3).await;
    let refused = client.breaker_acquire("payments").await.unwrap();
    assert!(!refused.allowed && refused.retry_after_s.is_some_and(|s| s > 3_500), "{refused:?}");

    let list = cli.run(&["breakers", "list"]).await;
    list.expect_code(0);
    let row = list.stdout.lines().find(|l| l.starts_with("payments")).expect("a row for payments");
    assert!(row.contains("shared") && row.contains("open"), "{}", list.stdout);
    let show = cli.run(&["breakers", "show", "payments"]).await;
    show.expect_code(0);
    assert!(show.stdout.contains("closed  open  3 consecutive failures"), "{}", show.stdout);
    assert!(show.stdout.contains("3 failures in a row; 1h cooldown"), "{}", show.stdout);

    let reset = cli.run(&["breakers", "reset", "payments"]).await;
    reset.expect_code(0);
    assert!(reset.stdout.contains("breaker `payments` reset: open → closed"), "{}", reset.stdout);
    assert!(client.breaker_acquire("payments").await.unwrap().allowed);
    let view: serde_json::Value = cli.json(&["breakers", "show", "payments"]).await;
    assert_eq!(view["state"], "closed");
    assert_eq!(view["transitions"].as_array().map(Vec::len), Some(2));

    let missing = cli.run(&["breakers", "show", "no-such-breaker"]).await;
    missing.expect_code(1);
    assert!(missing.stderr.contains("no breaker `no-such-breaker`"), "{}", missing.stderr);
    let bad = cli.run(&["breakers", "reset", "has space"]).await;
    bad.expect_code(1);
    assert!(bad.stderr.contains("is not a breaker name"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_agree_on_a_breaker_and_record_each_transition_once() {
    let Some(db) = TestDatabase::create("breakers across two nodes").await else { return };
    let node = |key: Option<String>| {
        let mut builder =
            TestServer::builder().env("DATABASE_URL", &db.url).env("RAMPART_POSTGRES__POOL_SIZE", "6").config(CONFIG);
        if let Some(key) = &key {
            builder = builder.api_key(key);
        }
        builder.start()
    };
    let a = node(None).await;
    let b = node(Some(a.api_key().to_string())).await;
    let (ca, cb) = (a.client().clone(), b.client().clone());

    // Failures recorded on A open the breaker as B sees it.
    fail_times(&ca, "payments", 3).await;
    let on_b = cb.breaker_acquire("payments").await.unwrap();
    assert!(!on_b.allowed, "{on_b:?}");
    assert_eq!(on_b.state, "open");
    assert_eq!(cb.breaker("payments").await.unwrap().state, "open");

    // A reset on B closes it for A.
    let reset = cb.breaker_reset("payments").await.unwrap();
    assert_eq!(reset.transition.map(|t| t.to).as_deref(), Some("closed"));
    assert!(ca.breaker_acquire("payments").await.unwrap().allowed);

    // Many clients on both nodes at once: it opens once.
    let mut tasks = JoinSet::new();
    for i in 0..40 {
        let client = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        tasks.spawn(async move {
            let admitted = client.breaker_acquire("payments").await.expect("acquire").allowed;
            let step = client.breaker_record("payments", &failure()).await.expect("record");
            (admitted, step.transition.map(|t| t.to))
        });
    }
    let mut opened = 0;
    while let Some(done) = tasks.join_next().await {
        let (_, to) = done.expect("the task ran");
        opened += usize::from(to.as_deref() == Some("open"));
    }
    assert_eq!(opened, 1, "40 failures through two nodes open the breaker once");
    for client in [&ca, &cb] {
        let view = client.breaker("payments").await.unwrap();
        assert_eq!(view.state, "open");
        let transitions = view.transitions.expect("one breaker shows its transitions");
        let path: Vec<(&str, &str)> = transitions.iter().map(|t| (t.from.as_str(), t.to.as_str())).collect();
        assert_eq!(path, [("closed", "open"), ("open", "closed"), ("closed", "open")], "listed once each");
        assert_eq!(transitions[1].reason, "reset");
    }
    let listed = cb.breakers().await.unwrap();
    assert_eq!(listed.breakers.iter().filter(|v| v.name == "payments").count(), 1);
}
