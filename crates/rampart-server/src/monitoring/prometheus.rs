//! `GET /metrics` in the Prometheus text format (version 0.0.4), written
//! by hand: every figure already lives in the [`Monitor`], the engine and
//! the rate limiter, so rendering is one pass over them into one string,
//! with no global registry to keep in step (the `metrics` crate's recorder
//! is global state, which this code base keeps out).
//!
//! Names follow Prometheus's conventions: `rampart_` first, base units
//! (seconds), `_total` on counters. Every series of the [`SERIES`] table is
//! written with its `# HELP` and `# TYPE` lines even when it has no sample
//! yet, so dashboards and alert rules find every name from the start.

use std::fmt::Write;
use std::time::Duration;

use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;

use super::Monitor;
use super::http::LATENCY_BOUNDS_S;
use rampart_core::breaker::BreakerState;

use crate::breaker::BreakerStatus;
use crate::engine::RUN_TIME_BOUNDS_US;
use crate::ratelimit::RateLimiter;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every series written: name, type, help.
pub const SERIES: &[(&str, &str, &str)] = &[
    ("rampart_build_info", "gauge", "The running rampart's version, as a label; always 1."),
    ("rampart_uptime_seconds", "gauge", "Seconds since this server started."),
    (
        "rampart_jobs_total",
        "counter",
        "Ended attempts by queue and outcome (completed, retried, dead), every node's since the totals were first stored.",
    ),
    ("rampart_jobs_stalled_total", "counter", "Leases that expired without a heartbeat, by queue, every node's."),
    ("rampart_jobs_timed_out_total", "counter", "Attempts that ran past their timeout, by queue, every node's."),
    (
        "rampart_job_duration_seconds",
        "histogram",
        "Run time of the attempts that ended on this node since it started, by queue.",
    ),
    ("rampart_queue_jobs", "gauge", "Jobs per queue and state at the last sample."),
    (
        "rampart_queue_failed_ratio",
        "gauge",
        "Failed attempts / attempts on this node over the last interval, by queue.",
    ),
    ("rampart_store_latency_seconds", "gauge", "How long the store took to answer a trivial query at the last sample."),
    ("rampart_workers_seen", "gauge", "Workers that leased from this node in the last minute."),
    (
        "rampart_http_requests_total",
        "counter",
        "HTTP requests answered by this node, by method, matched route and status.",
    ),
    (
        "rampart_http_request_duration_seconds",
        "histogram",
        "Time to answer HTTP requests on this node, by method, matched route and status.",
    ),
    (
        "rampart_ratelimit_checks_total",
        "counter",
        "Rate-limit checks on this node by policy and decision (allowed, denied).",
    ),
    (
        "rampart_ratelimit_fallbacks_total",
        "counter",
        "Rate-limit checks this node decided by a policy's on_backend_error, by policy.",
    ),
    (
        "rampart_breaker_state",
        "gauge",
        "1 for the state each circuit breaker is in now (closed, open, half_open), 0 for the others; scope shared or node.",
    ),
    (
        "rampart_redis_up",
        "gauge",
        "1 while rate-limit checks go to Redis, 0 while they fall back; absent without Redis.",
    ),
];

