//! The `[alerts]` section: timing, thresholds (defaults in `[alerts.rules]`,
//! per queue in `[alerts.queues.NAME]`, each key falling back to the
//! default), and the channels of `[[alerts.channels]]`, plus the
//! conventional `SLACK_WEBHOOK_URL`, read as `alerts.slack_webhook_url`.
//!
//! Its keys, their resolution from the environment and flags, and their
//! checks live here, on the validating walk's primitives ([`Check`]).

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_core::alert::{AlertRule, AlertTiming};
use rampart_core::id::QueueName;
use rampart_core::webhook::WebhookSecret;
use rampart_insight::cache::CacheThresholds;
use toml::{Table, Value};

use crate::check::Check;
use crate::keys::{Kind, Resolved, child, describe, key_list, kind_of};
use crate::urls::{SecretText, SecretUrl};
use crate::usage::UsageConfig;

/// The conventional variable for a Slack incoming webhook; read as
/// `alerts.slack_webhook_url`, below `RAMPART_ALERTS__SLACK_WEBHOOK_URL`.
pub(crate) const ENV_SLACK_WEBHOOK_URL: &str = "SLACK_WEBHOOK_URL";

pub(crate) const ALERTS_KEYS: &[(&str, Kind)] = &[
    ("enabled", Kind::Bool),
    ("for", Kind::Int),
    ("resolve_after", Kind::Int),
    ("repeat_interval", Kind::Text),
    ("slack_webhook_url", Kind::Text),
    ("dead_letter_depth_interval", Kind::Text),
    ("dashboard_url", Kind::Text),
    ("rules", Kind::Table),
    ("queues", Kind::Table),
    ("channels", Kind::Table),
];

pub(crate) const RULE_KEYS: &[(&str, Kind)] = &[
    ("waiting", Kind::Int),
    ("failed_rate", Kind::Float),
    ("stalled", Kind::Int),
    ("store_latency", Kind::Text),
    ("dead_letters", Kind::Int),
    ("api_error_rate", Kind::Float),
    ("webhook_rejections", Kind::Float),
    ("dead_letter_depth", Kind::Int),
    ("process_memory_mb", Kind::Int),
    ("redis_memory_mb", Kind::Int),
];

/// The keys of `[alerts.queues.NAME]`: the queue rules' thresholds.
const QUEUE_RULE_KEYS: &[(&str, Kind)] = &[
    ("waiting", Kind::Int),
    ("failed_rate", Kind::Float),
    ("stalled", Kind::Int),
    ("dead_letters", Kind::Int),
    ("dead_letter_depth", Kind::Int),
];

const CHANNEL_KEYS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("kind", Kind::Text),
    ("url", Kind::Text),
    ("secret", Kind::Text),
    ("bot_token", Kind::Text),
    ("channel", Kind::Text),
    ("api_url", Kind::Text),
];

/// Where a Slack app channel posts when `api_url` is not set.
pub const SLACK_API_URL: &str = "https://slack.com/api";

/// Alerting (`[alerts]`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertsConfig {
    /// Whether rules are evaluated and notifications sent (`enabled`).
    pub enabled: bool,
    /// `for`, `resolve_after` and `repeat_interval`.
    pub timing: AlertTiming,
    /// Thresholds of every queue that has no table of its own, and of the
    /// store (`[alerts.rules]`).
    pub rules: AlertThresholds,
    /// Queues with their own thresholds (`[alerts.queues.NAME]`), resolved:
    /// each key a table leaves out holds the `[alerts.rules]` value.
    pub queues: BTreeMap<QueueName, AlertThresholds>,
    /// Where notifications go (`[[alerts.channels]]`, plus a Slack channel
    /// named `slack` from `SLACK_WEBHOOK_URL` when no Slack channel is set).
    pub channels: Vec<ChannelConfig>,
    /// How often the `dead_letter_depth` rule counts and lists dead jobs
    /// (`dead_letter_depth_interval`, default 5m).
    pub dead_letter_depth_interval: Duration,
    /// The dashboard's address as people reach it (`dashboard_url`, e.g.
    /// `https://rampart.example.com/ui`, no trailing slash): notices link
    /// dead jobs and queues there. `None`: no links, commands only.
    pub dashboard_url: Option<String>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            enabled: true,
            timing: AlertTiming::default(),
            rules: AlertThresholds::default(),
            queues: BTreeMap::new(),
            channels: Vec::new(),
            dead_letter_depth_interval: Duration::from_secs(5 * 60),
            dashboard_url: None,
        }
    }
}

