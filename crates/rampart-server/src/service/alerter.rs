//! The alerter: on every sample set the monitoring [`Sampler`] publishes
//! (once per `monitoring.interval`) it evaluates every rule: each queue's
//! waiting jobs, failed rate and expired leases over the interval, the jobs
//! that went dead since the last sample (read from the store, with the
//! first few listed), the store's latency, and the server's and Redis's
//! memory. With monitoring turned off it takes the same figures itself on
//! the same interval.
//!
//! The dead-letter depth (`dead_letter_depth`) is the one rule on a slower
//! beat: every `dead_letter_depth_interval` it compares each queue's dead
//! jobs (the sample's counts) with the threshold and lists the first
//! [`DEPTH_JOBS_LISTED`] of those that hold (one store read per such
//! queue). Between those checks a firing depth alert is still watched on
//! every sample, so a retry or purge resolves it at the next sample.
//!
//! [`Sampler`]: super::Sampler
//!
//! A rule's verdicts go through `rampart_core::alert::step` with the alert
//! the store has firing for it, so every node agrees on what fires; each
//! fire, reminder and resolve is then claimed in the store by a
//! compare-and-set that only one node wins, and the winner's claim queues
//! one outbox row per channel (none while a silence matches). Sending is the
//! [`super::Notifier`]'s job: the evaluation never waits on a channel, and
//! runs off the hot path (a few reads per interval).
//!
//! [`Alerter::evaluate`] takes an [`AlertSample`] from anywhere: one made
//! from the monitor's [`SampleSet`] ([`Alerter::from_sample_set`]), the
//! alerter's own [`Alerter::sample`], or a test's. After each evaluation
//! the alerts firing are published to the monitor, which system health
//! and queue health show.

use super::loops::{Loops, names};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rampart_core::alert::{AlertRule, AlertState, AlertTiming, Firing, Step, Streak, silence_matches, step};
use rampart_core::breaker::BreakerState;
use rampart_core::id::QueueName;
use rampart_core::insight::ErrorLevel;
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;
use rampart_insight::cache::{CacheRule, CacheVerdict};
use rampart_store::{
    AlertFireParams, AlertListParams, AlertRecord, AlertRemindParams, AlertResolveParams, CronRunRecord,
    DeadJobSummary, ErrorCountsParams, ErrorListParams, JobDeadSinceParams, JobListParams, SilenceRecord, StoreError,
};
use tokio::sync::Notify;

use crate::alert::{AlertDetails, DEAD_JOBS_LISTED, DEPTH_JOBS_LISTED, DeadJobDetail};
use crate::config::AlertsConfig;
use crate::engine::{Engine, EngineError};
use crate::insight::Insight;
use crate::monitoring::memory::MemorySample;
use crate::monitoring::{FiringAlert, Monitor, SampleSet};
use crate::ratelimit::RateLimiter;
use crate::shutdown::Shutdown;
use crate::timer::Ticks;
use crate::usage::{Usage, UsageSample};
use crate::webhook::Intake;

/// The subject of store-wide rules.
pub const STORE_SUBJECT: &str = "store";

/// Firing alerts read per evaluation, at most: far more than rules × queues.
const FIRING_READ: u32 = 10_000;

/// The figures one evaluation looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSample {
    /// When it was taken.
    pub at: UnixMillis,
    /// One trivial store query's round trip.
    pub store_latency: Duration,
    /// Per queue.
    pub queues: Vec<QueueSample>,
    /// Shared circuit breakers (kept in the store, the same on every node)
    /// and whether each is open or probing.
    pub breakers: Vec<(String, bool)>,
    /// Every cron schedule's latest run, read from the store.
    pub cron: Vec<CronRunRecord>,
    /// The integrations (`platform/connection`) whose token expires within
    /// the horizon, or has expired.
    pub tokens_expiring: Vec<String>,
    /// Per rate-limit policy, checks this node decided by fallback during
    /// the interval.
    pub fallbacks: Vec<(String, u64)>,
    /// This node's API requests during the interval and those answered 5xx;
    /// `None` without the monitor's request counts.
    pub api: Option<(u64, u64)>,
    /// Per webhook source, this node's requests during the interval and
    /// those rejected.
    pub webhooks: Vec<(String, u64, u64)>,
    /// This server's memory and Redis's.
    pub memory: MemorySample,
    /// What apps report: caches' verdicts, error counts.
    pub reported: ReportedSample,
}

