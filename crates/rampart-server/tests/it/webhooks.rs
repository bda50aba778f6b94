//! Webhook intake end to end in process: `POST /in/{source}` verified on
//! raw bytes, logged and enqueued in one transaction, duplicates dropped,
//! forged, stale, unsigned and oversized requests refused and logged
//! without their bodies; the delivery log following its job; replay;
//! sources put through the API; Slack's challenge.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rampart_core::id::SourceName;
use rampart_server::config::Config;
use rampart_webhook::scheme::mac;
use rampart_webhook::{HmacAlgorithm, SourceSpec};
use serde_json::Value;

use crate::harness::{Answer, T0, TestApp};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW_S: i64 = T0.0 / 1000;

fn source(name: &str, spec: SourceSpec) -> (SourceName, rampart_webhook::Source) {
    let name = SourceName::new(name).unwrap();
    let source = spec.validate(&name).unwrap();
    (name, source)
}

/// An app with a `standard` source `orders` (queue `orders`, max 1 KiB
/// bodies, tenant at `/org`), a Slack source and a `none` one.
async fn app() -> TestApp {
    let mut config = Config::default();
    config.webhooks.sources.extend([
        source(
            "orders",
            SourceSpec {
                scheme: Some("standard".into()),
                secret: Some(SECRET.into()),
                tenant: Some("/org".into()),
                max_body_bytes: Some(1024),
                ..Default::default()
            },
        ),
        source(
            "slack",
            SourceSpec { scheme: Some("slack".into()), secret: Some("slack-secret".into()), ..Default::default() },
        ),
        source("open", SourceSpec { scheme: Some("none".into()), ..Default::default() }),
    ]);
    let receipts =
        rampart_server::config::QueueConfig { idempotency_window: Duration::from_secs(3600), ..Default::default() };
    config.queues.insert(rampart_core::id::QueueName::new("receipts").unwrap(), receipts);
    TestApp::with_config(config).await
}

fn standard_signature(id: &str, ts: i64, body: &str) -> String {
    let key = STANDARD.decode(SECRET.trim_start_matches("whsec_")).unwrap();
    let ts = ts.to_string();
    let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts.as_bytes(), b".", body.as_bytes()];
    format!("v1,{}", STANDARD.encode(mac(HmacAlgorithm::Sha256, &key, &parts)))
}

async fn post(app: &TestApp, id: &str, ts: i64, signature: &str, body: &str) -> Answer {
    app.call(Method::POST, "/in/orders")
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", &ts.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
}

async fn signed(app: &TestApp, id: &str, body: &str) -> Answer {
    post(app, id, NOW_S, &standard_signature(id, NOW_S, body), body).await
}

async fn get(app: &TestApp, path: &str) -> Value {
    let a = app.send(Method::GET, path, None).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
    a.body
}

