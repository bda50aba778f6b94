//! Alert notifications: what a notice says and where it goes.
//!
//! The [`crate::service::Alerter`] decides (rules over samples, through
//! `rampart_core::alert::step`) and claims each notice in the store; the
//! [`crate::service::Notifier`] claims due notices from the store's outbox
//! and sends each to its channel here. This module holds:
//! - [`Notice`]: one message, built from a claimed notification or as a test;
//!   [`Notice::text`] is the text every channel sends, exactly;
//! - [`channel`]: the channels (Slack incoming webhook, signed JSON webhook,
//!   the log) and how each sends;
//! - [`ChannelHealth`]: each channel's last success, last error and
//!   consecutive failures on this node, the hook `system-health` and
//!   diagnostics read (`AppState::alert_channels`).

pub mod channel;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rampart_core::alert::{AlertId, AlertRule, AlertState, NoticeKind};
use rampart_core::duration::format_duration;
use rampart_core::time::UnixMillis;
use rampart_store::AlertNotification;
use rampart_usage::Micros;
use serde::{Deserialize, Serialize};

pub use channel::{Channel, Channels, Retry, SendError, Sent};

/// Dead jobs listed in a dead-letter notice, at most.
pub const DEAD_JOBS_LISTED: u32 = 5;

/// Dead jobs listed in a dead-letter depth notice, at most; the rest are
/// counted ("and N more").
pub const DEPTH_JOBS_LISTED: u32 = 10;

/// What a notice carries beyond the figure: for dead letters, the first
/// few dead jobs. Stored as the alert's `details` JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDetails {
    /// The first dead jobs of the interval, oldest death first (for the
    /// depth, the queue's oldest dead jobs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dead_jobs: Vec<DeadJobDetail>,
    /// For the depth: how many dead jobs the queue held, listed or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_count: Option<u64>,
    /// The dashboard's address (`alerts.dashboard_url`) when the notice was
    /// claimed: the text links dead jobs and their queue there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard_url: Option<String>,
    /// For a budget threshold: the budget's window and what it spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetDetail>,
    /// For a model's failure rate: its calls and failures in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageFailureDetail>,
}

/// A budget's window in [`AlertDetails`], as of the threshold's crossing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetDetail {
    /// The budget.
    pub name: String,
    /// Its scope (`global`, `tenant`, …).
    pub scope: String,
    /// Whom the window counts for (a tenant, a user, …); `None` for a global budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The period's window key (`2026-12`) and its time zone.
    pub period: String,
    /// The time zone of the period.
    pub timezone: String,
    /// Settled spending in the window, in micro-dollars.
    pub spent_micros: i64,
    /// Held by unsettled reservations, in micro-dollars.
    pub reserved_micros: i64,
    /// The limit per period, in micro-dollars.
    pub limit_micros: i64,
    /// Whether reservations past the limit are refused.
    pub enforce: bool,
    /// The models that cost the most in the window, most first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_models: Vec<ModelCost>,
}

/// One model's share of a budget's window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelCost {
    /// The model.
    pub model: String,
    /// Its calls.
    pub calls: u64,
    /// What they cost, in micro-dollars.
    pub cost_micros: i64,
}

/// A model's reported calls in [`AlertDetails`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageFailureDetail {
    /// Calls within the window.
    pub calls: u64,
    /// Those that failed.
    pub failures: u64,
    /// The window, as people read it (`15m`).
    pub window: String,
}

/// Models listed in a budget threshold's notice, at most.
pub const TOP_MODELS_LISTED: usize = 3;

/// One dead job in [`AlertDetails`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadJobDetail {
    /// The job's id.
    pub id: String,
    /// Its queue (the depth's listing names it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The customer it ran for, when it has one (the depth's listing names it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Attempts it used.
    pub attempts: u32,
    /// Its last error.
    pub last_error: Option<String>,
    /// When it died (RFC 3339).
    pub died_at: String,
}

/// One message to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Stable across retries of the same message (the webhook's
    /// `webhook-id`): `alert-notification-<outbox id>`, or `test-<random>`.
    pub message_id: String,
    /// What it announces.
    pub kind: NoticeKind,
    /// The alert it is about; `None` for a test.
    pub alert: Option<NoticeAlert>,
    /// When the notice was claimed (or the test made).
    pub at: UnixMillis,
}