/// The figures of what apps report, in an [`AlertSample`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportedSample {
    /// Each cache's rules' verdicts on its latest snapshot.
    pub caches: Vec<(String, Vec<CacheVerdict>)>,
    /// Each `error_count` rule: its name, the events in its window, its threshold.
    pub error_counts: Vec<(String, u64, u64)>,
    /// Critical error events since the last sample, per kind.
    pub critical: Vec<(String, u64)>,
    /// Budget windows that reached a threshold, and models' failure rates.
    pub usage: UsageSample,
}

/// The subject of the server's memory rule.
pub const SERVER_SUBJECT: &str = "server";

/// The subject of Redis's memory rule.
pub const REDIS_SUBJECT: &str = "redis";

/// Fewest API requests in an interval before its error rate can fire: one
/// failed request out of two is not an outage.
pub const API_ERROR_MIN_REQUESTS: u64 = 20;

/// Fewest requests to a webhook source in an interval before its rejected
/// share can fire: a stray probe is not an attack or a lost secret.
pub const WEBHOOK_REJECTIONS_MIN_REQUESTS: u64 = 20;

/// The subject of the API error-rate rule.
pub const API_SUBJECT: &str = "api";

/// One queue's figures in an [`AlertSample`]; counts are over the interval
/// since the previous sample.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSample {
    /// The queue.
    pub queue: QueueName,
    /// Available jobs now.
    pub waiting: u64,
    /// Attempts that finished (completed or failed).
    pub attempts: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// Leases that expired.
    pub stalled: u64,
    /// Jobs that went dead.
    pub dead: u64,
    /// Dead jobs the queue holds now, however old (the depth).
    pub dead_total: u64,
    /// The first few of them, oldest death first.
    pub dead_first: Vec<DeadJobSummary>,
}

impl QueueSample {
    /// The share of attempts that failed; 0 with no attempts.
    pub fn failed_rate(&self) -> f64 {
        if self.attempts == 0 { 0.0 } else { self.failed as f64 / self.attempts as f64 }
    }
}

/// What one evaluation claimed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Alerts this node started.
    pub fired: u32,
    /// Reminders this node claimed.
    pub reminded: u32,
    /// Alerts this node resolved.
    pub resolved: u32,
}

/// How the alerter runs.
#[derive(Debug, Clone)]
pub struct AlerterConfig {
    /// Thresholds and timing (`[alerts]`).
    pub alerts: AlertsConfig,
    /// Time between samples when the alerter takes them itself
    /// (`monitoring.interval`).
    pub interval: Duration,
    /// The channels every notice goes to, by name.
    pub channels: Vec<String>,
    /// How far ahead an integration's token expiry alerts
    /// (`diagnostics.token_expiry_horizon`).
    pub token_expiry_horizon: Duration,
}

/// Evaluates alert rules once per sample.
pub struct Alerter {
    config: AlertsConfig,
    interval: Duration,
    engine: Engine,
    monitor: Option<Monitor>,
    channels: Vec<String>,
    streaks: HashMap<(AlertRule, String), Streak>,
    /// Totals per queue at the last sample: (finished, failed, stalled).
    last_totals: HashMap<QueueName, (u64, u64, u64)>,
    /// When the last evaluated sample was taken: dead jobs are counted after it.
    last_at: UnixMillis,
    /// The time of the sample being evaluated: `last_at` moves there only
    /// once its evaluation succeeded, so a failed one counts its dead jobs
    /// again on the next sample instead of losing them.
    sampled_at: Option<UnixMillis>,
    /// Told after every evaluation that queued notices.
    queued: std::sync::Arc<Notify>,
    token_expiry_horizon: Duration,
    limiter: Option<RateLimiter>,
    /// Fallback counts per policy at the last sample.
    last_fallbacks: HashMap<String, u64>,
    /// API requests and 5xx answers at the last sample.
    last_api: Option<(u64, u64)>,
    /// Webhook intake, whose per-source counts feed `webhook_rejections`.
    webhooks: Option<Intake>,
    /// Requests and rejections per webhook source at the last sample.
    last_webhooks: HashMap<String, (u64, u64)>,
    loops: Loops,
    /// When the dead-letter depth was last checked.
    depth_checked_at: UnixMillis,
    /// What apps report (caches, error events), when the server takes it.
    insight: Option<Insight>,
    /// The newest critical error event seen: later ones count as new.
    last_critical: Option<i64>,
    /// AI usage and budgets, when the server takes them.
    usage: Option<Usage>,
}

