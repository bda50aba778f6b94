//! `rampart chaos`: recovery scenarios run against a deployment through its
//! API, on a throw-away queue (`chaos-<pid>-<n>`) no other work uses.
//!
//! The pure parts live here: the report and its verdict ([`tally`]), the
//! retry policy's expected waits ([`Backoff`]) and the check of a measured
//! gap against them ([`Backoff::judge`]), and a Prometheus text reader
//! ([`prometheus`]). [`scenario`] drives a server with the typed client;
//! [`restart`] kills and starts again the local server beside it;
//! [`local`] starts the throw-away servers, [`target`] the failing push
//! target and [`proxy`] the cuttable store connection of the scenarios that
//! need a server of their own.

pub mod local;
mod own;
pub mod proxy;
pub mod restart;
pub mod scenario;
pub mod target;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use scenario::{Options, run};

/// The scenarios, in the order they run (`queue_metrics` checks what the
/// ones before it did; `restart` comes after it, as a SIGKILL loses the
/// queue totals a node had not stored yet).
pub const SCENARIOS: [&str; 7] =
    ["worker_crash", "retry_policy", "queue_metrics", "monitoring", "restart", "store_cut", "push_target"];

/// Extra time a measured retry gap may take beyond the policy's longest
/// wait: the server hands a due job out on the worker's next poll.
pub const SCHEDULING_SLACK: Duration = Duration::from_secs(1);

/// One scenario's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioRow {
    /// The scenario's name (one of [`SCENARIOS`]).
    pub scenario: String,
    /// `pass`, `fail`, or `skip` (could not run here, with the reason;
    /// not counted in the score).
    pub result: String,
    /// How long it ran, in milliseconds.
    pub duration_ms: f64,
    /// What was measured, or what went wrong.
    pub detail: String,
}

/// Every scenario's row with the score and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChaosReport {
    /// The queue the scenarios used.
    pub queue: String,
    /// One row per scenario asked for, the skipped ones included.
    pub scenarios: Vec<ScenarioRow>,
    /// How many passed.
    pub passed: usize,
    /// How many ran (not skipped).
    pub total: usize,
    /// `production-ready` (all pass), `review` (1–2 fail) or `not ready` (3+).
    pub verdict: String,
    /// True when every scenario passed.
    pub ok: bool,
}

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It passed: what was measured.
    Pass(String),
    /// It failed: what went wrong.
    Fail(String),
    /// It could not run here: why (a flag or a setting it needs).
    Skip(String),
}

impl From<Result<String, String>> for Outcome {
    fn from(outcome: Result<String, String>) -> Outcome {
        match outcome {
            Ok(detail) => Outcome::Pass(detail),
            Err(detail) => Outcome::Fail(detail),
        }
    }
}

/// A scenario's row from its outcome: `Ok(detail)` passes, `Err(detail)` fails.
pub fn row(scenario: &str, outcome: impl Into<Outcome>, took: Duration) -> ScenarioRow {
    let (result, detail) = match outcome.into() {
        Outcome::Pass(detail) => ("pass", detail),
        Outcome::Fail(detail) => ("fail", detail),
        Outcome::Skip(detail) => ("skip", detail),
    };
    ScenarioRow { scenario: scenario.into(), result: result.into(), duration_ms: took.as_secs_f64() * 1000.0, detail }
}

/// The report of these rows: the score and the verdict over the scenarios
/// that ran (a skipped one counts neither way).
pub fn tally(queue: &str, scenarios: Vec<ScenarioRow>) -> ChaosReport {
    let total = scenarios.iter().filter(|r| r.result != "skip").count();
    let passed = scenarios.iter().filter(|r| r.result == "pass").count();
    let verdict = match total - passed {
        0 => "production-ready",
        1 | 2 => "review",
        _ => "not ready",
    };
    ChaosReport { queue: queue.into(), scenarios, passed, total, verdict: verdict.into(), ok: passed == total }
}

/// A queue's retry policy, as `[queue_defaults.backoff]` / `[queues.NAME.backoff]`
/// configure it: wait n is `initial × factor^(n-1)`, capped at `max`, moved by
/// up to ±`jitter` of itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The wait before the first retry.
    pub initial: Duration,
    /// The multiplier for each further retry.
    pub factor: f64,
    /// The longest wait before jitter.
    pub max: Duration,
    /// The fraction added or removed at random.
    pub jitter: f64,
}

impl Backoff {
    /// The wait before retry `n` (1 for the first) without jitter.
    pub fn wait(&self, n: u32) -> Duration {
        let exponent = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
        let secs = self.initial.as_secs_f64() * self.factor.powi(exponent);
        Duration::from_secs_f64(secs.min(self.max.as_secs_f64()))
    }

    /// The range retry `n`'s wait may take: its wait ± jitter, plus `slack`
    /// at the top (and 5 ms either side for the server's millisecond times).
    pub fn range(&self, n: u32, slack: Duration) -> (Duration, Duration) {
        let wait = self.wait(n).as_secs_f64();
        let rounding = 0.005;
        let low = (wait * (1.0 - self.jitter) - rounding).max(0.0);
        let high = wait * (1.0 + self.jitter) + rounding + slack.as_secs_f64();
        (Duration::from_secs_f64(low), Duration::from_secs_f64(high))
    }

