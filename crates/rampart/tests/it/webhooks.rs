//! Webhook intake against the real binary: acknowledged means durable
//! (1,000 intakes, SIGKILL, restart: every one in the log with its job),
//! and `rampart webhooks` reads the log and replays.

use rampart_webhook::HmacAlgorithm;
use rampart_webhook::scheme::mac;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::harness::TestServer;

const SECRET: &str = "a-github-webhook-secret";
/// One GitHub source handing its events to `github-events`.
pub(crate) const CONFIG: &str = r#"
[webhooks.gh]
scheme = "github"
secret = "a-github-webhook-secret"
queue = "github-events"
"#;

/// Posts one GitHub delivery signed the way GitHub signs (no timestamp,
/// so the test needs no wall clock); answers the intake's JSON.
pub(crate) async fn deliver(http: &reqwest::Client, url: &str, n: usize) -> Value {
    let body = format!(r#"{{"action":"opened","number":{n},"organization":{{"login":"acme"}}}}"#);
    let signature = format!("sha256={}", hex(&mac(HmacAlgorithm::Sha256, SECRET.as_bytes(), &[body.as_bytes()])));
    let answer = http
        .post(format!("{url}/in/gh"))
        .header("content-type", "application/json")
        .header("x-github-event", "pull_request")
        .header("x-github-delivery", format!("delivery-{n}"))
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .expect("the intake answers");
    assert_eq!(answer.status(), 200, "delivery {n}");
    answer.json().await.expect("a JSON answer")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_thousand_acknowledged_intakes_survive_a_sigkill_with_their_jobs() {
    let mut server = TestServer::builder().config(CONFIG).start().await;
    let http = reqwest::Client::new();
    let mut calls = JoinSet::new();
    for chunk in 0..50 {
        let (http, url) = (http.clone(), server.url().to_string());
        calls.spawn(async move {
            let mut acked = Vec::new();
            for n in chunk * 20..chunk * 20 + 20 {
                let answer = deliver(&http, &url, n).await;
                assert_eq!(answer["duplicate"], false);
                acked.push((
                    answer["delivery_id"].as_str().unwrap().to_string(),
                    answer["job_id"].as_str().unwrap().to_string(),
                ));
            }
            acked
        });
    }
    let mut acknowledged = Vec::new();
    while let Some(acked) = calls.join_next().await {
        acknowledged.extend(acked.expect("an intake task"));
    }
    assert_eq!(acknowledged.len(), 1_000);

    server.kill();
    server.restart().await;

    let queue = server.client().queue("github-events").await.expect("the queue");
    assert_eq!(queue.counts.available, 1_000, "{:?}", queue.counts);
    let mut logged = std::collections::BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut filters = vec![("source", "gh".to_string())];
        if let Some(c) = &cursor {
            filters.push(("cursor", c.clone()));
        }
        let page = server.client().webhook_deliveries(&filters, Some(400)).await.expect("a page of deliveries");
        for d in page.deliveries {
            logged.insert(d.id.to_string(), d.job_id.map(|j| j.to_string()).unwrap_or_default());
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: std::collections::BTreeMap<String, String> = acknowledged.into_iter().collect();
    assert_eq!(logged, expected, "every acknowledged delivery is logged with its job");

    // A redelivery after the restart is still a duplicate.
    let again = deliver(&http, server.url(), 7).await;
    assert_eq!(again["duplicate"], true);

    // The CLI reads the log.
    let listed: Value = server.cli().json(&["webhooks", "deliveries", "--source", "gh", "--status", "duplicate"]).await;
    assert_eq!(listed["deliveries"].as_array().unwrap().len(), 1);
    let table = server.cli().run(&["webhooks", "sources"]).await;
    assert!(table.stdout.contains("/in/gh") && table.stdout.contains("github-events"), "{}", table.stdout);
    let id = listed["deliveries"][0]["duplicate_of"].as_str().unwrap().to_string();
    let shown = server.cli().run(&["webhooks", "show", &id]).await;
    assert!(
        shown.stdout.contains("x-hub-signature-256: ***") && shown.stdout.contains("\"number\":7"),
        "{}",
        shown.stdout
    );
}
