//! Request bodies read strictly, in process on either store: one JSON value
//! and nothing after it, objects where the shape is an object, a JSON
//! content type, payloads and results no deeper than 128 levels and no
//! number beyond f64. Each refusal names the field and writes nothing.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::TestApp;

/// `depth` arrays inside each other around `1`.
fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

/// The number of jobs of queue `q` in any state but `completed`.
async fn live_jobs(app: &TestApp) -> u64 {
    let a = app.send(Method::GET, "/v1/queues/q", None).await;
    if a.status == StatusCode::NOT_FOUND {
        return 0;
    }
    let counts = &a.body["counts"];
    ["available", "scheduled", "active", "dead"].iter().map(|s| counts[s].as_u64().unwrap_or(0)).sum()
}

#[tokio::test]
async fn trailing_data_and_arrays_for_objects_are_refused() {
    let app = TestApp::new().await;
    let cases: Vec<(Method, &str, &str, &str, &str)> = vec![
        (Method::POST, "/v1/queues/q/jobs", r#"{"payload":1}xyz"#, "INVALID_JSON", "trailing"),
        (Method::POST, "/v1/queues/q/jobs", r#"{"payload":1} {"payload":2}"#, "INVALID_JSON", "trailing"),
        (Method::POST, "/v1/keys", r#"["name","admin"]"#, "INVALID_REQUEST", "object"),
        (Method::POST, "/v1/queues/q/jobs", r#"[1]"#, "INVALID_REQUEST", "object"),
        (Method::POST, "/v1/queues/q/jobs/batch", r#"{"jobs":[[1]]}"#, "INVALID_REQUEST", "jobs[0]"),
        (Method::POST, "/v1/queues/q/jobs/batch", r#"[[{"payload":1}]]"#, "INVALID_REQUEST", "object"),
        (Method::POST, "/v1/ratelimit/check", r#"{"checks":[["p","k"]]}"#, "INVALID_REQUEST", "checks[0]"),
    ];
    for (method, path, body, code, needle) in cases {
        let a = app.send(method.clone(), path, Some(body)).await;
        assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, code), "{method} {path} {body}: {}", a.body);
        assert!(a.message().contains(needle), "{method} {path} {body}: `{}` should mention `{needle}`", a.message());
    }
    let keys = app.send(Method::GET, "/v1/keys", None).await;
    assert!(keys.body["keys"].as_array().unwrap().iter().all(|k| k["name"] != "name"), "{}", keys.body);
    assert_eq!(live_jobs(&app).await, 0);
    // White space around the value is still fine, and so is an array where the shape is one.
    let ok = app.send(Method::POST, "/v1/queues/q/jobs", Some(" \n{\"payload\":[1,2]}\r\n ")).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
}

#[tokio::test]
async fn a_body_that_says_it_is_not_json_is_refused_with_415() {
    let app = TestApp::new().await;
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "json"] {
        let (status, body) = typed(&app, "/v1/queues/q/jobs", Some(content_type), r#"{"payload":1}"#).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}: {body}");
        assert_eq!(body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE", "{content_type}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(content_type) && message.contains("application/json"), "{message}");
    }
    assert_eq!(live_jobs(&app).await, 0);
    // JSON types with parameters or a suffix, any case, are JSON; so is a
    // body with no content type at all (as `curl -H 'content-type:'` sends).
    for content_type in [
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("Application/JSON"),
        Some("application/vnd.api+json"),
        None,
    ] {
        let (status, body) = typed(&app, "/v1/queues/q/jobs", content_type, r#"{"payload":1}"#).await;
        assert_eq!(status, StatusCode::CREATED, "{content_type:?}: {body}");
    }
    // A request without a body may say anything.
    let (status, body) = typed(&app, "/v1/queues/q/pause", Some("text/plain"), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// POSTs `body` as admin with this `Content-Type` (none when `None`).
async fn typed(app: &TestApp, path: &str, content_type: Option<&str>, body: &str) -> (StatusCode, serde_json::Value) {
    use axum::body::Body;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let mut req = axum::http::Request::post(path).header("authorization", format!("Bearer {}", app.keys["admin"]));
    if let Some(content_type) = content_type {
        req = req.header("content-type", content_type);
    }
    let resp = app.router.clone().oneshot(req.body(Body::from(body.to_string())).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test]
async fn payloads_and_results_deeper_than_128_levels_are_refused_naming_the_field() {
    let app = TestApp::new().await;
    let deep = nested(100_000);
    let cases = vec![
        ("/v1/queues/q/jobs".to_string(), format!(r#"{{"payload":{deep}}}"#), "payload"),
        ("/v1/queues/q/jobs".to_string(), format!(r#"{{"payload":{}}}"#, nested(129)), "payload"),
        (
            "/v1/queues/q/jobs/batch".to_string(),
            format!(r#"{{"jobs":[{{"payload":1}},{{"payload":{deep}}}]}}"#),
            "jobs[1].payload",
        ),
    ];
    for (path, body, field) in &cases {
        let a = app.send(Method::POST, path, Some(body)).await;
        assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, "INVALID_REQUEST"), "{path}: {}", a.body);
        assert!(a.message().contains(&format!("`{field}`")), "{path}: `{}` should name `{field}`", a.message());
        assert!(a.message().contains("128"), "{path}: `{}` should state the limit", a.message());
    }
    assert_eq!(live_jobs(&app).await, 0);
    let cron = app
        .send(Method::PUT, "/v1/cron/deep", Some(&format!(r#"{{"schedule":"@hourly","queue":"q","payload":{deep}}}"#)))
        .await;
    assert_eq!(cron.status, StatusCode::BAD_REQUEST, "{}", cron.body);
    assert!(cron.message().contains("`payload`"), "{}", cron.message());
    assert_eq!(app.send(Method::GET, "/v1/cron/deep", None).await.status, StatusCode::NOT_FOUND);

    // 128 levels, strings holding brackets and escaped quotes, are fine.
    // (The answers carrying it are deeper than serde_json's own limit for a
    // `Value`, so this test reads none of them.)
    let at_limit = format!(r#"{{"payload":[{{"a":"[[[{{\"]]]","b":{}}}]}}"#, nested(126));
    let a = app.send(Method::POST, "/v1/queues/at-limit/jobs", Some(&at_limit)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let id = app.enqueue("q", r#"{"payload":{}}"#).await;
    let job = app.lease("q", 1).await.remove(0);
    assert_eq!(job["id"], id.as_str());
    let token = job["lease_token"].as_str().unwrap();
    let deep_result = format!(r#"{{"lease_token":"{token}","result":{deep}}}"#);
    let a = app.send_as("worker", Method::POST, &format!("/v1/jobs/{id}/complete"), Some(&deep_result)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(a.message().contains("`result`"), "{}", a.message());
    let acks = format!(r#"{{"complete":[{{"id":"{id}","lease_token":"{token}","result":{deep}}}]}}"#);
    let a = app.send_as("worker", Method::POST, "/v1/acks", Some(&acks)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(a.message().contains("`complete[0].result`"), "{}", a.message());
    assert_eq!(app.job(&id).await["state"], "active", "a refused ack changes nothing");
    let ok = format!(r#"{{"lease_token":"{token}","result":{}}}"#, nested(128));
    let a = app.send_as("worker", Method::POST, &format!("/v1/jobs/{id}/complete"), Some(&ok)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

#[tokio::test]
async fn numbers_beyond_f64_are_refused_naming_the_field() {
    let app = TestApp::new().await;
    let huge = format!("1{}", "0".repeat(400));
    for payload in ["1e999", "-1E+999", "[1,{\"a\":2e400}]", huge.as_str()] {
        let a = app.send(Method::POST, "/v1/queues/q/jobs", Some(&format!(r#"{{"payload":{payload}}}"#))).await;
        assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, "INVALID_REQUEST"), "{payload}: {}", a.body);
        assert!(a.message().contains("`payload`"), "{payload}: {}", a.message());
    }
    assert_eq!(live_jobs(&app).await, 0);
    // Small, negative, fractional and underflowing numbers, and "1e999" as a string, keep their text.
    let kept = r#"{"a":1e300,"b":-0.5e-3,"c":1e-999,"d":"1e999","e":12345678901234567890123}"#;
    let id = app.enqueue("q", &format!(r#"{{"payload":{kept}}}"#)).await;
    let job = app.job(&id).await;
    assert_eq!(job["payload"], serde_json::from_str::<serde_json::Value>(kept).unwrap());
    let a = app.send(Method::PUT, "/v1/ratelimit/policies/p", Some(r#"{"limit":1e999,"window":"1s"}"#)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    let batch = json!({"jobs": [{"payload": 1}]}).to_string().replace("1}", "1e999}");
    let a = app.send(Method::POST, "/v1/queues/q/jobs/batch", Some(&batch)).await;
    assert!(a.message().contains("`jobs[0].payload`"), "{batch}: {}", a.body);
}
