//! What apps report about themselves, as the server takes it: cache
//! telemetry (`POST /v1/caches/{name}/report`) and error events
//! (`POST /v1/errors`).
//!
//! The rules are `rampart-insight`'s (checks, tallies, thresholds,
//! fingerprints) and the records the store's (`Store::cache_report`,
//! `Store::error_insert`); this module joins them. An error event's text is
//! scrubbed by the same scrubber as rampart's own Sentry events
//! ([`crate::telemetry::scrub`]) before it is fingerprinted, stored, relayed
//! or alerted on. A `critical` event fires an `error_critical` alert (one
//! per kind while it fires) as the report is taken, and wakes the notifier,
//! so it reaches the channels without waiting for the next sample; the
//! alerter then keeps it firing while critical events of that kind arrive
//! and resolves it when they stop. The cache rules and `error_count` are
//! evaluated by the alerter on each sample (`service/alerter.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rampart_client::cache::CacheSink;
use rampart_client::wire::CacheReportRequest;
use rampart_core::alert::{AlertRule, silence_matches};
use rampart_core::id::CacheName;
use rampart_core::insight::{CacheEventKind, ErrorLevel};
use rampart_insight::ReportError;
use rampart_insight::cache::{CacheEvent, CacheSnapshot, CacheTally, validate_report};
use rampart_insight::error::ErrorEvent;
use rampart_store::{
    AlertFireParams, CacheEvictionInsert, CacheReportParams, ErrorEventInsert, ErrorEventRecord, ErrorInsertParams,
};
use tokio::sync::Notify;

use crate::config::{CachesConfig, Config, ErrorsConfig};
use crate::engine::{Engine, EngineError};
use crate::telemetry::scrub::scrub;

/// Why a report was not taken.
#[derive(Debug, thiserror::Error)]
pub enum InsightError {
    /// The report breaks a rule; the error names the field.
    #[error(transparent)]
    Invalid(#[from] ReportError),
    /// The store failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<rampart_store::StoreError> for InsightError {
    fn from(e: rampart_store::StoreError) -> Self {
        InsightError::Engine(e.into())
    }
}

/// Where a critical event's alert goes: the channels, and the notifier to wake.
#[derive(Clone)]
pub struct AlertHook {
    /// Every channel's name.
    pub channels: Vec<String>,
    /// Told when a notice was queued.
    pub queued: Arc<Notify>,
}

/// What a cache report took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheReported {
    /// Events in the report.
    pub events: u64,
    /// Evictions kept in the log.
    pub evictions: u64,
}

/// Takes what apps report. Cloning shares it.
#[derive(Clone)]
pub struct Insight {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    caches: CachesConfig,
    errors: ErrorsConfig,
    interval_ms: i64,
    relay: bool,
    alerts: Option<AlertHook>,
    /// Error events taken by this node, per level (`ErrorLevel::ALL` order).
    received: [AtomicU64; 4],
}

impl Insight {
    /// Takes reports into `engine`'s store with the settings of `config`.
    pub fn new(engine: Engine, config: &Config) -> Insight {
        let interval_ms = i64::try_from(config.monitoring.interval.as_millis()).unwrap_or(i64::MAX).max(1);
        let relay = config.errors.relay_to_sentry && config.sentry.dsn.is_some();
        Insight {
            inner: Arc::new(Inner {
                engine,
                caches: config.caches.clone(),
                errors: config.errors.clone(),
                interval_ms,
                relay,
                alerts: None,
                received: Default::default(),
            }),
        }
    }

    /// Fires `error_critical` alerts to `hook`'s channels (alerting on).
    pub fn with_alerts(self, hook: AlertHook) -> Insight {
        let inner = &self.inner;
        Insight {
            inner: Arc::new(Inner {
                engine: inner.engine.clone(),
                caches: inner.caches.clone(),
                errors: inner.errors.clone(),
                interval_ms: inner.interval_ms,
                relay: inner.relay,
                alerts: Some(hook),
                received: Default::default(),
            }),
        }
    }

    /// `[caches]`.
    pub fn caches(&self) -> &CachesConfig {
        &self.inner.caches
    }

    /// `[errors]`.
    pub fn errors(&self) -> &ErrorsConfig {
        &self.inner.errors
    }

    /// The width of a counting interval in milliseconds (`monitoring.interval`).
    pub fn interval_ms(&self) -> i64 {
        self.inner.interval_ms
    }

    /// Error events this node took since it started, per level.
    pub fn error_counts(&self) -> Vec<(ErrorLevel, u64)> {
        ErrorLevel::ALL.iter().zip(&self.inner.received).map(|(l, n)| (*l, n.load(Ordering::Relaxed))).collect()
    }

    /// The engine whose store keeps the reports.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Checks and records one cache report.
    pub async fn cache_report(
        &self,
        name: CacheName,
        snapshot: Option<CacheSnapshot>,
        events: Vec<CacheEvent>,
    ) -> Result<CacheReported, InsightError> {
        validate_report(snapshot.as_ref(), &events)?;
        let now = self.inner.engine.now();
        let mut tally = CacheTally::default();
        tally.add_events(&events, snapshot.is_none());
        let evictions: Vec<CacheEvictionInsert> = events
            .iter()
            .filter(|e| e.kind == CacheEventKind::Evict)
            .filter_map(|e| {
                Some(CacheEvictionInsert {
                    at: e.at.unwrap_or(now),
                    key: e.key.clone(),
                    user: e.user.clone(),
                    reason: e.reason?,
                    idle_ms: e.idle_ms,
                })
            })
            .collect();
        let reported = CacheReported { events: events.len() as u64, evictions: evictions.len() as u64 };
        let params =
            CacheReportParams { name, snapshot, events: tally, evictions, interval_ms: self.inner.interval_ms, now };
        self.inner.engine.store().cache_report(params).await?;
        Ok(reported)
    }

