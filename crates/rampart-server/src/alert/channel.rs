//! The channels alert notices go to, built from `[[alerts.channels]]`.
//!
//! - Slack, incoming webhook: `POST url` with `{"text": <the notice's
//!   text>}`, which the webhook posts as is.
//! - Slack as an app: `POST {api_url}/chat.postMessage` with the bot token
//!   as a bearer and the notice as Block Kit blocks ([`slack_message`]);
//!   reminders and the resolved notice carry `thread_ts`, the `ts` Slack
//!   answered for the firing notice (kept on its outbox row), so they land
//!   in its thread. Slack answers HTTP 200 with `"ok": false` for most
//!   failures: that is a failed send, retried when Slack says so
//!   (`ratelimited`, after its `Retry-After`; its transient errors) and
//!   given up at once when a retry cannot help (`invalid_auth`,
//!   `channel_not_found`, …). The token never appears in an error.
//! - Webhook: `POST url` with the notice as JSON ([`webhook_body`]) and the
//!   Standard Webhooks headers push delivery sends (`webhook-id`, stable
//!   across retries, `webhook-timestamp`, `webhook-signature` with the
//!   channel's secret), so a receiver verifies both the same way.
//! - Log: a `warn` line with the text.
//!
//! A send answers a [`SendError`] with a short reason on a network error, a
//! timeout (10 s) or a non-2xx status, and when to retry ([`Retry`]: after
//! the notifier's backoff, at the receiver's `Retry-After`, or never);
//! retrying is the notifier's business.

use std::time::Duration;

use rampart_core::alert::NoticeKind;
use rampart_core::time::{UnixMillis, parse_retry_after};
use rampart_core::webhook::{WebhookSecret, sign};
use serde_json::json;

use super::Notice;
use crate::config::{ChannelConfig, ChannelKind, SecretUrl, SlackAppConfig};

/// The most text one Block Kit section holds.
const SECTION_CHARS: usize = 3000;

/// Slack's `error` codes after which the same message may pass: rate
/// limits (with `Retry-After`) and Slack's own trouble. Every other code
/// (`invalid_auth`, `channel_not_found`, `not_in_channel`, …) needs a
/// person, so the notice is given up at once.
const SLACK_RETRYABLE: &[&str] =
    &["ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"];

/// Why a send failed, and when to try again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// A short reason that names no secret.
    pub error: String,
    /// When the notifier may try again.
    pub retry: Retry,
}

/// When a failed send may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// After the notifier's backoff.
    Backoff,
    /// Not before this time: the receiver's `Retry-After`.
    At(UnixMillis),
    /// Never: a retry cannot fix it.
    Never,
}

impl SendError {
    /// A failure worth retrying after the backoff.
    pub fn backoff(error: impl Into<String>) -> SendError {
        SendError { error: error.into(), retry: Retry::Backoff }
    }
}

/// What a channel answered for a delivered notice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// What later notices of the alert refer to: Slack's message `ts`.
    pub remote_id: Option<String>,
}

/// How long one send may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// One configured channel.
#[derive(Debug, Clone)]
pub struct Channel {
    name: String,
    target: Target,
}

#[derive(Debug, Clone)]
enum Target {
    Slack { url: SecretUrl },
    SlackApp { app: SlackAppConfig },
    Webhook { url: SecretUrl, secret: WebhookSecret },
    Log,
}

impl Channel {
    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The channel's kind.
    pub fn kind(&self) -> ChannelKind {
        match self.target {
            Target::Slack { .. } | Target::SlackApp { .. } => ChannelKind::Slack,
            Target::Webhook { .. } => ChannelKind::Webhook,
            Target::Log => ChannelKind::Log,
        }
    }
}

/// Every configured channel, with the HTTP client they share. Cloning shares it.
#[derive(Debug, Clone)]
pub struct Channels {
    channels: Vec<Channel>,
    http: reqwest::Client,
}

