//! `GET /metrics` in the Prometheus text format (version 0.0.4), written
//! by hand: every figure already lives in the [`Monitor`], the engine and
//! the rate limiter, so rendering is one pass over them into one string,
//! with no global registry to keep in step (the `metrics` crate's recorder
//! is global state, which this code base keeps out).
//!
//! Each series is a value of [`Series`]: its name, type, help and label
//! names are declared there once, and [`render`] matches every value
//! exhaustively, so a series without its samples does not compile and a
//! sample can only be written under a declared name, with its declared
//! labels. The tests hold every name to Prometheus's conventions (what
//! `promtool check metrics` lints): `rampart_` first, base units
//! (seconds), `_total` on counters and only on them.
//!
//! Every series is written with its `# HELP` and `# TYPE` lines even when
//! it has no sample yet, so dashboards and alert rules find every name from
//! the start; the exceptions are `rampart_redis_up` and
//! `rampart_redis_used_memory_bytes`, absent (with their HELP and TYPE)
//! while no Redis is configured.

use std::fmt::{Display, Write};
use std::time::Duration;

use rampart_core::breaker::BreakerState;
use rampart_core::insight::ErrorLevel;
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;
use rampart_insight::cache::CacheTally;
use rampart_store::CacheSnapshotRecord;

use super::Monitor;
use super::http::LATENCY_BOUNDS_S;
use crate::breaker::BreakerStatus;
use crate::engine::RUN_TIME_BOUNDS_US;
use crate::ratelimit::RateLimiter;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

rampart_core::named_enum! {
    /// What a series counts, as its `# TYPE` line says.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Kind {
        /// Only goes up (until the process restarts).
        Counter = "counter",
        /// Goes up and down.
        Gauge = "gauge",
        /// Cumulative `_bucket` counts with `le`, then `_sum` and `_count`.
        Histogram = "histogram",
    }
}

rampart_core::named_enum! {
    /// Every series of `/metrics`, named as Prometheus sees it, in the
    /// order they are written.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Series {
        /// `rampart_build_info`.
        BuildInfo = "rampart_build_info",
        /// `rampart_uptime_seconds`.
        UptimeSeconds = "rampart_uptime_seconds",
        /// `rampart_jobs_total`.
        JobsTotal = "rampart_jobs_total",
        /// `rampart_jobs_stalled_total`.
        JobsStalledTotal = "rampart_jobs_stalled_total",
        /// `rampart_jobs_timed_out_total`.
        JobsTimedOutTotal = "rampart_jobs_timed_out_total",
        /// `rampart_job_duration_seconds`.
        JobDurationSeconds = "rampart_job_duration_seconds",
        /// `rampart_queue_jobs`.
        QueueJobs = "rampart_queue_jobs",
        /// `rampart_queue_failed_ratio`.
        QueueFailedRatio = "rampart_queue_failed_ratio",
        /// `rampart_store_latency_seconds`.
        StoreLatencySeconds = "rampart_store_latency_seconds",
        /// `rampart_workers_seen`.
        WorkersSeen = "rampart_workers_seen",
        /// `rampart_http_requests_total`.
        HttpRequestsTotal = "rampart_http_requests_total",
        /// `rampart_http_request_duration_seconds`.
        HttpRequestDurationSeconds = "rampart_http_request_duration_seconds",
        /// `rampart_ratelimit_checks_total`.
        RatelimitChecksTotal = "rampart_ratelimit_checks_total",
        /// `rampart_ratelimit_fallbacks_total`.
        RatelimitFallbacksTotal = "rampart_ratelimit_fallbacks_total",
        /// `rampart_breaker_state`.
        BreakerState = "rampart_breaker_state",
        /// `rampart_redis_up`.
        RedisUp = "rampart_redis_up",
        /// `rampart_webhook_requests_total`.
        WebhookRequestsTotal = "rampart_webhook_requests_total",
        /// `rampart_process_resident_memory_bytes`.
        ProcessResidentMemoryBytes = "rampart_process_resident_memory_bytes",
        /// `rampart_process_heap_bytes`.
        ProcessHeapBytes = "rampart_process_heap_bytes",
        /// `rampart_redis_used_memory_bytes`.
        RedisUsedMemoryBytes = "rampart_redis_used_memory_bytes",
        /// `rampart_usage_calls_total`.
        UsageCallsTotal = "rampart_usage_calls_total",
        /// `rampart_usage_cost_usd_total`.
        UsageCostUsdTotal = "rampart_usage_cost_usd_total",
        /// `rampart_cache_entries`.
        CacheEntries = "rampart_cache_entries",
        /// `rampart_cache_utilisation_ratio`.
        CacheUtilisationRatio = "rampart_cache_utilisation_ratio",
        /// `rampart_cache_hit_ratio`.
        CacheHitRatio = "rampart_cache_hit_ratio",
        /// `rampart_cache_memory_bytes`.
        CacheMemoryBytes = "rampart_cache_memory_bytes",
        /// `rampart_cache_lookups_total`.
        CacheLookupsTotal = "rampart_cache_lookups_total",
        /// `rampart_cache_evictions_last_hour`.
        CacheEvictionsLastHour = "rampart_cache_evictions_last_hour",
        /// `rampart_error_events_total`.
        ErrorEventsTotal = "rampart_error_events_total",
    }
}