/// The alert a [`Notice`] is about, as of the notice.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeAlert {
    /// The alert's id.
    pub id: AlertId,
    /// The rule.
    pub rule: AlertRule,
    /// What it is about: a queue, or `store`.
    pub subject: String,
    /// Its state when the notice was claimed.
    pub state: AlertState,
    /// The figure when the notice was claimed.
    pub value: f64,
    /// The threshold.
    pub threshold: f64,
    /// When it started firing.
    pub started_at: UnixMillis,
    /// When it resolved (resolved notices).
    pub resolved_at: Option<UnixMillis>,
    /// Dead jobs and the like.
    pub details: AlertDetails,
}

impl Notice {
    /// The notice of a claimed outbox row, with the figure and details as
    /// they were when it was claimed.
    pub fn from_notification(n: &AlertNotification) -> Notice {
        let state = if n.kind == NoticeKind::Resolved { AlertState::Resolved } else { AlertState::Firing };
        Notice {
            message_id: format!("alert-notification-{}", n.id),
            kind: n.kind,
            alert: Some(NoticeAlert {
                id: n.alert.id,
                rule: n.alert.rule,
                subject: n.alert.subject.clone(),
                state,
                value: n.value,
                threshold: n.alert.threshold,
                started_at: n.alert.started_at,
                resolved_at: if state == AlertState::Resolved { n.alert.resolved_at } else { None },
                details: serde_json::from_str(&n.details).unwrap_or_default(),
            }),
            at: n.created_at,
        }
    }

    /// A test message (`rampart alerts test`).
    pub fn test(at: UnixMillis) -> Notice {
        Notice { message_id: format!("test-{:016x}", rand::random::<u64>()), kind: NoticeKind::Test, alert: None, at }
    }

    /// The message every channel sends, for people: what, where, the figure
    /// against the threshold, since when, the dead jobs if any, and what to
    /// do next. Slack renders its `*bold*` and `` `code` ``.
    pub fn text(&self) -> String {
        let Some(a) = &self.alert else {
            return format!(
                ":wave: *rampart test message* sent at {}. If you read this, this channel works.",
                self.at.to_rfc3339()
            );
        };
        let (mark, label) = match self.kind {
            NoticeKind::Firing => (":rotating_light:", "FIRING"),
            NoticeKind::Reminder => (":bell:", "STILL FIRING"),
            NoticeKind::Resolved => (":white_check_mark:", "RESOLVED"),
            NoticeKind::Test => (":wave:", "TEST"),
        };
        let place = match a.rule {
            AlertRule::StoreLatency => "the store".to_string(),
            AlertRule::BreakerOpen => format!("breaker `{}`", a.subject),
            AlertRule::CronFailed => format!("cron schedule `{}`", a.subject),
            AlertRule::TokenExpiring => format!("integration `{}`", a.subject),
            AlertRule::LimiterFallback => format!("rate-limit policy `{}`", a.subject),
            AlertRule::ApiErrorRate => "rampart's API".to_string(),
            AlertRule::WebhookRejections => format!("webhook source `{}`", a.subject),
            AlertRule::ProcessMemory => "the rampart server".to_string(),
            AlertRule::RedisMemory => "Redis".to_string(),
            AlertRule::CacheUtilisation | AlertRule::CacheHitRate | AlertRule::CacheMemory => {
                format!("cache `{}`", a.subject)
            }
            AlertRule::ErrorCount => format!("error rule `{}`", a.subject),
            AlertRule::ErrorCritical => format!("error kind `{}`", a.subject),
            AlertRule::BudgetThreshold => match &a.details.budget {
                Some(b) => budget_place(b),
                None => format!("budget `{}`", a.subject),
            },
            AlertRule::UsageFailureRate => format!("model `{}`", a.subject),
            _ => format!("queue `{}`", a.subject),
        };
        let mut text = format!(
            "{mark} *[{label}] {} on {place}*: {} (threshold {})\n",
            a.rule.figure(),
            a.rule.format_value(a.value),
            a.rule.format_value(a.threshold)
        );
        match a.resolved_at {
            Some(resolved) => text.push_str(&format!(
                "Firing from {} to {}. Alert {}.",
                a.started_at.to_rfc3339(),
                resolved.to_rfc3339(),
                a.id
            )),
            None => text.push_str(&format!("Firing since {}. Alert {}.", a.started_at.to_rfc3339(), a.id)),
        }
        if a.rule == AlertRule::DeadLetterDepth {
            // A resolved depth has nothing left to list.
            if self.kind != NoticeKind::Resolved {
                text.push_str(&depth_listing(a, self.at));
            }
        } else if !a.details.dead_jobs.is_empty() {
            text.push_str(if a.rule == AlertRule::CronFailed { "\nIts job:" } else { "\nDead jobs:" });
            for j in &a.details.dead_jobs {
                let error = j.last_error.as_deref().unwrap_or("no error recorded");
                let plural = if j.attempts == 1 { "" } else { "s" };
                text.push_str(&format!("\n• job {}: {} attempt{plural}, last error: {error}", j.id, j.attempts));
            }
        }
        if let Some(b) = &a.details.budget {
            text.push_str(&budget_figures(b));
        }
        if let Some(u) = &a.details.usage {
            text.push_str(&format!("\n{} of {} calls failed in the last {}.", u.failures, u.calls, u.window));
        }
        if self.kind != NoticeKind::Resolved {
            text.push_str(&format!("\nNext: {}", next_step(a)));
        }
        text
    }
}

