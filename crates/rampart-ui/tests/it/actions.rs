//! Every action: refused to a reader and without this session's CSRF
//! token (changing nothing), done for an admin as the API does it, and
//! written to the audit log.

use rampart_client::wire::CronPut;
use rampart_core::auth::Role;
use reqwest::StatusCode;

use crate::harness::{App, Session, eventually};

/// Every action's path and form, given dead job `dead` and firing alert `alert`.
fn actions(dead: &str, alert: &str) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    vec![
        (format!("/ui/jobs/{dead}/retry"), vec![]),
        (format!("/ui/jobs/{dead}/cancel"), vec![]),
        (format!("/ui/jobs/{dead}/retry-edited"), vec![("payload", "{}")]),
        (format!("/ui/jobs/{dead}/release"), vec![]),
        (format!("/ui/jobs/{dead}/fail"), vec![("reason", "stuck")]),
        ("/ui/queues/q/bulk".into(), vec![("action", "retry"), ("state", "dead"), ("confirm", "yes")]),
        ("/ui/queues/q/pause".into(), vec![]),
        ("/ui/queues/q/resume".into(), vec![]),
        ("/ui/queues/q/retry-dead".into(), vec![]),
        ("/ui/queues/q/purge-dead".into(), vec![("confirm", "purge")]),
        (format!("/ui/alerts/{alert}/ack"), vec![]),
        ("/ui/alerts/silence".into(), vec![("duration", "1h"), ("reason", "deploy")]),
        ("/ui/cron/nightly/trigger".into(), vec![]),
        ("/ui/cron/nightly/pause".into(), vec![]),
        ("/ui/cron/nightly/resume".into(), vec![]),
        ("/ui/breakers/stripe/reset".into(), vec![]),
    ]
}

/// A server with a dead job in `q`, the alert it raised, a cron schedule
/// and a shared breaker.
async fn setup() -> (App, String, String) {
    // The alert stays firing however long the test takes to ack it.
    let app = App::start_with(|c| c.alerts.timing.resolve_after = 1000).await;
    let dead = app.dead_job("q", r#"{"n":1}"#, "boom").await;
    let schedule = CronPut {
        schedule: "@yearly".into(),
        timezone: None,
        queue: "reports".into(),
        payload: None,
        description: Some("the yearly report".into()),
        misfire: None,
        tenant: None,
        max_attempts: None,
    };
    app.admin.cron_put("nightly", &schedule).await.unwrap();
    app.admin.breaker_acquire("stripe").await.unwrap();
    let alert = eventually("the dead-letters alert", || async {
        let alerts = app.admin.alerts(Some("firing"), None, None).await.unwrap().alerts;
        alerts.into_iter().find(|a| a.rule == "dead_letters").map(|a| a.id)
    })
    .await;
    (app, dead, alert)
}

#[tokio::test]
async fn a_readers_posts_and_posts_without_the_csrf_token_are_refused_and_change_nothing() {
    let (app, dead, alert) = setup().await;
    let reader_key = app.key("viewer", Role::Reader).await;
    let reader = app.sign_in(&reader_key).await;
    let admin = app.sign_in(&app.admin_key).await;
    let forged = Session { csrf: "0".repeat(64), ..admin.clone() };
    let other = app.sign_in(&app.admin_key).await;
    for (path, form) in actions(&dead, &alert) {
        let answer = app.post(&reader, &path, &form).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "reader {path}: {}", answer.body);
        assert!(answer.body.contains("may only read"), "{}", answer.body);
        let missing = app.post_raw(&admin, &path, &form).await;
        assert_eq!(missing.status, StatusCode::FORBIDDEN, "no token {path}");
        assert!(missing.body.contains("security token"), "{}", missing.body);
        let wrong = app.post(&forged, &path, &form).await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "a wrong token {path}");
        // Another session's token is not this one's.
        let mixed = app.post(&Session { csrf: other.csrf.clone(), ..admin.clone() }, &path, &form).await;
        assert_eq!(mixed.status, StatusCode::FORBIDDEN, "another session's token {path}");
    }
    assert_eq!(app.job_state(&dead).await, "dead", "nothing changed");
    assert!(!app.admin.queue("q").await.unwrap().paused);
    let acked = app.admin.alert(&alert).await.unwrap();
    assert!(acked.acked_at.is_none());
    assert!(app.admin.alert_silences().await.unwrap().silences.is_empty());
    let audit = app.get(&admin, "/ui/audit").await.body;
    assert!(!audit.contains("job.retry"), "refused actions are not in the log");
}

