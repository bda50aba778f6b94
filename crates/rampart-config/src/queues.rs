//! The queue sections: `[queue_defaults]`, `[queues.NAME]` with its push
//! keys (`target`, `secret`, `retry_4xx`), and `[push]` (the breaker of
//! every push target's host).
//!
//! A queue's table overrides only the keys it sets and takes every other
//! key, backoff keys included, from `[queue_defaults]`; a push queue
//! without `concurrency` or `timeout` takes the push defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_core::duration::format_duration;
use rampart_core::id::QueueName;
use rampart_core::queue::{QueueRate, RateKey, StartRate};
use rampart_core::retry::Backoff;
use rampart_core::webhook::WebhookSecret;
use toml::{Table, Value};

use crate::check::Check;
use crate::keys::{Key, Kind, Resolved, child, describe, key_list, kind_of};
use crate::urls::PushTarget;

/// The keys of `[queue_defaults]` and `[queues.NAME]`.
pub(crate) const QUEUE_KEYS: &[(&str, Kind)] = &[
    ("max_attempts", Kind::Int),
    ("backoff", Kind::Table),
    ("timeout", Kind::Text),
    ("lease", Kind::Text),
    ("concurrency", Kind::Int),
    ("paused", Kind::Bool),
    ("retention_completed", Kind::Text),
    ("retention_dead", Kind::Text),
    ("target", Kind::Text),
    ("secret", Kind::Text),
    ("retry_4xx", Kind::Bool),
    ("max_stalls", Kind::Int),
    ("ready_requires_workers", Kind::Int),
    ("rate", Kind::Text),
    ("rate_key", Kind::Text),
    ("idempotency_window", Kind::Text),
];

/// The keys of a queue's `backoff` table.
pub(crate) const BACKOFF_KEYS: &[(&str, Kind)] =
    &[("initial", Kind::Text), ("factor", Kind::Float), ("max", Kind::Text), ("jitter", Kind::Float)];

/// The keys of `[push]`.
const PUSH_KEYS: &[(&str, Kind)] = &[("breaker", Kind::Table)];

/// The keys of `[push.breaker]`.
pub(crate) const PUSH_BREAKER_KEYS: &[(&str, Kind)] =
    &[("failure_threshold", Kind::Int), ("cooldown", Kind::Text), ("half_open_max", Kind::Int)];

/// The settings of one queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueConfig {
    /// Runs a job gets before it is dead, the first included (at least 1).
    pub max_attempts: u32,
    /// Wait between attempts (`backoff` table: `initial`, `factor`, `max`, `jitter`).
    pub backoff: Backoff,
    /// Longest an attempt may run before it fails with `timeout`; `None` is no
    /// limit. Never zero: the key is left out for no limit.
    pub timeout: Option<Duration>,
    /// How long a lease lasts without a heartbeat (more than zero).
    pub lease: Duration,
    /// Most jobs of the queue active at once; `None` is no limit (at least 1).
    pub concurrency: Option<u32>,
    /// Whether the queue starts paused: it accepts jobs but hands none out.
    pub paused: bool,
    /// How long its completed jobs are kept (`retention_completed`); `None`
    /// is `[retention] completed`.
    pub retention_completed: Option<Duration>,
    /// How long its dead jobs are kept (`retention_dead`); `None` is
    /// `[retention] dead`.
    pub retention_dead: Option<Duration>,
    /// Where rampart POSTs the queue's jobs itself (`target`, http or https);
    /// `None` is a pull queue. Only in `[queues.NAME]`.
    pub target: Option<PushTarget>,
    /// The key push deliveries are signed with (`secret`); `None` uses one
    /// made once and kept in the store. Only in `[queues.NAME]`.
    pub secret: Option<WebhookSecret>,
    /// Whether a push answer of 4xx other than 408 and 429 is retried
    /// (`retry_4xx`); false makes the job dead at once.
    pub retry_4xx: bool,
    /// Leases of a job that may expire without a heartbeat and give the job
    /// back without counting an attempt (`max_stalls`); past them an
    /// expired lease is a failed attempt. 0 counts every one.
    pub max_stalls: u32,
    /// Workers that must have leased from the queue within its lease time
    /// for `/health/ready` to answer ready (`ready_requires_workers`); 0 is off.
    pub ready_requires_workers: u32,
    /// Most jobs that start (are leased for an attempt) per window, across
    /// every worker and node (`rate`, `"100/1m"`); `None` is no limit.
    pub rate: Option<StartRate>,
    /// What splits the rate into groups with a window each (`rate_key`,
    /// only `"tenant"`); `None` is one window for the whole queue.
    pub rate_key: Option<RateKey>,
    /// How long an enqueue's `Idempotency-Key` answers with the jobs it
    /// made (`idempotency_window`, default 7 days: senders retry for days).
    pub idempotency_window: Duration,
}