/// One figure to evaluate: the rule, its subject, the value, details, and
/// (for rules whose threshold and verdict come with the figure) both.
type Figure = (AlertRule, String, f64, AlertDetails, Option<(f64, bool)>);

/// Most critical error events read per sample.
const CRITICAL_READ: u32 = 1_000;

/// What [`Alerter::states`] reads: breakers, cron runs, expiring tokens.
type States = (Vec<(String, bool)>, Vec<CronRunRecord>, Vec<String>);

/// What [`Alerter::node_counts`] reads: fallbacks per policy, API
/// requests with their 5xx answers, and webhook requests with their
/// rejections per source.
type NodeCounts = (Vec<(String, u64)>, Option<(u64, u64)>, Vec<(String, u64, u64)>);

/// Most expiring tokens read per evaluation (soonest first).
const TOKENS_READ: u32 = 100;

impl Alerter {
    /// An alerter over `engine` that tells `queued` when it queued notices.
    pub fn new(config: AlerterConfig, engine: Engine, queued: std::sync::Arc<Notify>) -> Alerter {
        let last_at = engine.now();
        Alerter {
            config: config.alerts,
            interval: config.interval,
            engine,
            monitor: None,
            channels: config.channels,
            streaks: HashMap::new(),
            last_totals: HashMap::new(),
            last_at,
            sampled_at: None,
            queued,
            token_expiry_horizon: config.token_expiry_horizon,
            limiter: None,
            last_fallbacks: HashMap::new(),
            last_api: None,
            webhooks: None,
            last_webhooks: HashMap::new(),
            loops: Loops::default(),
            depth_checked_at: last_at,
            insight: None,
            last_critical: None,
            usage: None,
        }
    }

    /// Evaluates `budget_threshold` and `usage_failure_rate` on what apps
    /// report through `usage`.
    pub fn with_usage(mut self, usage: Usage) -> Alerter {
        self.usage = Some(usage);
        self
    }

    /// Evaluates the cache rules, `error_count` and `error_critical` on
    /// what apps report through `insight`.
    pub fn with_insight(mut self, insight: Insight) -> Alerter {
        self.insight = Some(insight);
        self
    }

    /// What apps report, read from the store: each cache's verdicts, each
    /// `error_count` rule's count over its window, and the critical events
    /// that arrived since the last sample.
    async fn reported(&mut self, now: UnixMillis) -> Result<ReportedSample, StoreError> {
        let usage = match &self.usage {
            Some(u) => u.sample(now).await?,
            None => UsageSample::default(),
        };
        let Some(insight) = &self.insight else { return Ok(ReportedSample { usage, ..Default::default() }) };
        let store = self.engine.store();
        let caches = store
            .cache_list()
            .await?
            .into_iter()
            .filter_map(|r| {
                let verdicts = insight.caches().thresholds(&r.name).verdicts(r.snapshot.as_ref()?);
                Some((r.name.to_string(), verdicts))
            })
            .collect();
        let mut error_counts = Vec::new();
        for (name, rule) in &insight.errors().rules {
            let since = UnixMillis(now.0.saturating_sub(i64::try_from(rule.window.as_millis()).unwrap_or(i64::MAX)));
            let params = ErrorCountsParams { since, kind: rule.kind.clone(), limit: u32::MAX };
            let n: u64 = store.error_counts(params).await?.iter().map(|c| c.count).sum();
            error_counts.push((name.clone(), n, rule.threshold));
        }
        let params = ErrorListParams { level: Some(ErrorLevel::Critical), limit: CRITICAL_READ, ..Default::default() };
        let recent = store.error_list(params).await?;
        let mut critical: BTreeMap<String, u64> = BTreeMap::new();
        if let Some(seen) = self.last_critical {
            for e in recent.iter().filter(|e| e.id > seen) {
                *critical.entry(e.kind.clone()).or_default() += 1;
            }
        }
        if let Some(newest) = recent.first() {
            self.last_critical = Some(self.last_critical.map_or(newest.id, |s| s.max(newest.id)));
        } else if self.last_critical.is_none() {
            self.last_critical = Some(0);
        }
        Ok(ReportedSample { caches, error_counts, critical: critical.into_iter().collect(), usage })
    }

    /// Watches `limiter`'s fallbacks (the `ratelimit_fallback` rule).
    pub fn with_limiter(mut self, limiter: RateLimiter) -> Alerter {
        self.limiter = Some(limiter);
        self
    }

    /// Watches `intake`'s per-source counts (the `webhook_rejections` rule).
    pub fn with_webhooks(mut self, intake: Intake) -> Alerter {
        self.webhooks = Some(intake);
        self
    }

