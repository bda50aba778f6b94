//! The dashboard end to end in a real browser: Debian's headless Chromium
//! driven over WebDriver (`chromedriver`, through `fantoccini`) against the
//! real binary.
//!
//! The operator's scenario: sign in, see a queue with a dead job, open it,
//! read its error, retry it, see it complete once a worker runs it,
//! acknowledge the alert it raised, sign out. Then a reader: no action
//! buttons anywhere, and a POST forged from the page refused.
//!
//! Screenshots of each page go to a temporary directory (printed), or to
//! `RAMPART_UI_SCREENSHOTS` when set (how `docs/ui/` was made). Without
//! Chromium the test says it skipped; under `CI=true` it fails instead
//! (`.ci/ui` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use fantoccini::{Client as Browser, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use rampart_client::wire::{CompleteRequest, EnqueueRequest, FailRequest, KeyCreateRequest, LeaseRequest};
use rampart_core::auth::Role;
use serde_json::json;

use crate::harness::{Process, TestServer, eventually};

/// Where Debian puts them.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The browser and its driver, or `None` (skipped) when they are not here.
async fn browser(width: u32) -> Option<(Browser, Process)> {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Chromium is missing ({CHROMIUM}, {CHROMEDRIVER}); run .ci/ui to install it"
        );
        eprintln!("skipped: the dashboard's browser test needs `apt-get install chromium chromium-driver`");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = Command::new(CHROMEDRIVER);
    command.arg(format!("--port={port}"));
    let driver = Process::spawn("chromedriver", command);
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     format!("--window-size={width},900")],
        }
    });
    let serde_json::Value::Object(capabilities) = capabilities else { unreachable!("an object") };
    let webdriver = format!("http://127.0.0.1:{port}");
    let browser = eventually("chromedriver to start a session", || {
        let (capabilities, webdriver) = (capabilities.clone(), webdriver.clone());
        async move {
            let mut builder = ClientBuilder::new(HttpConnector::new());
            builder.capabilities(capabilities).connect(&webdriver).await.ok()
        }
    })
    .await;
    Some((browser, driver))
}

/// Where screenshots go.
fn screenshot_dir() -> PathBuf {
    match std::env::var_os("RAMPART_UI_SCREENSHOTS") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("rampart-ui-{}", std::process::id())),
    }
}

async fn screenshot(browser: &Browser, name: &str) {
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

/// The text of the first element matching `css`.
async fn text(browser: &Browser, css: &str) -> String {
    browser.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no `{css}`: {e}")).text().await.unwrap()
}

/// Reloads the page until `css` holds `want`.
async fn until_text(browser: &Browser, css: &str, want: &str) {
    eventually(&format!("`{css}` to say `{want}`"), || async {
        browser.refresh().await.ok()?;
        let found = browser.find(Locator::Css(css)).await.ok()?.text().await.ok()?;
        found.contains(want).then_some(())
    })
    .await;
}

async fn sign_in(browser: &Browser, url: &str, key: &str) {
    browser.goto(&format!("{url}/ui/")).await.unwrap();
    assert!(browser.current_url().await.unwrap().path().ends_with("/ui/sign-in"), "sent to sign in");
    browser.find(Locator::Css("#key")).await.unwrap().send_keys(key).await.unwrap();
    browser.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Css("form.signout")).await.unwrap();
}

/// A job on `queue` that failed its only attempt with `error`.
async fn dead_job(server: &TestServer, queue: &str, error: &str) -> String {
    let client = server.client();
    let req: EnqueueRequest = serde_json::from_value(json!({
        "payload": {"to": "ada@example.com", "template": "welcome", "attempt_note": "first send"},
        "max_attempts": 1
    }))
    .unwrap();
    let id = client.enqueue(queue, &req).await.unwrap().id.to_string();
    let lease = LeaseRequest { worker: Some("mailer-7".into()), ..LeaseRequest::default() };
    let job = client.lease(queue, &lease).await.unwrap().jobs.remove(0);
    let fail = FailRequest { lease_token: job.lease_token, error: error.into(), retryable: Some(false) };
    client.fail(&id, &fail).await.unwrap();
    id
}