/// Push delivery (`[push]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushConfig {
    /// The circuit breaker of each target host (`[push.breaker]`).
    pub breaker: PushBreakerConfig,
}

/// The breaker policy of every push target host (`[push.breaker]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushBreakerConfig {
    /// Failed deliveries in a row that open it (`failure_threshold`, at least 1).
    pub failure_threshold: u32,
    /// How long it stays open before probing (`cooldown`, more than 0).
    pub cooldown: Duration,
    /// Probes let through once the cooldown passed (`half_open_max`, at least 1).
    pub half_open_max: u32,
}

impl Default for PushBreakerConfig {
    fn default() -> Self {
        PushBreakerConfig { failure_threshold: 5, cooldown: Duration::from_secs(30), half_open_max: 1 }
    }
}

impl QueueConfig {
    /// Requests in flight to a push queue's target when `concurrency` is not set.
    pub const PUSH_CONCURRENCY: u32 = 16;
    /// How long a push delivery waits for an answer when `timeout` is not set.
    pub const PUSH_TIMEOUT: Duration = Duration::from_secs(30);
    /// `idempotency_window` when not set: as long as webhook event ids are
    /// kept, since Stripe retries for 3 days.
    pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
    /// Longest `idempotency_window`: keys are kept that long.
    pub const MAX_IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(365 * 24 * 3600);

    /// The start rate the store's lease applies, with its group key.
    pub fn start_rate(&self) -> Option<QueueRate> {
        self.rate.map(|rate| QueueRate { rate, key: self.rate_key })
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_attempts: 3,
            backoff: Backoff::default(),
            timeout: None,
            lease: Duration::from_secs(30),
            concurrency: None,
            paused: false,
            retention_completed: None,
            retention_dead: None,
            target: None,
            secret: None,
            retry_4xx: false,
            max_stalls: 1,
            ready_requires_workers: 0,
            rate: None,
            rate_key: None,
            idempotency_window: QueueConfig::IDEMPOTENCY_WINDOW,
        }
    }
}

/// Resolves the key segments that follow a queue table (`queue_defaults` or
/// `queues.NAME`), whose path is `prefix`.
pub(crate) fn resolve_queue_key(mut prefix: Vec<String>, segments: &[&str]) -> Resolved {
    let shown = Key(&prefix).to_string();
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    match lower.as_slice() {
        [] => Err(format!("`{shown}` is a table: set one of its keys, e.g. `{shown}.max_attempts`")),
        [key] => match kind_of(QUEUE_KEYS, key) {
            Some(Kind::Table) => {
                Err(format!("`{shown}.{key}` is a table: set one of its keys, e.g. `{shown}.{key}.initial`"))
            }
            Some(kind) => {
                prefix.push(key.clone());
                Ok((prefix, kind))
            }
            None => Err(format!("`{shown}.{key}` is not a setting; queue keys are {}", key_list(QUEUE_KEYS))),
        },
        [table, key] if table == "backoff" => match kind_of(BACKOFF_KEYS, key) {
            Some(kind) => {
                prefix.push(table.clone());
                prefix.push(key.clone());
                Ok((prefix, kind))
            }
            None => {
                Err(format!("`{shown}.backoff.{key}` is not a setting; backoff keys are {}", key_list(BACKOFF_KEYS)))
            }
        },
        _ => Err(format!("`{shown}.{}` is not a setting; queue keys are {}", lower.join("."), key_list(QUEUE_KEYS))),
    }
}

/// Resolves the segments after `queues`: a name, kept as written since
/// names are case-sensitive, then a key.
pub(crate) fn resolve_named(segments: &[&str]) -> Resolved {
    match segments.split_first() {
        Some((name, rest)) if !rest.is_empty() => resolve_queue_key(vec!["queues".into(), (*name).to_string()], rest),
        _ => Err("`queues` needs a queue name and a key, e.g. `queues.email-send.timeout`".to_string()),
    }
}