#[tokio::test]
async fn a_verified_event_is_logged_and_enqueued_and_its_redelivery_is_a_duplicate() {
    let app = app().await;
    let body = r#"{"type":"order.paid","org":"acme","data":{"id":7}}"#;
    let first = signed(&app, "msg_1", body).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!((first.body["duplicate"].as_bool(), first.body["status"].as_str()), (Some(false), Some("pending")));
    assert_eq!(first.body["event_id"], "msg_1");
    let job = app.job(first.body["job_id"].as_str().unwrap()).await;
    assert_eq!(job["queue"], "orders");
    assert_eq!(job["payload"]["body"]["data"]["id"], 7);
    assert_eq!(
        (job["payload"]["event_type"].as_str(), job["payload"]["tenant"].as_str()),
        (Some("order.paid"), Some("acme"))
    );
    assert_eq!(job["tenant"], "acme", "the job carries the tenant too");
    // The log keeps the raw body and the headers, the signature masked.
    let id = first.body["delivery_id"].as_str().unwrap();
    let d = get(&app, &format!("/v1/webhooks/deliveries/{id}")).await;
    assert_eq!(
        (d["status"].as_str(), d["tenant"].as_str(), d["body"].as_str()),
        (Some("pending"), Some("acme"), Some(body))
    );
    let sig = d["headers"].as_array().unwrap().iter().find(|h| h[0] == "webhook-signature").unwrap();
    assert_eq!(sig[1], "***");
    assert_eq!(d["job"]["id"], first.body["job_id"]);
    // The provider retries: 200, duplicate, the original's status, no second job.
    let again = signed(&app, "msg_1", body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["original_delivery_id"], first.body["delivery_id"]);
    assert_eq!(again.body["job_id"], first.body["job_id"]);
    assert_eq!(app.lease("orders", 10).await.len(), 1);
    let again = signed(&app, "msg_1", body).await;
    assert_eq!(again.body["status"], "processing", "the original's status follows its job");
    let dups = get(&app, "/v1/webhooks/deliveries?status=duplicate").await;
    assert_eq!(dups["deliveries"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn forged_stale_unsigned_changed_and_oversized_requests_are_refused_and_logged_without_bodies() {
    let app = app().await;
    let body = r#"{"type":"order.paid","org":"acme"}"#;
    let good = standard_signature("msg_2", NOW_S, body);
    let cases = [
        (post(&app, "msg_2", NOW_S, "v1,Zm9yZ2Vk", body).await, "SIGNATURE_INVALID"),
        (post(&app, "msg_2", NOW_S, &good, &body.replace("acme", "acmf")).await, "SIGNATURE_INVALID"),
        (
            post(&app, "msg_2", NOW_S - 301, &standard_signature("msg_2", NOW_S - 301, body), body).await,
            "TIMESTAMP_STALE",
        ),
        (
            post(&app, "msg_2", NOW_S + 301, &standard_signature("msg_2", NOW_S + 301, body), body).await,
            "TIMESTAMP_STALE",
        ),
        (app.call(Method::POST, "/in/orders").body(body).send().await, "SIGNATURE_MISSING"),
    ];
    for (answer, code) in &cases {
        assert_eq!((answer.status, answer.code()), (StatusCode::UNAUTHORIZED, *code), "{}", answer.body);
    }
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let too_large = post(&app, "msg_3", NOW_S, &standard_signature("msg_3", NOW_S, &big), &big).await;
    assert_eq!((too_large.status, too_large.code()), (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"));
    let unknown = app.call(Method::POST, "/in/nope").body("{}").send().await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "SOURCE_NOT_FOUND"));
    let metrics = app.send(Method::GET, "/metrics", None).await;
    let text = metrics.body.as_str().unwrap_or_default().to_string();
    assert!(text.contains(r#"rampart_webhook_requests_total{source="orders",outcome="rejected"} 5"#), "{text}");
    assert!(text.contains(r#"rampart_webhook_requests_total{source="orders",outcome="received"} 5"#), "{text}");
    let diag = get(&app, "/v1/admin/diagnostics/webhooks").await;
    let orders = diag["sources"].as_array().unwrap().iter().find(|s| s["name"] == "orders").unwrap().clone();
    assert_eq!((orders["rejected"].as_u64(), orders["verified"].as_u64()), (Some(5), Some(0)), "{orders}");
    assert!(orders["last_rejected_at"].is_string() && orders["last_event_at"].is_null(), "{orders}");
    let rejected = get(&app, "/v1/webhooks/deliveries?status=rejected&source=orders").await;
    let rows = rejected["deliveries"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r["body_kept"] == false && r["job_id"].is_null()), "{rejected}");
    assert!(rows.iter().any(|r| r["reason"].as_str().unwrap().starts_with("TIMESTAMP_STALE")));
    let one = get(&app, &format!("/v1/webhooks/deliveries/{}", rows[0]["id"].as_str().unwrap())).await;
    assert!(one["body"].is_null());
    // Nothing was enqueued, and the genuine request still goes through.
    assert!(app.lease("orders", 10).await.is_empty());
    assert_eq!(post(&app, "msg_2", NOW_S, &good, body).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_redelivery_after_the_window_is_taken_again_by_design() {
    let app = app().await;
    let body = r#"{"type":"t"}"#;
    assert_eq!(signed(&app, "msg_w", body).await.body["duplicate"], false);
    app.clock.advance(Duration::from_secs(7 * 24 * 3600));
    let now = NOW_S + 7 * 24 * 3600;
    let late = post(&app, "msg_w", now, &standard_signature("msg_w", now, body), body).await;
    assert_eq!((late.status, late.body["duplicate"].as_bool()), (StatusCode::OK, Some(false)), "{}", late.body);
}

#[tokio::test]
async fn fifty_concurrent_deliveries_of_one_event_make_one_job() {
    let app = app().await;
    let body = r#"{"type":"race"}"#;
    let signature = standard_signature("msg_race", NOW_S, body);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let request = axum::http::Request::post("/in/orders")
            .header("webhook-id", "msg_race")
            .header("webhook-timestamp", NOW_S.to_string())
            .header("webhook-signature", &signature)
            .extension(axum::extract::connect_info::MockConnectInfo(crate::harness::PEER))
            .body(axum::body::Body::from(body))
            .unwrap();
        tasks.spawn(tower::ServiceExt::oneshot(app.router.clone(), request));
    }
    let mut new = 0;
    while let Some(answer) = tasks.join_next().await {
        let answer = answer.unwrap().unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "every delivery is acknowledged");
        let bytes = http_body_util::BodyExt::collect(answer.into_body()).await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        new += usize::from(body["duplicate"] == false);
    }
    assert_eq!(new, 1);
    assert_eq!(app.lease("orders", 100).await.len(), 1);
}

#[tokio::test]
async fn the_log_follows_the_job_to_dead_letter_and_replay_brings_it_back() {
    let app = app().await;
    let first = signed(&app, "msg_d", r#"{"type":"t","org":"acme"}"#).await;
    let (delivery, job) = (first.body["delivery_id"].as_str().unwrap(), first.body["job_id"].as_str().unwrap());
    for attempt in 1..=3 {
        let leased = app.lease("orders", 1).await;
        let token = leased[0]["lease_token"].as_str().unwrap();
        let fail = format!(r#"{{"lease_token":"{token}","error":"handler crashed {attempt}","retryable":true}}"#);
        let a = app.send(Method::POST, &format!("/v1/jobs/{job}/fail"), Some(&fail)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        let d = get(&app, &format!("/v1/webhooks/deliveries/{delivery}")).await;
        assert_eq!(d["attempts"], attempt);
        if attempt < 3 {
            assert_eq!(d["status"], "failed");
            app.clock.advance(Duration::from_secs(3600));
            app.engine.promote_once().await.unwrap();
        } else {
            assert_eq!(
                (d["status"].as_str(), d["last_error"].as_str()),
                (Some("dead_letter"), Some("handler crashed 3"))
            );
        }
    }
    let dead = get(&app, "/v1/webhooks/deliveries?status=dead_letter&tenant=acme").await;
    assert_eq!(dead["deliveries"].as_array().unwrap().len(), 1);
    let replayed = app.send(Method::POST, "/v1/webhooks/deliveries/replay", Some(r#"{"source":"orders"}"#)).await;
    assert_eq!((replayed.status, replayed.body["replayed"].as_u64()), (StatusCode::OK, Some(1)), "{}", replayed.body);
    assert_eq!(get(&app, &format!("/v1/webhooks/deliveries/{delivery}")).await["status"], "pending");
    let again = app.send(Method::POST, &format!("/v1/webhooks/deliveries/{delivery}/replay"), None).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "DELIVERY_NOT_DEAD"));
}

#[tokio::test]
async fn sources_put_through_the_api_take_requests_and_never_show_secrets() {
    let app = app().await;
    let put = app
        .send(
            Method::PUT,
            "/v1/webhooks/sources/gh",
            Some(r#"{"scheme":"github","secret":"It's a Secret to Everybody","queue":"github"}"#),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(
        (put.body["origin"].as_str(), put.body["event_id"][0].as_str()),
        (Some("api"), Some("x-github-delivery"))
    );
    assert!(!put.body.to_string().contains("Everybody"));
    let a = app
        .call(Method::POST, "/in/gh")
        .header("x-github-delivery", "72d3162e")
        .header("x-github-event", "ping")
        .header("x-hub-signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
        .body("Hello, World!")
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["event_id"], "72d3162e");
    let list = get(&app, "/v1/webhooks/sources").await;
    let names: Vec<&str> = list["sources"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["gh", "open", "orders", "slack"]);
    let configured = app.send(Method::PUT, "/v1/webhooks/sources/orders", Some(r#"{"scheme":"none"}"#)).await;
    assert_eq!((configured.status, configured.code()), (StatusCode::CONFLICT, "SOURCE_IN_CONFIG"));
    let invalid = app
        .send(Method::PUT, "/v1/webhooks/sources/x", Some(r#"{"scheme":"twilio","secret":"t","public_url":"sms"}"#))
        .await;
    assert_eq!((invalid.status, invalid.code()), (StatusCode::BAD_REQUEST, "INVALID_SOURCE"));
    assert!(invalid.message().contains("public_url"), "{}", invalid.message());
    assert_eq!(app.send(Method::DELETE, "/v1/webhooks/sources/gh", None).await.status, StatusCode::NO_CONTENT);
    let gone = app.call(Method::POST, "/in/gh").body("Hello, World!").send().await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn slacks_url_verification_is_answered_inline_once_verified() {
    let app = app().await;
    let body =
        r#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let sig = format!(
        "v0={}",
        hex::encode(mac(HmacAlgorithm::Sha256, b"slack-secret", &[format!("v0:{NOW_S}:").as_bytes(), body.as_bytes()]))
    );
    let a = app
        .call(Method::POST, "/in/slack")
        .header("x-slack-request-timestamp", &NOW_S.to_string())
        .header("x-slack-signature", &sig)
        .body(body)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["challenge"], "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
    let forged = app
        .call(Method::POST, "/in/slack")
        .header("x-slack-request-timestamp", &NOW_S.to_string())
        .header("x-slack-signature", "v0=00")
        .body(body)
        .send()
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    // A `none` source takes anything, its id the body's hash.
    let open = app.call(Method::POST, "/in/open").body("a=1").send().await;
    assert_eq!(open.status, StatusCode::OK, "{}", open.body);
    assert!(open.body["event_id"].as_str().unwrap().starts_with("sha256:"));
}

#[tokio::test]
async fn an_idempotency_key_answers_the_same_job_within_its_window() {
    let app = app().await;
    let enqueue = |key: &'static str| {
        app.call(Method::POST, "/v1/queues/mail/jobs")
            .role("producer")
            .header("idempotency-key", key)
            .body(r#"{"payload":{"to":"a@example.com"}}"#)
            .send()
    };
    let first = enqueue("order-7-receipt").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    // The job finishes: a unique_key would let a second one in; the idempotency key does not.
    let leased = app.lease("mail", 1).await;
    let token = leased[0]["lease_token"].as_str().unwrap();
    let id = first.body["id"].as_str().unwrap();
    let done = app
        .send(Method::POST, &format!("/v1/jobs/{id}/complete"), Some(&format!(r#"{{"lease_token":"{token}"}}"#)))
        .await;
    assert_eq!(done.status, StatusCode::OK);
    let again = enqueue("order-7-receipt").await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (StatusCode::OK, "true"));
    assert_eq!((again.body["id"].as_str(), again.body["duplicate"].as_bool()), (Some(id), Some(true)));
    assert_eq!(again.body["state"], "completed");
    assert_eq!(enqueue("another").await.status, StatusCode::CREATED);
    // A queue's own window: `receipts` keeps its keys an hour.
    let receipt = || {
        app.call(Method::POST, "/v1/queues/receipts/jobs")
            .role("producer")
            .header("idempotency-key", "order-7-receipt")
            .body(r#"{"payload":{}}"#)
            .send()
    };
    assert_eq!(receipt().await.status, StatusCode::CREATED);
    app.clock.advance(Duration::from_secs(3599));
    assert_eq!(receipt().await.status, StatusCode::OK, "within the hour the key answers the same job");
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(receipt().await.status, StatusCode::CREATED, "after its hour the key is new");
    app.clock.advance(Duration::from_secs(7 * 24 * 3600 - 3600));
    assert_eq!(enqueue("order-7-receipt").await.status, StatusCode::CREATED, "after the window the key is new");
    let bad = app
        .call(Method::POST, "/v1/queues/mail/jobs")
        .role("producer")
        .header("idempotency-key", " ")
        .body("{}")
        .send()
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_builtin_cleanup_runs_daily_at_four_and_purges_in_its_history() {
    let app = app().await;
    let builtin = get(&app, "/v1/cron/rampart.webhooks").await;
    assert_eq!((builtin["source"].as_str(), builtin["schedule"].as_str()), (Some("builtin"), Some("0 4 * * *")));
    for i in 0..3 {
        assert_eq!(signed(&app, &format!("msg_r{i}"), r#"{"type":"t"}"#).await.status, StatusCode::OK);
    }
    assert_eq!(app.call(Method::POST, "/in/orders").body("{}").send().await.status, StatusCode::UNAUTHORIZED);
    // A day on, the bodies go; eight days on, the rows and the event ids.
    app.clock.advance(Duration::from_secs(25 * 3600));
    assert_eq!(app.send(Method::POST, "/v1/cron/rampart.webhooks/trigger", None).await.status, StatusCode::OK);
    let report = app.pruner.lock().await.run_once().await.unwrap().expect("the run was handed to the pruner");
    let w = report.webhooks.unwrap();
    assert_eq!((w.bodies, w.deliveries, w.expired_keys), (3, 0, 0));
    let log = get(&app, "/v1/webhooks/deliveries").await;
    assert!(log["deliveries"].as_array().unwrap().iter().all(|d| d["body_kept"] == false));
    app.clock.advance(Duration::from_secs(7 * 24 * 3600));
    app.send(Method::POST, "/v1/cron/rampart.webhooks/trigger", None).await;
    let w = app.pruner.lock().await.run_once().await.unwrap().unwrap().webhooks.unwrap();
    assert_eq!((w.deliveries, w.expired_keys), (4, 3));
    assert!(get(&app, "/v1/webhooks/deliveries").await["deliveries"].as_array().unwrap().is_empty());
    let runs = get(&app, "/v1/cron/rampart.webhooks/runs").await;
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["status"], "completed");
    assert_eq!(runs[0]["result"]["deliveries"], 4);
}

#[tokio::test]
async fn twilio_without_a_public_url_is_checked_against_the_url_a_trusted_proxy_received() {
    let mut config = Config::default();
    config.ratelimit.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    config.webhooks.sources.extend([source(
        "sms",
        SourceSpec { scheme: Some("twilio".into()), secret: Some("token".into()), ..Default::default() },
    )]);
    let app = TestApp::with_config(config).await;
    let form = "Body=Hello&From=%2B15557654321";
    let signed = "https://example.com/in/smsBodyHelloFrom+15557654321";
    let signature = STANDARD.encode(mac(HmacAlgorithm::Sha1, b"token", &[signed.as_bytes()]));
    let intake = |peer: &'static str| {
        app.call(Method::POST, "/in/sms")
            .from(peer)
            .header("host", "rampart.internal:7433")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "example.com")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", &signature)
            .body(form)
            .send()
    };
    let via_proxy = intake("127.0.0.1").await;
    assert_eq!(via_proxy.status, StatusCode::OK, "{}", via_proxy.body);
    let forged = intake("203.0.113.7").await;
    assert_eq!(
        (forged.status, forged.code()),
        (StatusCode::UNAUTHORIZED, "SIGNATURE_INVALID"),
        "a stranger's forwarded headers are not believed: the URL is http://rampart.internal:7433/in/sms"
    );
}