#[tokio::test]
async fn an_operator_retries_a_dead_job_acks_its_alert_and_a_reader_changes_nothing() {
    let Some((browser, _driver)) = browser(1280).await else { return };
    // The alert stays firing however long the steps before its ack take.
    let config = "[monitoring]\ninterval = \"1s\"\n[alerts]\nfor = 1\nresolve_after = 1000\n";
    let server = TestServer::builder().config(config).start().await;
    let url = server.url().to_string();
    let error = "SMTP 550 5.1.1: mailbox unavailable for ada@example.com";
    let id = dead_job(&server, "emails", error).await;

    sign_in(&browser, &url, server.api_key()).await;
    // The overview lists the queue with its sampled dead count.
    until_text(&browser, "#queue-table", "emails").await;
    eventually("the sampled dead count on the overview", || async {
        browser.refresh().await.ok()?;
        let cells = browser.find_all(Locator::Css("#queue-table td.num")).await.ok()?;
        let mut texts = Vec::new();
        for cell in cells {
            texts.push(cell.text().await.ok()?);
        }
        (texts == ["0", "0", "0", "1"]).then_some(())
    })
    .await;
    screenshot(&browser, "overview").await;
    browser.find(Locator::Css("#queue-table a[href$='/queues/emails']")).await.unwrap().click().await.unwrap();
    let job_link = browser.wait().for_element(Locator::Css(&format!("a[href$='/jobs/{id}']"))).await.unwrap();
    screenshot(&browser, "queue").await;
    job_link.click().await.unwrap();
    browser.wait().for_element(Locator::Css("#last-error")).await.unwrap();
    assert_eq!(text(&browser, "pre.error").await, error, "the operator reads the error");
    screenshot(&browser, "job-dead").await;

    // Retry, then a worker runs it.
    browser
        .find(Locator::Css(&format!("form[action$='/jobs/{id}/retry'] button")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait().for_element(Locator::Css("p.notice")).await.unwrap();
    assert!(text(&browser, "h1").await.contains("available"), "{}", text(&browser, "h1").await);
    let client = server.client();
    let lease = LeaseRequest { worker: Some("mailer-8".into()), ..LeaseRequest::default() };
    let job = client.lease("emails", &lease).await.unwrap().jobs.remove(0);
    let result = serde_json::value::RawValue::from_string(r#"{"message_id":"<42@mail>"}"#.into()).unwrap();
    client.complete(&id, &CompleteRequest { lease_token: job.lease_token, result: Some(result) }).await.unwrap();
    until_text(&browser, "h1", "completed").await;
    assert!(text(&browser, "#history").await.contains("History"));
    screenshot(&browser, "job-completed").await;

    // The dead letter raised an alert: acknowledge it.
    browser.goto(&format!("{url}/ui/alerts")).await.unwrap();
    until_text(&browser, "main", "dead_letters").await;
    let row = "//tr[td[contains(., 'dead_letters')]]";
    let ack = browser.find(Locator::XPath(&format!("{row}//form[contains(@action, '/ack')]//button"))).await.unwrap();
    ack.click().await.unwrap();
    browser.wait().for_element(Locator::Css("p.notice")).await.unwrap();
    assert_eq!(text(&browser, "p.notice").await, "acknowledged dead_letters on emails");
    let acked = browser.find(Locator::XPath(row)).await.unwrap().text().await.unwrap();
    assert!(acked.contains("by admin"), "acknowledged by the admin key: {acked}");
    screenshot(&browser, "alerts").await;
    browser.goto(&format!("{url}/ui/audit")).await.unwrap();
    let audit = text(&browser, "main").await;
    assert!(audit.contains("job.retry") && audit.contains("alert.ack"), "{audit}");
    screenshot(&browser, "audit").await;

    // Two dead jobs of one queue, retried in bulk by a filter: confirmed
    // with their count, run by the server, its progress followed.
    for _ in 0..2 {
        dead_job(&server, "receipts", "PDF renderer timed out").await;
    }
    browser.goto(&format!("{url}/ui/queues/receipts?state=dead&text=welcome")).await.unwrap();
    browser.find(Locator::Css("a.button[href*='/bulk?action=retry']")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Css("#confirm-bulk")).await.unwrap();
    assert!(text(&browser, "main").await.contains("2 job(s) of receipts match"), "{}", text(&browser, "main").await);
    browser.find(Locator::Css("#confirm-bulk")).await.unwrap().click().await.unwrap();
    screenshot(&browser, "bulk-confirm").await;
    browser.find(Locator::Css("form[action$='/bulk'] button[type=submit]")).await.unwrap().click().await.unwrap();
    until_text(&browser, "#bulk-progress", "Finished").await;
    let retried = browser.find(Locator::XPath("//dt[.='Jobs retried']/following-sibling::dd[1]")).await.unwrap();
    assert_eq!(retried.text().await.unwrap(), "2");
    screenshot(&browser, "bulk-progress").await;

    // Sign out: the session ends and the pages ask to sign in again.
    browser.find(Locator::Css("form.signout button")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Css("#key")).await.unwrap();
    screenshot(&browser, "sign-in").await;
    browser.goto(&format!("{url}/ui/jobs/{id}")).await.unwrap();
    assert!(browser.current_url().await.unwrap().path().ends_with("/ui/sign-in"));

    // A reader sees the dead job of another queue, its error, and no button.
    let reader = client.key_create(&KeyCreateRequest { name: "oncall".into(), role: Role::Reader }).await.unwrap();
    let other = dead_job(&server, "webhooks", "timeout after 30s").await;
    sign_in(&browser, &url, &reader.key).await;
    for path in ["/ui/".to_string(), "/ui/queues/webhooks".into(), format!("/ui/jobs/{other}"), "/ui/alerts".into()] {
        browser.goto(&format!("{url}{path}")).await.unwrap();
        let forms = browser.find_all(Locator::Css("form[method=post]")).await.unwrap();
        assert_eq!(forms.len(), 1, "only sign-out on {path}");
    }
    browser.goto(&format!("{url}/ui/jobs/{other}")).await.unwrap();
    assert_eq!(text(&browser, "pre.error").await, "timeout after 30s");
    screenshot(&browser, "job-reader").await;
    // The reader forges the admin's form with its own valid token: refused.
    let forged = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const csrf = document.querySelector('input[name=csrf]').value;
             fetch(location.pathname + '/retry', {method: 'POST', body: new URLSearchParams({csrf})})
               .then(r => done(r.status));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(forged, json!(403));
    assert_eq!(server.job(&other).await.state.to_string(), "dead", "nothing changed");

    // Readable at 375 px.
    browser.set_window_size(375, 812).await.unwrap();
    browser.goto(&format!("{url}/ui/")).await.unwrap();
    let overflow = browser.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap();
    assert!(overflow.as_u64().unwrap() <= 375, "no sideways scrolling at 375 px: {overflow}");
    screenshot(&browser, "overview-375").await;
    browser.close().await.unwrap();
}

#[tokio::test]
async fn the_binary_serves_the_dashboard_unless_it_is_turned_off() {
    let on = TestServer::start().await;
    let page = reqwest::get(format!("{}/ui/sign-in", on.url())).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<label for=\"key\">API key</label>"));
    let off = TestServer::builder().config("[ui]\nenabled = false\n").start().await;
    let page = reqwest::get(format!("{}/ui/sign-in", off.url())).await.unwrap();
    assert_eq!(page.status(), 404, "the API's own answer");
    assert!(page.text().await.unwrap().contains("\"code\""));
}