impl AlertsConfig {
    /// The thresholds of one queue: its own table, else the defaults.
    pub fn thresholds(&self, queue: &QueueName) -> &AlertThresholds {
        self.queues.get(queue).unwrap_or(&self.rules)
    }
}

/// The thresholds of the rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertThresholds {
    /// Fire above this many available jobs (`waiting`, default 1000).
    pub waiting: u64,
    /// Fire above this share of failed attempts in an interval
    /// (`failed_rate`, default 0.1).
    pub failed_rate: f64,
    /// Fire above this many expired leases in an interval (`stalled`, default 10).
    pub stalled: u64,
    /// Fire above this store round trip (`store_latency`, default 100ms).
    pub store_latency: Duration,
    /// Fire at this many new dead jobs (`dead_letters`, default 1).
    pub dead_letters: u64,
    /// Fire above this share of API requests answered 5xx in an interval
    /// (`api_error_rate`, default 0.05); not per queue.
    pub api_error_rate: f64,
    /// Fire above this share of a webhook source's requests rejected in an
    /// interval (`webhook_rejections`, default 0.25); not per queue.
    pub webhook_rejections: f64,
    /// Fire while a queue holds at least this many dead jobs
    /// (`dead_letter_depth`, default 1).
    pub dead_letter_depth: u64,
    /// Fire above this resident memory of the server, in MiB
    /// (`process_memory_mb`; 0, the default, turns the rule off); not per queue.
    pub process_memory_mb: u64,
    /// Fire above this `used_memory` of the configured Redis, in MiB
    /// (`redis_memory_mb`; 0, the default, turns the rule off); not per queue.
    pub redis_memory_mb: u64,
}

impl Default for AlertThresholds {
    fn default() -> Self {
        AlertThresholds {
            waiting: 1000,
            failed_rate: 0.1,
            stalled: 10,
            store_latency: Duration::from_millis(100),
            dead_letters: 1,
            api_error_rate: 0.05,
            webhook_rejections: 0.25,
            dead_letter_depth: 1,
            process_memory_mb: 0,
            redis_memory_mb: 0,
        }
    }
}

impl AlertThresholds {
    /// The threshold of `rule`, in the unit its figures use (milliseconds
    /// for the store latency).
    pub fn of(&self, rule: AlertRule) -> f64 {
        match rule {
            AlertRule::QueueWaiting => self.waiting as f64,
            AlertRule::QueueFailedRate => self.failed_rate,
            AlertRule::QueueStalled => self.stalled as f64,
            AlertRule::StoreLatency => self.store_latency.as_secs_f64() * 1000.0,
            AlertRule::DeadLetters => self.dead_letters as f64,
            AlertRule::ApiErrorRate => self.api_error_rate,
            AlertRule::WebhookRejections => self.webhook_rejections,
            AlertRule::DeadLetterDepth => self.dead_letter_depth as f64,
            AlertRule::ProcessMemory => (self.process_memory_mb * MIB) as f64,
            AlertRule::RedisMemory => (self.redis_memory_mb * MIB) as f64,
            // States, not levels: open (or failed) is 1.
            AlertRule::BreakerOpen
            | AlertRule::CronFailed
            | AlertRule::TokenExpiring
            | AlertRule::LimiterFallback
            | AlertRule::ErrorCritical => 1.0,
            // Per budget (its thresholds) and per `[usage]`: the alerter
            // passes each figure's own threshold.
            AlertRule::BudgetThreshold => 1.0,
            AlertRule::UsageFailureRate => UsageConfig::default().failure_rate,
            // Per cache ([caches]) and per rule ([errors.rules]): the alerter
            // passes each figure's own threshold.
            AlertRule::CacheUtilisation => CacheThresholds::default().utilisation,
            AlertRule::CacheHitRate => CacheThresholds::default().hit_rate,
            AlertRule::CacheMemory => CacheThresholds::default().memory_bytes as f64,
            AlertRule::ErrorCount => 0.0,
        }
    }
}

/// Bytes in a MiB.
const MIB: u64 = 1024 * 1024;

impl AlertThresholds {
    /// Whether `rule` is evaluated at all: the memory rules are off while
    /// their threshold is 0.
    pub fn enabled(&self, rule: AlertRule) -> bool {
        match rule {
            AlertRule::ProcessMemory => self.process_memory_mb > 0,
            AlertRule::RedisMemory => self.redis_memory_mb > 0,
            _ => true,
        }
    }
}

