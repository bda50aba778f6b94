//! One passing and one failing case (at least) for every check.

use serde_json::json;

use super::*;

const NOW: UnixMillis = UnixMillis(1_800_000_000_000);

fn view<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("a valid view")
}

fn status(f: &Finding) -> Status {
    f.status
}

fn ago(secs: i64) -> String {
    UnixMillis(NOW.0 - secs * 1_000).to_rfc3339()
}

#[test]
fn the_store_passes_when_up_and_fast_and_fails_when_down() {
    let up: StoreHealth = view(json!({"status": "up", "backend": "sqlite", "latency_ms": 1.5}));
    assert_eq!(store(&up), Finding::new("store", Status::Pass, "sqlite answers in 1.50 ms"));
    let slow: StoreHealth = view(json!({"status": "up", "backend": "postgres", "latency_ms": 900.0}));
    assert_eq!(status(&store(&slow)), Status::Warn);
    let down: StoreHealth = view(json!({"status": "down", "backend": "postgres", "error": "connection refused"}));
    assert_eq!(store(&down), Finding::new("store", Status::Fail, "postgres is down: connection refused"));
}

#[test]
fn readiness_and_migrations() {
    assert_eq!(status(&readiness("ready")), Status::Pass);
    assert_eq!(readiness("not_ready"), Finding::new("ready", Status::Fail, "/health/ready answers not_ready"));
    assert_eq!(
        migrations("sqlite", 11, 11),
        Finding::new("store.migrations", Status::Pass, "sqlite: current (11 of 11)")
    );
    assert_eq!(status(&migrations("postgres", 9, 11)), Status::Fail);
    assert_eq!(status(&migrations("postgres", 12, 11)), Status::Warn);
    assert_eq!(unavailable("cron", &"store down").detail, "cannot check: store down");
}

#[test]
fn redis_fails_while_down_and_limits_fall_back() {
    assert_eq!(status(&redis(None)), Status::Pass);
    let up: RedisBackendView = view(json!({"status": "up", "failures": 0}));
    assert_eq!(status(&redis(Some(&up))), Status::Pass);
    let down: RedisBackendView = view(json!({"status": "down", "failures": 3, "last_error": "timed out"}));
    let f = redis(Some(&down));
    assert_eq!(f.status, Status::Fail);
    assert!(f.detail.contains("3 failures, last: timed out") && f.detail.contains("fallback"), "{f:?}");
}

#[test]
fn alert_channels_warn_when_none_and_fail_when_one_fails() {
    let names = vec!["slack".to_string(), "ops".to_string()];
    assert_eq!(alert_channels(&names, &[]), Finding::new("alerts.channels", Status::Pass, "2 configured: slack, ops"));
    assert_eq!(status(&alert_channels(&[], &[])), Status::Warn);
    assert_eq!(status(&alert_channels(&names, &["slack".to_string()])), Status::Fail);
}

#[test]
fn a_test_alert_fails_when_a_channel_refuses_it() {
    assert_eq!(status(&alert_test(2, &[])), Status::Pass);
    assert_eq!(status(&alert_test(0, &[])), Status::Warn);
    let f = alert_test(1, &[("slack".into(), "HTTP 404".into())]);
    assert_eq!(f, Finding::new("alerts.test", Status::Fail, "refused by slack: HTTP 404"));
}

#[test]
fn sentry_warns_without_a_dsn() {
    assert_eq!(status(&sentry(true)), Status::Pass);
    assert_eq!(status(&sentry(false)), Status::Warn);
}

fn a_loop(name: &str, status: &str, last_run_secs_ago: Option<i64>) -> LoopView {
    view(json!({
        "name": name,
        "status": status,
        "last_run_at": last_run_secs_ago.map(ago),
        "last_error": (status == "failing").then_some("database is locked"),
        "runs": 1,
        "failures": 0,
    }))
}

#[test]
fn loops_fail_when_late_or_failing() {
    let interval = |name: &str| match name {
        "reaper" => Some(Duration::from_millis(250)),
        "sweeper" => Some(Duration::from_secs(10)),
        _ => None,
    };
    let started = UnixMillis(NOW.0 - 3_600_000);
    let fine = [a_loop("reaper", "ok", Some(1)), a_loop("sweeper", "ok", Some(30)), a_loop("pruner", "idle", None)];
    assert_eq!(
        loops(&fine, interval, NOW, started),
        Finding::new("loops", Status::Pass, "3 loops ran within their interval")
    );
    let just_started = [a_loop("sweeper", "idle", None)];
    assert_eq!(status(&loops(&just_started, interval, NOW, UnixMillis(NOW.0 - 2_000))), Status::Pass);
    let bad = [a_loop("reaper", "ok", Some(60)), a_loop("sweeper", "idle", None), a_loop("pruner", "failing", Some(1))];
    let f = loops(&bad, interval, NOW, started);
    assert_eq!(f.status, Status::Fail);
    assert_eq!(
        f.detail,
        "failing: pruner (database is locked); late: reaper (last ran 1m ago, every 250ms), sweeper (never ran in 1h, every 10s)"
    );
}