impl Channels {
    /// The channels of the configuration. A config that passed validation
    /// has a URL (or, for Slack as an app, a token and channel) on each
    /// Slack and webhook channel and a secret on each webhook channel; one
    /// that lacks them is left out, with an error logged.
    pub fn new(config: &[ChannelConfig]) -> Channels {
        let mut channels = Vec::new();
        for c in config {
            let target = match (c.kind, &c.url, &c.secret, &c.slack_app) {
                (ChannelKind::Slack, _, _, Some(app)) => Target::SlackApp { app: app.clone() },
                (ChannelKind::Slack, Some(url), _, None) => Target::Slack { url: url.clone() },
                (ChannelKind::Webhook, Some(url), Some(secret), _) => {
                    Target::Webhook { url: url.clone(), secret: secret.clone() }
                }
                (ChannelKind::Log, ..) => Target::Log,
                _ => {
                    tracing::error!(channel = %c.name, "alert channel without its url or secret; left out");
                    continue;
                }
            };
            channels.push(Channel { name: c.name.clone(), target });
        }
        let http = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .user_agent(concat!("rampart/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Channels { channels, http }
    }

    /// The channels, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = &Channel> {
        self.channels.iter()
    }

    /// Their names.
    pub fn names(&self) -> Vec<String> {
        self.channels.iter().map(|c| c.name.clone()).collect()
    }

    /// The channel of that name.
    pub fn get(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.name == name)
    }

    /// Sends `notice` to `channel`, once; a webhook is signed at `now`.
    /// `reply_to` is what the channel answered for the alert's firing
    /// notice (Slack's `ts`): a Slack app replies in its thread.
    pub async fn send(
        &self,
        channel: &Channel,
        notice: &Notice,
        reply_to: Option<&str>,
        now: UnixMillis,
    ) -> Result<Sent, SendError> {
        match &channel.target {
            Target::Slack { url } => {
                let body = serde_json::to_vec(&json!({ "text": notice.text() }))
                    .map_err(|e| SendError::backoff(e.to_string()))?;
                self.post(url, body, Vec::new(), now).await
            }
            Target::SlackApp { app } => {
                let thread = reply_to.filter(|_| notice.kind != NoticeKind::Firing);
                self.slack_app(app, &slack_message(&app.channel, notice, thread), now).await
            }
            Target::Webhook { url, secret } => {
                let body = serde_json::to_vec(&webhook_body(notice)).map_err(|e| SendError::backoff(e.to_string()))?;
                // Signed when sent, so a retry hours later is still fresh
                // to the receiver; the id stays the same.
                let timestamp = now.0.div_euclid(1000);
                let signature = sign(secret, &notice.message_id, timestamp, &body);
                let headers = vec![
                    ("webhook-id", notice.message_id.clone()),
                    ("webhook-timestamp", timestamp.to_string()),
                    ("webhook-signature", signature),
                ];
                self.post(url, body, headers, now).await
            }
            Target::Log => {
                let alert = notice.alert.as_ref();
                tracing::warn!(
                    channel = %channel.name,
                    kind = notice.kind.as_str(),
                    alert_id = alert.map(|a| a.id.0),
                    rule = alert.map(|a| a.rule.as_str()),
                    subject = alert.map(|a| a.subject.as_str()),
                    "{}",
                    notice.text()
                );
                Ok(Sent::default())
            }
        }
    }

    /// Posts one message with `chat.postMessage`; Slack's `ok: false` is a failure.
    async fn slack_app(
        &self,
        app: &SlackAppConfig,
        message: &serde_json::Value,
        now: UnixMillis,
    ) -> Result<Sent, SendError> {
        let url = format!("{}/chat.postMessage", app.api_url);
        // `bearer_auth` marks the header sensitive; errors name only the URL.
        let res = self.http.post(&url).bearer_auth(app.bot_token.expose()).json(message).send().await.map_err(|e| {
            SendError::backoff(if e.is_timeout() {
                format!("{url} did not answer within {}s", SEND_TIMEOUT.as_secs())
            } else if e.is_connect() {
                format!("cannot connect to {url}")
            } else {
                format!("sending to {url} failed")
            })
        })?;
        let status = res.status();
        let retry_at = retry_at(res.headers(), now);
        let answer: serde_json::Value = res.json().await.unwrap_or_default();
        let code = answer["error"].as_str().map(|e| e.chars().take(100).collect::<String>());
        if status.is_success() && answer["ok"] == true {
            return Ok(Sent { remote_id: answer["ts"].as_str().map(str::to_string) });
        }
        let code =
            code.unwrap_or_else(|| if status.is_success() { "no ok in its answer".into() } else { String::new() });
        let error = format!(
            "Slack answered HTTP {}{}",
            status.as_u16(),
            if code.is_empty() { String::new() } else { format!(", error: {code}") }
        );
        let retry = match retry_at {
            Some(at) if status.as_u16() == 429 || code == "ratelimited" || code == "rate_limited" => Retry::At(at),
            _ if status.as_u16() == 429 || status.is_server_error() => Retry::Backoff,
            _ if SLACK_RETRYABLE.contains(&code.as_str()) => Retry::Backoff,
            _ => Retry::Never,
        };
        Err(SendError { error, retry })
    }

