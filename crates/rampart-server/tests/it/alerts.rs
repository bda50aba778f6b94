//! Alerts on a manual clock: the lifecycle (fires once after `for`,
//! reminds after `repeat_interval`, resolves once, flapping stays quiet),
//! dead letters, silences and acks, and the Slack and webhook channels
//! against a real local receiver, byte for byte, with retries.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use rampart_core::id::QueueName;
use rampart_core::time::{Clock, SharedClock, UnixMillis};
use rampart_core::webhook::{WebhookSecret, verify};
use rampart_server::alert::Alerting;
use rampart_server::config::{AlertsConfig, ChannelConfig, ChannelKind, Config, SecretText, SlackAppConfig};
use rampart_server::service::{
    AlertSample, Alerter, AlerterConfig, Notifier, NotifierConfig, QueueSample, Sampler, SamplerConfig,
};
use rampart_store::AlertListParams;
use serde_json::json;
use tokio::sync::Notify;

use crate::harness::TestApp;
use crate::receiver::{Receiver, Reply, slack_ts};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn channels(receiver: &Receiver) -> Vec<ChannelConfig> {
    let url = |p: &str| Some(rampart_server::config::SecretUrl::parse(&receiver.url(p)).unwrap());
    vec![
        ChannelConfig {
            name: "ops-slack".into(),
            kind: ChannelKind::Slack,
            url: url("/slack"),
            secret: None,
            slack_app: None,
        },
        ChannelConfig {
            name: "pager".into(),
            kind: ChannelKind::Webhook,
            url: url("/hook"),
            secret: Some(WebhookSecret::parse(SECRET).unwrap()),
            slack_app: None,
        },
    ]
}

/// An app whose alert config sends to `receiver`, with the alerter and the
/// notifier driven by hand.
struct Rig {
    app: TestApp,
    alerter: Alerter,
    notifier: Notifier,
    alerting: Alerting,
}

async fn rig(receiver: &Receiver, tweak: impl FnOnce(&mut AlertsConfig)) -> Rig {
    let mut config = Config::default();
    config.alerts.channels = channels(receiver);
    // The store's real latency is not what these tests are about.
    config.alerts.rules.store_latency = Duration::from_secs(60);
    tweak(&mut config.alerts);
    let app = TestApp::with_config(config.clone()).await;
    let alerting = app.alerting.clone();
    let wake = Arc::new(Notify::new());
    let alerter_config = AlerterConfig {
        alerts: config.alerts.clone(),
        interval: config.monitoring.interval,
        channels: alerting.channels.names(),
        token_expiry_horizon: config.diagnostics.token_expiry_horizon,
    };
    let alerter = Alerter::new(alerter_config, app.engine.clone(), wake.clone()).with_monitor(app.monitor.clone());
    let clock: SharedClock = app.clock.clone();
    let notifier = Notifier::new(
        NotifierConfig::default(),
        app.engine.store().clone(),
        clock,
        alerting.channels.clone(),
        alerting.health.clone(),
        wake,
    );
    Rig { app, alerter, notifier, alerting }
}

fn waiting(queue: &str, n: u64, at: UnixMillis) -> AlertSample {
    AlertSample {
        at,
        store_latency: Duration::from_millis(1),
        queues: vec![QueueSample {
            queue: QueueName::new(queue).unwrap(),
            waiting: n,
            attempts: 0,
            failed: 0,
            stalled: 0,
            dead: 0,
            dead_total: 0,
            dead_first: vec![],
        }],
        breakers: vec![],
        cron: vec![],
        tokens_expiring: vec![],
        fallbacks: vec![],
        api: None,
        webhooks: vec![],
        memory: Default::default(),
        reported: Default::default(),
    }
}

impl Rig {
    /// Moves the clock by `d` and evaluates one sample of `waiting` jobs in `email`.
    async fn tick(&mut self, d: Duration, n: u64) {
        self.app.clock.advance(d);
        let sample = waiting("email", n, self.app.clock.now());
        self.alerter.evaluate(&sample).await.unwrap();
    }

    async fn deliver(&self) {
        self.notifier.run_once().await.unwrap();
    }
}