fn schedule(name: &str, last_status: Option<&str>, next_secs_from_now: i64, paused: bool) -> CronView {
    view(json!({
        "name": name,
        "schedule": "0 3 * * *",
        "timezone": "UTC",
        "payload": {},
        "description": "",
        "misfire": "run_once",
        "source": "config",
        "paused": paused,
        "next_run_at": UnixMillis(NOW.0 + next_secs_from_now * 1_000).to_rfc3339(),
        "last_run": last_status.map(|s| json!({
            "id": "1", "name": name, "scheduled_at": ago(60), "enqueued_at": ago(60), "trigger": "schedule",
            "status": s, "attempts": 1, "error": (s == "dead").then_some("exit 1"),
        })),
        "created_at": ago(3600),
        "updated_at": ago(3600),
    }))
}

#[test]
fn cron_fails_when_a_last_run_failed() {
    let fine = [schedule("nightly", Some("completed"), 60, false), schedule("hourly", None, 60, true)];
    assert_eq!(
        cron(&fine),
        Finding::new("cron", Status::Pass, "2 schedules registered, no last run failed (1 paused)")
    );
    let bad = [schedule("nightly", Some("dead"), 60, false)];
    assert_eq!(cron(&bad), Finding::new("cron", Status::Fail, "last run failed: nightly (exit 1)"));
}

#[test]
fn retention_fails_when_missing_failed_or_overdue() {
    assert_eq!(status(&retention(&[schedule(RETENTION_SCHEDULE, Some("completed"), 600, false)], NOW)), Status::Pass);
    assert_eq!(status(&retention(&[schedule(RETENTION_SCHEDULE, None, 600, false)], NOW)), Status::Pass);
    assert_eq!(status(&retention(&[], NOW)), Status::Fail);
    assert_eq!(status(&retention(&[schedule(RETENTION_SCHEDULE, Some("dead"), 600, false)], NOW)), Status::Fail);
    assert_eq!(status(&retention(&[schedule(RETENTION_SCHEDULE, None, -3600, false)], NOW)), Status::Fail);
    assert_eq!(status(&retention(&[schedule(RETENTION_SCHEDULE, None, 600, true)], NOW)), Status::Warn);
}

fn target(state: &str) -> PushTargetView {
    view(json!({
        "queue": "hooks", "target": "https://app.example/jobs?token=***", "breaker": "push:app.example",
        "state": state, "last_error": (state == "open").then_some("5 consecutive failures"),
    }))
}

#[test]
fn push_targets_fail_while_a_breaker_is_not_closed() {
    assert_eq!(status(&push_targets(&[])), Status::Pass);
    assert_eq!(status(&push_targets(&[target("closed")])), Status::Pass);
    let f = push_targets(&[target("closed"), target("open")]);
    assert_eq!(f.status, Status::Fail);
    assert!(f.detail.contains("hooks → https://app.example/jobs?token=*** open (5 consecutive failures)"), "{f:?}");
}

fn queue(name: &str, dead: u64) -> QueueView {
    let totals = json!({"completed": 0, "failed": 0, "retries": 0, "dead": dead, "stalled": 0, "timeouts": 0,
        "mean_processing_ms": 0.0, "completed_today": 0, "dead_today": 0});
    view(json!({
        "name": name, "paused": false,
        "counts": {"scheduled": 0, "available": 0, "active": 0, "completed": 3, "dead": dead, "cancelled": 0},
        "totals": totals,
    }))
}

#[test]
fn dead_letters_warn_with_their_counts() {
    assert_eq!(status(&dead_letters(&[queue("email", 0)])), Status::Pass);
    let f = dead_letters(&[queue("email", 2), queue("sms", 0), queue("pdf", 1)]);
    assert_eq!(f.status, Status::Warn);
    assert!(f.detail.starts_with("dead jobs: email 2, pdf 1"), "{f:?}");
}