    /// What this node counted since the last sample: fallbacks per policy,
    /// API requests with their 5xx answers (from the monitor), and webhook
    /// requests with their rejections.
    fn node_counts(&mut self) -> NodeCounts {
        let mut fallbacks = Vec::new();
        if let Some(limiter) = &self.limiter {
            for p in limiter.policies().iter() {
                let (name, now) = (p.name.to_string(), p.fallbacks());
                let before = self.last_fallbacks.insert(name.clone(), now).unwrap_or(now);
                fallbacks.push((name, now.saturating_sub(before)));
            }
        }
        let api = self.monitor.as_ref().map(|m| {
            let series = m.http().series();
            let total: u64 = series.iter().map(|s| s.count).sum();
            let errors: u64 = series.iter().filter(|s| s.status >= 500).map(|s| s.count).sum();
            let (t0, e0) = self.last_api.replace((total, errors)).unwrap_or((total, errors));
            (total.saturating_sub(t0), errors.saturating_sub(e0))
        });
        let mut webhooks = Vec::new();
        for (source, c) in self.webhooks.as_ref().map(Intake::counts).unwrap_or_default() {
            let (name, now) = (source.to_string(), (c.received, c.rejected));
            let before = self.last_webhooks.insert(name.clone(), now).unwrap_or((0, 0));
            webhooks.push((name, now.0.saturating_sub(before.0), now.1.saturating_sub(before.1)));
        }
        (fallbacks, api, webhooks)
    }

    /// Reports each evaluation to `loops` (the server's registry, for the admin diagnostics).
    pub fn with_loops(mut self, loops: Loops) -> Self {
        self.loops = loops;
        self
    }

    /// Evaluates on the monitor's sample sets, and publishes the alerts
    /// firing to it.
    pub fn with_monitor(mut self, monitor: Monitor) -> Alerter {
        self.monitor = Some(monitor);
        self
    }

    /// The figures of a monitor's sample set, plus the jobs that went dead
    /// since the last sample. Expired leases are counted from the totals of
    /// every node.
    pub async fn from_sample_set(&mut self, set: &SampleSet) -> Result<AlertSample, StoreError> {
        let now = set.at.unwrap_or_else(|| self.engine.now());
        let mut dead = self.dead_since(now).await?;
        let queues = set
            .queues
            .iter()
            .map(|s| {
                let before = self.last_totals.insert(s.queue.clone(), (0, 0, s.totals.stalled));
                let dead = dead.remove(&s.queue);
                QueueSample {
                    queue: s.queue.clone(),
                    waiting: s.counts.get(JobState::Available),
                    attempts: s.interval_attempts,
                    failed: s.interval_failed,
                    stalled: before.map_or(0, |b| s.totals.stalled.saturating_sub(b.2)),
                    dead: dead.as_ref().map_or(0, |d| d.count),
                    dead_total: s.counts.get(JobState::Dead),
                    dead_first: dead.map(|d| d.first).unwrap_or_default(),
                }
            })
            .collect();
        let latency = Duration::from_secs_f64(set.store_latency_ms.max(0.0) / 1000.0);
        let (breakers, cron, tokens_expiring) = self.states(now).await?;
        let (fallbacks, api, webhooks) = self.node_counts();
        let memory = set.memory;
        let reported = self.reported(now).await?;
        Ok(AlertSample {
            at: now,
            store_latency: latency,
            queues,
            breakers,
            cron,
            tokens_expiring,
            fallbacks,
            api,
            webhooks,
            memory,
            reported,
        })
    }

    /// The shared breakers with whether each is open, every schedule's
    /// latest run, and the integrations whose token expires within the horizon.
    async fn states(&self, now: UnixMillis) -> Result<States, StoreError> {
        let store = self.engine.store();
        let expiring = store.integration_expiring(now.plus(self.token_expiry_horizon), TOKENS_READ);
        let (breakers, cron, expiring) = tokio::try_join!(store.breaker_list(), store.cron_run_last(), expiring)?;
        let breakers =
            breakers.into_iter().map(|b| (b.name.to_string(), b.machine.state() != BreakerState::Closed)).collect();
        let tokens = expiring.iter().map(|i| format!("{}/{}", i.platform, i.connection_id)).collect();
        Ok((breakers, cron, tokens))
    }

