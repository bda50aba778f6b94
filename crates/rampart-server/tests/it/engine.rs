//! The engine and its background services on a manual clock: lease expiry,
//! timeouts, backoff and delayed promotion, with no sleeps.

use std::time::Duration;

use axum::http::Method;
use rampart_core::id::QueueName;
use rampart_server::config::{Config, QueueConfig};
use rampart_server::engine::{JobSpec, LeaseRequest};
use rampart_server::service::{Promoter, PromoterConfig, Reaper, ReaperConfig, Relay};
use rampart_server::shutdown::Shutdown;
use rampart_store::{JobInsertParams, NewJob, StoreSignal};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::harness::{T0, TestApp};

fn q(name: &str) -> QueueName {
    QueueName::new(name).unwrap()
}

fn spec() -> JobSpec {
    JobSpec { payload: "{}".into(), ..JobSpec::default() }
}

fn lease_req() -> LeaseRequest {
    LeaseRequest { max: 10, wait: Duration::ZERO, lease: Some(Duration::from_secs(10)), worker: Some("w".into()) }
}

fn reasons(job: &Value) -> Vec<String> {
    job["history"].as_array().unwrap().iter().map(|e| e["reason"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn an_expired_lease_counts_a_failed_attempt_and_the_job_runs_again() {
    let mut config = Config::default();
    config.queues.insert(q("x"), QueueConfig { max_stalls: 0, ..QueueConfig::default() });
    let app = TestApp::with_config(config).await;
    let reaper = Reaper::new(ReaperConfig::default(), app.engine.clone());
    let promoter = Promoter::new(PromoterConfig::default(), app.engine.clone());
    let id = app.engine.enqueue(&q("x"), vec![spec()]).await.unwrap()[0].id;
    assert_eq!(app.engine.lease(&q("x"), lease_req()).await.unwrap().len(), 1);
    app.clock.advance(Duration::from_millis(9_999));
    assert_eq!(reaper.run_once().await.unwrap(), 0, "the lease still holds");
    app.clock.advance(Duration::from_millis(1));
    assert_eq!(reaper.run_once().await.unwrap(), 1);
    // Backoff 1s ±20% before the retry is due.
    app.clock.advance(Duration::from_millis(799));
    assert_eq!(promoter.run_once().await.unwrap(), 0);
    app.clock.advance(Duration::from_millis(401));
    assert_eq!(promoter.run_once().await.unwrap(), 1);
    let again = app.engine.lease(&q("x"), lease_req()).await.unwrap();
    assert_eq!(again[0].attempt, 2);
    let job = app.job(&id.to_string()).await;
    assert_eq!(reasons(&job), ["enqueued", "leased", "lease_expired", "due", "leased"]);
    let totals = app.send(Method::GET, "/v1/queues/x", None).await.body["totals"].clone();
    assert_eq!((totals["stalled"].as_u64(), totals["retries"].as_u64()), (Some(1), Some(1)));
}

#[tokio::test]
async fn a_stall_gives_the_job_back_at_once_without_counting_the_attempt() {
    let app = TestApp::new().await;
    let reaper = Reaper::new(ReaperConfig::default(), app.engine.clone());
    let id = app.engine.enqueue(&q("x"), vec![spec()]).await.unwrap()[0].id;
    assert_eq!(app.engine.lease(&q("x"), lease_req()).await.unwrap().len(), 1);
    // A lease waiting on the queue is woken by the stall, not by a poll.
    let waiting = {
        let engine = app.engine.clone();
        tokio::spawn(async move {
            engine.lease(&q("x"), LeaseRequest { wait: Duration::from_secs(30), ..lease_req() }).await.unwrap()
        })
    };
    app.asleep(1).await;
    app.clock.advance(Duration::from_secs(10));
    assert_eq!(reaper.run_once().await.unwrap(), 1);
    let again = waiting.await.unwrap();
    assert_eq!((again.len(), again[0].attempt), (1, 1), "the same attempt, not a second one");
    let job = app.job(&id.to_string()).await;
    assert_eq!(reasons(&job), ["enqueued", "leased", "stalled", "leased"]);
    assert_eq!((job["stalls"].as_u64(), job["errors"][0]["reason"].as_str()), (Some(1), Some("stalled")));
    // The second stall is past max_stalls (1): a failed attempt.
    app.clock.advance(Duration::from_secs(10));
    assert_eq!(reaper.run_once().await.unwrap(), 1);
    let job = app.job(&id.to_string()).await;
    assert_eq!((job["state"].as_str(), job["attempt"].as_u64()), (Some("scheduled"), Some(1)));
    assert_eq!(reasons(&job).last().unwrap(), "lease_expired");
    let totals = app.send(Method::GET, "/v1/queues/x", None).await.body["totals"].clone();
    assert_eq!((totals["stalled"].as_u64(), totals["retries"].as_u64()), (Some(2), Some(1)));
}

#[tokio::test]
async fn a_timed_out_attempt_fails_even_while_heartbeating() {
    let mut config = Config::default();
    config.queues.insert(
        q("slow"),
        QueueConfig { timeout: Some(Duration::from_secs(5)), max_attempts: 1, ..QueueConfig::default() },
    );
    let app = TestApp::with_config(config).await;
    let reaper = Reaper::new(ReaperConfig::default(), app.engine.clone());
    let id = app.engine.enqueue(&q("slow"), vec![spec()]).await.unwrap()[0].id;
    let leased = app.engine.lease(&q("slow"), lease_req()).await.unwrap().remove(0);
    for _ in 0..4 {
        app.clock.advance(Duration::from_secs(1));
        app.engine.heartbeat(id, leased.lease_token.clone(), None).await.unwrap();
        assert_eq!(reaper.run_once().await.unwrap(), 0);
    }
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(reaper.run_once().await.unwrap(), 1);
    let job = app.job(&id.to_string()).await;
    assert_eq!(job["state"], "dead", "max_attempts = 1 from the queue's config");
    assert_eq!(reasons(&job).last().unwrap(), "timeout");
    assert_eq!(job["errors"][0]["reason"], "timeout");
}

#[tokio::test]
async fn retries_back_off_exponentially_within_their_jitter() {
    let app = TestApp::new().await;
    let promoter = Promoter::new(PromoterConfig::default(), app.engine.clone());
    let mut s = spec();
    s.max_attempts = Some(4);
    let id = app.engine.enqueue(&q("b"), vec![s]).await.unwrap()[0].id;
    for attempt in 1..=3u32 {
        let l = app.engine.lease(&q("b"), lease_req()).await.unwrap().remove(0);
        assert_eq!(l.attempt, attempt);
        let now = app.engine.now();
        let acked = app.engine.fail(id, l.lease_token, "flaky".into(), true).await.unwrap();
        let delay = acked.retry_at.unwrap().0 - now.0;
        let base = 1000 * 2i64.pow(attempt - 1);
        assert!(
            delay >= base * 8 / 10 && delay <= base * 12 / 10,
            "attempt {attempt}: delay {delay}ms outside {base}ms ±20%"
        );
        app.clock.set(acked.retry_at.unwrap());
        assert_eq!(promoter.run_once().await.unwrap(), 1);
    }
    let l = app.engine.lease(&q("b"), lease_req()).await.unwrap().remove(0);
    let last = app.engine.fail(id, l.lease_token, "flaky".into(), true).await.unwrap();
    assert_eq!(last.state.as_str(), "dead");
}

#[tokio::test]
async fn delayed_jobs_become_available_exactly_when_due() {
    let app = TestApp::new().await;
    let promoter = Promoter::new(PromoterConfig::default(), app.engine.clone());
    let mut s = spec();
    s.run_at = Some(app.engine.now().plus(Duration::from_secs(10)));
    let inserted = app.engine.enqueue(&q("later"), vec![s]).await.unwrap();
    assert_eq!(inserted[0].state.as_str(), "scheduled");
    assert!(app.engine.lease(&q("later"), lease_req()).await.unwrap().is_empty());
    app.clock.advance(Duration::from_millis(9_999));
    assert_eq!(promoter.run_once().await.unwrap(), 0);
    app.clock.advance(Duration::from_millis(1));
    assert_eq!(promoter.run_once().await.unwrap(), 1);
    assert_eq!(app.engine.lease(&q("later"), lease_req()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn concurrency_caps_active_jobs_across_workers() {
    let mut config = Config::default();
    config.queues.insert(q("cap"), QueueConfig { concurrency: Some(2), ..QueueConfig::default() });
    let app = TestApp::with_config(config).await;
    app.engine.enqueue(&q("cap"), (0..5).map(|_| spec()).collect()).await.unwrap();
    let first = app.engine.lease(&q("cap"), lease_req()).await.unwrap();
    assert_eq!(first.len(), 2);
    assert!(app.engine.lease(&q("cap"), lease_req()).await.unwrap().is_empty());
    app.engine.complete(first[0].id, first[0].lease_token.clone(), None).await.unwrap();
    assert_eq!(app.engine.lease(&q("cap"), lease_req()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn priorities_are_served_highest_first() {
    let app = TestApp::new().await;
    let specs = [0, 10, 5].map(|p| JobSpec { priority: p, ..spec() }).to_vec();
    let ids: Vec<_> = app.engine.enqueue(&q("prio"), specs).await.unwrap().into_iter().map(|j| j.id).collect();
    let order: Vec<_> = app.engine.lease(&q("prio"), lease_req()).await.unwrap().into_iter().map(|j| j.id).collect();
    assert_eq!(order, vec![ids[1], ids[2], ids[0]]);
}

/// How long a test waits for something that should happen at once.
const PROMPTLY: Duration = Duration::from_secs(10);

#[tokio::test]
async fn another_nodes_signal_wakes_a_waiting_lease() {
    let app = TestApp::new().await;
    let (signals, receiver) = broadcast::channel(16);
    let mut relay = Relay::new(app.engine.clone(), receiver);
    let waiting = tokio::spawn({
        let engine = app.engine.clone();
        async move { engine.lease(&q("x"), LeaseRequest { wait: Duration::from_secs(30), ..lease_req() }).await }
    });
    // The lease has looked, found nothing, and waits (on its queue, and on
    // the clock for its 30 s) before the insert below.
    app.asleep(1).await;
    // Written behind this engine's back, as another node would.
    let job = NewJob {
        queue: q("x"),
        payload: "{}".into(),
        run_at: T0,
        priority: 0,
        max_attempts: 1,
        timeout: None,
        unique_key: None,
        tenant: None,
    };
    app.engine.store().job_insert_many(JobInsertParams { jobs: vec![job], now: T0 }).await.unwrap();
    signals.send(StoreSignal::QueueReady(q("x"))).unwrap();
    assert!(relay.run_once().await);
    let leased = tokio::time::timeout(PROMPTLY, waiting).await.expect("woken long before its wait ends");
    assert_eq!(leased.unwrap().unwrap().len(), 1);
}

#[tokio::test]
async fn a_relay_that_missed_signals_wakes_every_waiter() {
    let app = TestApp::new().await;
    let (signals, receiver) = broadcast::channel(1);
    let mut relay = Relay::new(app.engine.clone(), receiver);
    signals.send(StoreSignal::QueueReady(q("a"))).unwrap();
    // Pushes the first out of the channel: the relay has fallen behind.
    signals.send(StoreSignal::QueueReady(q("b"))).unwrap();
    assert!(relay.run_once().await);
    // Only a resync wakes the promoter, which keeps the wake-up until it waits.
    tokio::time::timeout(PROMPTLY, app.engine.promoter_woken()).await.expect("the promoter is woken");
    assert!(relay.run_once().await, "the signal still in the channel");
    drop(signals);
    assert!(!relay.run_once().await, "no more signals once the store closes them");
}

#[tokio::test]
async fn the_relay_stops_on_shutdown() {
    let app = TestApp::new().await;
    let (_signals, receiver) = broadcast::channel::<StoreSignal>(1);
    let (trigger, shutdown) = Shutdown::new();
    let running = tokio::spawn(Relay::new(app.engine.clone(), receiver).run(shutdown));
    trigger.trigger();
    tokio::time::timeout(PROMPTLY, running).await.expect("stops").unwrap();
}
