//! Cron through the API and the Scheduler on a manual clock: ticks fire
//! their jobs, runs settle from them, misfire policies after downtime,
//! pause and resume, manual runs, validation, and retention as the built-in
//! schedule. The clock starts at 2027-01-15T08:00:00Z.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use rampart_core::id::QueueName;
use rampart_core::time::UnixMillis;
use rampart_server::config::{Config, CronConfig, QueueConfig};
use rampart_server::engine::{JobSpec, LeaseRequest};
use rampart_server::service::{Pruner, PrunerConfig, Scheduler, SchedulerConfig};
use rampart_server::shutdown::Shutdown;
use serde_json::{Value, json};

use crate::harness::{T0, TestApp, eventually};

/// A configuration whose built-in retention schedule stays out of the way
/// (it fires on January 1st).
fn quiet() -> Config {
    let mut config = Config::default();
    config.retention.schedule = "@yearly".into();
    config.webhooks.schedule = "@yearly".into();
    config
}

fn scheduler(app: &TestApp) -> Scheduler {
    Scheduler::new(SchedulerConfig::default(), app.cron.clone())
}

fn at(s: &str) -> String {
    UnixMillis::parse_rfc3339(s).unwrap().to_rfc3339()
}

async fn put(app: &TestApp, name: &str, body: Value) -> Value {
    let a = app.send(Method::PUT, &format!("/v1/cron/{name}"), Some(&body.to_string())).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body
}

async fn runs(app: &TestApp, name: &str) -> Vec<Value> {
    let a = app.send(Method::GET, &format!("/v1/cron/{name}/runs?limit=1000"), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body["runs"].as_array().unwrap().clone()
}

fn field<'a>(runs: &'a [Value], key: &str) -> Vec<&'a str> {
    runs.iter().map(|r| r[key].as_str().unwrap_or("-")).collect()
}

fn lease_req() -> LeaseRequest {
    LeaseRequest { max: 10, wait: Duration::ZERO, lease: Some(Duration::from_secs(30)), worker: None }
}

fn q(name: &str) -> QueueName {
    QueueName::new(name).unwrap()
}