rampart_core::named_enum! {
    /// A channel's kind.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ChannelKind {
        /// Slack: an incoming webhook (`url`), or an app posting with
        /// `chat.postMessage` (`bot_token` and `channel`).
        Slack = "slack",
        /// A JSON POST signed as Standard Webhooks.
        Webhook = "webhook",
        /// A warning line in rampart's log.
        Log = "log",
    }
    parse_error: String = |s| format!("{s:?} is not a channel kind; use \"slack\", \"webhook\" or \"log\"");
}

/// One `[[alerts.channels]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelConfig {
    /// Its name, unique among channels: notifications and health name it.
    pub name: String,
    /// What it is.
    pub kind: ChannelKind,
    /// Where to POST (Slack and webhook channels).
    pub url: Option<SecretUrl>,
    /// The signing secret (webhook channels, required).
    pub secret: Option<WebhookSecret>,
    /// Slack as an app (a `slack` channel with `bot_token` and `channel`
    /// instead of `url`).
    pub slack_app: Option<SlackAppConfig>,
}

/// A Slack channel that posts as an app, through `chat.postMessage`.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackAppConfig {
    /// The bot token (`xoxb-…`), sent as a bearer; never shown.
    pub bot_token: SecretText,
    /// The Slack channel to post in: an id (`C0123ABC`) or a name (`#ops`).
    pub channel: String,
    /// Slack's Web API base (`api_url`, default `https://slack.com/api`,
    /// no trailing slash); `chat.postMessage` is posted under it.
    pub api_url: String,
}

/// Resolves the key segments that follow `alerts` (environment variables).
pub(crate) fn resolve_key(segments: &[&str]) -> Resolved {
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let path = |rest: &[String]| std::iter::once("alerts".to_string()).chain(rest.iter().cloned()).collect();
    match lower.as_slice() {
        [] => Err("`alerts` is a table: set one of its keys, e.g. `alerts.enabled`".to_string()),
        [key] if key == "channels" => {
            Err("`alerts.channels` is an array of tables: write it in the configuration file as [[alerts.channels]]"
                .to_string())
        }
        [key] => match kind_of(ALERTS_KEYS, key) {
            Some(Kind::Table) => Err(format!("`alerts.{key}` is a table: set one of its keys")),
            Some(kind) => Ok((path(&lower), kind)),
            None => Err(format!("`alerts.{key}` is not a setting; alerts keys are {}", key_list(ALERTS_KEYS))),
        },
        [table, key] if table == "rules" => match kind_of(RULE_KEYS, key) {
            Some(kind) => Ok((path(&lower), kind)),
            None => Err(format!("`alerts.rules.{key}` is not a setting; rules are {}", key_list(RULE_KEYS))),
        },
        [table, _, key] if table == "queues" => match kind_of(QUEUE_RULE_KEYS, key) {
            // The queue name keeps its case.
            Some(kind) => Ok((path(&[table.clone(), segments[1].to_string(), key.clone()]), kind)),
            None => Err(format!(
                "`alerts.queues.{}.{key}` is not a setting; per-queue rules are {}",
                segments[1],
                key_list(QUEUE_RULE_KEYS)
            )),
        },
        [table, ..] if table == "queues" => {
            Err("`alerts.queues` needs a queue name and a rule, e.g. `alerts.queues.email-send.waiting`".to_string())
        }
        _ => Err(format!("`alerts.{}` is not a setting; alerts keys are {}", lower.join("."), key_list(ALERTS_KEYS))),
    }
}

/// Maps a dotted flag key under `alerts.queues.` to its path: the queue
/// name may hold dots, so the rule is taken from the end.
pub(crate) fn resolve_dotted_queue(rest: &str) -> Resolved {
    match rest.rsplit_once('.') {
        Some((name, key)) => resolve_key(&["queues", name, key]),
        None => resolve_key(&["queues", rest]),
    }
}