impl Series {
    /// The series' name (its `as_str`).
    pub fn name(self) -> &'static str {
        self.as_str()
    }

    /// The series' type.
    pub fn kind(self) -> Kind {
        match self {
            Series::JobsTotal
            | Series::JobsStalledTotal
            | Series::JobsTimedOutTotal
            | Series::HttpRequestsTotal
            | Series::RatelimitChecksTotal
            | Series::RatelimitFallbacksTotal
            | Series::WebhookRequestsTotal
            | Series::UsageCallsTotal
            | Series::UsageCostUsdTotal
            | Series::CacheLookupsTotal
            | Series::ErrorEventsTotal => Kind::Counter,
            Series::JobDurationSeconds | Series::HttpRequestDurationSeconds => Kind::Histogram,
            Series::BuildInfo
            | Series::UptimeSeconds
            | Series::QueueJobs
            | Series::QueueFailedRatio
            | Series::StoreLatencySeconds
            | Series::WorkersSeen
            | Series::BreakerState
            | Series::RedisUp
            | Series::ProcessResidentMemoryBytes
            | Series::ProcessHeapBytes
            | Series::RedisUsedMemoryBytes
            | Series::CacheEntries
            | Series::CacheUtilisationRatio
            | Series::CacheHitRatio
            | Series::CacheMemoryBytes
            | Series::CacheEvictionsLastHour => Kind::Gauge,
        }
    }

    /// The series' `# HELP` text.
    pub fn help(self) -> &'static str {
        match self {
            Series::BuildInfo => "The running rampart's version, as a label; always 1.",
            Series::UptimeSeconds => "Seconds since this server started.",
            Series::JobsTotal => {
                "Ended attempts by queue and outcome (completed, retried, dead), every node's since the totals were first stored."
            }
            Series::JobsStalledTotal => "Leases that expired without a heartbeat, by queue, every node's.",
            Series::JobsTimedOutTotal => "Attempts that ran past their timeout, by queue, every node's.",
            Series::JobDurationSeconds => {
                "Run time of the attempts that ended on this node since it started, by queue."
            }
            Series::QueueJobs => "Jobs per queue and state at the last sample.",
            Series::QueueFailedRatio => "Failed attempts / attempts on this node over the last interval, by queue.",
            Series::StoreLatencySeconds => "How long the store took to answer a trivial query at the last sample.",
            Series::WorkersSeen => "Workers that leased from this node in the last minute.",
            Series::HttpRequestsTotal => "HTTP requests answered by this node, by method, matched route and status.",
            Series::HttpRequestDurationSeconds => {
                "Time to answer HTTP requests on this node, by method, matched route and status."
            }
            Series::RatelimitChecksTotal => "Rate-limit checks on this node by policy and decision (allowed, denied).",
            Series::RatelimitFallbacksTotal => {
                "Rate-limit checks this node decided by a policy's on_backend_error, by policy."
            }
            Series::BreakerState => {
                "1 for the state each circuit breaker is in now (closed, open, half_open), 0 for the others; scope shared or node."
            }
            Series::RedisUp => "1 while rate-limit checks go to Redis, 0 while they fall back; absent without Redis.",
            Series::WebhookRequestsTotal => {
                "Webhook intake requests on this node by source and outcome (received, verified, rejected, duplicate)."
            }
            Series::ProcessResidentMemoryBytes => "This server's resident memory (VmRSS); no sample off Linux.",
            Series::ProcessHeapBytes => {
                "This server's resident anonymous memory (RssAnon: heap and thread stacks); no sample off Linux."
            }
            Series::RedisUsedMemoryBytes => {
                "The configured Redis's used_memory at the last sample; absent without Redis, no sample while it is down."
            }
            Series::UsageCallsTotal => {
                "AI model calls reported to this node by model, provider and outcome (success, failure); at most 200 models, the rest as other."
            }
            Series::UsageCostUsdTotal => {
                "What the AI model calls reported to this node cost, in USD, by model and provider."
            }
            Series::CacheEntries => "Entries in each reporting cache, as its latest snapshot said.",
            Series::CacheUtilisationRatio => "Entries / max entries of each bounded cache, at its latest snapshot.",
            Series::CacheHitRatio => "Hits / lookups of each cache since it started, at its latest snapshot.",
            Series::CacheMemoryBytes => "Each cache's own memory estimate at its latest snapshot.",
            Series::CacheLookupsTotal => {
                "Lookups of each cache since it started, by result (hit, miss), at its latest snapshot."
            }
            Series::CacheEvictionsLastHour => {
                "Entries each cache dropped in the last hour, by reason (lru, timeout, manual)."
            }
            Series::ErrorEventsTotal => "Error events apps reported to this node since it started, by level.",
        }
    }

    /// The names of the series' labels, in the order samples give their
    /// values (a histogram's `le` comes on top).
    pub fn labels(self) -> &'static [&'static str] {
        match self {
            Series::BuildInfo => &["version"],
            Series::UptimeSeconds
            | Series::StoreLatencySeconds
            | Series::WorkersSeen
            | Series::RedisUp
            | Series::ProcessResidentMemoryBytes
            | Series::ProcessHeapBytes
            | Series::RedisUsedMemoryBytes => &[],
            Series::JobsTotal => &["queue", "outcome"],
            Series::JobsStalledTotal
            | Series::JobsTimedOutTotal
            | Series::JobDurationSeconds
            | Series::QueueFailedRatio => &["queue"],
            Series::QueueJobs => &["queue", "state"],
            Series::HttpRequestsTotal | Series::HttpRequestDurationSeconds => &["method", "route", "status"],
            Series::RatelimitChecksTotal => &["policy", "decision"],
            Series::RatelimitFallbacksTotal => &["policy"],
            Series::BreakerState => &["breaker", "scope", "state"],
            Series::WebhookRequestsTotal => &["source", "outcome"],
            Series::UsageCallsTotal => &["model", "provider", "outcome"],
            Series::UsageCostUsdTotal => &["model", "provider"],
            Series::CacheEntries | Series::CacheUtilisationRatio | Series::CacheHitRatio | Series::CacheMemoryBytes => {
                &["cache"]
            }
            Series::CacheLookupsTotal => &["cache", "result"],
            Series::CacheEvictionsLastHour => &["cache", "reason"],
            Series::ErrorEventsTotal => &["level"],
        }
    }
}