    async fn post(
        &self,
        url: &SecretUrl,
        body: Vec<u8>,
        headers: Vec<(&str, String)>,
        now: UnixMillis,
    ) -> Result<Sent, SendError> {
        let mut req = self.http.post(url.expose()).header("content-type", "application/json").body(body);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        // The URL may be a secret: errors name only its host.
        let res = req.send().await.map_err(|e| {
            SendError::backoff(if e.is_timeout() {
                format!("{url} did not answer within {}s", SEND_TIMEOUT.as_secs())
            } else if e.is_connect() {
                format!("cannot connect to {url}")
            } else {
                format!("sending to {url} failed")
            })
        })?;
        let status = res.status();
        if status.is_success() {
            return Ok(Sent::default());
        }
        let retry = match retry_at(res.headers(), now) {
            Some(at) if matches!(status.as_u16(), 429 | 503) => Retry::At(at),
            _ => Retry::Backoff,
        };
        let text = res.text().await.unwrap_or_default();
        let text: String = text.chars().take(200).collect();
        let error = format!(
            "{url} answered HTTP {}{}",
            status.as_u16(),
            if text.is_empty() { String::new() } else { format!(": {text}") }
        );
        Err(SendError { error, retry })
    }
}

/// A `Retry-After` header as a time.
fn retry_at(headers: &reqwest::header::HeaderMap, now: UnixMillis) -> Option<UnixMillis> {
    parse_retry_after(headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?, now)
}

/// The `chat.postMessage` body of `notice` for Slack channel `channel`:
/// the first line of its text as the `text` (what notifications show),
/// the whole text as Block Kit sections of at most 3000 characters each
/// (cut at line ends), and a context line naming the alert; in the thread
/// of `thread_ts` when given.
pub fn slack_message(channel: &str, notice: &Notice, thread_ts: Option<&str>) -> serde_json::Value {
    let text = notice.text();
    let title = text.lines().next().unwrap_or_default();
    let mut sections: Vec<String> = Vec::new();
    for line in text.lines() {
        let line: String = line.chars().take(SECTION_CHARS).collect();
        match sections.last_mut() {
            Some(s) if s.chars().count() + 1 + line.chars().count() <= SECTION_CHARS => {
                s.push('\n');
                s.push_str(&line);
            }
            _ => sections.push(line),
        }
    }
    let mut blocks: Vec<serde_json::Value> =
        sections.iter().map(|s| json!({"type": "section", "text": {"type": "mrkdwn", "text": s}})).collect();
    let context = match &notice.alert {
        Some(a) => format!("rampart · {} · rule `{}` · alert {}", notice.kind.as_str(), a.rule.as_str(), a.id),
        None => "rampart · test".to_string(),
    };
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
    let mut message = json!({
        "channel": channel,
        "text": title,
        "blocks": blocks,
        "unfurl_links": false,
        "unfurl_media": false,
    });
    if let Some(ts) = thread_ts {
        message["thread_ts"] = json!(ts);
    }
    message
}

/// The JSON a webhook channel sends:
/// `{"type": "alert.firing" | "alert.reminder" | "alert.resolved" | "alert.test",
///   "id", "sent_for", "alert": {...} | null, "text"}`.
pub fn webhook_body(notice: &Notice) -> serde_json::Value {
    let alert = notice.alert.as_ref().map(|a| {
        json!({
            "id": a.id.to_string(),
            "rule": a.rule.as_str(),
            "subject": a.subject,
            "state": a.state.as_str(),
            "value": a.value,
            "threshold": a.threshold,
            "started_at": a.started_at.to_rfc3339(),
            "resolved_at": a.resolved_at.map(|t| t.to_rfc3339()),
            "dead_jobs": a.details.dead_jobs,
        })
    });
    json!({
        "type": format!("alert.{}", notice.kind.as_str()),
        "id": notice.message_id,
        "at": notice.at.to_rfc3339(),
        "alert": alert,
        "text": notice.text(),
    })
}