/// Resolves a dotted flag key after `queues.`. A queue name may itself hold
/// dots, so the key is taken from the end: `backoff.KEY` when those are a
/// backoff key, else the last part.
pub(crate) fn resolve_dotted(rest: &str) -> Resolved {
    let mut from_end = rest.rsplitn(3, '.');
    let is_backoff_key = |table: &str, key: &str| {
        table.eq_ignore_ascii_case("backoff") && kind_of(BACKOFF_KEYS, &key.to_ascii_lowercase()).is_some()
    };
    match (from_end.next(), from_end.next(), from_end.next()) {
        (Some(key), Some(table), Some(name)) if is_backoff_key(table, key) => resolve_named(&[name, table, key]),
        _ => match rest.rsplit_once('.') {
            Some((name, key)) => resolve_named(&[name, key]),
            None => resolve_named(&[rest]),
        },
    }
}

/// Resolves the key segments that follow `push`.
pub(crate) fn resolve_push_key(rest: &[&str]) -> Resolved {
    let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    match lower.as_slice() {
        [table, key] if table == "breaker" => match kind_of(PUSH_BREAKER_KEYS, key) {
            Some(kind) => Ok((vec!["push".into(), table.clone(), key.clone()], kind)),
            None => Err(format!(
                "`push.breaker.{key}` is not a setting; push.breaker keys are {}",
                key_list(PUSH_BREAKER_KEYS)
            )),
        },
        _ => Err(format!(
            "`push.{}` is not a setting; set a key of [push.breaker]: {}",
            lower.join("."),
            key_list(PUSH_BREAKER_KEYS)
        )),
    }
}