/// Where a budget alert is: the budget, and whom its window counts for.
fn budget_place(b: &BudgetDetail) -> String {
    match &b.subject {
        Some(s) => format!("budget `{}` ({} `{s}`)", b.name, b.scope),
        None => format!("budget `{}`", b.name),
    }
}

/// A budget window's spending against its limit, and its top models.
fn budget_figures(b: &BudgetDetail) -> String {
    let mut text = format!(
        "\nSpent {} of {} in period {} ({}); {} held by reservations; {}.",
        Micros(b.spent_micros),
        Micros(b.limit_micros),
        b.period,
        b.timezone,
        Micros(b.reserved_micros),
        if b.enforce { "calls past the limit are refused" } else { "soft: calls past the limit go ahead" }
    );
    if !b.top_models.is_empty() {
        let models: Vec<String> = b
            .top_models
            .iter()
            .map(|m| {
                let plural = if m.calls == 1 { "" } else { "s" };
                format!("`{}` {} ({} call{plural})", m.model, Micros(m.cost_micros), m.calls)
            })
            .collect();
        text.push_str(&format!("\nTop models: {}.", models.join(", ")));
    }
    text
}

/// The dead jobs of a depth notice, each with its age at `at` and how to
/// retry it, then "and N more" for those not listed.
fn depth_listing(a: &NoticeAlert, at: UnixMillis) -> String {
    let d = &a.details;
    let mut text = String::new();
    if !d.dead_jobs.is_empty() {
        text.push_str("\nDead jobs:");
    }
    for j in &d.dead_jobs {
        let queue = j.queue.as_deref().unwrap_or(&a.subject);
        let error = j.last_error.as_deref().unwrap_or("no error recorded");
        let plural = if j.attempts == 1 { "" } else { "s" };
        let age = UnixMillis::parse_rfc3339(&j.died_at)
            .map(|died| format_duration(Duration::from_secs(u64::try_from(at.0 - died.0).unwrap_or(0) / 1000)))
            .unwrap_or_else(|_| "?".into());
        let tenant = j.tenant.as_deref().map(|t| format!(", tenant `{t}`")).unwrap_or_default();
        text.push_str(&format!(
            "\n• job {id} (queue `{queue}`{tenant}): {n} attempt{plural}, dead for {age}, last error: {error}\n  \
             retry: `rampart dlq retry {queue} --id {id}` or `POST /v1/jobs/{id}/retry`",
            id = j.id,
            n = j.attempts,
        ));
        if let Some(url) = &d.dashboard_url {
            text.push_str(&format!(" or {url}/jobs/{}", j.id));
        }
    }
    let more = d.dead_count.unwrap_or(0).saturating_sub(d.dead_jobs.len() as u64);
    if more > 0 {
        text.push_str(&format!("\nand {more} more."));
    }
    text
}