#[tokio::test]
async fn each_tick_enqueues_one_job_and_its_run_follows_the_job() {
    let app = TestApp::with_config(quiet()).await;
    let s = scheduler(&app);
    let created = put(
        &app,
        "report",
        json!({"schedule": "*/5 * * * *", "queue": "reports", "payload": {"kind": "report"}, "description": "every 5 minutes"}),
    )
    .await;
    assert_eq!(created["next_run_at"], at("2027-01-15T08:05:00Z"));
    assert_eq!((created["source"].as_str(), created["misfire"].as_str()), (Some("api"), Some("skip")));
    assert_eq!(s.run_once().await.unwrap().fired, 0, "nothing is due yet");
    app.clock.advance(Duration::from_secs(5 * 60));
    let tick = s.run_once().await.unwrap();
    assert_eq!(tick.fired, 1);
    assert_eq!(tick.next_due, Some(UnixMillis(T0.0 + 600_000)));
    assert_eq!(s.run_once().await.unwrap().fired, 0, "a tick fires once");
    let leased = app.engine.lease(&q("reports"), lease_req()).await.unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].payload, r#"{"kind":"report"}"#);
    app.clock.advance(Duration::from_secs(2));
    app.engine.complete(leased[0].id, leased[0].lease_token.clone(), Some(r#"{"rows":7}"#.into())).await.unwrap();
    s.run_once().await.unwrap();
    let history = runs(&app, "report").await;
    assert_eq!(history.len(), 1);
    let run = &history[0];
    assert_eq!(run["scheduled_at"], at("2027-01-15T08:05:00Z"));
    assert_eq!(run["job_id"], leased[0].id.to_string());
    assert_eq!((run["trigger"].as_str(), run["status"].as_str()), (Some("schedule"), Some("completed")));
    assert_eq!(
        (run["started_at"].clone(), run["finished_at"].clone()),
        (json!(at("2027-01-15T08:05:00Z")), json!(at("2027-01-15T08:05:02Z")))
    );
    assert_eq!((run["attempts"].as_u64(), run["result"].clone()), (Some(1), json!({"rows": 7})));
    // The list shows the next and last run.
    let list = app.send(Method::GET, "/v1/cron", None).await.body;
    let report = list["schedules"].as_array().unwrap().iter().find(|s| s["name"] == "report").unwrap().clone();
    assert_eq!(report["next_run_at"], at("2027-01-15T08:10:00Z"));
    assert_eq!(report["last_run"]["status"], "completed");
    assert_eq!(report["description"], "every 5 minutes");
}

#[tokio::test]
async fn a_failing_job_shows_its_error_and_attempts_in_the_run() {
    let mut config = quiet();
    config.queues.insert(q("flaky"), QueueConfig { max_attempts: 1, ..QueueConfig::default() });
    let app = TestApp::with_config(config).await;
    let s = scheduler(&app);
    put(&app, "flaky", json!({"schedule": "* * * * *", "queue": "flaky"})).await;
    app.clock.advance(Duration::from_secs(60));
    s.run_once().await.unwrap();
    let leased = app.engine.lease(&q("flaky"), lease_req()).await.unwrap();
    app.engine.fail(leased[0].id, leased[0].lease_token.clone(), "smtp down".into(), true).await.unwrap();
    s.run_once().await.unwrap();
    let run = &runs(&app, "flaky").await[0];
    assert_eq!(
        (run["status"].as_str(), run["error"].as_str(), run["attempts"].as_u64()),
        (Some("dead"), Some("smtp down"), Some(1))
    );
}

#[tokio::test]
async fn a_cron_job_gets_one_attempt_and_the_tenant_unless_its_schedule_says_more() {
    let app = TestApp::with_config(quiet()).await;
    let s = scheduler(&app);
    let once = put(&app, "once", json!({"schedule": "* * * * *", "queue": "c1", "tenant": "acme"})).await;
    assert_eq!((once["max_attempts"].as_u64(), once["tenant"].as_str()), (Some(1), Some("acme")));
    put(&app, "thrice", json!({"schedule": "* * * * *", "queue": "c3", "max_attempts": 3})).await;
    app.clock.advance(Duration::from_secs(60));
    s.run_once().await.unwrap();
    let once = app.engine.lease(&q("c1"), lease_req()).await.unwrap().remove(0);
    assert_eq!((once.max_attempts, once.tenant.as_deref()), (1, Some("acme")), "the queue's 3 does not apply");
    let thrice = app.engine.lease(&q("c3"), lease_req()).await.unwrap().remove(0);
    assert_eq!((thrice.max_attempts, thrice.tenant), (3, None));
    for (body, field) in [
        (json!({"schedule": "@daily", "queue": "q", "tenant": ""}), "`tenant`"),
        (json!({"schedule": "@daily", "queue": "q", "max_attempts": 0}), "`max_attempts`"),
    ] {
        let refused = app.send(Method::PUT, "/v1/cron/bad", Some(&body.to_string())).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert!(refused.message().contains(field), "{}", refused.body);
    }
}

#[tokio::test]
async fn a_tick_found_a_little_late_still_fires_under_skip() {
    let app = TestApp::with_config(quiet()).await;
    let s = scheduler(&app);
    put(&app, "late", json!({"schedule": "* * * * *", "queue": "q", "misfire": "skip"})).await;
    // The scheduler looks 59 s after the tick: within the grace.
    app.clock.advance(Duration::from_secs(60 + 59));
    assert_eq!(s.run_once().await.unwrap().fired, 1);
    assert_eq!(field(&runs(&app, "late").await, "trigger"), ["schedule"]);
}

#[tokio::test]
async fn after_downtime_skip_drops_missed_ticks_and_run_once_runs_one() {
    let app = TestApp::with_config(quiet()).await;
    let s = scheduler(&app);
    put(&app, "skipper", json!({"schedule": "@hourly", "queue": "q", "misfire": "skip"})).await;
    put(&app, "catcher", json!({"schedule": "@hourly", "queue": "q", "misfire": "run_once"})).await;
    // Down from 08:00 to 13:30: five ticks missed (09:00 … 13:00).
    app.clock.advance(Duration::from_secs(5 * 3600 + 1800));
    assert_eq!(s.run_once().await.unwrap().fired, 1, "only run_once fires");
    assert!(runs(&app, "skipper").await.is_empty());
    let caught = runs(&app, "catcher").await;
    assert_eq!(field(&caught, "trigger"), ["misfire"]);
    assert_eq!(field(&caught, "scheduled_at"), [at("2027-01-15T13:00:00Z")], "it stands for the latest missed tick");
    for name in ["skipper", "catcher"] {
        let v = app.send(Method::GET, &format!("/v1/cron/{name}"), None).await.body;
        assert_eq!(v["next_run_at"], at("2027-01-15T14:00:00Z"), "{name} resumes at the next tick");
    }
    app.clock.advance(Duration::from_secs(1800));
    assert_eq!(s.run_once().await.unwrap().fired, 2, "both fire at 14:00 as usual");
}

#[tokio::test]
async fn after_75_s_down_a_per_second_schedule_fires_one_catch_up_run_not_59() {
    let app = TestApp::with_config(quiet()).await;
    let s = scheduler(&app);
    put(&app, "skipper", json!({"schedule": "* * * * * *", "queue": "skip", "misfire": "skip"})).await;
    put(&app, "catcher", json!({"schedule": "* * * * * *", "queue": "once", "misfire": "run_once"})).await;
    // Every node down from 08:00:00 to 08:01:15.
    app.clock.advance(Duration::from_secs(75));
    assert_eq!(s.run_once().await.unwrap().fired, 2, "one run per schedule");
    assert_eq!(s.run_once().await.unwrap().fired, 0, "and nothing left to catch up");
    let skipped = runs(&app, "skipper").await;
    assert_eq!(field(&skipped, "scheduled_at"), [at("2027-01-15T08:01:15Z")], "the latest due tick");
    assert_eq!(field(&skipped, "trigger"), ["schedule"]);
    let caught = runs(&app, "catcher").await;
    assert_eq!(field(&caught, "scheduled_at"), [at("2027-01-15T08:01:15Z")]);
    assert_eq!(field(&caught, "trigger"), ["misfire"], "it stands for the missed ticks too");
    assert_eq!(app.engine.lease(&q("skip"), lease_req()).await.unwrap().len(), 1);
    for name in ["skipper", "catcher"] {
        let v = app.send(Method::GET, &format!("/v1/cron/{name}"), None).await.body;
        assert_eq!(v["next_run_at"], at("2027-01-15T08:01:16Z"), "{name} goes on from now");
    }
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(s.run_once().await.unwrap().fired, 2, "then each tick as usual");
}

#[tokio::test]
async fn schedules_follow_their_time_zone_across_dst() {
    // 2027-03-14 is New York's spring-forward day: 02:30 does not exist.
    let app = TestApp::with_config(quiet()).await;
    app.clock.set(UnixMillis::parse_rfc3339("2027-03-13T12:00:00Z").unwrap());
    let s = scheduler(&app);
    let v = put(&app, "ny", json!({"schedule": "30 2 * * *", "timezone": "America/New_York", "queue": "q"})).await;
    assert_eq!(v["next_run_at"], at("2027-03-14T07:00:00Z"), "03:00 EDT, right after the gap");
    app.clock.set(UnixMillis::parse_rfc3339("2027-03-14T07:00:01Z").unwrap());
    assert_eq!(s.run_once().await.unwrap().fired, 1);
    let v = app.send(Method::GET, "/v1/cron/ny", None).await.body;
    assert_eq!(v["next_run_at"], at("2027-03-15T06:30:00Z"), "02:30 EDT the next day");
}

#[tokio::test]
async fn paused_schedules_pass_their_ticks_and_resume_at_the_next() {
    let app = TestApp::with_config(quiet()).await;
    let s = scheduler(&app);
    put(&app, "p", json!({"schedule": "* * * * *", "queue": "q", "misfire": "run_once"})).await;
    let paused = app.send(Method::POST, "/v1/cron/p/pause", None).await;
    assert_eq!((paused.status, paused.body["paused"].as_bool()), (StatusCode::OK, Some(true)));
    app.clock.advance(Duration::from_secs(10 * 60 + 30));
    assert_eq!(s.run_once().await.unwrap().fired, 0);
    app.send(Method::POST, "/v1/cron/p/resume", None).await;
    assert_eq!(s.run_once().await.unwrap().fired, 0, "ticks passed while paused are not made up");
    app.clock.advance(Duration::from_secs(30));
    assert_eq!(s.run_once().await.unwrap().fired, 1);
    assert_eq!(field(&runs(&app, "p").await, "trigger"), ["schedule"]);
}

#[tokio::test]
async fn trigger_runs_once_now_and_leaves_the_ticks_alone() {
    let app = TestApp::with_config(quiet()).await;
    let v = put(&app, "t", json!({"schedule": "@daily", "queue": "manual"})).await;
    let run = app.send(Method::POST, "/v1/cron/t/trigger", None).await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.body);
    assert_eq!((run.body["trigger"].as_str(), run.body["status"].as_str()), (Some("manual"), Some("available")));
    assert_eq!(run.body["scheduled_at"], T0.to_rfc3339());
    assert_eq!(app.engine.lease(&q("manual"), lease_req()).await.unwrap().len(), 1);
    assert_eq!(app.send(Method::GET, "/v1/cron/t", None).await.body["next_run_at"], v["next_run_at"]);
    assert_eq!(app.send(Method::POST, "/v1/cron/none/trigger", None).await.code(), "CRON_NOT_FOUND");
}