impl Check<'_> {
    /// `[queue_defaults]` and every `[queues.NAME]` over it, resolved: the
    /// defaults, and each named queue with every key it leaves out taken
    /// from them.
    pub(crate) fn queues(&mut self, table: &Table) -> (QueueConfig, BTreeMap<QueueName, QueueConfig>) {
        let defaults = match table.get("queue_defaults") {
            Some(value) => self.queue(&["queue_defaults".to_string()], value, &QueueConfig::default()),
            None => QueueConfig::default(),
        };
        let mut named = BTreeMap::new();
        let path = vec!["queues".to_string()];
        let Some(queues) =
            table.get("queues").and_then(|value| self.table(&path, value, "a table of queues ([queues.NAME])"))
        else {
            return (defaults, named);
        };
        for (name, value) in queues {
            let path = child(&path, name);
            if kind_of(QUEUE_KEYS, name).is_some() && !value.is_table() {
                self.report(
                    &path,
                    format!(
                        "expected a table of settings for queue {name:?}, got {}; settings for \
                         every queue go in [queue_defaults]",
                        describe(value)
                    ),
                );
                continue;
            }
            let mut queue = self.queue(&path, value, &defaults);
            if queue.rate.is_none() && value.get("rate_key").is_some() && queue.rate_key.is_some() {
                self.report(
                    &child(&path, "rate_key"),
                    "groups the queue's `rate`, which is not set; set a rate or remove it",
                );
            }
            if queue.target.is_some() {
                queue.concurrency.get_or_insert(QueueConfig::PUSH_CONCURRENCY);
                queue.timeout.get_or_insert(QueueConfig::PUSH_TIMEOUT);
            } else if queue.secret.is_some() && value.get("target").is_none() {
                // A target that was given but refused has its own error already.
                self.report(&child(&path, "secret"), "is only used with `target`; set a target or remove it");
            }
            match QueueName::new(name) {
                Ok(name) => {
                    named.insert(name, queue);
                }
                Err(e) => self.report(&path, e),
            }
        }
        (defaults, named)
    }

    /// A queue table over `base`: each key it sets replaces the base value.
    fn queue(&mut self, path: &[String], value: &Value, base: &QueueConfig) -> QueueConfig {
        let mut queue = base.clone();
        let Some(table) = self.table(path, value, "a table of queue settings") else {
            return queue;
        };
        for (key, value) in table {
            let path = child(path, key);
            match key.as_str() {
                "max_attempts" => queue.max_attempts = self.count(&path, value).unwrap_or(queue.max_attempts),
                "backoff" => queue.backoff = self.backoff(&path, value, &base.backoff),
                "timeout" => {
                    let if_zero = "must be more than 0s; leave the key out for no timeout";
                    if let Some(d) = self.positive_duration(&path, value, if_zero) {
                        queue.timeout = Some(d);
                    }
                }
                "lease" => {
                    if let Some(d) = self.positive_duration(&path, value, "must be more than 0s") {
                        queue.lease = d;
                    }
                }
                "concurrency" => {
                    let limit = "leave the key out for no limit";
                    if let Value::Integer(0) = value {
                        self.report(&path, format!("must be at least 1, got 0; {limit}"));
                    } else if let Some(n) = self.count(&path, value) {
                        queue.concurrency = Some(n);
                    }
                }
                "paused" => {
                    if let Some(b) = self.boolean(&path, value) {
                        queue.paused = b;
                    }
                }
                "retention_completed" => {
                    queue.retention_completed = self.queue_retention(&path, value, key).or(queue.retention_completed);
                }
                "retention_dead" => {
                    queue.retention_dead = self.queue_retention(&path, value, key).or(queue.retention_dead);
                }
                "retry_4xx" => {
                    if let Some(b) = self.boolean(&path, value) {
                        queue.retry_4xx = b;
                    }
                }
                "max_stalls" => {
                    if let Some(n) = self.int(&path, value, 0, 1000) {
                        queue.max_stalls = n as u32;
                    }
                }
                "ready_requires_workers" if path.first().is_some_and(|p| p == "queue_defaults") => self.report(
                    &path,
                    "belongs to one queue: set it in [queues.NAME], whose workers readiness then counts",
                ),
                "ready_requires_workers" => {
                    if let Some(n) = self.int(&path, value, 0, 10_000) {
                        queue.ready_requires_workers = n as u32;
                    }
                }
                "rate" => {
                    if let Some(s) = self.text(&path, value) {
                        match s.parse::<StartRate>() {
                            Ok(rate) => queue.rate = Some(rate),
                            Err(e) => self.report(&path, e),
                        }
                    }
                }
                "rate_key" => {
                    if let Some(s) = self.text(&path, value) {
                        match s.parse::<RateKey>() {
                            Ok(key) => queue.rate_key = Some(key),
                            Err(e) => self.report(&path, e),
                        }
                    }
                }
                "idempotency_window" => {
                    if let Some(d) = self.positive_duration(&path, value, "must be more than 0s") {
                        if d > QueueConfig::MAX_IDEMPOTENCY_WINDOW {
                            self.report(&path, "must be at most 365d: keys are kept for the whole window");
                        } else {
                            queue.idempotency_window = d;
                        }
                    }
                }
                "target" | "secret" if path.first().is_some_and(|p| p == "queue_defaults") => {
                    self.report(&path, "belongs to one queue: set it in [queues.NAME], not in [queue_defaults]")
                }
                "target" => {
                    if let Some(s) = self.text(&path, value) {
                        match PushTarget::parse(s) {
                            Ok(t) => queue.target = Some(t),
                            Err(e) => self.report(&path, e),
                        }
                    }
                }
                "secret" => {
                    if let Some(s) = self.text(&path, value) {
                        // The message never quotes the value: it is a key.
                        match WebhookSecret::parse(s) {
                            Ok(secret) => queue.secret = Some(secret),
                            Err(e) => self.report(&path, e),
                        }
                    }
                }
                _ => self.unknown(&path, QUEUE_KEYS),
            }
        }
        queue
    }

    /// A backoff table over `base`: each key it sets replaces the base value.
    fn backoff(&mut self, path: &[String], value: &Value, base: &Backoff) -> Backoff {
        let mut backoff = *base;
        let Some(table) = self.table(path, value, "a table of backoff settings") else {
            return backoff;
        };
        let (mut initial_set, mut max_set, mut failed) = (false, false, false);
        for (key, value) in table {
            let path = child(path, key);
            match key.as_str() {
                "initial" => match self.duration(&path, value) {
                    Some(d) => (backoff.initial, initial_set) = (d, true),
                    None => failed = true,
                },
                "factor" => {
                    if let Some(x) = self.float(&path, value, 1.0, f64::MAX) {
                        backoff.factor = x;
                    }
                }
                "max" => match self.duration(&path, value) {
                    Some(d) => (backoff.max, max_set) = (d, true),
                    None => failed = true,
                },
                "jitter" => {
                    if let Some(x) = self.float(&path, value, 0.0, 1.0) {
                        backoff.jitter = x;
                    }
                }
                _ => self.unknown(&path, BACKOFF_KEYS),
            }
        }
        // Checked only where this table sets a bound, so that a bad pair in
        // queue_defaults is reported once, not once per queue.
        if !failed && (initial_set || max_set) && backoff.max < backoff.initial {
            let (initial, max) = (format_duration(backoff.initial), format_duration(backoff.max));
            if max_set {
                self.report(
                    &child(path, "max"),
                    format!("{max:?} is shorter than backoff.initial ({initial:?}); make max at least initial"),
                );
            } else {
                self.report(
                    &child(path, "initial"),
                    format!("{initial:?} is longer than backoff.max ({max:?}); make max at least initial"),
                );
            }
        }
        backoff
    }

    /// A per-queue retention override: a duration more than zero; refused in
    /// `[queue_defaults]`, where `[retention]` says it.
    fn queue_retention(&mut self, path: &[String], value: &Value, key: &str) -> Option<Duration> {
        if path.first().map(String::as_str) == Some("queue_defaults") {
            let table_key = key.trim_start_matches("retention_");
            self.report(path, format!("set `retention.{table_key}` for every queue; this key is for [queues.NAME]"));
            return None;
        }
        self.positive_duration(path, value, "must be more than 0s; leave the key out for the [retention] value")
    }

    /// The `[push]` table over the defaults.
    pub(crate) fn push(&mut self, path: &[String], value: &Value) -> PushConfig {
        let mut push = PushConfig::default();
        let Some(table) = self.table(path, value, "a table of push settings") else {
            return push;
        };
        for (key, value) in table {
            let path = child(path, key);
            if key != "breaker" {
                self.unknown(&path, PUSH_KEYS);
                continue;
            }
            let Some(breaker) = self.table(&path, value, "a table of breaker settings") else {
                continue;
            };
            for (key, value) in breaker {
                let path = child(&path, key);
                let b = &mut push.breaker;
                match key.as_str() {
                    "failure_threshold" => {
                        b.failure_threshold = self.count(&path, value).unwrap_or(b.failure_threshold)
                    }
                    "cooldown" => {
                        if let Some(d) = self.positive_duration(&path, value, "must be more than 0s") {
                            b.cooldown = d;
                        }
                    }
                    "half_open_max" => b.half_open_max = self.count(&path, value).unwrap_or(b.half_open_max),
                    _ => self.unknown(&path, PUSH_BREAKER_KEYS),
                }
            }
        }
        push
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_TOML;
    use crate::testing::{errors, ok};

    fn name(s: &str) -> QueueName {
        QueueName::new(s).unwrap()
    }

    #[test]
    fn the_default_file_documents_every_queue_and_push_key() {
        let table: Table = DEFAULT_TOML.parse().unwrap();
        let defaults = table["queue_defaults"].as_table().unwrap();
        for (key, _) in QUEUE_KEYS {
            // Keys whose default is "not set" are shown commented out.
            let present = defaults.contains_key(*key) || DEFAULT_TOML.contains(&format!("\n# {key} = "));
            assert!(present, "queue key `{key}` missing from config.default.toml");
        }
        let backoff = defaults["backoff"].as_table().unwrap();
        for (key, _) in BACKOFF_KEYS {
            assert!(backoff.contains_key(*key), "backoff key `{key}` missing from config.default.toml");
        }
        assert!(DEFAULT_TOML.contains("# [queues.email-send]"));
        let breaker = table["push"]["breaker"].as_table().unwrap();
        for (key, _) in PUSH_BREAKER_KEYS {
            assert!(breaker.contains_key(*key), "push.breaker key `{key}` missing from config.default.toml");
        }
    }

    #[test]
    fn push_queues_read_target_secret_and_breaker_with_push_defaults() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let file = format!(
            "[queues.hook]\ntarget = \"https://app.example.com/jobs\"\nsecret = \"{secret}\"\n\
             [queues.fast]\ntarget = \"http://127.0.0.1:9000/x\"\nconcurrency = 4\ntimeout = \"2s\"\nretry_4xx = true\n\
             [push.breaker]\nfailure_threshold = 3\n"
        );
        let config =
            ok(Some(&file), &[("RAMPART_PUSH__BREAKER__COOLDOWN", "10s")], &[("push.breaker.half_open_max", "2")]);
        let hook = config.queue(&name("hook"));
        assert_eq!(hook.target.as_ref().map(|t| t.to_string()).as_deref(), Some("https://app.example.com/jobs"));
        assert_eq!(hook.target.as_ref().map(|t| t.host()).as_deref(), Some("app.example.com:443"));
        assert_eq!(hook.secret.as_ref().map(|s| s.expose()), Some(secret));
        assert_eq!((hook.concurrency, hook.timeout), (Some(16), Some(Duration::from_secs(30))), "push defaults");
        assert!(!hook.retry_4xx);
        let fast = config.queue(&name("fast"));
        assert_eq!((fast.concurrency, fast.timeout, fast.retry_4xx), (Some(4), Some(Duration::from_secs(2)), true));
        assert_eq!(fast.target.as_ref().map(|t| t.host()).as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(
            config.push.breaker,
            PushBreakerConfig { failure_threshold: 3, cooldown: Duration::from_secs(10), half_open_max: 2 }
        );
        // A pull queue keeps no limit and no timeout.
        let plain = ok(Some("[queues.plain]\npaused = false"), &[], &[]).queue(&name("plain"));
        assert_eq!((plain.target, plain.concurrency, plain.timeout), (None, None, None));
        let env = ok(None, &[("RAMPART_QUEUES__e__TARGET", "http://localhost/hook")], &[]);
        assert!(env.queue(&name("e")).target.is_some());
    }

    #[test]
    fn the_idempotency_window_defaults_to_a_week_and_is_bounded() {
        let config = ok(Some("[queues.receipts]\nidempotency_window = \"1h\"\n[queues.plain]\n"), &[], &[]);
        assert_eq!(config.queue(&name("receipts")).idempotency_window, Duration::from_secs(3600));
        assert_eq!(config.queue(&name("plain")).idempotency_window, QueueConfig::IDEMPOTENCY_WINDOW);
        let got = errors(
            Some("[queues.a]\nidempotency_window = \"0s\"\n[queues.b]\nidempotency_window = \"400d\"\n"),
            &[],
            &[],
        );
        for e in
            ["queues.a.idempotency_window: must be more than 0s", "queues.b.idempotency_window: must be at most 365d"]
        {
            assert!(got.iter().any(|g| g.contains(e)), "missing {e:?} in {got:#?}");
        }
    }

    #[test]
    fn push_settings_are_checked_all_at_once_without_quoting_secrets() {
        let file = "[queue_defaults]\ntarget = \"https://a.example\"\n\
                    [queues.a]\ntarget = \"ftp://a.example/x\"\n\
                    [queues.b]\ntarget = \"https://user:pw@b.example/\"\n\
                    [queues.c]\ntarget = \"not a url\"\n\
                    [queues.d]\ntarget = \"https://d.example\"\nsecret = \"whsec_c2hvcnQ=\"\n\
                    [queues.e]\nsecret = \"hunter2-secret\"\n\
                    [push.breaker]\nfailure_threshold = 0\ncooldown = \"0s\"\nhalf_open = 1\n";
        let got = errors(Some(file), &[], &[]);
        let expected = [
            "queue_defaults.target: belongs to one queue",
            "queues.a.target: \"ftp://a.example/x\" must be an http:// or https:// URL",
            "queues.b.target: \"https://user:***@b.example/\" holds credentials",
            "queues.c.target: \"not a url\" is not a URL",
            "queues.d.secret: the key after `whsec_` is 5 bytes",
            "queues.e.secret: a secret starts with `whsec_`",
            "push.breaker.failure_threshold: must be at least 1",
            "push.breaker.cooldown: must be more than 0s",
            "push.breaker.half_open: unknown key",
        ];
        for e in expected {
            assert!(got.iter().any(|g| g.contains(e)), "missing {e:?} in {got:#?}");
        }
        assert!(!got.iter().any(|g| g.contains("hunter2")), "a secret is never quoted: {got:#?}");
        assert!(!got.iter().any(|g| g.contains(":pw@")), "a password is never quoted: {got:#?}");
        let env = errors(None, &[("RAMPART_PUSH__BREAKER__COOLDOWN_S", "1")], &[]);
        assert!(env[0].contains("`push.breaker.cooldown_s` is not a setting"), "{env:?}");
    }

    #[test]
    fn a_refused_target_is_the_only_error_of_its_queue() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let file = format!(
            "[queues.b]\ntarget = \"https://user:pw@b.example/\"\nsecret = \"{secret}\"\n\
             [queues.c]\ntarget = \"ftp://c.example/\"\nsecret = \"{secret}\"\n"
        );
        let got = errors(Some(&file), &[], &[]);
        assert_eq!(got.len(), 2, "one line per refused target, none about its secret: {got:#?}");
        assert!(got.iter().all(|g| g.contains(".target: ")), "{got:#?}");
    }

    #[test]
    fn a_queue_falls_back_to_queue_defaults_key_by_key() {
        let file = r#"
            [queue_defaults]
            max_attempts = 5
            lease = "1m"
            [queue_defaults.backoff]
            factor = 3.0
            [queues.email-send]
            timeout = "30s"
            [queues.email-send.backoff]
            initial = "10s"
            [queues."billing.invoices:v2"]
            paused = true
            concurrency = 2
        "#;
        let config = ok(Some(file), &[], &[]);
        let defaults = QueueConfig {
            max_attempts: 5,
            lease: Duration::from_secs(60),
            backoff: Backoff { factor: 3.0, ..Backoff::default() },
            ..QueueConfig::default()
        };
        assert_eq!(config.queue_defaults, defaults);
        let email = config.queue(&name("email-send"));
        assert_eq!(
            email,
            QueueConfig {
                timeout: Some(Duration::from_secs(30)),
                backoff: Backoff { initial: Duration::from_secs(10), ..defaults.backoff },
                ..defaults.clone()
            }
        );
        let billing = config.queue(&name("billing.invoices:v2"));
        assert_eq!(billing, QueueConfig { paused: true, concurrency: Some(2), ..defaults.clone() });
        assert_eq!(config.queue(&name("not-configured")), defaults);
    }

    #[test]
    fn start_rates_are_read_and_checked_naming_the_key() {
        let file = "[queues.sync]\nrate = \"100/1m\"\nrate_key = \"tenant\"\n[queues.plain]\nrate = \"5/1s\"\n";
        let config = ok(Some(file), &[("RAMPART_QUEUES__env__RATE", "2/1h")], &[]);
        let sync = config.queue(&name("sync")).start_rate().unwrap();
        assert_eq!((sync.rate.to_string(), sync.key), ("100/1m".to_string(), Some(RateKey::Tenant)));
        assert_eq!(config.queue(&name("plain")).start_rate().map(|r| (r.rate.limit, r.key)), Some((5, None)));
        assert_eq!(config.queue(&name("env")).rate.map(|r| r.to_string()).as_deref(), Some("2/1h"));
        assert_eq!(config.queue(&name("other")).start_rate(), None);

        let file = "[queues.a]\nrate = \"0/1m\"\n[queues.b]\nrate = \"10/100ms\"\n[queues.c]\nrate = 10\n\
                    [queues.d]\nrate = \"10/1m\"\nrate_key = \"user\"\n[queues.e]\nrate_key = \"tenant\"\n\
                    [queues.f]\nrate = \"ten/1m\"\n";
        let got = errors(Some(file), &[], &[]);
        let expected = [
            "queues.a.rate: \"0/1m\" is not a start rate: the count must be at least 1",
            "queues.b.rate: \"10/100ms\" is not a start rate: the window must be at least 1s",
            "queues.c.rate: expected a string",
            "queues.d.rate_key: \"user\" is not a rate key: the only group key jobs carry is \"tenant\"",
            "queues.e.rate_key: groups the queue's `rate`, which is not set",
            "queues.f.rate: \"ten/1m\" is not a start rate: the count before `/` must be a whole number",
        ];
        for e in expected {
            assert!(got.iter().any(|g| g.contains(e)), "missing {e:?} in {got:#?}");
        }
        assert_eq!(got.len(), expected.len(), "{got:#?}");
    }

    #[test]
    fn overrides_reach_queues_whose_names_hold_dots() {
        let overrides = [
            ("queues.billing.invoices:v2.timeout", "5m"),
            ("queues.billing.invoices:v2.backoff.max", "10m"),
            ("queues.x.backoff.lease", "1m"),
        ];
        let config = ok(None, &[], &overrides);
        let billing = config.queue(&name("billing.invoices:v2"));
        assert_eq!(billing.timeout, Some(Duration::from_secs(300)));
        assert_eq!(billing.backoff.max, Duration::from_secs(600));
        // `backoff.lease` is no backoff key, so `x.backoff` is the queue's name.
        assert_eq!(config.queue(&name("x.backoff")).lease, Duration::from_secs(60));
    }
}