    /// Scrubs, checks, fingerprints and keeps one error event; relays it to
    /// Sentry when configured, and fires its alert when it is critical.
    pub async fn error_report(&self, mut event: ErrorEvent) -> Result<ErrorEventRecord, InsightError> {
        event.validate("")?;
        for text in [&mut event.kind, &mut event.message] {
            *text = scrub(text).into_owned();
        }
        if let Some(t) = &mut event.tenant {
            *t = scrub(t).into_owned();
        }
        event.tags = event.tags.into_iter().map(|(k, v)| (k, scrub(&v).into_owned())).collect();
        let now = self.inner.engine.now();
        let fingerprint = event.grouping();
        let insert = ErrorEventInsert {
            at: event.at.unwrap_or(now),
            level: event.level,
            kind: event.kind.clone(),
            message: event.message.clone(),
            fingerprint: fingerprint.clone(),
            tenant: event.tenant.clone(),
            tags: serde_json::to_string(&event.tags).unwrap_or_else(|_| "{}".into()),
        };
        let params = ErrorInsertParams { events: vec![insert], interval_ms: self.inner.interval_ms };
        let kept = self.inner.engine.store().error_insert(params).await?;
        let Some(record) = kept.into_iter().next() else {
            return Err(rampart_store::StoreError::Internal("the store kept no event".into()).into());
        };
        if let Some(n) = ErrorLevel::ALL.iter().position(|l| *l == record.level) {
            self.inner.received[n].fetch_add(1, Ordering::Relaxed);
        }
        if self.inner.relay {
            relay(&event, &fingerprint);
        }
        if record.level == ErrorLevel::Critical
            && let Some(hook) = &self.inner.alerts
        {
            self.fire_critical(hook, &record).await?;
        }
        Ok(record)
    }

    /// Fires the `error_critical` alert of the event's kind, unless it fires
    /// already; silenced, it notifies no channel.
    async fn fire_critical(&self, hook: &AlertHook, record: &ErrorEventRecord) -> Result<(), InsightError> {
        let store = self.inner.engine.store();
        let now = self.inner.engine.now();
        let silences = store.silence_list(now).await?;
        let rule = AlertRule::ErrorCritical;
        let silenced = silences.iter().any(|s| silence_matches(s.rule, s.subject.as_deref(), rule, &record.kind));
        let channels = if silenced { Vec::new() } else { hook.channels.clone() };
        let params = AlertFireParams {
            rule,
            subject: record.kind.clone(),
            value: 1.0,
            threshold: 1.0,
            details: "{}".into(),
            channels,
            now,
        };
        if let Some(a) = store.alert_fire(params).await? {
            tracing::warn!(alert_id = a.id.0, kind = %record.kind, silenced, "critical error event: alert firing");
            hook.queued.notify_one();
        }
        Ok(())
    }
}

/// A cache report as it comes over the wire, in the insight crate's terms.
pub fn from_wire(req: &CacheReportRequest) -> (Option<CacheSnapshot>, Vec<CacheEvent>) {
    let snapshot = req.snapshot.map(|s| CacheSnapshot {
        size: s.size,
        max_size: s.max_size,
        loads: s.loads,
        hits: s.hits,
        misses: s.misses,
        avg_load_ms: s.avg_load_ms,
        memory_bytes: s.memory_bytes,
    });
    let events = req
        .events
        .iter()
        .map(|e| CacheEvent {
            kind: e.kind,
            key: e.key.clone(),
            user: e.user.clone(),
            reason: e.reason,
            idle_ms: e.idle_ms,
            load_ms: e.load_ms,
            at: e.at,
        })
        .collect();
    (snapshot, events)
}

/// The in-process monitor: a `ReportingCache` of an app embedding the
/// server reports straight into it, with the same checks as over HTTP.
impl CacheSink for Insight {
    async fn report(&self, name: &str, report: &CacheReportRequest) -> Result<(), String> {
        let name = CacheName::new(name).map_err(|e| e.to_string())?;
        let (snapshot, events) = from_wire(report);
        self.cache_report(name, snapshot, events).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// Sends an app's event to Sentry through rampart's client (whose
/// `before_send` scrubs it again), tagged with its kind and fingerprint.
fn relay(event: &ErrorEvent, fingerprint: &str) {
    use sentry::protocol::{Event, Level};
    let level = match event.level {
        ErrorLevel::Info => Level::Info,
        ErrorLevel::Warning => Level::Warning,
        ErrorLevel::Error => Level::Error,
        ErrorLevel::Critical => Level::Fatal,
    };
    let mut tags: BTreeMap<String, String> = event.tags.clone();
    tags.insert("kind".into(), event.kind.clone());
    tags.insert("source".into(), "app".into());
    if let Some(t) = &event.tenant {
        tags.insert("tenant".into(), t.clone());
    }
    let sentry_event = Event {
        message: Some(event.message.clone()),
        level,
        fingerprint: vec![fingerprint.to_string().into()].into(),
        tags,
        ..Event::default()
    };
    sentry::capture_event(sentry_event);
}