    /// The jobs that went dead after the last sample up to `now`, by queue.
    async fn dead_since(
        &mut self,
        now: UnixMillis,
    ) -> Result<BTreeMap<QueueName, rampart_store::DeadJobsOfQueue>, StoreError> {
        let params = JobDeadSinceParams { after: self.last_at, until: now, per_queue: DEAD_JOBS_LISTED };
        let dead = self.engine.store().job_dead_since(params).await?;
        self.sampled_at = Some(now);
        Ok(dead.into_iter().map(|d| (d.queue.clone(), d)).collect())
    }

    /// Takes a sample: every known queue's figures since the last sample.
    /// Failed and stalled attempts are this node's own (each node counts
    /// what its API acknowledged and its reaper reaped); waiting and dead
    /// jobs are read from the store, the same on every node.
    pub async fn sample(&mut self) -> Result<AlertSample, EngineError> {
        let store = self.engine.store();
        let started = Instant::now();
        store.ping().await?;
        let store_latency = started.elapsed();
        let now = self.engine.now();
        let mut dead = self.dead_since(now).await?;
        let mut queues = Vec::new();
        for q in self.engine.queues().await? {
            let t = q.totals;
            let totals = (t.completed + t.failed, t.failed, t.stalled);
            let before = self.last_totals.insert(q.name.clone(), totals).unwrap_or((0, 0, 0));
            let dead = dead.remove(&q.name);
            queues.push(QueueSample {
                waiting: q.counts.get(JobState::Available),
                attempts: totals.0.saturating_sub(before.0),
                failed: totals.1.saturating_sub(before.1),
                stalled: totals.2.saturating_sub(before.2),
                dead: dead.as_ref().map_or(0, |d| d.count),
                dead_total: q.counts.get(JobState::Dead),
                dead_first: dead.map(|d| d.first).unwrap_or_default(),
                queue: q.name,
            });
        }
        let (breakers, cron, tokens_expiring) = self.states(now).await?;
        let (fallbacks, api, webhooks) = self.node_counts();
        let memory = MemorySample::take(self.limiter.as_ref()).await;
        let reported = self.reported(now).await?;
        Ok(AlertSample {
            at: now,
            store_latency,
            queues,
            breakers,
            cron,
            tokens_expiring,
            fallbacks,
            api,
            webhooks,
            memory,
            reported,
        })
    }

    /// Evaluates every rule on `sample` and claims what it calls for.
    pub async fn evaluate(&mut self, sample: &AlertSample) -> Result<Evaluation, StoreError> {
        let store = self.engine.store().clone();
        let firing =
            store.alert_list(AlertListParams { state: Some(AlertState::Firing), before: None, limit: FIRING_READ });
        let (firing, silences) = tokio::try_join!(firing, store.silence_list(sample.at))?;
        let mut firing: HashMap<(AlertRule, String), AlertRecord> =
            firing.into_iter().map(|a| ((a.rule, a.subject.clone()), a)).collect();
        let mut out = Evaluation::default();
        let depth_due = sample.at >= self.depth_checked_at.plus(self.config.dead_letter_depth_interval);
        let depth = if depth_due {
            self.depth_checked_at = sample.at;
            self.depth_listings(sample).await?
        } else {
            HashMap::new()
        };
        for (rule, subject, value, details, verdict) in self.figures(sample, depth) {
            let key = (rule, subject);
            let alert = firing.remove(&key);
            // Between depth checks only a fall below the threshold counts.
            if rule == AlertRule::DeadLetterDepth
                && !depth_due
                && (alert.is_none() || rule.holds(value, self.threshold(rule, &key.1)))
            {
                continue;
            }
            self.apply(key, value, verdict, details, alert, &silences, sample.at, &mut out).await?;
        }
        // Firing alerts of a subject the sample no longer has (a queue gone,
        // no new critical event) count as clear, so they resolve.
        for (key, alert) in firing {
            let clear = Some((alert.threshold, false));
            let value = if key.0 == AlertRule::CacheHitRate { 1.0 } else { 0.0 };
            self.apply(key, value, clear, AlertDetails::default(), Some(alert), &silences, sample.at, &mut out).await?;
        }
        if out != Evaluation::default() {
            self.queued.notify_one();
        }
        if let Some(monitor) = &self.monitor {
            let params = AlertListParams { state: Some(AlertState::Firing), before: None, limit: FIRING_READ };
            let firing = store.alert_list(params).await?;
            monitor.alerts_publish(firing.iter().map(firing_alert).collect());
        }
        if let Some(at) = self.sampled_at.take() {
            self.last_at = self.last_at.max(at);
        }
        Ok(out)
    }