/// The Slack texts a receiver got, in order.
fn slack_texts(receiver: &Receiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .filter(|r| r.path == "/slack")
        .map(|r| r.json()["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_rule_fires_once_after_for_reminds_after_repeat_interval_and_resolves_once() {
    let receiver = Receiver::start(0).await;
    let mut rig = rig(&receiver, |a| a.timing.repeat_interval = Duration::from_secs(3600)).await;
    let minute = Duration::from_secs(60);
    rig.tick(minute, 1500).await;
    rig.deliver().await;
    assert!(receiver.received().is_empty(), "one holding sample is not enough");
    rig.tick(minute, 1600).await;
    rig.deliver().await;
    let fired_at = rig.app.clock.now();
    let texts = slack_texts(&receiver);
    assert_eq!(texts.len(), 1);
    assert_eq!(
        texts[0],
        format!(
            ":rotating_light: *[FIRING] waiting jobs on queue `email`*: 1600 (threshold 1000)\n\
             Firing since {}. Alert 1.\n\
             Next: check that workers of `email` are running and keeping up (`rampart queues show email`), add \
             workers or concurrency; acknowledge with `rampart alerts ack 1` to stop reminders.",
            fired_at.to_rfc3339()
        )
    );
    // Still holding for 59 minutes: nothing; at the hour, one reminder.
    for _ in 0..59 {
        rig.tick(minute, 1700).await;
    }
    rig.deliver().await;
    assert_eq!(slack_texts(&receiver).len(), 1);
    rig.tick(minute, 1800).await;
    rig.deliver().await;
    let texts = slack_texts(&receiver);
    assert_eq!(texts.len(), 2);
    assert!(texts[1].starts_with(":bell: *[STILL FIRING] waiting jobs on queue `email`*: 1800 (threshold 1000)\n"));
    // Flapping while firing does not resolve; two clear samples do, once.
    for n in [10, 2000, 10, 2000] {
        rig.tick(minute, n).await;
    }
    rig.tick(minute, 10).await;
    rig.tick(minute, 10).await;
    let resolved_at = rig.app.clock.now();
    for _ in 0..5 {
        rig.tick(minute, 10).await;
    }
    rig.deliver().await;
    let texts = slack_texts(&receiver);
    assert_eq!(texts.len(), 3, "{texts:#?}");
    assert_eq!(
        texts[2],
        format!(
            ":white_check_mark: *[RESOLVED] waiting jobs on queue `email`*: 10 (threshold 1000)\n\
             Firing from {} to {}. Alert 1.",
            fired_at.to_rfc3339(),
            resolved_at.to_rfc3339()
        )
    );
    // Flapping below `for` never fires again.
    for n in [2000, 10, 2000, 10, 2000, 10] {
        rig.tick(minute, n).await;
    }
    rig.deliver().await;
    assert_eq!(slack_texts(&receiver).len(), 3);
    // The webhook got the same three notices, in order.
    let kinds: Vec<String> = receiver
        .received()
        .iter()
        .filter(|r| r.path == "/hook")
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["alert.firing", "alert.reminder", "alert.resolved"]);
    let alerts = rig.app.engine.store().alert_list(AlertListParams { state: None, before: None, limit: 10 }).await;
    assert_eq!(alerts.unwrap().len(), 1, "one alert in the store");
}

#[tokio::test]
async fn the_webhook_is_signed_like_push_delivery_and_carries_the_alert() {
    let receiver = Receiver::start(0).await;
    let mut rig = rig(&receiver, |_| {}).await;
    rig.tick(Duration::from_secs(1), 5000).await;
    rig.tick(Duration::from_secs(1), 5000).await;
    rig.deliver().await;
    let hooks: Vec<_> = receiver.received().into_iter().filter(|r| r.path == "/hook").collect();
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    assert_eq!(hook.header("content-type"), "application/json");
    assert!(hook.header("webhook-id").starts_with("alert-notification-"), "{:?}", hook.headers);
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let now_s = rig.app.clock.now().0 / 1000;
    let checked = verify(
        &secret,
        hook.header("webhook-id"),
        hook.header("webhook-timestamp"),
        hook.header("webhook-signature"),
        &hook.body,
        now_s,
        300,
    );
    assert_eq!(checked, Ok(()));
    let at = rig.app.clock.now().to_rfc3339();
    let body = hook.json();
    let text = body["text"].as_str().unwrap().to_string();
    assert_eq!(
        body,
        json!({
            "type": "alert.firing",
            "id": hook.header("webhook-id"),
            "at": at,
            "alert": {
                "id": "1",
                "rule": "queue_waiting",
                "subject": "email",
                "state": "firing",
                "value": 5000.0,
                "threshold": 1000.0,
                "started_at": at,
                "resolved_at": null,
                "dead_jobs": [],
            },
            "text": text,
        })
    );
    assert_eq!(slack_texts(&receiver), [text], "the webhook's text is the Slack message");
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_with_backoff_and_the_channel_shows_failing() {
    // Both channels share the receiver: its first three answers are 500.
    let receiver = Receiver::start(3).await;
    let mut rig = rig(&receiver, |_| {}).await;
    rig.tick(Duration::from_secs(1), 5000).await;
    rig.tick(Duration::from_secs(1), 5000).await;
    rig.deliver().await;
    assert_eq!(receiver.received().len(), 2, "one attempt per channel");
    assert_eq!(rig.alerting.health.failing(), ["ops-slack", "pager"]);
    let status = rig.alerting.status(rig.app.engine.store()).await.unwrap();
    assert_eq!((status.firing, status.failing_channels.len()), (1, 2));
    let health = rig.app.send(Method::GET, "/v1/monitoring/system-health", None).await.body;
    assert_eq!(health["components"]["alerts"]["failing_channels"], json!(["ops-slack", "pager"]));
    let health = rig.alerting.health.snapshot();
    assert!(health["pager"].last_error.as_deref().unwrap().contains("answered HTTP 500"), "{health:?}");
    // Not before the backoff (1 s) has passed.
    rig.deliver().await;
    assert_eq!(receiver.received().len(), 2);
    rig.app.clock.advance(Duration::from_secs(1));
    rig.deliver().await;
    assert_eq!(receiver.received().len(), 4, "both retried; the third request failed again");
    // The second backoff is 2 s.
    rig.app.clock.advance(Duration::from_secs(1));
    rig.deliver().await;
    assert_eq!(receiver.received().len(), 4);
    rig.app.clock.advance(Duration::from_secs(1));
    rig.deliver().await;
    let got = receiver.received();
    assert_eq!(got.len(), 5, "only the channel that failed twice comes back");
    assert!(rig.alerting.health.failing().is_empty());
    // Each retry of a message carries the same id, and every Slack try the same text.
    let ids: Vec<&str> = got.iter().filter(|r| r.path == "/hook").map(|r| r.header("webhook-id")).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    let texts = slack_texts(&receiver);
    assert!(texts.windows(2).all(|w| w[0] == w[1]));
    rig.app.clock.advance(Duration::from_secs(3600));
    rig.deliver().await;
    assert_eq!(receiver.received().len(), 5, "delivered notices are not sent again");
}

#[tokio::test]
async fn a_dead_job_produces_one_dead_letter_alert_listing_it() {
    let receiver = Receiver::start(0).await;
    let mut rig = rig(&receiver, |_| {}).await;
    let id = rig.app.enqueue("billing", r#"{"payload":{"invoice":7},"max_attempts":1}"#).await;
    // It dies after the alerter's first window opened.
    rig.app.clock.advance(Duration::from_secs(1));
    let leased = rig.app.lease("billing", 1).await;
    let token = leased[0]["lease_token"].as_str().unwrap();
    let fail = json!({"lease_token": token, "error": "card declined: insufficient funds"}).to_string();
    let a = rig.app.send(Method::POST, &format!("/v1/jobs/{id}/fail"), Some(&fail)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(rig.app.job(&id).await["state"], "dead");
    // Through the monitoring sampler's sample set, as the server does.
    let sampler = Sampler::new(SamplerConfig::default(), rig.app.monitor.clone());
    rig.app.clock.advance(Duration::from_secs(15));
    let set = sampler.run_once().await.unwrap();
    let sample = rig.alerter.from_sample_set(&set).await.unwrap();
    assert_eq!(sample.queues[0].dead_first.iter().map(|j| j.id.to_string()).collect::<Vec<_>>(), [id.as_str()]);
    let first = rig.alerter.evaluate(&sample).await.unwrap();
    assert_eq!(first.fired, 1, "dead letters fire on the first sample that sees them");
    let health = rig.app.send(Method::GET, "/v1/monitoring/system-health", None).await.body;
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["components"]["alerts"]["firing"], 1);
    assert_eq!(health["components"]["alerts"]["alerts"][0]["name"], "dead_letters");
    assert_eq!(health["components"]["alerts"]["alerts"][0]["queue"], "billing");
    rig.app.clock.advance(Duration::from_secs(15));
    let set = sampler.run_once().await.unwrap();
    let sample = rig.alerter.from_sample_set(&set).await.unwrap();
    assert_eq!(rig.alerter.evaluate(&sample).await.unwrap().fired, 0, "the same dead job is not counted twice");
    rig.deliver().await;
    let texts = slack_texts(&receiver);
    assert_eq!(texts.len(), 1, "{texts:#?}");
    let alert = rig.app.send(Method::GET, "/v1/alerts?state=firing", None).await.body["alerts"][0].clone();
    assert_eq!(alert["rule"], "dead_letters");
    assert_eq!(alert["subject"], "billing");
    assert_eq!(alert["summary"], "1 ≥ 1");
    assert_eq!(alert["dead_jobs"][0]["id"], id.as_str());
    assert_eq!(alert["dead_jobs"][0]["attempts"], 1);
    assert_eq!(
        texts[0],
        format!(
            ":rotating_light: *[FIRING] new dead jobs on queue `billing`*: 1 (threshold 1)\n\
             Firing since {}. Alert 1.\n\
             Dead jobs:\n\
             • job {id}: 1 attempt, last error: card declined: insufficient funds\n\
             Next: read the errors (`rampart jobs show {id}`), fix the cause, then `rampart dlq retry billing`; \
             acknowledge with `rampart alerts ack 1` to stop reminders.",
            alert["started_at"].as_str().unwrap()
        )
    );
    // No new dead job for `resolve_after` samples: resolved, once.
    rig.app.clock.advance(Duration::from_secs(15));
    let set = sampler.run_once().await.unwrap();
    let sample = rig.alerter.from_sample_set(&set).await.unwrap();
    assert_eq!(rig.alerter.evaluate(&sample).await.unwrap().resolved, 1);
    assert!(rig.app.monitor.alerts().is_empty(), "the monitor hears it resolved");
    rig.deliver().await;
    let texts = slack_texts(&receiver);
    assert_eq!(texts.len(), 2);
    assert!(texts[1].starts_with(":white_check_mark: *[RESOLVED] new dead jobs on queue `billing`*: 0 (threshold 1)"));
}

/// Slack texts of one rule, told by the figure in their first line.
fn texts_of(receiver: &Receiver, figure: &str) -> Vec<String> {
    slack_texts(receiver).into_iter().filter(|t| t.contains(&format!("] {figure} on "))).collect()
}

#[tokio::test]
async fn the_dead_letter_depth_fires_on_its_interval_lists_ten_jobs_and_resolves_on_retry_and_purge() {
    let receiver = Receiver::start(0).await;
    let mut rig = rig(&receiver, |a| {
        a.dashboard_url = Some("https://rampart.example.com/ui".into());
        a.rules.dead_letter_depth = 2;
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let job = format!(r#"{{"payload":{{"invoice":{i}}},"max_attempts":1,"tenant":"acme"}}"#);
        ids.push(rig.app.enqueue("billing", &job).await);
    }
    rig.app.clock.advance(Duration::from_secs(1));
    for job in rig.app.lease("billing", 12).await {
        let (id, token) = (job["id"].as_str().unwrap(), job["lease_token"].as_str().unwrap());
        let fail = json!({"lease_token": token, "error": format!("card declined for job {id}")}).to_string();
        let a = rig.app.send(Method::POST, &format!("/v1/jobs/{id}/fail"), Some(&fail)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    let sampler = Sampler::new(SamplerConfig::default(), rig.app.monitor.clone());
    let evaluate = async |rig: &mut Rig, d: Duration| {
        rig.app.clock.advance(d);
        let set = sampler.run_once().await.unwrap();
        let sample = rig.alerter.from_sample_set(&set).await.unwrap();
        assert_eq!(sample.queues[0].dead_total, set.queues[0].counts.get(rampart_core::job::JobState::Dead));
        rig.alerter.evaluate(&sample).await.unwrap();
        rig.deliver().await;
    };
    // Before the first check (5 minutes after the alerter started) only
    // the arrival rule speaks.
    evaluate(&mut rig, Duration::from_secs(60)).await;
    assert!(texts_of(&receiver, "dead jobs").is_empty());
    assert_eq!(texts_of(&receiver, "new dead jobs").len(), 1);
    evaluate(&mut rig, Duration::from_secs(239)).await;
    let texts = texts_of(&receiver, "dead jobs");
    assert_eq!(texts.len(), 1, "{texts:#?}");
    let alert = rig.app.send(Method::GET, "/v1/alerts?state=firing", None).await.body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule"] == "dead_letter_depth")
        .cloned()
        .unwrap();
    assert_eq!((alert["subject"].as_str(), alert["value"].as_f64()), (Some("billing"), Some(12.0)));
    assert_eq!(alert["dead_jobs"].as_array().unwrap().len(), 10);
    let (first, id) = (&ids[0], alert["id"].as_str().unwrap());
    let head = format!(
        ":rotating_light: *[FIRING] dead jobs on queue `billing`*: 12 (threshold 2)\n\
         Firing since {}. Alert {id}.\n\
         Dead jobs:\n\
         • job {first} (queue `billing`, tenant `acme`): 1 attempt, dead for 4m59s, last error: card declined for job \
         {first}\n  \
         retry: `rampart dlq retry billing --id {first}` or `POST /v1/jobs/{first}/retry` or \
         https://rampart.example.com/ui/jobs/{first}\n",
        alert["started_at"].as_str().unwrap()
    );
    assert!(texts[0].starts_with(&head), "{}\n---\n{head}", texts[0]);
    assert_eq!(texts[0].matches("\n• job ").count(), 10);
    assert!(!texts[0].contains(&format!("job {} ", ids[10])), "only the first ten are listed");
    let tail = format!(
        "\nand 2 more.\nNext: fix the cause, then retry them all with `rampart dlq retry billing` \
         (`POST /v1/queues/billing/dead/retry`) or purge them with `rampart dlq purge billing --yes` \
         (`DELETE /v1/queues/billing/dead`) (or https://rampart.example.com/ui/queues/billing); once fewer than 2 \
         remain the alert resolves; acknowledge with `rampart alerts ack {id}` to stop reminders."
    );
    assert!(texts[0].ends_with(&tail), "{}", texts[0]);
    // It stays firing while the depth holds: no second notice, at a check
    // or between them.
    for _ in 0..6 {
        evaluate(&mut rig, Duration::from_secs(60)).await;
    }
    assert_eq!(texts_of(&receiver, "dead jobs").len(), 1);
    // Retrying all but one leaves 1, below the threshold of 2: resolved at
    // the next sample, not the next check.
    let retry = json!({"ids": ids[..11]}).to_string();
    let a = rig.app.send(Method::POST, "/v1/queues/billing/dead/retry", Some(&retry)).await;
    assert_eq!((a.status, &a.body["retried"]), (StatusCode::OK, &json!(11)), "{}", a.body);
    evaluate(&mut rig, Duration::from_secs(15)).await;
    let texts = texts_of(&receiver, "dead jobs");
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert!(
        texts[1]
            .starts_with(":white_check_mark: *[RESOLVED] dead jobs on queue `billing`*: 1 (threshold 2)\nFiring from "),
        "{}",
        texts[1]
    );
    assert!(!texts[1].contains("• job"), "a resolved notice lists nothing: {}", texts[1]);
    // Eleven die again (one attempt each): it fires at the next check and a
    // purge resolves it.
    rig.app.clock.advance(Duration::from_secs(1));
    for job in rig.app.lease("billing", 12).await {
        let (id, token) = (job["id"].as_str().unwrap(), job["lease_token"].as_str().unwrap());
        let fail = json!({"lease_token": token, "error": "again"}).to_string();
        rig.app.send(Method::POST, &format!("/v1/jobs/{id}/fail"), Some(&fail)).await;
    }
    evaluate(&mut rig, Duration::from_secs(300)).await;
    assert_eq!(texts_of(&receiver, "dead jobs").len(), 3);
    let a = rig.app.send(Method::DELETE, "/v1/queues/billing/dead", None).await;
    assert_eq!((a.status, &a.body["purged"]), (StatusCode::OK, &json!(12)), "{}", a.body);
    evaluate(&mut rig, Duration::from_secs(15)).await;
    let texts = texts_of(&receiver, "dead jobs");
    assert_eq!(texts.len(), 4);
    assert!(texts[3].starts_with(":white_check_mark: *[RESOLVED] dead jobs on queue `billing`*: 0 (threshold 2)"));
}

const BOT_TOKEN: &str = "xoxb-1234-5678-SeCrEtToKeN";

/// A Slack channel posting as an app to `receiver`'s `/api`.
fn slack_app(receiver: &Receiver) -> ChannelConfig {
    ChannelConfig {
        name: "ops-app".into(),
        kind: ChannelKind::Slack,
        url: None,
        secret: None,
        slack_app: Some(SlackAppConfig {
            bot_token: SecretText::new(BOT_TOKEN),
            channel: "C0123ABCD".into(),
            api_url: receiver.url("/api"),
        }),
    }
}

#[tokio::test]
async fn a_slack_app_posts_block_kit_threads_later_notices_and_retries_only_where_slack_says() {
    let receiver = Receiver::start(0).await;
    let mut rig = rig(&receiver, |a| {
        a.channels = vec![slack_app(&receiver)];
        a.timing.repeat_interval = Duration::from_secs(3600);
    })
    .await;
    // Slack limits the first post: HTTP 429 with Retry-After.
    receiver.script(Reply {
        status: 429,
        headers: vec![("retry-after", "30".into()), ("content-type", "application/json".into())],
        body: r#"{"ok":false,"error":"ratelimited"}"#.into(),
    });
    rig.tick(Duration::from_secs(60), 1500).await;
    rig.tick(Duration::from_secs(60), 1500).await;
    let round = rig.notifier.run_once().await.unwrap();
    assert_eq!((round.delivered, round.retrying), (0, 1));
    let status = &rig.alerting.health.snapshot()["ops-app"];
    assert_eq!(status.last_error.as_deref(), Some("Slack answered HTTP 429, error: ratelimited"));
    // Not at the notifier's 1 s backoff: at Slack's 30 s.
    rig.app.clock.advance(Duration::from_secs(29));
    rig.deliver().await;
    assert_eq!(receiver.received().len(), 1);
    rig.app.clock.advance(Duration::from_secs(1));
    rig.deliver().await;
    let got = receiver.received();
    assert_eq!(got.len(), 2, "sent once Retry-After passed");
    let post = &got[1];
    assert_eq!(post.path, "/api/chat.postMessage");
    assert_eq!(post.header("authorization"), format!("Bearer {BOT_TOKEN}"));
    assert!(post.header("content-type").starts_with("application/json"));
    let body = post.json();
    assert_eq!(body["channel"], "C0123ABCD");
    assert_eq!(body["text"], ":rotating_light: *[FIRING] waiting jobs on queue `email`*: 1500 (threshold 1000)");
    assert!(body.get("thread_ts").is_none(), "the firing notice starts the thread");
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "section");
    assert_eq!(blocks[0]["text"]["type"], "mrkdwn");
    let shown: Vec<&str> = blocks.iter().filter_map(|b| b["text"]["text"].as_str()).collect();
    let alert = rig.app.send(Method::GET, "/v1/alerts?state=firing", None).await.body["alerts"][0].clone();
    let id = alert["id"].as_str().unwrap();
    let text = format!(
        ":rotating_light: *[FIRING] waiting jobs on queue `email`*: 1500 (threshold 1000)\nFiring since {}. Alert \
         {id}.\nNext: check that workers of `email` are running and keeping up (`rampart queues show email`), add \
         workers or concurrency; acknowledge with `rampart alerts ack {id}` to stop reminders.",
        alert["started_at"].as_str().unwrap()
    );
    assert_eq!(shown.join("\n"), text, "the sections hold the notice's text");
    let context = blocks.last().unwrap();
    assert_eq!(context["type"], "context");
    assert_eq!(context["elements"][0]["text"], format!("rampart · firing · rule `queue_waiting` · alert {id}"));
    let health = &rig.alerting.health.snapshot()["ops-app"];
    assert_eq!((health.kind, health.consecutive_failures), ("slack", 0));
    // The reminder and the resolved notice reply in the firing one's thread.
    rig.tick(Duration::from_secs(3600), 1500).await;
    rig.deliver().await;
    rig.tick(Duration::from_secs(60), 10).await;
    rig.tick(Duration::from_secs(60), 10).await;
    rig.deliver().await;
    let got = receiver.received();
    assert_eq!(got.len(), 4);
    let (reminder, resolved) = (got[2].json(), got[3].json());
    assert!(reminder["text"].as_str().unwrap().starts_with(":bell: *[STILL FIRING]"), "{reminder}");
    assert!(resolved["text"].as_str().unwrap().starts_with(":white_check_mark: *[RESOLVED]"), "{resolved}");
    assert_eq!(reminder["thread_ts"], slack_ts(2));
    assert_eq!(resolved["thread_ts"], slack_ts(2));
    // `ok: false` for a reason a retry cannot fix: given up at once, and the
    // channel shows it, without the token.
    receiver.script(Reply {
        status: 200,
        headers: vec![("content-type", "application/json".into())],
        body: r#"{"ok":false,"error":"channel_not_found"}"#.into(),
    });
    rig.tick(Duration::from_secs(60), 1500).await;
    rig.tick(Duration::from_secs(60), 1500).await;
    let round = rig.notifier.run_once().await.unwrap();
    assert_eq!((round.delivered, round.retrying, round.given_up), (0, 0, 1));
    let status = &rig.alerting.health.snapshot()["ops-app"];
    assert_eq!(status.last_error.as_deref(), Some("Slack answered HTTP 200, error: channel_not_found"));
    // Slack's own trouble is retried with the backoff.
    receiver.script(Reply { status: 200, headers: vec![], body: r#"{"ok":false,"error":"internal_error"}"#.into() });
    rig.tick(Duration::from_secs(60), 10).await;
    rig.tick(Duration::from_secs(60), 10).await;
    assert_eq!(rig.notifier.run_once().await.unwrap().retrying, 1, "the resolved notice is not held by a given-up one");
    rig.app.clock.advance(Duration::from_secs(1));
    assert_eq!(rig.notifier.run_once().await.unwrap().delivered, 1);
    assert!(receiver.received().last().unwrap().json().get("thread_ts").is_none(), "its firing notice never posted");
    let health = rig.app.send(Method::GET, "/v1/monitoring/system-health", None).await.body.to_string();
    let tested = rig.app.send(Method::POST, "/v1/alerts/test", Some("{}")).await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.body);
    assert_eq!(tested.body["channels"][0]["kind"], "slack");
    for shown in [health, tested.body.to_string(), format!("{:?}", rig.alerting.health.snapshot())] {
        assert!(!shown.contains("SeCrEt"), "the token never shows: {shown}");
    }
}

#[tokio::test]
async fn the_memory_rules_are_off_by_default_and_fire_past_their_threshold() {
    const MIB: u64 = 1024 * 1024;
    let memory = |resident: u64, redis: Option<u64>, at: UnixMillis| AlertSample {
        memory: rampart_server::monitoring::memory::MemorySample {
            resident_bytes: Some(resident),
            heap_bytes: Some(resident / 2),
            redis_used_bytes: redis,
        },
        ..waiting("email", 0, at)
    };
    // Off by default: any figure passes.
    let receiver = Receiver::start(0).await;
    let mut off = rig(&receiver, |_| {}).await;
    for _ in 0..3 {
        off.app.clock.advance(Duration::from_secs(60));
        let sample = memory(64 * 1024 * MIB, Some(64 * 1024 * MIB), off.app.clock.now());
        assert_eq!(off.alerter.evaluate(&sample).await.unwrap().fired, 0);
    }
    // On: above the threshold for `for` samples.
    let mut rig = rig(&receiver, |a| {
        a.rules.process_memory_mb = 512;
        a.rules.redis_memory_mb = 100;
    })
    .await;
    let mut fired = 0;
    for _ in 0..2 {
        rig.app.clock.advance(Duration::from_secs(60));
        let sample = memory(600 * MIB, Some(150 * MIB), rig.app.clock.now());
        fired += rig.alerter.evaluate(&sample).await.unwrap().fired;
    }
    assert_eq!(fired, 2);
    rig.deliver().await;
    let texts = slack_texts(&receiver);
    assert!(
        texts.iter().any(|t| t.starts_with(
            ":rotating_light: *[FIRING] resident memory on the rampart server*: 600 MiB (threshold 512 MiB)\n"
        )),
        "{texts:#?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t
                .starts_with(":rotating_light: *[FIRING] Redis used memory on Redis*: 150 MiB (threshold 100 MiB)\n")),
        "{texts:#?}"
    );
    let names: Vec<String> = rig.app.monitor.alerts().iter().map(|a| a.name.clone()).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"process_memory".to_string()) && names.contains(&"redis_memory".to_string()));
}

#[tokio::test]
async fn silences_hold_notices_back_and_acks_stop_reminders() {
    let receiver = Receiver::start(0).await;
    let mut rig = rig(&receiver, |a| a.timing.repeat_interval = Duration::from_secs(120)).await;
    let made = rig
        .app
        .send(
            Method::POST,
            "/v1/alerts/silences",
            Some(r#"{"rule":"queue_waiting","subject":"email","duration":"10m","reason":"backfill"}"#),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["created_by"], "admin-key");
    let minute = Duration::from_secs(60);
    rig.tick(minute, 5000).await;
    rig.tick(minute, 5000).await;
    rig.deliver().await;
    assert!(receiver.received().is_empty(), "silenced");
    let firing = rig.app.send(Method::GET, "/v1/alerts?state=firing", None).await;
    assert_eq!(firing.body["alerts"].as_array().unwrap().len(), 1, "recorded all the same");
    // The silence ends; the next reminder goes out.
    let silence = made.body["id"].as_str().unwrap();
    let deleted = rig.app.send(Method::DELETE, &format!("/v1/alerts/silences/{silence}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    rig.tick(minute, 5000).await;
    rig.tick(minute, 5000).await;
    rig.deliver().await;
    assert_eq!(slack_texts(&receiver).len(), 1);
    assert!(slack_texts(&receiver)[0].starts_with(":bell: *[STILL FIRING]"));
    // Acknowledged: reminders stop; the resolve still goes out.
    let acked = rig.app.send(Method::POST, "/v1/alerts/1/ack", None).await;
    assert_eq!(acked.status, StatusCode::OK, "{}", acked.body);
    assert_eq!(acked.body["acked_by"], "admin-key");
    for _ in 0..10 {
        rig.tick(minute, 5000).await;
    }
    rig.deliver().await;
    assert_eq!(slack_texts(&receiver).len(), 1);
    rig.tick(minute, 1).await;
    rig.tick(minute, 1).await;
    rig.deliver().await;
    let texts = slack_texts(&receiver);
    assert_eq!(texts.len(), 2);
    assert!(texts[1].starts_with(":white_check_mark: *[RESOLVED]"));
}

#[tokio::test]
async fn alert_routes_validate_their_input_and_test_every_channel() {
    let receiver = Receiver::start(0).await;
    let rig = rig(&receiver, |_| {}).await;
    let app = &rig.app;
    let bad = [("/v1/alerts?state=open", "state"), ("/v1/alerts?limit=0", "limit"), ("/v1/alerts?cursor=x", "cursor")];
    for (path, field) in bad {
        let a = app.send(Method::GET, path, None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(a.message().contains(field), "{path}: {}", a.message());
    }
    let missing = app.send(Method::GET, "/v1/alerts/42", None).await;
    assert_eq!((missing.status, missing.code()), (StatusCode::NOT_FOUND, "ALERT_NOT_FOUND"));
    let bad_id = app.send(Method::POST, "/v1/alerts/x/ack", None).await;
    assert_eq!((bad_id.status, bad_id.code()), (StatusCode::BAD_REQUEST, "INVALID_ALERT_ID"));
    let silences = [
        (r#"{"reason":"x"}"#, "duration"),
        (r#"{"duration":"1h","ends_at":"2030-01-01T00:00:00Z","reason":"x"}"#, "not both"),
        (r#"{"duration":"soon","reason":"x"}"#, "duration"),
        (r#"{"ends_at":"2000-01-01T00:00:00Z","reason":"x"}"#, "future"),
        (r#"{"duration":"1h","reason":" "}"#, "reason"),
        (r#"{"duration":"1h","reason":"x","rule":"waiting"}"#, "rule"),
        (r#"{"duration":"1h","reason":"x","colour":"red"}"#, "colour"),
    ];
    for (body, needle) in silences {
        let a = app.send(Method::POST, "/v1/alerts/silences", Some(body)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(a.message().contains(needle), "{body}: {}", a.message());
    }
    let tested = app.send(Method::POST, "/v1/alerts/test", None).await;
    assert_eq!(tested.status, StatusCode::OK);
    assert_eq!(
        tested.body,
        json!({"channels": [
            {"name": "ops-slack", "kind": "slack", "ok": true, "error": null},
            {"name": "pager", "kind": "webhook", "ok": true, "error": null},
        ]})
    );
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert!(got[0].json()["text"].as_str().unwrap().starts_with(":wave: *rampart test message*"));
    assert_eq!(got[1].json()["type"], "alert.test");
    assert_eq!(got[1].json()["alert"], serde_json::Value::Null);
}

#[tokio::test]
async fn without_monitoring_the_alerter_samples_by_itself_with_per_queue_thresholds() {
    let receiver = Receiver::start(0).await;
    let mut config = Config::default();
    let toml = r#"
        [alerts.queues.email]
        waiting = 2
    "#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rampart.toml");
    std::fs::write(&file, toml).unwrap();
    let sources = rampart_server::config::ConfigSources { file: Some(file), ..Default::default() };
    config.alerts = rampart_server::config::Config::load(&sources).unwrap().alerts;
    config.alerts.channels = channels(&receiver);
    config.alerts.rules.store_latency = Duration::from_secs(60);
    let app = TestApp::with_config(config.clone()).await;
    for _ in 0..3 {
        app.enqueue("email", r#"{"payload":{}}"#).await;
        app.enqueue("sms", r#"{"payload":{}}"#).await;
    }
    let alerter_config = AlerterConfig {
        alerts: config.alerts.clone(),
        interval: Duration::from_secs(1),
        channels: vec!["ops-slack".into()],
        token_expiry_horizon: config.diagnostics.token_expiry_horizon,
    };
    let mut alerter = Alerter::new(alerter_config, app.engine.clone(), Arc::new(Notify::new()));
    for _ in 0..2 {
        app.clock.advance(Duration::from_secs(1));
        alerter.run_once().await.unwrap();
    }
    let firing = app.send(Method::GET, "/v1/alerts?state=firing", None).await.body;
    let firing = firing["alerts"].as_array().unwrap();
    assert_eq!(firing.len(), 1, "email's own threshold (2) fires; sms keeps the default (1000): {firing:?}");
    assert_eq!((firing[0]["rule"].as_str(), firing[0]["subject"].as_str()), (Some("queue_waiting"), Some("email")));
    assert_eq!(firing[0]["summary"], "3 > 2");
}

#[tokio::test]
async fn an_open_shared_breaker_and_a_failed_cron_run_fire_and_resolve() {
    let receiver = Receiver::start(0).await;
    let mut rig = rig(&receiver, |_| {}).await;
    let app = &rig.app;
    // Five failures in a row (the default threshold) open the breaker.
    for _ in 0..5 {
        let a = app.send(Method::POST, "/v1/breakers/stripe/record", Some(r#"{"outcome":"failure"}"#)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    // A cron run whose job fails for good.
    let put = json!({"schedule": "@daily", "queue": "reports"}).to_string();
    let a = app.send(Method::PUT, "/v1/cron/nightly", Some(&put)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(app.send(Method::POST, "/v1/cron/nightly/trigger", None).await.status, StatusCode::OK);
    let job = app.lease("reports", 1).await.remove(0);
    let fail = json!({"lease_token": job["lease_token"], "error": "report query timed out", "retryable": false});
    let id = job["id"].as_str().unwrap().to_string();
    let a = app.send(Method::POST, &format!("/v1/jobs/{id}/fail"), Some(&fail.to_string())).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    app.engine.store().cron_run_settle().await.unwrap();
    app.clock.advance(Duration::from_secs(15));
    let fired = rig.alerter.run_once().await.unwrap();
    rig.deliver().await;
    let texts = slack_texts(&receiver);
    assert_eq!(fired.fired, 2, "{texts:#?}");
    let breaker = texts.iter().find(|t| t.contains("breaker `stripe`")).expect("a breaker message");
    assert!(
        breaker.starts_with(":rotating_light: *[FIRING] circuit breaker open on breaker `stripe`*: 1 (threshold 1)")
    );
    let cron = texts.iter().find(|t| t.contains("cron schedule `nightly`")).expect("a cron message");
    assert!(cron.contains(&format!("Its job:\n• job {id}: 1 attempt, last error: report query timed out")), "{cron}");
    // The breaker reset and the next run succeeding: both resolve.
    let a = rig.app.send(Method::POST, "/v1/breakers/stripe/reset", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    rig.app.send(Method::POST, "/v1/cron/nightly/trigger", None).await;
    let job = rig.app.lease("reports", 1).await.remove(0);
    let done = json!({"lease_token": job["lease_token"]}).to_string();
    rig.app.send(Method::POST, &format!("/v1/jobs/{}/complete", job["id"].as_str().unwrap()), Some(&done)).await;
    rig.app.engine.store().cron_run_settle().await.unwrap();
    let mut resolved = 0;
    for _ in 0..2 {
        rig.app.clock.advance(Duration::from_secs(15));
        resolved += rig.alerter.run_once().await.unwrap().resolved;
    }
    assert_eq!(resolved, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expiring_within_the_horizon_fires_once_and_resolves_when_renewed() {
    let receiver = Receiver::start(0).await;
    let mut rig = rig(&receiver, |_| {}).await;
    let report =
        |expires: UnixMillis| json!({"status": "connected", "token_expires_at": expires.to_rfc3339()}).to_string();
    let path = "/v1/integrations/google/connections/acct-1";
    let now = rig.app.engine.now();
    // Two days left, inside the default 7-day horizon; another a month out.
    let soon = report(now.plus(Duration::from_secs(2 * 86_400)));
    assert_eq!(rig.app.send_as("producer", Method::PUT, path, Some(&soon)).await.status, StatusCode::OK);
    let later = report(now.plus(Duration::from_secs(30 * 86_400)));
    let other = "/v1/integrations/google/connections/acct-2";
    assert_eq!(rig.app.send_as("producer", Method::PUT, other, Some(&later)).await.status, StatusCode::OK);

    rig.app.clock.advance(Duration::from_secs(15));
    assert_eq!(rig.alerter.run_once().await.unwrap().fired, 1);
    rig.app.clock.advance(Duration::from_secs(15));
    assert_eq!(rig.alerter.run_once().await.unwrap().fired, 0, "fires once");
    rig.deliver().await;
    let texts = slack_texts(&receiver);
    assert_eq!(texts.len(), 1, "{texts:#?}");
    assert!(
        texts[0].starts_with(
            ":rotating_light: *[FIRING] access token expiring on integration `google/acct-1`*: 1 (threshold 1)"
        ),
        "{}",
        texts[0]
    );
    assert!(texts[0].contains("reconnect `google/acct-1` in the app"), "{}", texts[0]);

    // The app reconnects and reports a token good for a month: resolved.
    let renewed = report(rig.app.engine.now().plus(Duration::from_secs(30 * 86_400)));
    assert_eq!(rig.app.send_as("producer", Method::PUT, path, Some(&renewed)).await.status, StatusCode::OK);
    let mut resolved = 0;
    for _ in 0..2 {
        rig.app.clock.advance(Duration::from_secs(15));
        resolved += rig.alerter.run_once().await.unwrap().resolved;
    }
    assert_eq!(resolved, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apis_error_rate_fires_past_its_threshold_once_enough_requests_came() {
    let receiver = Receiver::start(0).await;
    let mut rig = rig(&receiver, |_| {}).await;
    let http = rig.app.monitor.http();
    let answer = |status: u16, n: usize| {
        for _ in 0..n {
            http.record("/v1/queues/{queue}/jobs", &Method::POST, status, Duration::from_millis(2));
        }
    };
    // The first evaluation only takes the counts as they stand.
    rig.app.clock.advance(Duration::from_secs(15));
    rig.alerter.run_once().await.unwrap();
    // Too few requests to tell, however many failed.
    answer(503, 5);
    for _ in 0..2 {
        rig.app.clock.advance(Duration::from_secs(15));
        assert_eq!(rig.alerter.run_once().await.unwrap().fired, 0);
    }
    // 3 failures in 30 requests (10%), twice: above the default 5%.
    let mut fired = 0;
    for _ in 0..2 {
        answer(200, 27);
        answer(500, 3);
        rig.app.clock.advance(Duration::from_secs(15));
        fired += rig.alerter.run_once().await.unwrap().fired;
    }
    assert_eq!(fired, 1);
    rig.deliver().await;
    let texts = slack_texts(&receiver);
    assert!(
        texts[0].starts_with(":rotating_light: *[FIRING] API error rate on rampart's API*: 10% (threshold 5%)"),
        "{texts:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_decided_by_fallback_while_redis_fails_fire_one_alert() {
    use rampart_limit::policy::{Algorithm, Policy};
    use rampart_server::config::{LimitBackend, OnBackendError, PolicyConfig, PolicyName, RedisUrl};
    use rampart_server::ratelimit::{CheckInput, RateLimiter};

    let receiver = Receiver::start(0).await;
    let mut config = Config::default();
    let policy = Policy::new(100, Duration::from_secs(60), Algorithm::SlidingWindow, None).unwrap();
    let policy = PolicyConfig {
        policy,
        key: Default::default(),
        backend: Some(LimitBackend::Redis),
        on_backend_error: OnBackendError::Allow,
        deny_body: Default::default(),
    };
    config.ratelimit.policies.insert(PolicyName::new("oauth").unwrap(), policy);
    config.ratelimit.redis_timeout = Duration::from_millis(200);
    // A Redis nobody listens on: every check falls back.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unused = format!("redis://{}", listener.local_addr().unwrap());
    drop(listener);
    let redis = RedisUrl::parse(&unused).unwrap();
    let app = TestApp::with_config(config.clone()).await;
    let clock: SharedClock = app.clock.clone();
    let limiter = RateLimiter::with_redis(&config.ratelimit, Some(&redis), clock);
    let alerter_config = AlerterConfig {
        alerts: AlertsConfig { channels: channels(&receiver), ..config.alerts.clone() },
        interval: Duration::from_secs(1),
        channels: vec!["ops-slack".into()],
        token_expiry_horizon: config.diagnostics.token_expiry_horizon,
    };
    let mut alerter =
        Alerter::new(alerter_config, app.engine.clone(), Arc::new(Notify::new())).with_limiter(limiter.clone());
    alerter.run_once().await.unwrap();
    let check = [CheckInput { field: "", policy: "oauth", key: "u1", cost: 1 }];
    let verdict = limiter.check(&check).await.unwrap();
    assert!(verdict.fallback, "Redis is unreachable: the check falls back");
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(alerter.run_once().await.unwrap().fired, 1);
    let firing = app.send(Method::GET, "/v1/alerts?state=firing", None).await.body;
    let firing = firing["alerts"].as_array().unwrap();
    assert_eq!(
        (firing[0]["rule"].as_str(), firing[0]["subject"].as_str()),
        (Some("ratelimit_fallback"), Some("oauth")),
        "{firing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_source_rejecting_a_share_of_its_requests_fires_once_enough_came() {
    use axum::http::HeaderMap;
    use rampart_core::id::SourceName;
    use rampart_server::webhook::{Intake, Sources};
    use rampart_webhook::SourceSpec;

    let receiver = Receiver::start(0).await;
    let rig = rig(&receiver, |_| {}).await;
    let name = SourceName::new("github").unwrap();
    let spec = SourceSpec { scheme: Some("github".into()), secret: Some("gh-secret".into()), ..Default::default() };
    let sources = [(name.clone(), spec.validate(&name).unwrap())].into_iter().collect();
    let intake = Intake::new(rig.app.engine.clone(), Sources::new(rig.app.engine.clone(), sources));
    let source = intake.sources().get(&name).await.unwrap().source;
    let Rig { app, alerter, notifier, alerting } = rig;
    let mut rig = Rig { app, alerter: alerter.with_webhooks(intake.clone()), notifier, alerting };
    // Unsigned requests: each one rejected, none enqueued.
    let forged = |n: usize| {
        let (intake, source) = (intake.clone(), source.clone());
        async move {
            for _ in 0..n {
                let refused = intake.receive(&source, &HeaderMap::new(), None, None, b"{}").await;
                assert!(refused.is_err());
            }
        }
    };
    // The first evaluation only takes the counts as they stand.
    rig.app.clock.advance(Duration::from_secs(15));
    rig.alerter.run_once().await.unwrap();
    // Too few requests to tell, every one rejected.
    forged(5).await;
    for _ in 0..2 {
        rig.app.clock.advance(Duration::from_secs(15));
        assert_eq!(rig.alerter.run_once().await.unwrap().fired, 0);
    }
    // All of 20 requests rejected, twice: above the default 25%.
    let mut fired = 0;
    for _ in 0..2 {
        forged(20).await;
        rig.app.clock.advance(Duration::from_secs(15));
        fired += rig.alerter.run_once().await.unwrap().fired;
    }
    assert_eq!(fired, 1);
    rig.deliver().await;
    let texts = slack_texts(&receiver);
    assert!(
        texts[0].starts_with(
            ":rotating_light: *[FIRING] webhook requests rejected on webhook source `github`*: 100% (threshold 25%)"
        ),
        "{texts:#?}"
    );
    assert!(texts[0].contains("rampart webhooks deliveries --source github --status rejected"), "{texts:#?}");
    // No more rejections: it resolves.
    let mut resolved = 0;
    for _ in 0..4 {
        rig.app.clock.advance(Duration::from_secs(15));
        resolved += rig.alerter.run_once().await.unwrap().resolved;
    }
    assert_eq!(resolved, 1);
}