/// The exposition of everything the server measures.
pub fn render(monitor: &Monitor, limiter: &RateLimiter, breakers: &[BreakerStatus], uptime: Duration) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let engine = monitor.engine();
    let latest = monitor.latest();
    let totals = monitor.totals();
    let http = monitor.http().series();
    for &(name, kind, help) in SERIES {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        match name {
            "rampart_build_info" => {
                let _ = writeln!(out, "{name}{{version=\"{}\"}} 1", escape(env!("CARGO_PKG_VERSION")));
            }
            "rampart_uptime_seconds" => {
                let _ = writeln!(out, "{name} {}", uptime.as_secs_f64());
            }
            "rampart_jobs_total" => {
                for (queue, t) in &totals {
                    for (outcome, n) in [("completed", t.completed), ("retried", t.retries), ("dead", t.dead)] {
                        let _ =
                            writeln!(out, "{name}{{queue=\"{}\",outcome=\"{outcome}\"}} {n}", escape(queue.as_str()));
                    }
                }
            }
            "rampart_jobs_stalled_total" | "rampart_jobs_timed_out_total" => {
                for (queue, t) in &totals {
                    let n = if name == "rampart_jobs_stalled_total" { t.stalled } else { t.timeouts };
                    let _ = writeln!(out, "{name}{{queue=\"{}\"}} {n}", escape(queue.as_str()));
                }
            }
            "rampart_job_duration_seconds" => {
                for (queue, t) in engine.running_totals() {
                    let labels = format!("queue=\"{}\"", escape(queue.as_str()));
                    let bounds = RUN_TIME_BOUNDS_US.iter().map(|&us| us as f64 / 1e6);
                    histogram(&mut out, name, &labels, bounds, &t.buckets, t.counts.run_ms as f64 / 1e3);
                }
            }
            "rampart_queue_jobs" => {
                for s in &latest.queues {
                    for state in JobState::ALL {
                        let (queue, n) = (escape(s.queue.as_str()), s.counts.get(state));
                        let _ = writeln!(out, "{name}{{queue=\"{queue}\",state=\"{}\"}} {n}", state.as_str());
                    }
                }
            }
            "rampart_queue_failed_ratio" => {
                for s in &latest.queues {
                    let _ = writeln!(out, "{name}{{queue=\"{}\"}} {}", escape(s.queue.as_str()), s.failed_rate);
                }
            }
            "rampart_store_latency_seconds" if latest.at.is_some() => {
                let _ = writeln!(out, "{name} {}", latest.store_latency_ms / 1e3);
            }
            "rampart_workers_seen" => {
                let minute_ago = UnixMillis(engine.now().0 - 60_000);
                let _ = writeln!(out, "{name} {}", engine.workers_seen_since(minute_ago));
            }
            "rampart_http_requests_total" => {
                for s in &http {
                    let _ = writeln!(
                        out,
                        "{name}{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}",
                        s.method,
                        route_label(&s.route),
                        s.status,
                        s.count
                    );
                }
            }
            "rampart_http_request_duration_seconds" => {
                for s in &http {
                    let labels =
                        format!("method=\"{}\",route=\"{}\",status=\"{}\"", s.method, route_label(&s.route), s.status);
                    histogram(&mut out, name, &labels, LATENCY_BOUNDS_S.iter().copied(), &s.buckets, s.sum_seconds);
                }
            }
            "rampart_ratelimit_checks_total" => {
                for p in limiter.policies().iter() {
                    let policy = escape(p.name.as_str());
                    for (decision, n) in [("allowed", p.allowed()), ("denied", p.denied())] {
                        let _ = writeln!(out, "{name}{{policy=\"{policy}\",decision=\"{decision}\"}} {n}");
                    }
                }
            }
            "rampart_ratelimit_fallbacks_total" => {
                for p in limiter.policies().iter() {
                    let _ = writeln!(out, "{name}{{policy=\"{}\"}} {}", escape(p.name.as_str()), p.fallbacks());
                }
            }
            "rampart_breaker_state" => {
                for b in breakers {
                    let (breaker, scope) = (escape(&b.name), b.scope.as_str());
                    for state in [BreakerState::Closed, BreakerState::Open, BreakerState::HalfOpen] {
                        let on = u8::from(b.state == state);
                        let _ = writeln!(
                            out,
                            "{name}{{breaker=\"{breaker}\",scope=\"{scope}\",state=\"{}\"}} {on}",
                            state.as_str()
                        );
                    }
                }
            }
            "rampart_redis_up" if limiter.redis().is_some() => {
                let up = limiter.redis().is_some_and(|redis| redis.is_up());
                let _ = writeln!(out, "{name} {}", u8::from(up));
            }
            _ => {}
        }
    }
    out
}

/// Writes one histogram: cumulative `_bucket` lines with `le`, then
/// `_sum` and `_count`. `buckets` holds one count per bound and one past them.
fn histogram(out: &mut String, name: &str, labels: &str, bounds: impl Iterator<Item = f64>, buckets: &[u64], sum: f64) {
    let mut cumulative = 0;
    for (bound, n) in bounds.zip(buckets) {
        cumulative += n;
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
    }
    let count: u64 = buckets.iter().sum();
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
    let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
}

/// A route pattern as a label: `/v1/jobs/{id}` becomes `/v1/jobs/:id`.
/// Braces are legal in a label value, but simple parsers of the format
/// (and some relabelling rules) stop at the first `}`.
fn route_label(route: &str) -> String {
    escape(&route.replace('{', ":").replace('}', "")).into_owned()
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
    }

    #[test]
    fn a_histogram_is_cumulative_and_ends_with_inf_sum_and_count() {
        let mut out = String::new();
        histogram(&mut out, "h", "q=\"a\"", [0.5, 1.0].into_iter(), &[2, 0, 1], 3.5);
        let expected = "h_bucket{q=\"a\",le=\"0.5\"} 2\nh_bucket{q=\"a\",le=\"1\"} 2\nh_bucket{q=\"a\",le=\"+Inf\"} 3\n\
                        h_sum{q=\"a\"} 3.5\nh_count{q=\"a\"} 3\n";
        assert_eq!(out, expected);
    }
}