    /// The details of the depth rule for each queue whose dead jobs reach
    /// its threshold: the first [`DEPTH_JOBS_LISTED`] of them and their count.
    async fn depth_listings(&self, sample: &AlertSample) -> Result<HashMap<QueueName, AlertDetails>, StoreError> {
        let mut out = HashMap::new();
        for q in &sample.queues {
            let rule = AlertRule::DeadLetterDepth;
            if !rule.holds(q.dead_total as f64, self.threshold(rule, q.queue.as_str())) {
                continue;
            }
            let params = JobListParams {
                queue: q.queue.clone(),
                state: Some(JobState::Dead),
                tenant: None,
                after: None,
                limit: DEPTH_JOBS_LISTED,
            };
            let jobs = self.engine.store().job_list(params).await?;
            let dead_jobs = jobs
                .into_iter()
                .map(|j| DeadJobDetail {
                    id: j.id.to_string(),
                    queue: Some(j.queue.to_string()),
                    tenant: j.tenant,
                    attempts: j.attempt,
                    last_error: j.last_error,
                    died_at: j.finished_at.unwrap_or(j.created_at).to_rfc3339(),
                })
                .collect();
            let details = AlertDetails {
                dead_jobs,
                dead_count: Some(q.dead_total),
                dashboard_url: self.config.dashboard_url.clone(),
                ..Default::default()
            };
            out.insert(q.queue.clone(), details);
        }
        Ok(out)
    }

    /// Each rule's figure in the sample, with its details (`depth`: the
    /// dead-letter depth's listings, by queue).
    fn figures(&self, sample: &AlertSample, mut depth: HashMap<QueueName, AlertDetails>) -> Vec<Figure> {
        let latency_ms = sample.store_latency.as_secs_f64() * 1000.0;
        let mut out: Vec<(AlertRule, String, f64, AlertDetails)> =
            vec![(AlertRule::StoreLatency, STORE_SUBJECT.to_string(), latency_ms, AlertDetails::default())];
        for q in &sample.queues {
            let subject = q.queue.to_string();
            let dead_jobs = q
                .dead_first
                .iter()
                .map(|j| DeadJobDetail {
                    id: j.id.to_string(),
                    queue: None,
                    tenant: None,
                    attempts: j.attempts,
                    last_error: j.last_error.clone(),
                    died_at: j.died_at.to_rfc3339(),
                })
                .collect();
            out.push((AlertRule::QueueWaiting, subject.clone(), q.waiting as f64, AlertDetails::default()));
            out.push((AlertRule::QueueFailedRate, subject.clone(), q.failed_rate(), AlertDetails::default()));
            out.push((AlertRule::QueueStalled, subject.clone(), q.stalled as f64, AlertDetails::default()));
            out.push((
                AlertRule::DeadLetters,
                subject.clone(),
                q.dead as f64,
                AlertDetails { dead_jobs, ..Default::default() },
            ));
            let listing = depth.remove(&q.queue).unwrap_or_default();
            out.push((AlertRule::DeadLetterDepth, subject, q.dead_total as f64, listing));
        }
        let rules = &self.config.rules;
        if let (true, Some(bytes)) = (rules.enabled(AlertRule::ProcessMemory), sample.memory.resident_bytes) {
            out.push((AlertRule::ProcessMemory, SERVER_SUBJECT.to_string(), bytes as f64, AlertDetails::default()));
        }
        if let (true, Some(bytes)) = (rules.enabled(AlertRule::RedisMemory), sample.memory.redis_used_bytes) {
            out.push((AlertRule::RedisMemory, REDIS_SUBJECT.to_string(), bytes as f64, AlertDetails::default()));
        }
        for (name, open) in &sample.breakers {
            out.push((AlertRule::BreakerOpen, name.clone(), f64::from(u8::from(*open)), AlertDetails::default()));
        }
        for (policy, n) in &sample.fallbacks {
            out.push((AlertRule::LimiterFallback, policy.clone(), *n as f64, AlertDetails::default()));
        }
        if let Some((requests, errors)) = sample.api {
            // Too few requests to tell: counts as clear.
            let rate = if requests >= API_ERROR_MIN_REQUESTS { errors as f64 / requests as f64 } else { 0.0 };
            out.push((AlertRule::ApiErrorRate, API_SUBJECT.to_string(), rate, AlertDetails::default()));
        }
        for (source, received, rejected) in &sample.webhooks {
            let share =
                if *received >= WEBHOOK_REJECTIONS_MIN_REQUESTS { *rejected as f64 / *received as f64 } else { 0.0 };
            out.push((AlertRule::WebhookRejections, source.clone(), share, AlertDetails::default()));
        }
        for subject in &sample.tokens_expiring {
            out.push((AlertRule::TokenExpiring, subject.clone(), 1.0, AlertDetails::default()));
        }
        for run in &sample.cron {
            let failed = run.status == JobState::Dead;
            let dead_jobs = match (failed, run.job_id) {
                (true, Some(id)) => vec![DeadJobDetail {
                    id: id.to_string(),
                    queue: None,
                    tenant: None,
                    attempts: run.attempts,
                    last_error: run.error.clone(),
                    died_at: run.finished_at.unwrap_or(run.enqueued_at).to_rfc3339(),
                }],
                _ => Vec::new(),
            };
            out.push((
                AlertRule::CronFailed,
                run.name.to_string(),
                f64::from(u8::from(failed)),
                AlertDetails { dead_jobs, ..Default::default() },
            ));
        }
        for (kind, n) in &sample.reported.critical {
            out.push((AlertRule::ErrorCritical, kind.clone(), *n as f64, AlertDetails::default()));
        }
        let mut figures: Vec<Figure> = out.into_iter().map(|(r, s, v, d)| (r, s, v, d, None)).collect();
        for (cache, verdicts) in &sample.reported.caches {
            for v in verdicts {
                let rule = match v.rule {
                    CacheRule::Utilisation => AlertRule::CacheUtilisation,
                    CacheRule::HitRate => AlertRule::CacheHitRate,
                    CacheRule::Memory => AlertRule::CacheMemory,
                };
                figures.push((rule, cache.clone(), v.value, AlertDetails::default(), Some((v.threshold, v.holds))));
            }
        }
        for (name, n, threshold) in &sample.reported.error_counts {
            let verdict = Some((*threshold as f64, n > threshold));
            figures.push((AlertRule::ErrorCount, name.clone(), *n as f64, AlertDetails::default(), verdict));
        }
        for c in &sample.reported.usage.budgets {
            let details = AlertDetails { budget: Some(c.detail.clone()), ..Default::default() };
            figures.push((AlertRule::BudgetThreshold, c.subject.clone(), c.spent, details, Some((c.threshold, true))));
        }
        for m in &sample.reported.usage.models {
            let details = AlertDetails { usage: Some(m.detail.clone()), ..Default::default() };
            let verdict = Some((m.threshold, m.rate > m.threshold));
            figures.push((AlertRule::UsageFailureRate, m.model.clone(), m.rate, details, verdict));
        }
        figures
    }