impl Check<'_> {
    /// The `[alerts]` table over the defaults.
    pub(crate) fn alerts(&mut self, path: &[String], value: &Value) -> AlertsConfig {
        let mut alerts = AlertsConfig::default();
        let Some(table) = self.table(path, value, "a table of alert settings") else {
            return alerts;
        };
        let mut slack_url = None;
        for (key, value) in table {
            let path = child(path, key);
            match key.as_str() {
                "enabled" => {
                    if let Some(b) = self.boolean(&path, value) {
                        alerts.enabled = b;
                    }
                }
                "for" => {
                    if let Some(n) = self.int(&path, value, 1, 1000).and_then(|n| u32::try_from(n).ok()) {
                        alerts.timing.fire_after = n;
                    }
                }
                "resolve_after" => {
                    if let Some(n) = self.int(&path, value, 1, 1000).and_then(|n| u32::try_from(n).ok()) {
                        alerts.timing.resolve_after = n;
                    }
                }
                "repeat_interval" => {
                    if let Some(d) = self.positive_duration(&path, value, "must be more than 0s") {
                        alerts.timing.repeat_interval = d;
                    }
                }
                "dead_letter_depth_interval" => {
                    if let Some(d) = self.positive_duration(&path, value, "must be more than 0s") {
                        alerts.dead_letter_depth_interval = d;
                    }
                }
                "dashboard_url" => {
                    if let Some(s) = self.text(&path, value)
                        && !s.trim().is_empty()
                    {
                        alerts.dashboard_url = self.plain_url(&path, s);
                    }
                }
                "slack_webhook_url" => {
                    if let Some(s) = self.text(&path, value)
                        && !s.trim().is_empty()
                    {
                        slack_url = self.http_url(&path, s);
                    }
                }
                // Walked below, once the default thresholds are known.
                "queues" | "channels" => {}
                "rules" => alerts.rules = self.thresholds(&path, value, &AlertThresholds::default(), RULE_KEYS),
                _ => self.unknown(&path, ALERTS_KEYS),
            }
        }
        if let Some(value) = table.get("queues") {
            let path = child(path, "queues");
            if let Some(queues) = self.table(&path, value, "a table of queues ([alerts.queues.NAME])") {
                for (name, value) in queues {
                    let path = child(&path, name);
                    let thresholds = self.thresholds(&path, value, &alerts.rules, QUEUE_RULE_KEYS);
                    match QueueName::new(name) {
                        Ok(name) => {
                            alerts.queues.insert(name, thresholds);
                        }
                        Err(e) => self.report(&path, e),
                    }
                }
            }
        }
        if let Some(value) = table.get("channels") {
            alerts.channels = self.channels(&child(path, "channels"), value);
        }
        if let Some(url) = slack_url
            && !alerts.channels.iter().any(|c| c.kind == ChannelKind::Slack)
        {
            alerts.channels.push(ChannelConfig {
                name: "slack".into(),
                kind: ChannelKind::Slack,
                url: Some(url),
                secret: None,
                slack_app: None,
            });
        }
        alerts
    }

    /// A thresholds table over `base`, with the keys `allowed`.
    fn thresholds(
        &mut self,
        path: &[String],
        value: &Value,
        base: &AlertThresholds,
        allowed: &[(&str, Kind)],
    ) -> AlertThresholds {
        let mut t = *base;
        let Some(table) = self.table(path, value, "a table of rule thresholds") else {
            return t;
        };
        for (key, value) in table {
            let path = child(path, key);
            if kind_of(allowed, key).is_none() {
                self.unknown(&path, allowed);
                continue;
            }
            match key.as_str() {
                "waiting" => t.waiting = self.int(&path, value, 0, u64::MAX >> 11).unwrap_or(t.waiting),
                "failed_rate" => t.failed_rate = self.float(&path, value, 0.0, 1.0).unwrap_or(t.failed_rate),
                "stalled" => t.stalled = self.int(&path, value, 0, u64::MAX >> 11).unwrap_or(t.stalled),
                "store_latency" => {
                    t.store_latency =
                        self.positive_duration(&path, value, "must be more than 0s").unwrap_or(t.store_latency)
                }
                "dead_letters" => t.dead_letters = self.int(&path, value, 1, u64::MAX >> 11).unwrap_or(t.dead_letters),
                "api_error_rate" => t.api_error_rate = self.float(&path, value, 0.0, 1.0).unwrap_or(t.api_error_rate),
                "webhook_rejections" => {
                    t.webhook_rejections = self.float(&path, value, 0.0, 1.0).unwrap_or(t.webhook_rejections)
                }
                "dead_letter_depth" => {
                    t.dead_letter_depth = self.int(&path, value, 1, u64::MAX >> 11).unwrap_or(t.dead_letter_depth)
                }
                "process_memory_mb" => {
                    t.process_memory_mb = self.int(&path, value, 0, 1 << 30).unwrap_or(t.process_memory_mb)
                }
                "redis_memory_mb" => {
                    t.redis_memory_mb = self.int(&path, value, 0, 1 << 30).unwrap_or(t.redis_memory_mb)
                }
                _ => self.unknown(&path, allowed),
            }
        }
        t
    }

    /// An `http://` or `https://` URL.
    fn http_url(&mut self, path: &[String], s: &str) -> Option<SecretUrl> {
        SecretUrl::parse(s).map_err(|e| self.report(path, e)).ok()
    }

    /// An `http://` or `https://` URL that is no secret, without a trailing slash.
    fn plain_url(&mut self, path: &[String], s: &str) -> Option<String> {
        SecretUrl::parse(s).map(|u| u.expose().trim_end_matches('/').to_string()).map_err(|e| self.report(path, e)).ok()
    }

    /// The `[[alerts.channels]]` array.
    fn channels(&mut self, path: &[String], value: &Value) -> Vec<ChannelConfig> {
        let Value::Array(items) = value else {
            self.report(path, format!("expected an array of tables ([[alerts.channels]]), got {}", describe(value)));
            return Vec::new();
        };
        let mut channels: Vec<ChannelConfig> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = child(path, &i.to_string());
            let Some(table) = self.table(&path, item, "a channel table with name, kind and url") else {
                continue;
            };
            if let Some(channel) = self.channel(&path, table) {
                if channels.iter().any(|c| c.name == channel.name) {
                    self.report(
                        &child(&path, "name"),
                        format!("{:?} names two channels; names must differ", channel.name),
                    );
                } else {
                    channels.push(channel);
                }
            }
        }
        channels
    }

    fn channel(&mut self, path: &[String], table: &Table) -> Option<ChannelConfig> {
        let (mut name, mut kind, mut url, mut secret) = (None, None, None, None);
        let (mut bot_token, mut slack_channel, mut api_url) = (None, None, None);
        let mut ok = true;
        for (key, value) in table {
            let path = child(path, key);
            match key.as_str() {
                "name" => match self.text(&path, value).map(str::trim) {
                    Some(s) if !s.is_empty() && s.len() <= 64 => name = Some(s.to_string()),
                    Some(_) => {
                        self.report(&path, "must be 1 to 64 characters");
                        ok = false;
                    }
                    None => ok = false,
                },
                "kind" => match self.text(&path, value).map(|s| s.trim().to_ascii_lowercase().parse::<ChannelKind>()) {
                    Some(Ok(k)) => kind = Some(k),
                    Some(Err(e)) => {
                        self.report(&path, e);
                        ok = false;
                    }
                    None => ok = false,
                },
                "url" => match self.text(&path, value) {
                    Some(s) => {
                        url = self.http_url(&path, s);
                        ok &= url.is_some();
                    }
                    None => ok = false,
                },
                "secret" => match self.text(&path, value).map(WebhookSecret::parse) {
                    Some(Ok(s)) => secret = Some(s),
                    // The secret itself is never quoted.
                    Some(Err(e)) => {
                        self.report(&path, e);
                        ok = false;
                    }
                    None => ok = false,
                },
                // The token itself is never quoted.
                "bot_token" => match self.text(&path, value).map(str::trim) {
                    Some(s) if !s.is_empty() && !s.contains(char::is_whitespace) => {
                        bot_token = Some(SecretText::new(s))
                    }
                    Some(_) => {
                        self.report(&path, "must be a Slack bot token (xoxb-…), without spaces");
                        ok = false;
                    }
                    None => ok = false,
                },
                "channel" => match self.text(&path, value).map(str::trim) {
                    Some(s) if !s.is_empty() && s.len() <= 80 && !s.contains(char::is_whitespace) => {
                        slack_channel = Some(s.to_string())
                    }
                    Some(_) => {
                        self.report(&path, "must be a Slack channel id (C0123ABC) or name (#ops), 1 to 80 characters");
                        ok = false;
                    }
                    None => ok = false,
                },
                "api_url" => match self.text(&path, value) {
                    Some(s) => {
                        api_url = self.plain_url(&path, s);
                        ok &= api_url.is_some();
                    }
                    None => ok = false,
                },
                _ => {
                    self.unknown(&path, CHANNEL_KEYS);
                    ok = false;
                }
            }
        }
        if name.is_none() {
            self.report(&child(path, "name"), "is required: every channel has a name");
            ok = false;
        }
        let Some(kind) = kind else {
            self.report(&child(path, "kind"), "is required: \"slack\", \"webhook\" or \"log\"");
            return None;
        };
        let app = table.contains_key("bot_token") || table.contains_key("channel");
        if kind == ChannelKind::Slack && app {
            if table.contains_key("url") {
                self.report(
                    &child(path, "url"),
                    "a slack channel posts either through an incoming webhook (url) or as an app (bot_token and \
                     channel), not both; remove one",
                );
                ok = false;
            }
            for (key, given) in [("bot_token", bot_token.is_some()), ("channel", slack_channel.is_some())] {
                if !given && !table.contains_key(key) {
                    self.report(&child(path, key), "is required for a slack channel posting as an app");
                    ok = false;
                }
            }
        } else if kind == ChannelKind::Slack && table.contains_key("api_url") {
            self.report(&child(path, "api_url"), "only a slack channel posting as an app (bot_token) takes it");
            ok = false;
        } else if kind != ChannelKind::Log && url.is_none() && !table.contains_key("url") {
            let also = if kind == ChannelKind::Slack { " (or bot_token and channel, to post as an app)" } else { "" };
            self.report(&child(path, "url"), format!("is required for a {} channel{also}", kind.as_str()));
            ok = false;
        }
        if kind != ChannelKind::Slack {
            for key in ["bot_token", "channel", "api_url"] {
                if table.contains_key(key) {
                    self.report(&child(path, key), "only slack channels take it; remove it");
                    ok = false;
                }
            }
        }
        if kind == ChannelKind::Webhook && secret.is_none() && !table.contains_key("secret") {
            self.report(
                &child(path, "secret"),
                format!(
                    "is required for a webhook channel: its messages are signed with it (Standard Webhooks); \
                     for example secret = \"{}\" (freshly generated)",
                    WebhookSecret::generate().expose()
                ),
            );
            ok = false;
        }
        if kind != ChannelKind::Webhook && table.contains_key("secret") {
            self.report(&child(path, "secret"), "only webhook channels are signed; remove it");
            ok = false;
        }
        let slack_app = match (bot_token, slack_channel) {
            (Some(bot_token), Some(channel)) if kind == ChannelKind::Slack => Some(SlackAppConfig {
                bot_token,
                channel,
                api_url: api_url.unwrap_or_else(|| SLACK_API_URL.to_string()),
            }),
            _ => None,
        };
        ok.then(|| ChannelConfig { name: name.unwrap_or_default(), kind, url, secret, slack_app })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use crate::{Config, DEFAULT_TOML};

    fn load(file: Option<&str>, env: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        testing::load(file, env, &[]).map_err(|e| e.0)
    }

    #[test]
    fn the_defaults_match_the_issue_and_the_default_file_documents_every_key() {
        let config = load(None, &[]).unwrap().alerts;
        assert_eq!(config, AlertsConfig::default());
        assert!(config.enabled && config.channels.is_empty());
        assert_eq!((config.timing.fire_after, config.timing.resolve_after), (2, 2));
        assert_eq!(config.timing.repeat_interval, Duration::from_secs(4 * 3600));
        let r = config.rules;
        assert_eq!((r.waiting, r.failed_rate, r.stalled, r.dead_letters), (1000, 0.1, 10, 1));
        assert_eq!(r.store_latency, Duration::from_millis(100));
        let table: Table = DEFAULT_TOML.parse().unwrap();
        let alerts = table["alerts"].as_table().unwrap();
        for (key, kind) in ALERTS_KEYS {
            let documented = alerts.contains_key(*key)
                || (*kind == Kind::Table && DEFAULT_TOML.contains(&format!("# [alerts.{key}")))
                || DEFAULT_TOML.contains(&format!("# [[alerts.{key}]]"));
            assert!(documented, "alerts key `{key}` missing from config.default.toml");
        }
        for (key, _) in RULE_KEYS {
            assert!(alerts["rules"].as_table().unwrap().contains_key(*key), "rule `{key}` missing");
        }
        for (key, _) in CHANNEL_KEYS {
            assert!(DEFAULT_TOML.contains(&format!("\n# {key} = ")), "channel key `{key}` missing");
        }
    }

    #[test]
    fn channels_thresholds_and_timing_come_from_file_and_environment() {
        let file = r#"
            [alerts]
            for = 3
            repeat_interval = "1h"
            [alerts.rules]
            waiting = 5000
            [alerts.queues."billing.v2"]
            failed_rate = 0.02
            [[alerts.channels]]
            name = "ops"
            kind = "slack"
            url = "https://hooks.slack.com/services/T/B/X"
            [[alerts.channels]]
            name = "pager"
            kind = "webhook"
            url = "https://pager.example.com/in"
            secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            [[alerts.channels]]
            name = "log"
            kind = "log"
        "#;
        let env = [
            ("RAMPART_ALERTS__RESOLVE_AFTER", "4"),
            ("RAMPART_ALERTS__QUEUES__email__STALLED", "2"),
            ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/ignored/because/ops"),
        ];
        let alerts = load(Some(file), &env).unwrap().alerts;
        assert_eq!((alerts.timing.fire_after, alerts.timing.resolve_after), (3, 4));
        assert_eq!(alerts.timing.repeat_interval, Duration::from_secs(3600));
        let billing = alerts.thresholds(&QueueName::new("billing.v2").unwrap());
        assert_eq!((billing.failed_rate, billing.waiting), (0.02, 5000), "unset keys take [alerts.rules]");
        assert_eq!(alerts.thresholds(&QueueName::new("email").unwrap()).stalled, 2);
        assert_eq!(alerts.thresholds(&QueueName::new("other").unwrap()).stalled, 10);
        let names: Vec<_> = alerts.channels.iter().map(|c| (c.name.as_str(), c.kind)).collect();
        assert_eq!(names, [("ops", ChannelKind::Slack), ("pager", ChannelKind::Webhook), ("log", ChannelKind::Log)]);
        assert_eq!(alerts.channels[0].url.as_ref().unwrap().to_string(), "https://hooks.slack.com/***");
        assert!(!format!("{:?}", alerts.channels[1]).contains("MfKQ9"), "the secret never shows");
    }

    #[test]
    fn slack_webhook_url_alone_adds_a_slack_channel() {
        let url = "https://hooks.slack.com/services/T0/B0/secret";
        let alerts = load(None, &[("SLACK_WEBHOOK_URL", url)]).unwrap().alerts;
        assert_eq!(alerts.channels.len(), 1);
        assert_eq!((alerts.channels[0].name.as_str(), alerts.channels[0].kind), ("slack", ChannelKind::Slack));
        assert_eq!(alerts.channels[0].url.as_ref().unwrap().expose(), url);
        let bad = load(None, &[("SLACK_WEBHOOK_URL", "hooks.slack.com/secret-part")]).unwrap_err();
        assert_eq!(bad, ["alerts.slack_webhook_url: is not an http:// or https:// URL (from SLACK_WEBHOOK_URL)"]);
    }

    #[test]
    fn the_dead_letter_depth_memory_rules_and_dashboard_links_are_configured() {
        let d = AlertsConfig::default();
        assert_eq!(d.dead_letter_depth_interval, Duration::from_secs(300));
        assert_eq!((d.rules.dead_letter_depth, d.rules.process_memory_mb, d.rules.redis_memory_mb), (1, 0, 0));
        assert!(!d.rules.enabled(AlertRule::ProcessMemory) && !d.rules.enabled(AlertRule::RedisMemory));
        assert!(d.rules.enabled(AlertRule::DeadLetterDepth));
        let file = r#"
            [alerts]
            dead_letter_depth_interval = "1m"
            dashboard_url = "https://rampart.example.com/ui/"
            [alerts.rules]
            dead_letter_depth = 5
            process_memory_mb = 512
            [alerts.queues.billing]
            dead_letter_depth = 1
        "#;
        let alerts = load(Some(file), &[("RAMPART_ALERTS__RULES__REDIS_MEMORY_MB", "100")]).unwrap().alerts;
        assert_eq!(alerts.dead_letter_depth_interval, Duration::from_secs(60));
        assert_eq!(alerts.dashboard_url.as_deref(), Some("https://rampart.example.com/ui"));
        assert_eq!(alerts.rules.of(AlertRule::DeadLetterDepth), 5.0);
        assert_eq!(alerts.thresholds(&QueueName::new("billing").unwrap()).dead_letter_depth, 1);
        assert_eq!(alerts.rules.of(AlertRule::ProcessMemory), 512.0 * 1048576.0);
        assert_eq!(alerts.rules.of(AlertRule::RedisMemory), 100.0 * 1048576.0);
        assert!(alerts.rules.enabled(AlertRule::ProcessMemory) && alerts.rules.enabled(AlertRule::RedisMemory));
        let bad = "[alerts]\ndashboard_url = \"rampart/ui\"\n[alerts.rules]\ndead_letter_depth = 0\n";
        let errors = load(Some(bad), &[]).unwrap_err();
        assert!(errors[0].starts_with("alerts.dashboard_url: is not an http:// or https:// URL"), "{errors:#?}");
        assert!(errors[1].starts_with("alerts.rules.dead_letter_depth: must be at least 1"), "{errors:#?}");
    }

    #[test]
    fn a_slack_channel_posts_as_an_app_with_bot_token_and_channel_the_token_never_shown() {
        let file = r##"
            [[alerts.channels]]
            name = "ops-app"
            kind = "slack"
            bot_token = "xoxb-1111-2222-SeCrEt"
            channel = "C0123ABCD"
            [[alerts.channels]]
            name = "local"
            kind = "slack"
            bot_token = "xoxb-3333"
            channel = "#ops"
            api_url = "http://127.0.0.1:9/api/"
        "##;
        let alerts = load(Some(file), &[]).unwrap().alerts;
        let app = alerts.channels[0].slack_app.as_ref().unwrap();
        assert_eq!((app.bot_token.expose(), app.channel.as_str()), ("xoxb-1111-2222-SeCrEt", "C0123ABCD"));
        assert_eq!(app.api_url, SLACK_API_URL);
        assert!(alerts.channels[0].url.is_none());
        assert_eq!(alerts.channels[1].slack_app.as_ref().unwrap().api_url, "http://127.0.0.1:9/api");
        assert!(!format!("{alerts:?}").contains("SeCrEt"), "the token never shows");
        let bad = r#"
            [[alerts.channels]]
            name = "both"
            kind = "slack"
            url = "https://hooks.slack.com/services/T/B/X"
            bot_token = "xoxb-SeCrEt"
            channel = "C1"
            [[alerts.channels]]
            name = "half"
            kind = "slack"
            bot_token = "xoxb-SeCrEt"
            [[alerts.channels]]
            name = "hook"
            kind = "webhook"
            url = "https://example.com/x"
            secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            channel = "C1"
            [[alerts.channels]]
            name = "spaces"
            kind = "slack"
            bot_token = "xoxb SeCrEt"
            channel = "C1"
            api_url = "slack.com"
        "#;
        let errors = load(Some(bad), &[]).unwrap_err();
        let expect = [
            "alerts.channels.0.url: a slack channel posts either through an incoming webhook (url) or as an app",
            "alerts.channels.1.channel: is required for a slack channel posting as an app",
            "alerts.channels.2.channel: only slack channels take it",
            "alerts.channels.3.bot_token: must be a Slack bot token",
            "alerts.channels.3.api_url: is not an http:// or https:// URL",
        ];
        for needle in expect {
            assert!(errors.iter().any(|e| e.starts_with(needle)), "no error starting {needle:?} in {errors:#?}");
        }
        assert!(!errors.iter().any(|e| e.contains("SeCrEt")), "tokens are never quoted: {errors:#?}");
    }

    #[test]
    fn every_alert_problem_names_its_key_at_once_without_quoting_secrets() {
        let file = r#"
            [alerts]
            for = 0
            repeat_interval = "soon"
            colour = "red"
            [alerts.rules]
            failed_rate = 1.5
            dead_letters = 0
            [alerts.queues.email]
            store_latency = "1s"
            [alerts.queues."bad name"]
            waiting = 1
            [[alerts.channels]]
            kind = "pager"
            [[alerts.channels]]
            name = "hook"
            kind = "webhook"
            url = "https://example.com/x"
            [[alerts.channels]]
            name = "hook"
            kind = "slack"
            url = "ftp://secret-token@example.com"
            [[alerts.channels]]
            name = "s"
            kind = "log"
            secret = "whsec_c2hvcnQ="
        "#;
        let errors = load(Some(file), &[("RAMPART_ALERTS__CHANNELS", "x")]).unwrap_err();
        let expect = [
            "RAMPART_ALERTS__CHANNELS: `alerts.channels` is an array of tables",
            "alerts.for: must be at least 1, got 0",
            "alerts.repeat_interval: `soon` is not a duration",
            "alerts.colour: unknown key",
            "alerts.rules.failed_rate: must be at most 1.0, got 1.5",
            "alerts.rules.dead_letters: must be at least 1, got 0",
            "alerts.queues.email.store_latency: unknown key",
            "alerts.queues.\"bad name\": `bad name` is not a queue name",
            "alerts.channels.0.kind: \"pager\" is not a channel kind",
            "alerts.channels.0.name: is required",
            "alerts.channels.1.secret: is required for a webhook channel",
            "alerts.channels.2.url: is not an http:// or https:// URL",
            "alerts.channels.3.secret: the key after `whsec_` is 5 bytes",
        ];
        for needle in expect {
            assert!(errors.iter().any(|e| e.starts_with(needle)), "no error starting {needle:?} in {errors:#?}");
        }
        assert!(!errors.iter().any(|e| e.contains("secret-token")), "URLs are never quoted: {errors:#?}");
        assert!(errors.iter().any(|e| e.contains("for example secret = \"whsec_")), "{errors:#?}");
    }
}