/// One webhook source's request counts on this node: its name and each
/// outcome (`received`, `verified`, `rejected`, `duplicate`) with its count.
pub type WebhookSample = (String, Vec<(&'static str, u64)>);

/// One model's reported calls on this node: model, provider, calls that
/// succeeded, calls that failed, and their cost in USD.
pub type UsageSample = (String, String, u64, u64, f64);
/// What apps report, for the exposition: each cache's latest snapshot with
/// its last hour's counts, and this node's error events per level. Labels
/// stay bounded: cache names (apps name a few caches; retention forgets
/// silent ones) and the four levels; keys, users, tenants and kinds never.
#[derive(Debug, Clone, Default)]
pub struct ReportedMetrics {
    /// Each cache that reported, by name.
    pub caches: Vec<(CacheSnapshotRecord, CacheTally)>,
    /// Error events per level received by this node.
    pub errors: Vec<(ErrorLevel, u64)>,
}

/// The exposition of everything the server measures.
pub fn render(
    monitor: &Monitor,
    limiter: &RateLimiter,
    breakers: &[BreakerStatus],
    webhooks: &[WebhookSample],
    usage: &[UsageSample],
    reported: &ReportedMetrics,
    uptime: Duration,
) -> String {
    let mut out = Exposition(String::with_capacity(64 * 1024));
    let engine = monitor.engine();
    let latest = monitor.latest();
    let totals = monitor.totals();
    let http = monitor.http().series();
    let (resident, heap) = super::memory::process_memory();
    for series in Series::ALL {
        if matches!(series, Series::RedisUp | Series::RedisUsedMemoryBytes) && limiter.redis().is_none() {
            // Absent, HELP and TYPE too, while no Redis is configured.
            continue;
        }
        out.header(series);
        match series {
            Series::BuildInfo => out.sample(series, &[env!("CARGO_PKG_VERSION")], 1),
            Series::UptimeSeconds => out.sample(series, &[], uptime.as_secs_f64()),
            Series::JobsTotal => {
                for (queue, t) in &totals {
                    for (outcome, n) in [("completed", t.completed), ("retried", t.retries), ("dead", t.dead)] {
                        out.sample(series, &[queue.as_str(), outcome], n);
                    }
                }
            }
            Series::JobsStalledTotal => {
                for (queue, t) in &totals {
                    out.sample(series, &[queue.as_str()], t.stalled);
                }
            }
            Series::JobsTimedOutTotal => {
                for (queue, t) in &totals {
                    out.sample(series, &[queue.as_str()], t.timeouts);
                }
            }
            Series::JobDurationSeconds => {
                for (queue, t) in engine.running_totals() {
                    let bounds = RUN_TIME_BOUNDS_US.iter().map(|&us| us as f64 / 1e6);
                    out.histogram(series, &[queue.as_str()], bounds, &t.buckets, t.counts.run_ms as f64 / 1e3);
                }
            }
            Series::QueueJobs => {
                for s in &latest.queues {
                    for state in JobState::ALL {
                        out.sample(series, &[s.queue.as_str(), state.as_str()], s.counts.get(state));
                    }
                }
            }
            Series::QueueFailedRatio => {
                for s in &latest.queues {
                    out.sample(series, &[s.queue.as_str()], s.failed_rate);
                }
            }
            Series::StoreLatencySeconds => {
                if latest.at.is_some() {
                    out.sample(series, &[], latest.store_latency_ms / 1e3);
                }
            }
            Series::WorkersSeen => {
                let minute_ago = UnixMillis(engine.now().0 - 60_000);
                out.sample(series, &[], engine.workers_seen_since(minute_ago));
            }
            Series::HttpRequestsTotal => {
                for s in &http {
                    let status = s.status.to_string();
                    out.sample(series, &[s.method.as_str(), &route_label(&s.route), &status], s.count);
                }
            }
            Series::HttpRequestDurationSeconds => {
                for s in &http {
                    let (route, status) = (route_label(&s.route), s.status.to_string());
                    let bounds = LATENCY_BOUNDS_S.iter().copied();
                    out.histogram(series, &[s.method.as_str(), &route, &status], bounds, &s.buckets, s.sum_seconds);
                }
            }
            Series::RatelimitChecksTotal => {
                for p in limiter.policies().iter() {
                    for (decision, n) in [("allowed", p.allowed()), ("denied", p.denied())] {
                        out.sample(series, &[p.name.as_str(), decision], n);
                    }
                }
            }
            Series::RatelimitFallbacksTotal => {
                for p in limiter.policies().iter() {
                    out.sample(series, &[p.name.as_str()], p.fallbacks());
                }
            }
            Series::BreakerState => {
                for b in breakers {
                    for state in BreakerState::ALL {
                        out.sample(series, &[&b.name, b.scope.as_str(), state.as_str()], u8::from(b.state == state));
                    }
                }
            }
            Series::RedisUp => {
                if let Some(redis) = limiter.redis() {
                    out.sample(series, &[], u8::from(redis.is_up()));
                }
            }
            Series::ProcessResidentMemoryBytes => {
                if let Some(bytes) = resident {
                    out.sample(series, &[], bytes);
                }
            }
            Series::ProcessHeapBytes => {
                if let Some(bytes) = heap {
                    out.sample(series, &[], bytes);
                }
            }
            Series::RedisUsedMemoryBytes => {
                if let Some(bytes) = latest.memory.redis_used_bytes {
                    out.sample(series, &[], bytes);
                }
            }
            Series::WebhookRequestsTotal => {
                for (source, counts) in webhooks {
                    for (outcome, n) in counts {
                        out.sample(series, &[source, outcome], n);
                    }
                }
            }
            Series::UsageCallsTotal => {
                for (model, provider, succeeded, failed, _) in usage {
                    out.sample(series, &[model, provider, "success"], succeeded);
                    out.sample(series, &[model, provider, "failure"], failed);
                }
            }
            Series::UsageCostUsdTotal => {
                for (model, provider, _, _, cost) in usage {
                    out.sample(series, &[model, provider], cost);
                }
            }
            Series::CacheEntries
            | Series::CacheUtilisationRatio
            | Series::CacheHitRatio
            | Series::CacheMemoryBytes
            | Series::CacheLookupsTotal => {
                for (r, _) in &reported.caches {
                    let Some(s) = &r.snapshot else { continue };
                    let name = r.name.as_str();
                    match series {
                        Series::CacheEntries => out.sample(series, &[name], s.size),
                        Series::CacheUtilisationRatio => {
                            if let Some(u) = s.utilisation() {
                                out.sample(series, &[name], u);
                            }
                        }
                        Series::CacheHitRatio => {
                            if let Some(h) = s.hit_rate() {
                                out.sample(series, &[name], h);
                            }
                        }
                        Series::CacheMemoryBytes => {
                            if let Some(m) = s.memory_bytes {
                                out.sample(series, &[name], m);
                            }
                        }
                        _ => {
                            out.sample(series, &[name, "hit"], s.hits);
                            out.sample(series, &[name, "miss"], s.misses);
                        }
                    }
                }
            }
            Series::CacheEvictionsLastHour => {
                for (r, t) in &reported.caches {
                    let reasons =
                        [("lru", t.evicted_lru), ("timeout", t.evicted_timeout), ("manual", t.evicted_manual)];
                    for (reason, n) in reasons {
                        out.sample(series, &[r.name.as_str(), reason], n);
                    }
                }
            }
            Series::ErrorEventsTotal => {
                for (level, n) in &reported.errors {
                    out.sample(series, &[level.as_str()], n);
                }
            }
        }
    }
    out.0
}

/// The text being written: lines only ever go in through a [`Series`].
struct Exposition(String);

impl Exposition {
    /// The `# HELP` and `# TYPE` lines of `series`.
    fn header(&mut self, series: Series) {
        let (name, help, kind) = (series.name(), series.help(), series.kind());
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample: `values` are the values of `series.labels()`, in order.
    fn sample(&mut self, series: Series, values: &[&str], value: impl Display) {
        let labels = labels(series, values);
        let name = series.name();
        if labels.is_empty() {
            let _ = writeln!(self.0, "{name} {value}");
        } else {
            let _ = writeln!(self.0, "{name}{{{labels}}} {value}");
        }
    }

    /// One histogram: cumulative `_bucket` lines with `le`, then `_sum` and
    /// `_count`. `buckets` holds one count per bound and one past them.
    fn histogram(
        &mut self,
        series: Series,
        values: &[&str],
        bounds: impl Iterator<Item = f64>,
        buckets: &[u64],
        sum: f64,
    ) {
        let (name, labels) = (series.name(), labels(series, values));
        let mut cumulative = 0;
        for (bound, n) in bounds.zip(buckets) {
            cumulative += n;
            let _ = writeln!(self.0, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let count: u64 = buckets.iter().sum();
        let _ = writeln!(self.0, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let _ = writeln!(self.0, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(self.0, "{name}_count{{{labels}}} {count}");
    }
}

/// `name="value",…` for the series' label names and these values, escaped.
fn labels(series: Series, values: &[&str]) -> String {
    let names = series.labels();
    debug_assert_eq!(names.len(), values.len(), "the label values of {}", series.name());
    let mut out = String::new();
    for (i, (name, value)) in names.iter().zip(values).enumerate() {
        let comma = if i == 0 { "" } else { "," };
        let _ = write!(out, "{comma}{name}=\"{}\"", escape(value));
    }
    out
}

/// A route pattern as a label: `/v1/jobs/{id}` becomes `/v1/jobs/:id`.
/// Braces are legal in a label value, but simple parsers of the format
/// (and some relabelling rules) stop at the first `}`.
fn route_label(route: &str) -> String {
    route.replace('{', ":").replace('}', "")
}

/// A label value with `\`, `"` and line feeds escaped, as the format asks.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_patterns_become_colon_parameters() {
        assert_eq!(route_label("/v1/queues/{queue}/jobs"), "/v1/queues/:queue/jobs");
        assert_eq!(route_label("/health"), "/health");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("/v1/jobs/{id}"), "/v1/jobs/{id}");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(labels(Series::QueueJobs, &["a\"b", "dead"]), "queue=\"a\\\"b\",state=\"dead\"");
    }

    #[test]
    fn a_histogram_is_cumulative_and_ends_with_inf_sum_and_count() {
        let mut out = Exposition(String::new());
        out.histogram(Series::JobDurationSeconds, &["a"], [0.5, 1.0].into_iter(), &[2, 0, 1], 3.5);
        let name = "rampart_job_duration_seconds";
        let expected = format!(
            "{name}_bucket{{queue=\"a\",le=\"0.5\"}} 2\n{name}_bucket{{queue=\"a\",le=\"1\"}} 2\n\
             {name}_bucket{{queue=\"a\",le=\"+Inf\"}} 3\n{name}_sum{{queue=\"a\"}} 3.5\n{name}_count{{queue=\"a\"}} 3\n"
        );
        assert_eq!(out.0, expected);
    }

    #[test]
    fn a_sample_without_labels_has_no_braces() {
        let mut out = Exposition(String::new());
        out.sample(Series::RedisUp, &[], 1);
        out.sample(Series::RatelimitFallbacksTotal, &["login"], 2);
        assert_eq!(out.0, "rampart_redis_up 1\nrampart_ratelimit_fallbacks_total{policy=\"login\"} 2\n");
    }

    /// The lints `promtool check metrics` applies to names, types, help
    /// and labels (client_golang's `promlint`), held against every series.
    #[test]
    fn every_series_passes_the_prometheus_naming_lints() {
        let mut seen = std::collections::HashSet::new();
        for series in Series::ALL {
            let (name, kind, help) = (series.name(), series.kind(), series.help());
            assert!(seen.insert(name), "{name} is declared twice");
            assert!(name.starts_with("rampart_"), "{name}: the rampart_ prefix");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}: snake_case, no colons");
            assert!(!help.is_empty() && help.ends_with('.'), "{name}: help is a sentence");
            assert_eq!(kind == Kind::Counter, name.ends_with("_total"), "{name}: `_total` on counters and only them");
            for reserved in ["_count", "_sum", "_bucket", "_counter", "_gauge", "_histogram", "_summary"] {
                assert!(!name.ends_with(reserved), "{name}: ends with {reserved}");
            }
            for unit in ["_ms", "_milliseconds", "_microseconds", "_us", "_minutes", "_hours", "_days", "_bytes_kb"] {
                assert!(!name.contains(&format!("{unit}_")) && !name.ends_with(unit), "{name}: not a base unit");
            }
            if kind == Kind::Histogram {
                assert!(name.ends_with("_seconds"), "{name}: histograms here measure seconds");
            }
            let labels = series.labels();
            let unique: std::collections::HashSet<_> = labels.iter().collect();
            assert_eq!(unique.len(), labels.len(), "{name}: a label twice");
            for label in labels {
                assert!(!["le", "quantile"].contains(label), "{name}: reserved label {label}");
                assert!(label.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}: label {label}");
            }
        }
    }
}