    #[allow(clippy::too_many_arguments)] // one step of the loop above, kept out of it to be read
    async fn apply(
        &mut self,
        key: (AlertRule, String),
        value: f64,
        verdict: Option<(f64, bool)>,
        details: AlertDetails,
        alert: Option<AlertRecord>,
        silences: &[SilenceRecord],
        now: UnixMillis,
        out: &mut Evaluation,
    ) -> Result<(), StoreError> {
        let (rule, subject) = (key.0, key.1.clone());
        let (threshold, holds) = match verdict {
            Some(v) => v,
            None => {
                let threshold = self.threshold(rule, &subject);
                (threshold, rule.holds(value, threshold))
            }
        };
        let timing = AlertTiming {
            fire_after: rule.fire_after(self.config.timing.fire_after),
            resolve_after: rule.resolve_after(self.config.timing.resolve_after),
            ..self.config.timing
        };
        let state =
            alert.as_ref().map(|a| Firing { last_notified_at: a.last_notified_at, acked: a.acked_at.is_some() });
        let streak = self.streaks.entry(key).or_default();
        let decided = step(streak, holds, state, now, &timing);
        if decided == Step::Nothing {
            return Ok(());
        }
        let silenced = silences.iter().any(|s| silence_matches(s.rule, s.subject.as_deref(), rule, &subject));
        // A budget threshold is news once: its alert resolves quietly once
        // the sample passed (spending does not fall within a period).
        let quiet = rule == AlertRule::BudgetThreshold && decided == Step::Resolve;
        let channels = if silenced || quiet { Vec::new() } else { self.channels.clone() };
        // A notice without details of its own (a resolve, a reminder with no
        // new dead jobs) keeps those the alert has, so they stay readable.
        let details = match &alert {
            Some(a) if details == AlertDetails::default() => a.details.clone(),
            _ => serde_json::to_string(&details).unwrap_or_else(|_| "{}".into()),
        };
        let store = self.engine.store();
        match (decided, alert) {
            (Step::Fire, _) => {
                let p = AlertFireParams { rule, subject, value, threshold, details, channels, now };
                if let Some(a) = store.alert_fire(p).await? {
                    tracing::warn!(alert_id = a.id.0, rule = %rule, subject = %a.subject, value, threshold, silenced, "alert firing");
                    out.fired += 1;
                }
            }
            (Step::Remind, Some(a)) => {
                let seen_notified_at = a.last_notified_at;
                let p = AlertRemindParams { id: a.id, seen_notified_at, value, details, channels, now };
                if store.alert_remind(p).await? {
                    out.reminded += 1;
                }
            }
            (Step::Resolve, Some(a)) => {
                let p = AlertResolveParams { id: a.id, value, details, channels, now };
                if store.alert_resolve(p).await? {
                    tracing::info!(alert_id = a.id.0, rule = %rule, subject = %a.subject, value, "alert resolved");
                    out.resolved += 1;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn threshold(&self, rule: AlertRule, subject: &str) -> f64 {
        match QueueName::new(subject) {
            Ok(q) if rule.is_queue_rule() => self.config.thresholds(&q).of(rule),
            _ => self.config.rules.of(rule),
        }
    }

    /// One sample and its evaluation.
    pub async fn run_once(&mut self) -> Result<Evaluation, EngineError> {
        let sample = self.sample().await?;
        Ok(self.evaluate(&sample).await?)
    }

    /// Evaluates every sample set of the monitor, or (without one) samples
    /// and evaluates every interval, until shutdown.
    pub async fn run(mut self, shutdown: Shutdown) {
        if let Some(monitor) = self.monitor.clone() {
            let mut sets = monitor.subscribe();
            // The set there before this subscription is not news.
            sets.borrow_and_update();
            loop {
                tokio::select! {
                    changed = sets.changed() => if changed.is_err() { return },
                    _ = shutdown.wait() => return,
                }
                let set = sets.borrow_and_update().clone();
                let evaluated = match self.from_sample_set(&set).await {
                    Ok(sample) => self.evaluate(&sample).await,
                    Err(e) => Err(e),
                };
                self.loops.report(names::ALERTER, &evaluated);
                if let Err(e) = evaluated {
                    tracing::warn!(error = %e, "alert evaluation failed; retrying on the next sample");
                }
            }
        }
        let mut ticks = Ticks::new(self.interval, self.engine.clock().clone(), shutdown);
        // The first tick comes at once: skip it, so the first sample covers
        // a whole interval.
        if !ticks.next().await {
            return;
        }
        while ticks.next().await {
            let evaluated = self.run_once().await;
            self.loops.report(names::ALERTER, &evaluated);
            if let Err(e) = evaluated {
                tracing::warn!(error = %e, "alert evaluation failed; retrying on the next tick");
            }
        }
    }
}

/// A stored firing alert as the monitor shows it in health.
fn firing_alert(a: &AlertRecord) -> FiringAlert {
    let place = match a.rule {
        AlertRule::StoreLatency => "the store".to_string(),
        AlertRule::BreakerOpen => format!("breaker {}", a.subject),
        AlertRule::CronFailed => format!("cron schedule {}", a.subject),
        AlertRule::TokenExpiring => format!("integration {}", a.subject),
        AlertRule::LimiterFallback => format!("rate-limit policy {}", a.subject),
        AlertRule::ApiErrorRate => "the API".to_string(),
        AlertRule::WebhookRejections => format!("webhook source {}", a.subject),
        AlertRule::ProcessMemory => "the rampart server".to_string(),
        AlertRule::RedisMemory => "Redis".to_string(),
        AlertRule::CacheUtilisation | AlertRule::CacheHitRate | AlertRule::CacheMemory => {
            format!("cache {}", a.subject)
        }
        AlertRule::ErrorCount => format!("error rule {}", a.subject),
        AlertRule::ErrorCritical => format!("error kind {}", a.subject),
        AlertRule::BudgetThreshold => format!("budget {}", a.subject),
        AlertRule::UsageFailureRate => format!("model {}", a.subject),
        _ => format!("queue {}", a.subject),
    };
    FiringAlert {
        name: a.rule.to_string(),
        queue: QueueName::new(&a.subject).ok().filter(|_| a.rule.is_queue_rule()),
        message: format!(
            "{} on {place}: {} (threshold {}); alert {}",
            a.rule.figure(),
            a.rule.format_value(a.value),
            a.rule.format_value(a.threshold),
            a.id
        ),
        since: a.started_at,
    }
}
