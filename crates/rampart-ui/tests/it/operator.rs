//! The operator's tools of a queue and a job: filters (tenant, unique key
//! in every state, time, text in recent payloads), bulk actions by filter
//! with their confirmation and progress, retry with an edited payload, and
//! release / fail of a job stuck active; each refused to a reader and
//! without the CSRF token, and written to the audit log.

use rampart_client::wire::{EnqueueRequest, HeartbeatRequest, LeaseRequest};
use rampart_core::auth::Role;
use reqwest::StatusCode;

use crate::harness::{App, eventually};

async fn enqueue(app: &App, queue: &str, body: &str) -> String {
    let req: EnqueueRequest = serde_json::from_str(body).unwrap();
    app.admin.enqueue(queue, &req).await.unwrap().id.to_string()
}

/// Leases `queue`'s next job as `worker`; answers its id and lease token.
async fn hold(app: &App, queue: &str, worker: &str) -> (String, String) {
    let req = LeaseRequest { worker: Some(worker.into()), max: Some(1), ..LeaseRequest::default() };
    let job = app.admin.lease(queue, &req).await.unwrap().jobs.remove(0);
    (job.id.to_string(), job.lease_token)
}

#[tokio::test]
async fn filters_narrow_the_list_and_a_unique_key_is_found_in_every_state() {
    let app = App::start().await;
    let acme = enqueue(&app, "f", r#"{"payload":{"to":"ann@acme.io"},"tenant":"acme","unique_key":"inv-1"}"#).await;
    let globex = enqueue(&app, "f", r#"{"payload":{"to":"bob@globex.io"},"tenant":"globex"}"#).await;
    // inv-1 completes, and a new job takes the key: two jobs, two states.
    let (id, token) = hold(&app, "f", "w").await;
    assert_eq!(id, acme);
    app.admin.complete(&id, &serde_json::from_str(&format!(r#"{{"lease_token":"{token}"}}"#)).unwrap()).await.unwrap();
    let again = enqueue(&app, "f", r#"{"payload":{"to":"cy@acme.io"},"tenant":"acme","unique_key":"inv-1"}"#).await;
    let session = app.sign_in(&app.admin_key).await;
    let row = |id: &str| format!("href=\"/ui/jobs/{id}\"");

    let by_tenant = app.get(&session, "/ui/queues/f?state=any&tenant=acme").await.body;
    assert!(by_tenant.contains(&row(&acme)) && by_tenant.contains(&row(&again)), "{by_tenant}");
    assert!(!by_tenant.contains(&row(&globex)));
    assert!(by_tenant.contains("jobs in any state, tenant `acme`"), "the filter in words");
    let by_key = app.get(&session, "/ui/queues/f?state=completed&key=inv-1").await.body;
    assert!(by_key.contains(&row(&acme)) && !by_key.contains(&row(&again)), "a finished job's key is found");
    let by_text = app.get(&session, "/ui/queues/f?state=any&text=globex.io").await.body;
    assert!(by_text.contains(&row(&globex)) && !by_text.contains(&row(&acme)), "{by_text}");
    assert!(by_text.contains("latest 20000 jobs of every queue"), "the window is stated: {by_text}");
    let future = app.get(&session, "/ui/queues/f?state=any&created_from=2100-01-01T00:00").await.body;
    assert!(future.contains("No jobs match."), "{future}");
    let bad = app.get(&session, "/ui/queues/f?created_from=soon").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("`created_from` is not a time"), "{}", bad.body);
    // The next page keeps the filter.
    for n in 0..52 {
        enqueue(&app, "f", &format!(r#"{{"payload":{{"n":{n}}},"tenant":"initech"}}"#)).await;
    }
    let first = app.get(&session, "/ui/queues/f?state=available&tenant=initech").await.body;
    assert!(first.contains("?state=available&amp;tenant=initech&amp;after="), "{first}");

    let two = app.get(&session, "/ui/queues/f/find?key=inv-1").await;
    assert_eq!(two.location.as_deref(), Some("/ui/queues/f?state=any&key=inv-1#jobs"), "both, listed");
    let none = app.get(&session, "/ui/queues/f/find?key=inv-9").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_bulk_retry_by_filter_is_confirmed_runs_in_the_background_and_is_audited() {
    let app = App::start().await;
    let mut acme = Vec::new();
    for n in 0..3 {
        acme.push(app.dead_job_with("b", &format!(r#"{{"n":{n}}}"#), "acme").await);
    }
    let other = app.dead_job_with("b", "{}", "globex").await;
    let admin = app.sign_in(&app.admin_key).await;
    let reader = app.sign_in(&app.key("viewer", Role::Reader).await).await;
    let confirm_path = "/ui/queues/b/bulk?action=retry&state=dead&tenant=acme";

    let queue = app.get(&admin, "/ui/queues/b?tenant=acme").await.body;
    assert!(queue.contains("href=\"/ui/queues/b/bulk?action=retry&amp;tenant=acme\""), "{queue}");
    let confirm = app.get(&admin, confirm_path).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    assert!(confirm.body.contains("<strong>3</strong> job(s) of <code>b</code> match: dead jobs, tenant `acme`"));
    assert!(confirm.body.contains("name=\"tenant\" value=\"acme\""), "the filter travels with the form");
    assert_eq!(app.get(&reader, confirm_path).await.status, StatusCode::FORBIDDEN, "a reader starts nothing");

    let form = [("action", "retry"), ("state", "dead"), ("tenant", "acme"), ("confirm", "yes")];
    let refused = app.post(&reader, "/ui/queues/b/bulk", &form).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let no_token = app.post_raw(&admin, "/ui/queues/b/bulk", &form).await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let unconfirmed = app.post(&admin, "/ui/queues/b/bulk", &form[..3]).await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.job_state(&acme[0]).await, "dead", "nothing was done");

    let started = app.post(&admin, "/ui/queues/b/bulk", &form).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let progress = started.location.unwrap();
    assert!(progress.starts_with("/ui/bulk/"), "{progress}");
    let page = eventually("the run to finish", || async {
        let page = app.get(&admin, &progress).await;
        page.body.contains("Finished").then_some(page)
    })
    .await;
    assert!(page.body.contains("<dt>Jobs retried</dt><dd>3</dd>"), "{}", page.body);
    for id in &acme {
        assert_eq!(app.job_state(id).await, "available");
    }
    assert_eq!(app.job_state(&other).await, "dead", "another tenant's job is left");
    let audit = app.get(&admin, "/ui/audit").await.body;
    assert!(
        audit.contains("<code>bulk.retry</code>") && audit.contains("started on 3 job(s): dead jobs, tenant `acme`")
    );
    assert!(audit.contains("<code>bulk.retry.end</code>") && audit.contains("finished: retried 3, 0 skipped"));
    assert_eq!(app.get(&admin, "/ui/bulk/999").await.status, StatusCode::NOT_FOUND);

    // A purge deletes finished jobs only, and says how many it left.
    let form = [("action", "purge"), ("state", "any"), ("confirm", "yes")];
    let purge = app.post(&admin, "/ui/queues/b/bulk", &form).await.location.unwrap();
    let page = eventually("the purge to finish", || async {
        let page = app.get(&admin, &purge).await;
        page.body.contains("Finished").then_some(page)
    })
    .await;
    assert!(page.body.contains("<dt>Jobs purged</dt><dd>1</dd>") && page.body.contains("<dt>Skipped</dt><dd>3 "));
    assert!(app.admin.job(&other).await.is_err(), "the dead one is gone");
    assert_eq!(app.job_state(&acme[0]).await, "available", "live ones stay");
}

#[tokio::test]
async fn a_retry_with_an_edited_payload_checks_the_json_and_keeps_the_original() {
    let app = App::start().await;
    let dead = app.dead_job("e", r#"{"to":"typo@exmaple.com"}"#, "bounced").await;
    let admin = app.sign_in(&app.admin_key).await;
    let page = app.get(&admin, &format!("/ui/jobs/{dead}")).await.body;
    assert!(page.contains(&format!("action=\"/ui/jobs/{dead}/retry-edited\"")), "{page}");
    assert!(page.contains("<label for=\"edited-payload\">"), "the field has a label");

    let path = format!("/ui/jobs/{dead}/retry-edited");
    let broken = app.post(&admin, &path, &[("payload", r#"{"to": "a@example.com""#)]).await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert!(broken.body.contains("the payload is not valid JSON"), "{}", broken.body);
    assert_eq!(app.job_state(&dead).await, "dead", "nothing was retried");
    let reader = app.sign_in(&app.key("viewer", Role::Reader).await).await;
    assert_eq!(app.post(&reader, &path, &[("payload", "{}")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.post_raw(&admin, &path, &[("payload", "{}")]).await.status, StatusCode::FORBIDDEN);

    let retried = app.post(&admin, &path, &[("payload", "{\n  \"to\": \"typo@example.com\"\n}")]).await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER, "{}", retried.body);
    let job = app.admin.job(&dead).await.unwrap();
    assert_eq!(job.state.to_string(), "available");
    assert_eq!(job.payload.get(), r#"{"to":"typo@example.com"}"#, "kept compact");
    let page = app.get(&admin, &format!("/ui/jobs/{dead}")).await.body;
    assert!(page.contains("The payload before this retry"), "{page}");
    assert!(page.contains("typo@exmaple.com"), "the original is in the history");
    let audit = app.get(&admin, "/ui/audit").await.body;
    assert!(audit.contains("<code>job.retry-edited</code>"));
}

#[tokio::test]
async fn a_job_stuck_active_shows_its_worker_and_heartbeat_and_is_released_or_failed() {
    let app = App::start().await;
    enqueue(&app, "s", r#"{"payload":{},"max_attempts":2}"#).await;
    enqueue(&app, "s", r#"{"payload":{},"max_attempts":1}"#).await;
    let (first, token) = hold(&app, "s", "worker-7").await;
    let beat: HeartbeatRequest = serde_json::from_str(&format!(r#"{{"lease_token":"{token}"}}"#)).unwrap();
    app.admin.heartbeat(&first, &beat).await.unwrap();
    let admin = app.sign_in(&app.admin_key).await;
    let page = app.get(&admin, &format!("/ui/jobs/{first}")).await.body;
    assert!(page.contains("<dt>Held by</dt><dd><code>worker-7</code></dd>"), "{page}");
    assert!(page.contains("<dt>Last heartbeat</dt><dd><time"), "{page}");
    assert!(page.contains(&format!("action=\"/ui/jobs/{first}/release\"")));
    assert!(page.contains(&format!("action=\"/ui/jobs/{first}/fail\"")));

    let reader = app.sign_in(&app.key("viewer", Role::Reader).await).await;
    let reader_page = app.get(&reader, &format!("/ui/jobs/{first}")).await.body;
    assert!(reader_page.contains("worker-7") && !reader_page.contains("/release\""), "a reader reads, no buttons");
    for action in ["release", "fail"] {
        let path = format!("/ui/jobs/{first}/{action}");
        assert_eq!(app.post(&reader, &path, &[]).await.status, StatusCode::FORBIDDEN, "{action}");
        assert_eq!(app.post_raw(&admin, &path, &[]).await.status, StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(app.job_state(&first).await, "active", "nothing changed");

    let released = app.post(&admin, &format!("/ui/jobs/{first}/release"), &[]).await;
    assert_eq!(released.status, StatusCode::SEE_OTHER, "{}", released.body);
    let job = app.admin.job(&first).await.unwrap();
    assert_eq!((job.state.to_string().as_str(), job.attempt), ("available", 0), "the attempt is not counted");
    // The worker's token no longer holds it; a second release finds nothing held.
    let ack = serde_json::from_str(&format!(r#"{{"lease_token":"{token}"}}"#)).unwrap();
    assert!(app.admin.complete(&first, &ack).await.is_err());
    let again = app.post(&admin, &format!("/ui/jobs/{first}/release"), &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);

    let (id, _) = hold(&app, "s", "worker-8").await;
    let failed = app.post(&admin, &format!("/ui/jobs/{id}/fail"), &[("reason", "hung on a socket")]).await;
    assert_eq!(failed.status, StatusCode::SEE_OTHER, "{}", failed.body);
    let job = app.admin.job(&id).await.unwrap();
    assert_ne!(job.state.to_string(), "active", "the retry policy took it");
    let error = job.last_error.unwrap();
    assert!(error.contains("failed by an operator (admin) from the dashboard: hung on a socket"), "{error}");
    let audit = app.get(&admin, "/ui/audit").await.body;
    assert!(audit.contains("<code>job.release</code>") && audit.contains("<code>job.fail</code>"));
}