/// What an operator should do about a firing alert.
fn next_step(a: &NoticeAlert) -> String {
    let q = &a.subject;
    let ack = format!("acknowledge with `rampart alerts ack {}` to stop reminders.", a.id);
    match a.rule {
        AlertRule::QueueWaiting => format!(
            "check that workers of `{q}` are running and keeping up (`rampart queues show {q}`), add workers or \
             concurrency; {ack}"
        ),
        AlertRule::QueueFailedRate => format!(
            "look at recent failures (`rampart jobs list {q} --state scheduled`) and the service they call; {ack}"
        ),
        AlertRule::QueueStalled => {
            format!("workers of `{q}` stop heartbeating: look for crashes or attempts longer than the lease; {ack}")
        }
        AlertRule::StoreLatency => format!("check the database's load, disk and connections; {ack}"),
        AlertRule::DeadLetters => {
            let first = a.details.dead_jobs.first().map_or_else(|| "ID".to_string(), |j| j.id.clone());
            format!("read the errors (`rampart jobs show {first}`), fix the cause, then `rampart dlq retry {q}`; {ack}")
        }
        AlertRule::DeadLetterDepth => {
            let link = match &a.details.dashboard_url {
                Some(url) => format!(" (or {url}/queues/{q})"),
                None => String::new(),
            };
            format!(
                "fix the cause, then retry them all with `rampart dlq retry {q}` (`POST /v1/queues/{q}/dead/retry`) \
                 or purge them with `rampart dlq purge {q} --yes` (`DELETE /v1/queues/{q}/dead`){link}; once fewer \
                 than {} remain the alert resolves; {ack}",
                a.rule.format_value(a.threshold)
            )
        }
        AlertRule::ProcessMemory => format!(
            "rampart's resident memory grew past the threshold: look at `rampart diag` and the API's traffic; \
             restarting the node frees it; {ack}"
        ),
        AlertRule::RedisMemory => format!(
            "Redis's used memory grew past the threshold: check its maxmemory and eviction policy (rate-limit keys \
             expire by themselves) and what else uses that Redis; {ack}"
        ),
        AlertRule::BreakerOpen => format!(
            "the service behind `{q}` is failing: callers are refused until it recovers (`rampart breakers show {q}`); \
             {ack}"
        ),
        AlertRule::CronFailed => {
            format!("read the run's error (`rampart cron runs {q}`), fix the cause; the next tick runs again; {ack}")
        }
        AlertRule::LimiterFallback => format!(
            "Redis is failing or slow: checks of `{q}` follow its on_backend_error until it answers (`rampart \
             ratelimit list` shows Redis's state); {ack}"
        ),
        AlertRule::ApiErrorRate => format!(
            "rampart answers 5xx: read its log for the requests' errors (each carries its x-request-id) and check \
             the store (`rampart monitor`); {ack}"
        ),
        AlertRule::WebhookRejections => format!(
            "requests to /in/{q} fail their signature check: a rotated secret not configured yet, a proxy changing \
             the body, or someone forging events (`rampart webhooks deliveries --source {q} --status rejected` \
             shows each reason); {ack}"
        ),
        AlertRule::TokenExpiring => format!(
            "reconnect `{q}` in the app before its token expires (`rampart diag integrations` shows when); the alert \
             resolves once the app reports a later expiry; {ack}"
        ),
        AlertRule::CacheUtilisation => {
            format!(
                "cache `{q}` is nearly full: raise its max size or shorten its entries' life (`rampart caches show {q}`); {ack}"
            )
        }
        AlertRule::CacheHitRate => {
            format!("cache `{q}` misses more than it hits: check its keys and size (`rampart caches show {q}`); {ack}")
        }
        AlertRule::CacheMemory => {
            format!("cache `{q}` holds more memory than allowed: lower its max size (`rampart caches show {q}`); {ack}")
        }
        AlertRule::ErrorCount => {
            format!("read the latest events (`rampart errors list`) and fix their cause; {ack}")
        }
        AlertRule::ErrorCritical => {
            format!("read the event (`rampart errors list --kind {q} --level critical`) now; {ack}")
        }
        AlertRule::BudgetThreshold => {
            let name = a.details.budget.as_ref().map_or(q.as_str(), |b| b.name.as_str());
            format!(
                "see what spends (`rampart usage summary --group-by feature`, `rampart usage budgets`); raise the \
                 budget (`[budgets.{name}]` or `rampart usage put {name} SPEC`) if it is meant to; each threshold \
                 notifies once per period"
            )
        }
        AlertRule::UsageFailureRate => format!(
            "calls to `{q}` fail: check the provider's status and the app's errors (`rampart usage summary \
             --group-by model`); {ack}"
        ),
    }
}