    /// Whether `gap` is within retry `n`'s range; the error says by how much not.
    pub fn judge(&self, n: u32, gap: Duration, slack: Duration) -> Result<(), String> {
        let (low, high) = self.range(n, slack);
        if gap >= low && gap <= high {
            Ok(())
        } else {
            Err(format!("retry {n} waited {}, the policy allows {} to {}", millis(gap), millis(low), millis(high)))
        }
    }
}

/// A duration as whole milliseconds, `1234ms`.
pub fn millis(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// One sample of a Prometheus text exposition: the series name and its labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Series {
    /// The metric name.
    pub name: String,
    /// The labels, by name.
    pub labels: BTreeMap<String, String>,
}

/// Reads a Prometheus text exposition (version 0.0.4) into its samples; the
/// error names the first line that is not a comment, a blank or a sample.
pub fn prometheus(text: &str) -> Result<Vec<(Series, f64)>, String> {
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let sample = sample(line).ok_or_else(|| format!("line {} is not a Prometheus sample: {line:.80}", i + 1))?;
        samples.push(sample);
    }
    Ok(samples)
}

/// One sample line: `name{a="x",b="y"} value [timestamp]`.
fn sample(line: &str) -> Option<(Series, f64)> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let valid_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    if name.is_empty() || !name.chars().all(valid_name) || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut body = body;
        loop {
            body = body.trim_start_matches([' ', ',']);
            if let Some(after) = body.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = body.find('=')?;
            let key = body[..eq].trim().to_string();
            let mut chars = body[eq + 1..].char_indices();
            if chars.next()?.1 != '"' {
                return None;
            }
            let mut value = String::new();
            let mut escaped = false;
            let mut end = None;
            for (j, c) in chars {
                if escaped {
                    value.push(if c == 'n' { '\n' } else { c });
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    end = Some(eq + 1 + j + 1);
                    break;
                } else {
                    value.push(c);
                }
            }
            body = &body[end?..];
            labels.insert(key, value);
        }
    }
    let mut fields = rest.split_whitespace();
    let value = match fields.next()? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    if fields.next().is_some_and(|t| t.parse::<i64>().is_err()) || fields.next().is_some() {
        return None;
    }
    Some((Series { name: name.into(), labels }, value))
}

/// The value of the sample named `name` whose labels include every pair of `labels`.
pub fn value_of(samples: &[(Series, f64)], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(s, _)| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_follows_the_number_failing() {
        let rows = |failing: usize| {
            (0..5)
                .map(|i| row("s", if i < failing { Err("x".into()) } else { Ok("y".into()) }, Duration::ZERO))
                .collect::<Vec<_>>()
        };
        let report = tally("q", rows(0));
        assert_eq!((report.passed, report.total, report.verdict.as_str(), report.ok), (5, 5, "production-ready", true));
        assert_eq!(tally("q", rows(1)).verdict, "review");
        assert_eq!(tally("q", rows(2)).verdict, "review");
        let report = tally("q", rows(3));
        assert_eq!((report.passed, report.verdict.as_str(), report.ok), (2, "not ready", false));
        let mut skipped = rows(1);
        skipped.push(row("restart", Outcome::Skip("needs --allow-restart".into()), Duration::ZERO));
        let report = tally("q", skipped);
        assert_eq!((report.passed, report.total, report.scenarios.len(), report.verdict.as_str()), (4, 5, 6, "review"));
    }

    #[test]
    fn backoff_waits_grow_and_are_capped() {
        let b = Backoff { initial: Duration::from_secs(1), factor: 2.0, max: Duration::from_secs(3), jitter: 0.2 };
        assert_eq!(b.wait(1), Duration::from_secs(1));
        assert_eq!(b.wait(2), Duration::from_secs(2));
        assert_eq!(b.wait(3), Duration::from_secs(3));
        assert!(b.judge(1, Duration::from_millis(810), Duration::ZERO).is_ok());
        assert!(b.judge(1, Duration::from_millis(1190), Duration::ZERO).is_ok());
        assert!(b.judge(1, Duration::from_millis(1300), Duration::ZERO).is_err());
        assert!(b.judge(1, Duration::from_millis(1300), SCHEDULING_SLACK).is_ok());
        let err = b.judge(2, Duration::from_millis(200), SCHEDULING_SLACK).expect_err("too short");
        assert_eq!(err, "retry 2 waited 200ms, the policy allows 1595ms to 3405ms");
    }

    #[test]
    fn prometheus_text_is_read_and_mistakes_named() {
        let text = "# HELP rampart_jobs_total Jobs.\n# TYPE rampart_jobs_total counter\n\
            rampart_jobs_total{queue=\"a \\\"b\\\"\",outcome=\"completed\"} 11\n\
            rampart_uptime_seconds 3.5 1700000000000\nrampart_x_bucket{le=\"+Inf\"} +Inf\n";
        let samples = prometheus(text).expect("valid");
        assert_eq!(samples.len(), 3);
        assert_eq!(
            value_of(&samples, "rampart_jobs_total", &[("queue", "a \"b\""), ("outcome", "completed")]),
            Some(11.0)
        );
        assert_eq!(value_of(&samples, "rampart_uptime_seconds", &[]), Some(3.5));
        assert_eq!(value_of(&samples, "rampart_jobs_total", &[("outcome", "dead")]), None);
        assert_eq!(prometheus("ok 1\n<html>\n").expect_err("not text"), "line 2 is not a Prometheus sample: <html>");
        assert!(prometheus("a{b=\"c\" 1").is_err());
        assert!(prometheus("a one").is_err());
    }
}