#[test]
fn the_admin_key_must_be_private() {
    assert_eq!(admin_key_mode(Some(0o100600)), Finding::new("admin_key.mode", Status::Pass, "admin.key is 0600"));
    assert_eq!(status(&admin_key_mode(None)), Status::Pass);
    assert_eq!(status(&admin_key_mode(Some(0o100644))), Status::Fail);
    assert_eq!(status(&admin_key_mode(Some(0o100640))), Status::Fail);
}

#[test]
fn a_public_listener_warns_that_tls_belongs_in_front() {
    for private in ["127.0.0.1:7433", "10.1.2.3:7433", "192.168.0.5:80", "[::1]:7433", "[fd00::1]:7433"] {
        assert_eq!(status(&listener(private.parse().expect("addr"))), Status::Pass, "{private}");
    }
    for public in ["0.0.0.0:7433", "203.0.113.9:80", "[::]:7433", "[2001:db8::1]:7433"] {
        assert_eq!(status(&listener(public.parse().expect("addr"))), Status::Warn, "{public}");
    }
}

#[test]
fn disk_warns_under_ten_percent_free() {
    assert_eq!(status(&disk(None)), Status::Pass);
    assert_eq!(disk(Some((50 << 20, 100 << 20))), Finding::new("disk", Status::Pass, "50.0% free (50 MiB of 100 MiB)"));
    assert_eq!(status(&disk(Some((5 << 20, 100 << 20)))), Status::Warn);
    assert_eq!(status(&disk(Some((0, 0)))), Status::Warn);
}

#[test]
fn config_fails_with_every_problem() {
    assert_eq!(status(&config(Ok((2, 1)))), Status::Pass);
    let f = config(Err(vec!["listen: bad".into(), "queues.x.lease: bad".into()]));
    assert_eq!(f, Finding::new("config", Status::Fail, "listen: bad; queues.x.lease: bad"));
}

#[test]
fn the_report_counts_and_gates_on_failures() {
    let r = report(vec![
        (sentry(true), Duration::from_micros(1_234)),
        (sentry(false), Duration::ZERO),
        (readiness("ready"), Duration::ZERO),
    ]);
    assert!(r.ok);
    assert_eq!((r.passed, r.warned, r.failed), (2, 1, 0));
    assert_eq!(r.checks[0].duration_ms, 1.23);
    assert_eq!(r.checks[1].status, "warn");
    let r = report(vec![(readiness("not_ready"), Duration::ZERO)]);
    assert!(!r.ok);
    assert_eq!(r.failed, 1);
}

#[test]
fn the_server_is_reachable_or_not() {
    assert_eq!(status(&reachable("http://127.0.0.1:7433", Ok("0.1.0"))), Status::Pass);
    let f = reachable("http://127.0.0.1:1", Err("cannot reach the rampart server".into()));
    assert_eq!(f, Finding::new("server", Status::Fail, "cannot reach the rampart server"));
}

#[test]
fn nodes_pass_when_recent_and_in_time_warn_when_stale_and_fail_when_skewed() {
    let node = |name: &str, secs_ago: i64, skew_ms: i64| NodeClock {
        name: name.into(),
        node_at: UnixMillis(NOW.0 - secs_ago * 1_000 + skew_ms),
        db_at: UnixMillis(NOW.0 - secs_ago * 1_000),
    };
    let bound = Some(Duration::from_secs(35));
    let fine = [node("a:7433 (pid 1)", 2, 40), node("b:7433 (pid 2)", 8, -300)];
    assert_eq!(status(&nodes("postgres", &fine, NOW, bound)), Status::Pass);
    assert_eq!(status(&nodes("sqlite", &[], NOW, bound)), Status::Pass);
    let stale = [node("a:7433 (pid 1)", 2, 0), node("b:7433 (pid 2)", 300, 0)];
    let f = nodes("postgres", &stale, NOW, bound);
    assert_eq!(f.status, Status::Warn);
    assert!(f.detail.contains("b:7433 (pid 2) (last seen 5m ago)") && !f.detail.contains("pid 1"), "{f:?}");
    let skewed = [node("a:7433 (pid 1)", 2, 0), node("b:7433 (pid 2)", 2, 1_500)];
    let f = nodes("postgres", &skewed, NOW, bound);
    assert_eq!(f.status, Status::Fail);
    assert!(f.detail.contains("b:7433 (pid 2) 1500 ms ahead of the database"), "{f:?}");
    assert_eq!(status(&nodes("postgres", &[], NOW, bound)), Status::Warn);
    assert_eq!(status(&nodes("postgres", &fine, NOW, None)), Status::Warn);
}