/// Alerting as the API and health reports see it: the channels, their
/// health on this node, and the firing count from the store. Cloning shares it.
#[derive(Debug, Clone)]
pub struct Alerting {
    /// The configured channels.
    pub channels: Channels,
    /// Their health on this node.
    pub health: ChannelHealth,
}

/// Alerting's state for `system-health`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertsStatus {
    /// Alerts firing now (every node's).
    pub firing: u64,
    /// Channels whose last send from this node failed.
    pub failing_channels: Vec<String>,
}

impl Alerting {
    /// The channels of `[[alerts.channels]]`, none of which has sent yet.
    pub fn new(config: &[crate::config::ChannelConfig]) -> Alerting {
        let channels = Channels::new(config);
        let health = ChannelHealth::new(&channels);
        Alerting { channels, health }
    }

    /// How many alerts fire, and which channels fail: what
    /// `/v1/monitoring/system-health` shows under `components.alerts`.
    pub async fn status(&self, store: &rampart_store::Store) -> Result<AlertsStatus, rampart_store::StoreError> {
        let params = rampart_store::AlertListParams { state: Some(AlertState::Firing), before: None, limit: 10_000 };
        let firing = store.alert_list(params).await?.len() as u64;
        Ok(AlertsStatus { firing, failing_channels: self.health.failing() })
    }

    /// Sends a test message to every channel, recording each outcome in
    /// the channels' health; answers each channel's result in order.
    pub async fn test(&self, now: UnixMillis) -> Vec<(String, ChannelKindName, Result<(), String>)> {
        let notice = Notice::test(now);
        let mut out = Vec::new();
        for c in self.channels.iter() {
            let outcome = self.channels.send(c, &notice, None, now).await.map(|_| ()).map_err(|e| e.error);
            self.health.record(c.name(), &outcome, now);
            out.push((c.name().to_string(), c.kind().as_str(), outcome));
        }
        out
    }
}

/// A channel kind's name, as [`Alerting::test`] answers it.
pub type ChannelKindName = &'static str;

/// How one channel has fared on this node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelStatus {
    /// The channel's kind (`slack`, `webhook`, `log`).
    pub kind: &'static str,
    /// When a send last succeeded.
    pub last_success_at: Option<UnixMillis>,
    /// When a send last failed.
    pub last_error_at: Option<UnixMillis>,
    /// Why it last failed.
    pub last_error: Option<String>,
    /// Failures since the last success; more than zero means failing.
    pub consecutive_failures: u32,
}

/// Every channel's [`ChannelStatus`] on this node, shared by the notifier
/// (which records) and whatever reports health (which reads). Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct ChannelHealth {
    inner: Arc<Mutex<BTreeMap<String, ChannelStatus>>>,
}

impl ChannelHealth {
    /// Health for these channels, none of which has sent yet.
    pub fn new(channels: &Channels) -> ChannelHealth {
        let map = channels
            .iter()
            .map(|c| (c.name().to_string(), ChannelStatus { kind: c.kind().as_str(), ..ChannelStatus::default() }))
            .collect();
        ChannelHealth { inner: Arc::new(Mutex::new(map)) }
    }

    /// Records a send's outcome.
    pub fn record(&self, channel: &str, outcome: &Result<(), String>, now: UnixMillis) {
        let Ok(mut map) = self.inner.lock() else { return };
        let status = map.entry(channel.to_string()).or_default();
        match outcome {
            Ok(()) => {
                status.last_success_at = Some(now);
                status.consecutive_failures = 0;
            }
            Err(e) => {
                status.last_error_at = Some(now);
                status.last_error = Some(e.clone());
                status.consecutive_failures = status.consecutive_failures.saturating_add(1);
            }
        }
    }