#[tokio::test]
async fn an_admins_actions_do_what_the_api_does_and_are_audited() {
    let (app, dead, alert) = setup().await;
    let admin = app.sign_in(&app.admin_key).await;

    let retried = app.post(&admin, &format!("/ui/jobs/{dead}/retry"), &[]).await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER, "{}", retried.body);
    assert!(retried.location.unwrap().starts_with(&format!("/ui/jobs/{dead}?done=retried")));
    assert_eq!(app.job_state(&dead).await, "available");
    // Retrying a job that is not dead is the API's conflict, shown as a page.
    let again = app.post(&admin, &format!("/ui/jobs/{dead}/retry"), &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert!(again.body.starts_with("<!DOCTYPE html>"), "{}", again.body);
    let cancelled = app.post(&admin, &format!("/ui/jobs/{dead}/cancel"), &[]).await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER);
    assert_eq!(app.job_state(&dead).await, "cancelled");

    app.post(&admin, "/ui/queues/q/pause", &[]).await;
    assert!(app.admin.queue("q").await.unwrap().paused);
    app.post(&admin, "/ui/queues/q/resume", &[]).await;
    assert!(!app.admin.queue("q").await.unwrap().paused);

    let second = app.dead_job("q", "{}", "boom again").await;
    let unconfirmed = app.post(&admin, "/ui/queues/q/purge-dead", &[]).await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST, "a purge needs its confirmation");
    assert_eq!(app.job_state(&second).await, "dead", "nothing was deleted");
    let retry_all = app.post(&admin, "/ui/queues/q/retry-dead", &[]).await;
    assert!(retry_all.location.unwrap().contains("retried%201%20dead"));
    assert_eq!(app.job_state(&second).await, "available");
    // Out of the way of the next lease.
    app.admin.job_cancel(&second).await.unwrap();
    let third = app.dead_job("q", "{}", "boom a third time").await;
    let purged = app.post(&admin, "/ui/queues/q/purge-dead", &[("confirm", "purge")]).await;
    assert!(purged.location.unwrap().contains("purged%201%20dead"));
    assert!(app.admin.job(&third).await.is_err(), "purged");

    let ack = app.post(&admin, &format!("/ui/alerts/{alert}/ack"), &[]).await;
    assert_eq!(ack.status, StatusCode::SEE_OTHER, "{}", ack.body);
    assert_eq!(app.admin.alert(&alert).await.unwrap().acked_by.as_deref(), Some("admin"));
    let silence = app
        .post(
            &admin,
            "/ui/alerts/silence",
            &[("rule", "dead_letters"), ("subject", "q"), ("duration", "2h"), ("reason", "deploying")],
        )
        .await;
    assert_eq!(silence.status, StatusCode::SEE_OTHER, "{}", silence.body);
    let silences = app.admin.alert_silences().await.unwrap().silences;
    assert_eq!((silences.len(), silences[0].reason.as_str()), (1, "deploying"));
    let bad = app.post(&admin, "/ui/alerts/silence", &[("duration", "soon"), ("reason", "x")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("invalid duration"), "{}", bad.body);

    let run = app.post(&admin, "/ui/cron/nightly/trigger", &[]).await;
    assert!(run.location.unwrap().contains("ran%20nightly%20now"));
    assert_eq!(app.admin.cron_runs("nightly", None, None).await.unwrap().runs.len(), 1);
    app.post(&admin, "/ui/cron/nightly/pause", &[]).await;
    assert!(app.admin.cron_get("nightly").await.unwrap().paused);
    app.post(&admin, "/ui/cron/nightly/resume", &[]).await;
    assert!(!app.admin.cron_get("nightly").await.unwrap().paused);

    let reset = app.post(&admin, "/ui/breakers/stripe/reset", &[]).await;
    assert_eq!(reset.status, StatusCode::SEE_OTHER, "{}", reset.body);
    let unknown = app.post(&admin, "/ui/breakers/nobody/reset", &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let audit = app.get(&admin, "/ui/audit").await.body;
    for action in [
        "job.retry",
        "job.cancel",
        "queue.pause",
        "queue.resume",
        "queue.retry-dead",
        "queue.purge-dead",
        "alert.ack",
        "alert.silence",
        "cron.trigger",
        "cron.pause",
        "cron.resume",
        "breaker.reset",
        "session.sign_in",
    ] {
        assert!(audit.contains(&format!("<code>{action}</code>")), "{action} missing from the audit log");
    }
    assert!(audit.contains("<td>admin</td>"), "who did it");
}
