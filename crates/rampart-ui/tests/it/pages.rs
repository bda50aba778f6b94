//! Every page with each role: it renders (200, one layout, labelled), a
//! reader sees everything but no button that changes anything, an admin sees
//! the buttons; large payloads are cut.

use rampart_core::auth::Role;
use reqwest::StatusCode;

use crate::harness::{App, eventually};

/// Every page, given a queue `q` with dead job `id`.
fn pages(id: &str) -> Vec<String> {
    [
        "/ui/",
        "/ui/live/overview",
        "/ui/queues/q",
        "/ui/queues/q?state=available",
        "/ui/queues/q/live",
        &format!("/ui/jobs/{id}"),
        &format!("/ui/jobs/{id}?full=payload"),
        "/ui/alerts",
        "/ui/cron",
        "/ui/breakers",
        "/ui/limits",
        "/ui/diagnostics",
        "/ui/audit",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

#[tokio::test]
async fn every_page_renders_for_every_role_and_only_admins_get_buttons() {
    let app = App::start().await;
    let id = app.dead_job("q", r#"{"to":"a@example.com"}"#, "SMTP said 550: mailbox unavailable").await;
    let mut sessions = vec![(Role::Admin, app.sign_in(&app.admin_key).await)];
    for role in [Role::Reader, Role::Producer, Role::Worker] {
        let key = app.key(&format!("k-{role}"), role).await;
        sessions.push((role, app.sign_in(&key).await));
    }
    for (role, session) in &sessions {
        for path in pages(&id) {
            let page = app.get(session, &path).await;
            assert_eq!(page.status, StatusCode::OK, "{role} {path}: {}", page.body);
            let fragment = path.contains("/live");
            if !fragment {
                assert!(page.body.starts_with("<!DOCTYPE html>"), "{role} {path}");
                assert!(page.body.contains("<main id=\"main\">"), "{role} {path}");
                assert!(page.body.contains("name=\"viewport\""), "{role} {path}");
            }
            let buttons = page.body.matches("method=\"post\"").count();
            // Sign-out is every role's one form.
            if *role != Role::Admin && !fragment {
                assert_eq!(buttons, 1, "{role} sees no action on {path}: {}", page.body);
            }
        }
    }
    let admin = &sessions[0].1;
    let job = app.get(admin, &format!("/ui/jobs/{id}")).await.body;
    assert!(job.contains("SMTP said 550: mailbox unavailable"), "the error is on the job page");
    assert!(job.contains(&format!("action=\"/ui/jobs/{id}/retry\"")), "an admin can retry a dead job");
    assert!(job.contains("&quot;to&quot;: &quot;a@example.com&quot;"), "the payload is pretty JSON: {job}");
    let queue = app.get(admin, "/ui/queues/q").await.body;
    for action in ["pause", "retry-dead", "purge-dead"] {
        assert!(queue.contains(&format!("action=\"/ui/queues/q/{action}\"")), "{action}");
    }
    assert!(queue.contains(&format!("href=\"/ui/jobs/{id}\"")), "the dead job is listed");
    let reader = &sessions[1].1;
    let reader_job = app.get(reader, &format!("/ui/jobs/{id}")).await.body;
    assert!(reader_job.contains("SMTP said 550"), "a reader reads everything");
    let diagnostics = app.get(reader, "/ui/diagnostics").await.body;
    assert!(diagnostics.contains("need an admin key"), "as in the API: {diagnostics}");
}

#[tokio::test]
async fn counts_come_from_the_sampler_and_refresh_in_place() {
    let app = App::start().await;
    app.dead_job("mail", "{}", "boom").await;
    let session = app.sign_in(&app.admin_key).await;
    let overview = app.get(&session, "/ui/").await.body;
    assert!(overview.contains("hx-get=\"/ui/live/overview\""), "the table polls: {overview}");
    assert!(overview.contains("hx-trigger=\"every 5s\""));
    assert!(overview.contains("<script src=\"/ui/assets/htmx.min.js\" defer>"));
    // Once the sampler ran, the queue's dead count shows.
    eventually("the sampled dead count", || async {
        let table = app.get(&session, "/ui/live/overview").await.body;
        (table.contains("href=\"/ui/queues/mail\"") && table.contains("<td class=\"num\">1</td>")).then_some(())
    })
    .await;
}

#[tokio::test]
async fn jobs_page_by_keyset_cursor_and_search_by_id_or_unique_key_opens_a_job() {
    let app = App::start().await;
    let mut ids = Vec::new();
    for n in 0..55 {
        ids.push(app.enqueue("bulk", &format!(r#"{{"n":{n}}}"#), 3).await);
    }
    let session = app.sign_in(&app.admin_key).await;
    let first = app.get(&session, "/ui/queues/bulk?state=available").await.body;
    assert!(first.contains(&ids[49]) && !first.contains(&format!("/ui/jobs/{}\"", ids[50])), "50 per page");
    let next = format!("/ui/queues/bulk?state=available&amp;after={}#jobs", ids[49]);
    assert!(first.contains(&next), "a next-page link after the last id: {first}");
    let second = app.get(&session, &next.replace("&amp;", "&")).await.body;
    assert!(second.contains(&ids[54]) && !second.contains(&format!("/ui/jobs/{}\"", ids[0])));
    assert!(!second.contains("Next page"));

    let found = app.get(&session, &format!("/ui/jobs?id={}", ids[3])).await;
    assert_eq!(found.location, Some(format!("/ui/jobs/{}", ids[3])));
    let keyed: rampart_client::wire::EnqueueRequest =
        serde_json::from_str(r#"{"payload":{},"unique_key":"invoice-7"}"#).unwrap();
    let keyed = app.admin.enqueue("bulk", &keyed).await.unwrap().id.to_string();
    let by_key = app.get(&session, "/ui/queues/bulk/find?key=invoice-7").await;
    assert_eq!(by_key.location, Some(format!("/ui/jobs/{keyed}")));
    let no_key = app.get(&session, "/ui/queues/bulk/find?key=invoice-8").await;
    assert_eq!(no_key.status, StatusCode::NOT_FOUND);
    assert!(no_key.body.contains("no job of bulk has the unique key"), "{}", no_key.body);
    let bad = app.get(&session, "/ui/jobs?id=not-an-id").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.starts_with("<!DOCTYPE html>") && bad.body.contains("is not a job id"), "{}", bad.body);
    let missing = app.get(&session, "/ui/queues/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    let unknown = app.get(&session, "/ui/nothing/here").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body.contains("<!DOCTYPE html>"), "a page, not the API's JSON");
}

#[tokio::test]
async fn a_large_payload_is_cut_and_expanded_on_demand() {
    let app = App::start().await;
    let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(200_000));
    let id = app.enqueue("big", &big, 3).await;
    let session = app.sign_in(&app.admin_key).await;
    let page = app.get(&session, &format!("/ui/jobs/{id}")).await.body;
    assert!(page.len() < 20_000, "the page carries a few thousand characters of it: {}", page.len());
    assert!(page.contains(&format!("href=\"/ui/jobs/{id}?full=payload#payload\"")), "with a link to the rest");
    let full = app.get(&session, &format!("/ui/jobs/{id}?full=payload")).await.body;
    assert!(full.len() > 200_000, "shown whole on demand");
}