    /// Every channel's status, by name.
    pub fn snapshot(&self) -> BTreeMap<String, ChannelStatus> {
        self.inner.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The names of the channels whose last send failed.
    pub fn failing(&self) -> Vec<String> {
        self.snapshot().into_iter().filter(|(_, s)| s.consecutive_failures > 0).map(|(name, _)| name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(rule: AlertRule, value: f64, threshold: f64) -> NoticeAlert {
        NoticeAlert {
            id: AlertId(12),
            rule,
            subject: "email-send".into(),
            state: AlertState::Firing,
            value,
            threshold,
            started_at: UnixMillis(1_800_000_000_000),
            resolved_at: None,
            details: AlertDetails::default(),
        }
    }

    fn notice(kind: NoticeKind, alert: NoticeAlert) -> Notice {
        Notice {
            message_id: "alert-notification-1".into(),
            kind,
            alert: Some(alert),
            at: UnixMillis(1_800_000_060_000),
        }
    }

    #[test]
    fn a_firing_notice_says_what_where_how_much_since_when_and_what_next() {
        let text = notice(NoticeKind::Firing, alert(AlertRule::QueueWaiting, 1500.0, 1000.0)).text();
        assert_eq!(
            text,
            ":rotating_light: *[FIRING] waiting jobs on queue `email-send`*: 1500 (threshold 1000)\n\
             Firing since 2027-01-15T08:00:00.000Z. Alert 12.\n\
             Next: check that workers of `email-send` are running and keeping up (`rampart queues show email-send`), \
             add workers or concurrency; acknowledge with `rampart alerts ack 12` to stop reminders."
        );
    }

    #[test]
    fn a_resolved_notice_gives_the_span_and_no_next_step() {
        let mut a = alert(AlertRule::QueueFailedRate, 0.02, 0.1);
        a.state = AlertState::Resolved;
        a.resolved_at = Some(UnixMillis(1_800_000_120_000));
        assert_eq!(
            notice(NoticeKind::Resolved, a).text(),
            ":white_check_mark: *[RESOLVED] failed rate on queue `email-send`*: 2% (threshold 10%)\n\
             Firing from 2027-01-15T08:00:00.000Z to 2027-01-15T08:02:00.000Z. Alert 12."
        );
    }

    #[test]
    fn a_budget_notice_names_the_window_its_spending_and_top_models() {
        let mut a = alert(AlertRule::BudgetThreshold, 0.85, 0.8);
        a.subject = "daily/acme@80%".into();
        a.details.budget = Some(BudgetDetail {
            name: "daily".into(),
            scope: "tenant".into(),
            subject: Some("acme".into()),
            period: "2027-01-15".into(),
            timezone: "Europe/Berlin".into(),
            spent_micros: 42_500_000,
            reserved_micros: 1_000_000,
            limit_micros: 50_000_000,
            enforce: true,
            top_models: vec![
                ModelCost { model: "gpt-4o".into(), calls: 120, cost_micros: 40_000_000 },
                ModelCost { model: "claude".into(), calls: 1, cost_micros: 2_500_000 },
            ],
        });
        let text = notice(NoticeKind::Firing, a).text();
        assert!(
            text.starts_with(
                ":rotating_light: *[FIRING] budget spent on budget `daily` (tenant `acme`)*: 85% (threshold 80%)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "\nSpent $42.500000 of $50.000000 in period 2027-01-15 (Europe/Berlin); $1.000000 held by \
                 reservations; calls past the limit are refused.\nTop models: `gpt-4o` $40.000000 (120 calls), \
                 `claude` $2.500000 (1 call).\nNext: "
            ),
            "{text}"
        );
    }

    #[test]
    fn channel_health_counts_failures_until_a_success() {
        let health = ChannelHealth::default();
        health.record("slack", &Err("HTTP 500".into()), UnixMillis(1));
        health.record("slack", &Err("HTTP 502".into()), UnixMillis(2));
        health.record("log", &Ok(()), UnixMillis(2));
        assert_eq!(health.failing(), ["slack"]);
        let s = &health.snapshot()["slack"];
        assert_eq!((s.consecutive_failures, s.last_error.as_deref()), (2, Some("HTTP 502")));
        health.record("slack", &Ok(()), UnixMillis(3));
        assert!(health.failing().is_empty());
        assert_eq!(health.snapshot()["slack"].last_error_at, Some(UnixMillis(2)), "the last error stays visible");
    }
}