#[tokio::test]
async fn runs_page_newest_first_and_survive_their_schedule() {
    let app = TestApp::with_config(quiet()).await;
    put(&app, "pages", json!({"schedule": "@daily", "queue": "q"})).await;
    for _ in 0..5 {
        app.send(Method::POST, "/v1/cron/pages/trigger", None).await;
    }
    let first = app.send(Method::GET, "/v1/cron/pages/runs?limit=2", None).await.body;
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let second = app.send(Method::GET, &format!("/v1/cron/pages/runs?limit=2&cursor={cursor}"), None).await.body;
    let third = app
        .send(
            Method::GET,
            &format!("/v1/cron/pages/runs?limit=2&cursor={}", second["next_cursor"].as_str().unwrap()),
            None,
        )
        .await
        .body;
    let ids: Vec<u64> = [&first, &second, &third]
        .iter()
        .flat_map(|p| p["runs"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().parse().unwrap()))
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert!(third["next_cursor"].is_null());
    let deleted = app.send(Method::DELETE, "/v1/cron/pages", None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(runs(&app, "pages").await.len(), 5, "runs stay until retention");
    assert_eq!(app.send(Method::GET, "/v1/cron/pages", None).await.code(), "CRON_NOT_FOUND");
    assert_eq!(app.send(Method::GET, "/v1/cron/never/runs", None).await.code(), "CRON_NOT_FOUND");
    assert_eq!(app.send(Method::DELETE, "/v1/cron/pages", None).await.code(), "CRON_NOT_FOUND");
    let bad = app.send(Method::GET, "/v1/cron/pages/runs?limit=0", None).await;
    assert!(bad.message().contains("`limit`"), "{}", bad.body);
    let bad = app.send(Method::GET, "/v1/cron/pages/runs?cursor=x", None).await;
    assert!(bad.message().contains("`cursor`"), "{}", bad.body);
}

#[tokio::test]
async fn bad_definitions_are_refused_naming_the_field() {
    let mut config = quiet();
    config.cron.push(CronConfig {
        name: rampart_core::id::CronName::new("from-config").unwrap(),
        schedule: "@hourly".into(),
        timezone: rampart_core::cron::Timezone::UTC,
        queue: q("q"),
        payload: "{}".into(),
        description: String::new(),
        misfire: rampart_core::cron::Misfire::Skip,
        tenant: None,
        max_attempts: None,
    });
    let app = TestApp::with_config(config).await;
    let cases = [
        ("c", r#"{"schedule":"61 * * * *","queue":"q"}"#, StatusCode::BAD_REQUEST, "INVALID_SCHEDULE", "`schedule`"),
        ("c", r#"{"schedule":"* * *","queue":"q"}"#, StatusCode::BAD_REQUEST, "INVALID_SCHEDULE", "fields"),
        ("c", r#"{"schedule":"@reboot","queue":"q"}"#, StatusCode::BAD_REQUEST, "INVALID_SCHEDULE", "macro"),
        (
            "c",
            r#"{"schedule":"@daily","timezone":"Mars/Base","queue":"q"}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_TIMEZONE",
            "`timezone`",
        ),
        ("c", r#"{"schedule":"@daily","queue":"no spaces"}"#, StatusCode::BAD_REQUEST, "INVALID_QUEUE_NAME", "`queue`"),
        (
            "c",
            r#"{"schedule":"@daily","queue":"q","misfire":"later"}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "`misfire`",
        ),
        ("c", r#"{"schedule":"@daily","queue":"q","payload":{"a":}}"#, StatusCode::BAD_REQUEST, "INVALID_JSON", "JSON"),
        ("c", r#"{"schedule":"@daily"}"#, StatusCode::BAD_REQUEST, "INVALID_REQUEST", "`queue`"),
        ("c", r#"{"schedule":"@daily","queue":"q","every":"1m"}"#, StatusCode::BAD_REQUEST, "INVALID_REQUEST", "every"),
        (
            "bad name",
            r#"{"schedule":"@daily","queue":"q"}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_CRON_NAME",
            "cron schedule name",
        ),
        (
            "from-config",
            r#"{"schedule":"@daily","queue":"q"}"#,
            StatusCode::CONFLICT,
            "CRON_IN_CONFIG",
            "configuration",
        ),
        (
            "rampart.retention",
            r#"{"schedule":"@daily","queue":"q"}"#,
            StatusCode::CONFLICT,
            "CRON_RESERVED",
            "reserved",
        ),
        ("rampart.mine", r#"{"schedule":"@daily","queue":"q"}"#, StatusCode::CONFLICT, "CRON_RESERVED", "reserved"),
    ];
    for (name, body, status, code, mentions) in cases {
        let path = format!("/v1/cron/{}", name.replace(' ', "%20"));
        let a = app.send(Method::PUT, &path, Some(body)).await;
        assert_eq!((a.status, a.code()), (status, code), "{name} {body}: {}", a.body);
        assert!(a.message().contains(mentions), "{name} {body}: {}", a.message());
    }
    assert_eq!(app.send(Method::DELETE, "/v1/cron/from-config", None).await.code(), "CRON_IN_CONFIG");
    // Configured schedules can still be paused and triggered.
    assert_eq!(app.send(Method::POST, "/v1/cron/from-config/pause", None).await.status, StatusCode::OK);
    assert_eq!(app.send(Method::POST, "/v1/cron/from-config/trigger", None).await.status, StatusCode::OK);
    let listed = app.send(Method::GET, "/v1/cron", None).await.body;
    let names: Vec<&str> =
        listed["schedules"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["from-config", "rampart.retention", "rampart.webhooks"]);
}

#[tokio::test]
async fn retention_runs_as_a_builtin_schedule_and_records_what_it_deleted() {
    let mut config = Config::default();
    config.retention.completed = Duration::from_secs(3600);
    config.retention.cron_runs = Duration::from_secs(86_400);
    config.queues.insert(
        q("audit"),
        QueueConfig { retention_completed: Some(Duration::from_secs(10 * 86_400)), ..QueueConfig::default() },
    );
    let app = TestApp::with_config(config).await;
    let s = scheduler(&app);
    let builtin = app.send(Method::GET, "/v1/cron/rampart.retention", None).await.body;
    assert_eq!((builtin["source"].as_str(), builtin["schedule"].as_str()), (Some("builtin"), Some("*/10 * * * *")));
    assert!(builtin["queue"].is_null());
    // Three completed jobs in `mail` and one in `audit`, finished at 08:00.
    for queue in ["mail", "mail", "mail", "audit"] {
        let spec = JobSpec { payload: "{}".into(), ..JobSpec::default() };
        app.engine.enqueue(&q(queue), vec![spec]).await.unwrap();
        let l = app.engine.lease(&q(queue), LeaseRequest { max: 1, ..lease_req() }).await.unwrap().pop().unwrap();
        app.engine.complete(l.id, l.lease_token, None).await.unwrap();
    }
    // At 10:05, after downtime, one run stands for the missed ticks
    // (`run_once`); it deletes `mail`'s jobs, not `audit`'s.
    app.clock.advance(Duration::from_secs(2 * 3600 + 300));
    assert_eq!(s.run_once().await.unwrap().fired, 1);
    let report = app.pruner.lock().await.run_once().await.unwrap().expect("the run was handed to the pruner");
    assert_eq!((report.completed_jobs, report.dead_jobs, report.cron_runs), (3, 0, 0));
    let history = runs(&app, "rampart.retention").await;
    assert_eq!(history.len(), 1);
    let run = &history[0];
    assert_eq!((run["status"].as_str(), run["job_id"].clone()), (Some("completed"), Value::Null));
    assert_eq!(
        (run["trigger"].as_str(), run["scheduled_at"].clone()),
        (Some("misfire"), json!(at("2027-01-15T10:00:00Z")))
    );
    assert_eq!(
        run["result"],
        json!({"completed_jobs": 3, "dead_jobs": 0, "cron_runs": 0, "usage_events": 0, "usage_reservations": 0,
               "cache_rows": 0, "error_rows": 0})
    );
    let queues = app.send(Method::GET, "/v1/queues", None).await.body;
    let completed = |name: &str| {
        queues["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == name)
            .map(|q| q["counts"]["completed"].clone())
    };
    assert_eq!(completed("mail"), Some(json!(0)));
    assert_eq!(completed("audit"), Some(json!(1)));
    // Two days on, its own run is past `cron_runs` and goes too.
    app.clock.advance(Duration::from_secs(2 * 86_400));
    app.send(Method::POST, "/v1/cron/rampart.retention/trigger", None).await;
    let report = app.pruner.lock().await.run_once().await.unwrap().unwrap();
    assert_eq!(report.cron_runs, 1);
    assert_eq!(field(&runs(&app, "rampart.retention").await, "trigger"), ["manual"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_and_pruner_run_in_the_background_until_shutdown() {
    let app = TestApp::with_config(quiet()).await;
    put(&app, "bg", json!({"schedule": "* * * * *", "queue": "bg"})).await;
    let (trigger, shutdown) = Shutdown::new();
    let scheduling = tokio::spawn(scheduler(&app).run(shutdown.clone()));
    let (pruner, _requests) = Pruner::new(PrunerConfig::from_config(&quiet()), app.engine.clone());
    let pruning = tokio::spawn(pruner.run(shutdown));
    // The scheduler sleeps on the clock: moved past the tick, it fires at once.
    app.asleep(1).await;
    app.clock.advance(Duration::from_secs(60));
    eventually("the background scheduler to fire `bg`", || async {
        (!runs(&app, "bg").await.is_empty()).then_some(())
    })
    .await;
    trigger.trigger();
    let stopped = tokio::time::timeout(Duration::from_secs(10), async {
        scheduling.await.unwrap();
        pruning.await.unwrap();
    });
    stopped.await.expect("both stop on shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_wakes_a_worker_long_polling_its_queue() {
    let app = TestApp::with_config(quiet()).await;
    put(&app, "wake", json!({"schedule": "* * * * *", "queue": "woken"})).await;
    // The tick is due; the lease's 30 s wait counts on the clock from here.
    app.clock.advance(Duration::from_secs(60));
    let engine = app.engine.clone();
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let req = LeaseRequest { wait: Duration::from_secs(30), ..lease_req() };
        let jobs = engine.lease(&q("woken"), req).await.unwrap();
        (jobs.len(), started.elapsed())
    });
    // A lease already waiting is brought back only by the wake-up, well
    // before its 30 s run out (one that starts after the tick finds the job).
    app.asleep(1).await;
    assert_eq!(scheduler(&app).run_once().await.unwrap().fired, 1);
    let (leased, waited) = tokio::time::timeout(Duration::from_secs(20), waiting).await.expect("woken").unwrap();
    assert_eq!(leased, 1);
    assert!(waited < Duration::from_secs(25), "woken by the tick, not by its 30s wait running out ({waited:?})");
}
