//! Services and long-polls sleep on the clock: each test gives a service
//! an interval of an hour, so only moving the manual clock can bring its
//! next run within the test's patience, and waits for that run.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use rampart_core::id::QueueName;
use rampart_core::job::JobState;
use rampart_core::time::Clock as _;
use rampart_server::config::Config;
use rampart_server::engine::{JobSpec, LeaseRequest};
use rampart_server::service::{
    Promoter, PromoterConfig, Reaper, ReaperConfig, Sampler, SamplerConfig, Scheduler, SchedulerConfig,
};
use rampart_server::shutdown::Shutdown;
use serde_json::json;

use crate::harness::{TestApp, eventually};

const HOUR: Duration = Duration::from_secs(3600);

fn q(name: &str) -> QueueName {
    QueueName::new(name).unwrap()
}

fn spec() -> JobSpec {
    JobSpec { payload: "{}".into(), ..JobSpec::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reaper_sweeps_as_soon_as_the_clock_passes_its_interval() {
    let app = TestApp::new().await;
    let id = app.engine.enqueue(&q("r"), vec![spec()]).await.unwrap()[0].id;
    let req = LeaseRequest { max: 1, lease: Some(Duration::from_secs(30)), ..LeaseRequest::default() };
    assert_eq!(app.engine.lease(&q("r"), req).await.unwrap().len(), 1);
    let (_trigger, shutdown) = Shutdown::new();
    tokio::spawn(Reaper::new(ReaperConfig { interval: HOUR }, app.engine.clone()).run(shutdown));
    // Its first sweep finds the lease alive; then it sleeps an hour.
    app.asleep(1).await;
    assert_eq!(app.engine.job(id).await.unwrap().state, JobState::Active);
    app.clock.advance(HOUR);
    eventually("the reaper to fail the expired lease", || async {
        (app.engine.job(id).await.unwrap().state != JobState::Active).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_promoter_promotes_as_soon_as_the_clock_reaches_a_delayed_job() {
    let app = TestApp::new().await;
    let delayed = JobSpec { run_at: Some(app.clock.now().plus(Duration::from_secs(600))), ..spec() };
    let id = app.engine.enqueue(&q("p"), vec![delayed]).await.unwrap()[0].id;
    let (_trigger, shutdown) = Shutdown::new();
    tokio::spawn(Promoter::new(PromoterConfig { max_sleep: HOUR }, app.engine.clone()).run(shutdown));
    app.asleep(1).await;
    assert_eq!(app.engine.job(id).await.unwrap().state, JobState::Scheduled);
    app.clock.advance(Duration::from_secs(600));
    eventually("the promoter to make the delayed job available", || async {
        (app.engine.job(id).await.unwrap().state == JobState::Available).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_fires_as_soon_as_the_clock_reaches_a_tick() {
    let mut config = Config::default();
    config.retention.schedule = "@yearly".into();
    let app = TestApp::with_config(config).await;
    let body = json!({"schedule": "*/5 * * * *", "queue": "ticks"}).to_string();
    let put = app.send(Method::PUT, "/v1/cron/five", Some(&body)).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let (_trigger, shutdown) = Shutdown::new();
    tokio::spawn(Scheduler::new(SchedulerConfig { max_sleep: HOUR }, app.cron.clone()).run(shutdown));
    app.asleep(1).await;
    app.clock.advance(Duration::from_secs(300));
    eventually("the scheduler to enqueue the tick's job", || async {
        // The queue is known once the first job is in it.
        let status = app.engine.queue(&q("ticks")).await.ok()?;
        (status.counts.get(JobState::Available) == 1).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sampler_samples_as_soon_as_the_clock_passes_its_interval() {
    let app = TestApp::new().await;
    let mut sets = app.monitor.subscribe();
    let (_trigger, shutdown) = Shutdown::new();
    tokio::spawn(Sampler::new(SamplerConfig { interval: HOUR }, app.monitor.clone()).run(shutdown));
    app.asleep(1).await;
    let first = sets.borrow_and_update().at;
    app.clock.advance(HOUR);
    eventually("a second sample", || std::future::ready((sets.borrow().at != first).then_some(()))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_ends_when_the_clock_passes_its_wait() {
    let app = TestApp::new().await;
    let engine = app.engine.clone();
    let req = LeaseRequest { max: 1, wait: Duration::from_secs(30), ..LeaseRequest::default() };
    let polling = tokio::spawn(async move { engine.lease(&q("idle"), req).await });
    app.asleep(1).await;
    app.clock.advance(Duration::from_secs(30));
    // Well before its 30 s run out on real time.
    let leased = tokio::time::timeout(Duration::from_secs(20), polling).await.expect("the poll ends with the clock");
    assert!(leased.unwrap().unwrap().is_empty(), "nothing to lease, and the wait is over");
}
