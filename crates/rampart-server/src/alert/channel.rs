//! The channels alert notices go to, built from `[[alerts.channels]]`.
//!
//! - Slack: `POST url` with `{"text": <the notice's text>}`, which an incoming
//!   webhook posts as is.
//! - Webhook: `POST url` with the notice as JSON ([`webhook_body`]) and the
//!   Standard Webhooks headers push delivery sends (`webhook-id`, stable
//!   across retries, `webhook-timestamp`, `webhook-signature` with the
//!   channel's secret), so a receiver verifies both the same way.
//! - Log: a `warn` line with the text.
//!
//! A send answers `Err` with a short reason on a network error, a timeout
//! (10 s) or a non-2xx status; retrying is the notifier's business.

use std::time::Duration;

use rampart_core::time::UnixMillis;
use rampart_core::webhook::{WebhookSecret, sign};
use serde_json::json;

use super::Notice;
use crate::config::{ChannelConfig, ChannelKind, SecretUrl};

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
            Target::Slack { .. } => ChannelKind::Slack,
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
    /// has a URL on each Slack and webhook channel and a secret on each
    /// webhook channel; one that lacks them is left out, with an error logged.
    pub fn new(config: &[ChannelConfig]) -> Channels {
        let mut channels = Vec::new();
        for c in config {
            let target = match (c.kind, &c.url, &c.secret) {
                (ChannelKind::Slack, Some(url), _) => Target::Slack { url: url.clone() },
                (ChannelKind::Webhook, Some(url), Some(secret)) => {
                    Target::Webhook { url: url.clone(), secret: secret.clone() }
                }
                (ChannelKind::Log, _, _) => Target::Log,
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
    pub async fn send(&self, channel: &Channel, notice: &Notice, now: UnixMillis) -> Result<(), String> {
        match &channel.target {
            Target::Slack { url } => {
                let body = serde_json::to_vec(&json!({ "text": notice.text() })).map_err(|e| e.to_string())?;
                self.post(url, body, Vec::new()).await
            }
            Target::Webhook { url, secret } => {
                let body = serde_json::to_vec(&webhook_body(notice)).map_err(|e| e.to_string())?;
                // Signed when sent, so a retry hours later is still fresh
                // to the receiver; the id stays the same.
                let timestamp = now.0.div_euclid(1000);
                let signature = sign(secret, &notice.message_id, timestamp, &body);
                let headers = vec![
                    ("webhook-id", notice.message_id.clone()),
                    ("webhook-timestamp", timestamp.to_string()),
                    ("webhook-signature", signature),
                ];
                self.post(url, body, headers).await
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
                Ok(())
            }
        }
    }

    async fn post(&self, url: &SecretUrl, body: Vec<u8>, headers: Vec<(&str, String)>) -> Result<(), String> {
        let mut req = self.http.post(url.expose()).header("content-type", "application/json").body(body);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        // The URL may be a secret: errors name only its host.
        let res = req.send().await.map_err(|e| {
            if e.is_timeout() {
                format!("{url} did not answer within {}s", SEND_TIMEOUT.as_secs())
            } else if e.is_connect() {
                format!("cannot connect to {url}")
            } else {
                format!("sending to {url} failed")
            }
        })?;
        let status = res.status();
        if status.is_success() {
            return Ok(());
        }
        let text = res.text().await.unwrap_or_default();
        let text: String = text.chars().take(200).collect();
        Err(format!(
            "{url} answered HTTP {}{}",
            status.as_u16(),
            if text.is_empty() { String::new() } else { format!(": {text}") }
        ))
    }
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
