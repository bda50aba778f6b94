//! The loader: stacks the layers, resolves each variable and flag to its
//! key, and walks the merged table once, handing each section its table.
//!
//! It sits on top: it knows which section every top-level key belongs to,
//! and no section knows of it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use rampart_core::breaker::BreakerPolicy;
use rampart_core::id::{BreakerName, QueueName};
use rampart_store::postgres::PgConfig;
use rampart_store::sqlite::Durability;
use toml::Table;

use crate::alerts::{self, AlertsConfig};
use crate::breaker;
use crate::check::Check;
use crate::connection::{self, HttpConfig};
use crate::cron::{self, CronConfig, RetentionConfig};
use crate::diagnostics::{self, DiagnosticsConfig, SentryConfig};
use crate::insight::{self, CachesConfig, ErrorsConfig};
use crate::keys::{Kind, Resolved, key_list, kind_of};
use crate::layers::{self, ConfigSources, DEFAULT_TOML, Layers, Source};
use crate::monitoring::{self, MonitoringConfig};
use crate::queues::{self, PushConfig, QueueConfig};
use crate::ratelimit::{self, RateLimitConfig};
use crate::server::LogFormat;
use crate::store::{self, PostgresConfig};
use crate::ui::UiConfig;
use crate::urls::{DatabaseUrl, RedisUrl};
use crate::usage::{self, UsageConfig};
use crate::webhooks::{self, WebhooksConfig};

/// Prefix of the environment variables read as configuration.
const ENV_PREFIX: &str = "RAMPART_";

/// `RAMPART_*` variables that belong to the command-line tool or to workers,
/// not to this configuration (named without the prefix).
const ENV_NOT_CONFIG: &[&str] = &["CONFIG", "URL", "API_KEY", "LOG", "JOB_ID", "ATTEMPT", "QUEUE"];

/// The top-level keys, in the order `config.default.toml` documents them.
pub(crate) const TOP_KEYS: &[(&str, Kind)] = &[
    ("listen", Kind::Text),
    ("data_dir", Kind::Text),
    ("durability", Kind::Text),
    ("database_url", Kind::Text),
    ("redis_url", Kind::Text),
    ("postgres", Kind::Table),
    ("max_payload_bytes", Kind::Int),
    ("max_body_bytes", Kind::Int),
    ("log_format", Kind::Text),
    ("http", Kind::Table),
    ("queue_defaults", Kind::Table),
    ("queues", Kind::Table),
    ("ratelimit", Kind::Table),
    ("push", Kind::Table),
    ("shutdown_grace", Kind::Text),
    ("diagnostics", Kind::Table),
    ("sentry", Kind::Table),
    ("breaker_defaults", Kind::Table),
    ("breakers", Kind::Table),
    ("cron", Kind::Table),
    ("retention", Kind::Table),
    ("monitoring", Kind::Table),
    ("alerts", Kind::Table),
    ("ui", Kind::Table),
    ("webhooks", Kind::Table),
    ("usage", Kind::Table),
    ("budgets", Kind::Table),
    ("caches", Kind::Table),
    ("errors", Kind::Table),
];

/// The whole configuration of a server.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address the HTTP API listens on (`listen`).
    pub listen: SocketAddr,
    /// Directory of the SQLite database and the generated admin key (`data_dir`).
    pub data_dir: PathBuf,
    /// How SQLite flushes commits (`durability`: `"full"` or `"normal"`).
    pub durability: Durability,
    /// The PostgreSQL every node shares (`database_url`, or `DATABASE_URL`);
    /// `None` keeps jobs in SQLite in `data_dir`.
    pub database_url: Option<DatabaseUrl>,
    /// The Redis every node shares for rate-limit counters (`redis_url`, or
    /// `REDIS_URL`); `None` counts in each node's memory.
    pub redis_url: Option<RedisUrl>,
    /// How this node uses PostgreSQL (`[postgres]`); unused with SQLite.
    pub postgres: PostgresConfig,
    /// Largest job payload accepted, in bytes (`max_payload_bytes`, at least 1).
    pub max_payload_bytes: usize,
    /// Largest HTTP request body accepted, in bytes (`max_body_bytes`, at
    /// least 1 and at least `max_payload_bytes`).
    pub max_body_bytes: usize,
    /// Log output format (`log_format`: `"text"` or `"json"`).
    pub log_format: LogFormat,
    /// Timeouts and the connection cap of the HTTP server (`[http]`).
    pub http: HttpConfig,
    /// Settings of every queue that its own table does not override
    /// (`[queue_defaults]`).
    pub queue_defaults: QueueConfig,
    /// Queues with their own settings (`[queues.NAME]`), already resolved:
    /// each key a queue's table leaves out holds the `queue_defaults` value.
    pub queues: BTreeMap<QueueName, QueueConfig>,
    /// Rate limiting and its named policies (`[ratelimit]`).
    pub ratelimit: RateLimitConfig,
    /// Push delivery (`[push]`).
    pub push: PushConfig,
    /// How long a stopping server lets in-flight requests and the work it
    /// holds finish before it gives the rest back (`shutdown_grace`).
    pub shutdown_grace: Duration,
    /// What the admin diagnostics show (`[diagnostics]`).
    pub diagnostics: DiagnosticsConfig,
    /// Error reporting to Sentry (`[sentry]`).
    pub sentry: SentryConfig,
    /// The policy of every shared breaker without a table of its own
    /// (`[breaker_defaults]`).
    pub breaker_defaults: BreakerPolicy,
    /// Breakers with their own policy (`[breakers.NAME]`), already resolved
    /// over `breaker_defaults`.
    pub breakers: BTreeMap<BreakerName, BreakerPolicy>,
    /// Cron schedules of the configuration (`[[cron]]`), in file order.
    pub cron: Vec<CronConfig>,
    /// Deleting old jobs and cron runs (`[retention]`).
    pub retention: RetentionConfig,
    /// Queue metrics, their history and `/metrics` (`[monitoring]`).
    pub monitoring: MonitoringConfig,
    /// Webhook intake: its sources and the retention of its records (`[webhooks]`).
    pub webhooks: WebhooksConfig,
    /// AI usage: prices, budgets and reservations (`[usage]`, `[budgets.NAME]`).
    pub usage: UsageConfig,
    /// Cache telemetry: rule thresholds per cache and retention (`[caches]`).
    pub caches: CachesConfig,
    /// Error events: retention, the Sentry relay, `error_count` rules (`[errors]`).
    pub errors: ErrorsConfig,
    /// Alert rules, timing and channels (`[alerts]`).
    pub alerts: AlertsConfig,
    /// The dashboard (`[ui]`).
    pub ui: UiConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 7433)),
            data_dir: PathBuf::from("./rampart-data"),
            durability: Durability::default(),
            database_url: None,
            redis_url: None,
            postgres: PostgresConfig::default(),
            max_payload_bytes: 1024 * 1024,
            max_body_bytes: 32 * 1024 * 1024,
            log_format: LogFormat::default(),
            http: HttpConfig::default(),
            queue_defaults: QueueConfig::default(),
            queues: BTreeMap::new(),
            ratelimit: RateLimitConfig::default(),
            push: PushConfig::default(),
            shutdown_grace: Duration::from_secs(30),
            diagnostics: DiagnosticsConfig::default(),
            sentry: SentryConfig::default(),
            breaker_defaults: BreakerPolicy::default(),
            breakers: BTreeMap::new(),
            cron: Vec::new(),
            retention: RetentionConfig::default(),
            webhooks: WebhooksConfig::default(),
            usage: UsageConfig::default(),
            monitoring: MonitoringConfig::default(),
            caches: CachesConfig::default(),
            errors: ErrorsConfig::default(),
            alerts: AlertsConfig::default(),
            ui: UiConfig::default(),
        }
    }
}

/// Every problem found in the configuration, one line each, naming the key
/// (e.g. `queues.email-send.backoff.factor`) and, when known, where it was set
/// (file path, environment variable or command line).
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(line)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// The settings of one queue: its own table, else `queue_defaults`.
    pub fn queue(&self, name: &QueueName) -> QueueConfig {
        self.queues.get(name).unwrap_or(&self.queue_defaults).clone()
    }

    /// How to reach PostgreSQL when `database_url` is set; `None` means SQLite.
    pub fn pg_config(&self) -> Option<PgConfig> {
        self.database_url.as_ref().map(|url| self.postgres.pg_config(url))
    }

    /// The policy of breaker `name`: its `[breakers.NAME]` table, else
    /// `[breaker_defaults]`.
    pub fn breaker(&self, name: &str) -> &BreakerPolicy {
        self.breakers.get(name).unwrap_or(&self.breaker_defaults)
    }

    /// Loads and validates: built-in defaults, then the file, then
    /// environment, then overrides. Fails with every problem found.
    pub fn load(sources: &ConfigSources) -> Result<Config, ConfigErrors> {
        let mut errors = Vec::new();
        let mut layers = Layers::default();

        match DEFAULT_TOML.parse::<Table>() {
            Ok(table) => layers.table = table,
            Err(e) => errors.push(layers::toml_error("built-in config.default.toml", DEFAULT_TOML, &e)),
        }

        if let Some((path, text)) = layers::read_file(sources, &mut errors) {
            match text.parse::<Table>() {
                Ok(table) => layers.merge(table, &Source::File(path)),
                Err(e) => errors.push(layers::toml_error(&path.display().to_string(), &text, &e)),
            }
        }

        // The conventional variables first, so that the RAMPART_ ones, read
        // below, win over them.
        let conventional = [
            (store::ENV_DATABASE_URL, &["database_url"][..]),
            (ratelimit::ENV_REDIS_URL, &["redis_url"]),
            (alerts::ENV_SLACK_WEBHOOK_URL, &["alerts", "slack_webhook_url"]),
            (diagnostics::ENV_SENTRY_DSN, &["sentry", "dsn"]),
        ];
        for (variable, path) in conventional {
            let path: Vec<String> = path.iter().map(|key| key.to_string()).collect();
            for (name, value) in sources.env.iter().filter(|(name, _)| name == variable) {
                layers.set(&path, value, Kind::Text, Source::Env(name.clone()));
            }
        }
        for (name, value) in &sources.env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if ENV_NOT_CONFIG.contains(&rest) {
                continue;
            }
            let segments: Vec<&str> = rest.split("__").collect();
            match resolve(&segments) {
                Ok((path, kind)) => layers.set(&path, value, kind, Source::Env(name.clone())),
                Err(reason) => errors.push(format!("{name}: {reason}")),
            }
        }

        for (key, value) in &sources.overrides {
            match resolve_dotted(key) {
                Ok((path, kind)) => layers.set(&path, value, kind, Source::Flag),
                Err(reason) => errors.push(format!("{key}: {reason} (from the command line)")),
            }
        }

        let mut check = Check::new(&layers.sources);
        check.errors = errors;
        let config = check.config(&layers.table);
        if check.errors.is_empty() { Ok(config) } else { Err(ConfigErrors(check.errors)) }
    }
}

/// Maps the segments of a nested key (from an environment variable) to its
/// path and kind. Key segments are matched case-insensitively; the names of
/// queues, policies and breakers are kept as given, since names are
/// case-sensitive.
fn resolve(segments: &[&str]) -> Resolved {
    let Some((first, rest)) = segments.split_first() else {
        return Err("names no key".to_string());
    };
    let first = first.to_ascii_lowercase();
    match first.as_str() {
        "queue_defaults" => queues::resolve_queue_key(vec![first], rest),
        "queues" => queues::resolve_named(rest),
        "push" => queues::resolve_push_key(rest),
        "postgres" => store::resolve_postgres(rest),
        "ratelimit" => ratelimit::resolve_key(rest),
        "alerts" => alerts::resolve_key(rest),
        "diagnostics" | "sentry" => diagnostics::resolve_section(&first, rest),
        // The short form of RAMPART_SENTRY__DSN.
        "sentry_dsn" if rest.is_empty() => Ok((vec!["sentry".into(), "dsn".into()], Kind::Text)),
        "breaker_defaults" => breaker::resolve_key(vec![first], rest),
        "breakers" => breaker::resolve_named(rest),
        "retention" => cron::resolve_retention_key(rest),
        "cron" => Err("[[cron]] schedules are set in the configuration file or through the API".to_string()),
        "monitoring" => monitoring::resolve_key(rest),
        "ui" => crate::ui::resolve_key(rest),
        "http" => connection::resolve_key(rest),
        "webhooks" => webhooks::resolve_key(rest),
        "usage" => usage::resolve_usage_key(rest),
        "budgets" => usage::resolve_budget_key(rest),
        "caches" => insight::resolve_caches_key(rest),
        "errors" => insight::resolve_errors_key(rest),
        _ => match kind_of(TOP_KEYS, &first) {
            Some(kind) if rest.is_empty() => Ok((vec![first], kind)),
            Some(_) => Err(format!("`{first}` has no sub-keys")),
            None => Err(format!("`{first}` is not a setting; top-level keys are {}", key_list(TOP_KEYS))),
        },
    }
}

/// Maps a dotted flag key to its path and kind. A queue, policy or breaker
/// name may itself hold dots, so under their tables the key is taken from
/// the end.
fn resolve_dotted(key: &str) -> Resolved {
    if let Some(rest) = key.strip_prefix("ratelimit.policies.") {
        return ratelimit::resolve_dotted_policy(rest);
    }
    if let Some(rest) = key.strip_prefix("alerts.queues.") {
        return alerts::resolve_dotted_queue(rest);
    }
    if let Some(rest) = key.strip_prefix("breakers.") {
        return breaker::resolve_dotted(rest);
    }
    if let Some(rest) = key.strip_prefix("webhooks.") {
        return webhooks::resolve_dotted(rest);
    }
    if let Some(rest) = key.strip_prefix("budgets.") {
        return usage::resolve_dotted_budget(rest);
    }
    if let Some(rest) = key.strip_prefix("caches.") {
        return insight::resolve_caches_dotted(rest);
    }
    if let Some(rest) = key.strip_prefix("queues.") {
        return queues::resolve_dotted(rest);
    }
    let segments: Vec<&str> = key.split('.').collect();
    resolve(&segments)
}

impl Check<'_> {
    /// The whole configuration: each top-level key read by its section,
    /// over the defaults.
    fn config(&mut self, table: &Table) -> Config {
        let mut config = Config::default();
        let (mut payload_ok, mut body_ok) = (true, true);
        for (key, value) in table {
            let path = vec![key.clone()];
            match key.as_str() {
                "listen" => config.listen = self.listen(&path, value).unwrap_or(config.listen),
                "data_dir" => config.data_dir = self.data_dir(&path, value).unwrap_or(config.data_dir),
                "durability" => config.durability = self.durability(&path, value).unwrap_or(config.durability),
                "database_url" => config.database_url = self.database_url(&path, value),
                "redis_url" => config.redis_url = self.redis_url(&path, value),
                "postgres" => config.postgres = self.postgres(&path, value),
                "max_payload_bytes" => match self.size(&path, value, 1) {
                    Some(n) => config.max_payload_bytes = n,
                    None => payload_ok = false,
                },
                "max_body_bytes" => match self.size(&path, value, 1) {
                    Some(n) => config.max_body_bytes = n,
                    None => body_ok = false,
                },
                "log_format" => config.log_format = self.log_format(&path, value).unwrap_or(config.log_format),
                "http" => config.http = self.http(&path, value),
                "ratelimit" => config.ratelimit = self.ratelimit(&path, value),
                "push" => config.push = self.push(&path, value),
                "monitoring" => config.monitoring = self.monitoring(&path, value),
                "alerts" => config.alerts = self.alerts(&path, value),
                "ui" => config.ui = self.ui(&path, value),
                "shutdown_grace" => {
                    config.shutdown_grace = self.duration(&path, value).unwrap_or(config.shutdown_grace)
                }
                "diagnostics" => config.diagnostics = self.diagnostics(&path, value),
                "sentry" => config.sentry = self.sentry(&path, value),
                "cron" => config.cron = self.cron(&path, value),
                "retention" => config.retention = self.retention(&path, value),
                "webhooks" => config.webhooks = self.webhooks(&path, value),
                "caches" => config.caches = self.caches(&path, value),
                "errors" => config.errors = self.errors(&path, value),
                // Read below as a whole: each named table over its defaults.
                "queue_defaults" | "queues" | "breaker_defaults" | "breakers" | "usage" | "budgets" => {}
                _ => self.unknown(&path, TOP_KEYS),
            }
        }
        if payload_ok && body_ok {
            self.body_limits(config.max_payload_bytes, config.max_body_bytes);
        }
        (config.queue_defaults, config.queues) = self.queues(table);
        (config.breaker_defaults, config.breakers) = self.breakers(table);
        let budgets = match table.get("budgets") {
            Some(v) => self.budgets(&[String::from("budgets")], v),
            None => BTreeMap::new(),
        };
        config.usage = match table.get("usage") {
            Some(v) => self.usage(&[String::from("usage")], v, budgets),
            None => UsageConfig { budgets, ..UsageConfig::default() },
        };
        self.policies_need_redis(&config.ratelimit, config.redis_url.as_ref());
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::DEFAULT_FILE;
    use crate::testing::{errors, ok};
    use rampart_core::retry::Backoff;

    fn name(s: &str) -> QueueName {
        QueueName::new(s).unwrap()
    }

    #[test]
    fn the_default_file_documents_every_top_level_key() {
        let table: Table = DEFAULT_TOML.parse().unwrap();
        for (key, _) in TOP_KEYS.iter().filter(|(k, _)| *k != "queues") {
            assert!(table.contains_key(*key), "top-level `{key}` missing from config.default.toml");
        }
    }

    #[test]
    fn no_sources_give_the_defaults() {
        let loaded = Config::load(&ConfigSources::default()).unwrap();
        assert_eq!(loaded, Config::default());
        assert_eq!(loaded.listen.to_string(), "127.0.0.1:7433");
        assert_eq!(loaded.queue_defaults.backoff, Backoff::default());
    }

    #[test]
    fn a_missing_default_file_is_not_an_error() {
        // Tests run in the crate directory, which has no rampart.toml.
        assert!(!std::path::Path::new(DEFAULT_FILE).exists());
        let sources = ConfigSources { look_for_default_file: true, ..ConfigSources::default() };
        assert_eq!(Config::load(&sources).unwrap(), Config::default());
    }

    #[test]
    fn later_layers_win() {
        let file = r#"
            listen = "0.0.0.0:1111"
            data_dir = "/from/file"
            durability = "full"
            [queue_defaults]
            max_attempts = 4
        "#;
        struct Case {
            env: &'static [(&'static str, &'static str)],
            overrides: &'static [(&'static str, &'static str)],
            listen: &'static str,
            data_dir: &'static str,
            max_attempts: u32,
        }
        let cases = [
            Case { env: &[], overrides: &[], listen: "0.0.0.0:1111", data_dir: "/from/file", max_attempts: 4 },
            Case {
                env: &[("RAMPART_DATA_DIR", "/from/env"), ("RAMPART_QUEUE_DEFAULTS__MAX_ATTEMPTS", "5")],
                overrides: &[],
                listen: "0.0.0.0:1111",
                data_dir: "/from/env",
                max_attempts: 5,
            },
            Case {
                env: &[("RAMPART_DATA_DIR", "/from/env"), ("RAMPART_QUEUE_DEFAULTS__MAX_ATTEMPTS", "5")],
                overrides: &[("data_dir", "/from/flag"), ("queue_defaults.max_attempts", "6")],
                listen: "0.0.0.0:1111",
                data_dir: "/from/flag",
                max_attempts: 6,
            },
            Case {
                env: &[("RAMPART_LISTEN", "127.0.0.1:2222")],
                overrides: &[("listen", "[::1]:3333")],
                listen: "[::1]:3333",
                data_dir: "/from/file",
                max_attempts: 4,
            },
        ];
        for case in cases {
            let config = ok(Some(file), case.env, case.overrides);
            assert_eq!(config.listen.to_string(), case.listen, "env {:?} overrides {:?}", case.env, case.overrides);
            assert_eq!(config.data_dir, PathBuf::from(case.data_dir));
            assert_eq!(config.queue_defaults.max_attempts, case.max_attempts);
            // Untouched by env and flags: the file's value stays.
            assert_eq!(config.durability, Durability::Full);
        }
    }

    #[test]
    fn nested_environment_variables_set_nested_keys() {
        let env = [
            ("RAMPART_QUEUE_DEFAULTS__MAX_ATTEMPTS", "5"),
            ("RAMPART_QUEUE_DEFAULTS__BACKOFF__INITIAL", "2s"),
            ("RAMPART_QUEUE_DEFAULTS__BACKOFF__JITTER", "0"),
            ("RAMPART_QUEUES__email-send__TIMEOUT", "30s"),
            ("RAMPART_QUEUES__email-send__BACKOFF__FACTOR", "1.5"),
            // Key segments in any case; the queue name as written.
            ("RAMPART_queues__Reports__Paused", "TRUE"),
            ("RAMPART_Log_Format", "json"),
            ("RAMPART_MAX_PAYLOAD_BYTES", "2048"),
            // Not configuration: the CLI's and workers' variables, and others.
            ("RAMPART_URL", "http://localhost:7433"),
            ("RAMPART_API_KEY", "secret"),
            ("RAMPART_CONFIG", "/nowhere"),
            ("RAMPART_LOG", "debug"),
            ("RAMPART_JOB_ID", "7"),
            ("RAMPART_ATTEMPT", "1"),
            ("RAMPART_QUEUE", "email-send"),
            ("PATH", "/usr/bin"),
        ];
        let config = ok(None, &env, &[]);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.max_payload_bytes, 2048);
        let defaults = QueueConfig {
            max_attempts: 5,
            backoff: Backoff { initial: Duration::from_secs(2), jitter: 0.0, ..Backoff::default() },
            ..QueueConfig::default()
        };
        assert_eq!(config.queue_defaults, defaults);
        let email = config.queue(&name("email-send"));
        assert_eq!(email.timeout, Some(Duration::from_secs(30)));
        assert_eq!(email.backoff, Backoff { factor: 1.5, ..defaults.backoff });
        assert_eq!(email.max_attempts, 5);
        assert!(config.queue(&name("Reports")).paused);
        assert!(!config.queues.contains_key(&name("reports")));
        assert_eq!(config.queues.len(), 2);
    }

    /// Each case must produce exactly one error line containing every fragment.
    #[test]
    fn every_class_of_problem_names_its_key() {
        type Pairs = &'static [(&'static str, &'static str)];
        let cases: &[(&str, Pairs, Pairs, &[&str])] = &[
            // Unknown keys at every level, with the allowed keys.
            ("colour = \"red\"", &[], &[], &["colour: unknown key", "`listen`", "in "]),
            ("[queues.a]\nretries = 3", &[], &[], &["queues.a.retries: unknown key", "`max_attempts`"]),
            (
                "[queue_defaults.backoff]\nbase = \"1s\"",
                &[],
                &[],
                &["queue_defaults.backoff.base: unknown key", "`jitter`"],
            ),
            ("[queues.a.backoff]\nbase = \"1s\"", &[], &[], &["queues.a.backoff.base: unknown key"]),
            // Wrong types.
            (
                "[queue_defaults]\nmax_attempts = \"three\"",
                &[],
                &[],
                &["queue_defaults.max_attempts: expected a whole number, got the string \"three\""],
            ),
            ("listen = 7433", &[], &[], &["listen: expected a string, got the integer 7433"]),
            ("[queues.a]\npaused = \"yes\"", &[], &[], &["queues.a.paused: expected true or false"]),
            ("[queues.a]\ntimeout = 30", &[], &[], &["queues.a.timeout: expected a duration string"]),
            ("queue_defaults = 5", &[], &[], &["queue_defaults: expected a table"]),
            ("queues = 5", &[], &[], &["queues: expected a table of queues"]),
            ("[queues]\nmax_attempts = 5", &[], &[], &["queues.max_attempts: expected a table", "[queue_defaults]"]),
            // Bad durations quote the parse error.
            (
                "[queue_defaults]\nlease = \"30 seconds\"",
                &[],
                &[],
                &["queue_defaults.lease: `30 seconds` is not a duration"],
            ),
            ("[queues.a.backoff]\nmax = \"1y\"", &[], &[], &["queues.a.backoff.max: `1y` is not a duration", "unit"]),
            // Zero and negative limits.
            (
                "[queue_defaults]\nmax_attempts = 0",
                &[],
                &[],
                &["queue_defaults.max_attempts: must be at least 1, got 0"],
            ),
            (
                "[queue_defaults]\nmax_attempts = 5000000000",
                &[],
                &[],
                &["queue_defaults.max_attempts: must be at most 4294967295"],
            ),
            (
                "[queues.a]\ntimeout = \"0s\"",
                &[],
                &[],
                &["queues.a.timeout: must be more than 0s", "leave the key out"],
            ),
            ("[queues.a]\nlease = \"0ms\"", &[], &[], &["queues.a.lease: must be more than 0s"]),
            ("[queues.a]\nconcurrency = 0", &[], &[], &["queues.a.concurrency: must be at least 1, got 0"]),
            ("max_payload_bytes = -1", &[], &[], &["max_payload_bytes: must be at least 1, got -1"]),
            ("max_body_bytes = 0", &[], &[], &["max_body_bytes: must be at least 1, got 0"]),
            (
                "max_payload_bytes = 2000\nmax_body_bytes = 1000",
                &[],
                &[],
                &["max_payload_bytes: 2000 is larger than max_body_bytes (1000)"],
            ),
            (
                "",
                &[],
                &[("max_body_bytes", "10")],
                &["max_body_bytes: 10 is smaller than max_payload_bytes (1048576)", "(from the command line)"],
            ),
            (
                "[queues.email-send.backoff]\nfactor = 0.5",
                &[],
                &[],
                &["queues.email-send.backoff.factor: must be at least 1.0, got 0.5"],
            ),
            ("[queues.a.backoff]\njitter = 1.5", &[], &[], &["queues.a.backoff.jitter: must be at most 1.0, got 1.5"]),
            ("[queues.a.backoff]\nfactor = nan", &[], &[], &["queues.a.backoff.factor: must be a finite number"]),
            (
                "[queues.a.backoff]\ninitial = \"2h\"",
                &[],
                &[],
                &["queues.a.backoff.initial: \"2h\" is longer than backoff.max (\"1h\")"],
            ),
            // Bad address and enum values.
            ("listen = \"localhost\"", &[], &[], &["listen: \"localhost\" is not an IP address and port"]),
            ("durability = \"fast\"", &[], &[], &["durability: \"fast\" is not a durability", "\"full\""]),
            ("log_format = \"xml\"", &[], &[], &["log_format: \"xml\" is not a log format"]),
            ("data_dir = \"\"", &[], &[], &["data_dir: must not be empty"]),
            // The database URL and the [postgres] table.
            (
                "database_url = \"mysql://app@db/jobs\"",
                &[],
                &[],
                &["database_url: the database URL is not valid", "postgres://user@host/db", "(in "],
            ),
            ("", &[("DATABASE_URL", "sqlite:///tmp/x")], &[], &["database_url: ", "(from DATABASE_URL)"]),
            ("", &[("RAMPART_DATABASE_URL", "nope")], &[], &["database_url: ", "(from RAMPART_DATABASE_URL)"]),
            ("", &[], &[("database_url", "nope")], &["database_url: ", "(from the command line)"]),
            ("database_url = 5", &[], &[], &["database_url: expected a string, got the integer 5"]),
            ("[postgres]\npool_size = 0", &[], &[], &["postgres.pool_size: must be at least 1, got 0"]),
            ("[postgres]\nstatement_timeout = \"0s\"", &[], &[], &["postgres.statement_timeout: must be more than 0s"]),
            (
                "[postgres]\nconnect_timeout = \"soon\"",
                &[],
                &[],
                &["postgres.connect_timeout: `soon` is not a duration"],
            ),
            ("[postgres]\npool = 3", &[], &[], &["postgres.pool: unknown key", "`pool_size`"]),
            ("postgres = 3", &[], &[], &["postgres: expected a table of PostgreSQL settings"]),
            (
                "",
                &[("RAMPART_POSTGRES__POOL_SIZE", "many")],
                &[],
                &["postgres.pool_size: expected a whole number", "(from RAMPART_POSTGRES__POOL_SIZE)"],
            ),
            (
                "",
                &[("RAMPART_POSTGRES__POOL", "3")],
                &[],
                &["RAMPART_POSTGRES__POOL: `postgres.pool` is not a setting"],
            ),
            ("", &[("RAMPART_POSTGRES", "3")], &[], &["RAMPART_POSTGRES: `postgres` is a table"]),
            ("", &[], &[("postgres.connect_timeout.x", "1s")], &["`postgres` keys have no sub-keys"]),
            // Invalid queue names, quoted in the key.
            (
                "[queues.\"has space\"]\npaused = true",
                &[],
                &[],
                &["queues.\"has space\": `has space` is not a queue name"],
            ),
            // TOML syntax, with toml's position.
            ("listen = \"127.0.0.1:1\"\nmax_attempts =", &[], &[], &["invalid TOML at line 2", "rampart.toml"]),
            // Environment: unknown variables and bad values name the variable.
            ("", &[("RAMPART_MAX_ATTEMPTS", "5")], &[], &["RAMPART_MAX_ATTEMPTS: `max_attempts` is not a setting"]),
            (
                "",
                &[("RAMPART_QUEUES__a__TIMEOT", "5s")],
                &[],
                &["RAMPART_QUEUES__a__TIMEOT: `queues.a.timeot` is not a setting"],
            ),
            ("", &[("RAMPART_QUEUES__a", "5s")], &[], &["RAMPART_QUEUES__a: `queues` needs a queue name and a key"]),
            (
                "",
                &[("RAMPART_QUEUE_DEFAULTS__BACKOFF", "5s")],
                &[],
                &["RAMPART_QUEUE_DEFAULTS__BACKOFF: `queue_defaults.backoff` is a table"],
            ),
            ("", &[("RAMPART_LISTEN__PORT", "1")], &[], &["RAMPART_LISTEN__PORT: `listen` has no sub-keys"]),
            (
                "",
                &[("RAMPART_QUEUE_DEFAULTS__MAX_ATTEMPTS", "three")],
                &[],
                &[
                    "queue_defaults.max_attempts: expected a whole number, got the string \"three\" (from RAMPART_QUEUE_DEFAULTS__MAX_ATTEMPTS)",
                ],
            ),
            (
                "",
                &[("RAMPART_QUEUES__bad name__PAUSED", "true")],
                &[],
                &["queues.\"bad name\": `bad name` is not a queue name", "(from RAMPART_QUEUES__bad name__PAUSED)"],
            ),
            ("", &[("RAMPART_DURABILITY", "fast")], &[], &["durability:", "(from RAMPART_DURABILITY)"]),
            // Flags.
            ("", &[], &[("listen", "nope")], &["listen: \"nope\" is not an IP address", "(from the command line)"]),
            ("", &[], &[("lisen", "x")], &["lisen: `lisen` is not a setting", "(from the command line)"]),
        ];
        for (file, env, overrides, fragments) in cases {
            let lines = errors(Some(file), env, overrides);
            assert_eq!(lines.len(), 1, "case {file:?} {env:?} {overrides:?}: {lines:#?}");
            for fragment in *fragments {
                assert!(lines[0].contains(fragment), "case {file:?} {env:?}: {:?} lacks {fragment:?}", lines[0]);
            }
        }
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("custom.toml");
        std::fs::write(&path, "[queue_defaults]\nlease = \"soon\"").unwrap();
        let sources = ConfigSources { file: Some(path.clone()), ..ConfigSources::default() };
        let lines = Config::load(&sources).unwrap_err().0;
        assert_eq!(
            lines,
            vec![format!(
                "queue_defaults.lease: `soon` is not a duration: each part must start with a whole number; \
             write e.g. \"500ms\", \"30s\", \"5m\", \"1h\" or \"1h30m\" (in {})",
                path.display()
            )]
        );
    }

    #[test]
    fn a_missing_explicit_file_names_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.toml");
        let sources =
            ConfigSources { file: Some(path.clone()), look_for_default_file: true, ..ConfigSources::default() };
        let lines = Config::load(&sources).unwrap_err().0;
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(
            lines[0].starts_with(&format!("{}: cannot read the configuration file", path.display())),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let file = r#"
            colour = "red"
            max_body_bytes = 0
            [queue_defaults]
            max_attempts = "three"
            [queues.email-send]
            timeout = "0s"
            [queues.email-send.backoff]
            factor = 0.5
            jitter = -1
        "#;
        let env = [("RAMPART_NOPE", "1"), ("RAMPART_LOG_FORMAT", "xml")];
        let overrides = [("listen", "nope"), ("queues.email-send.frobnicate", "1")];
        let lines = errors(Some(file), &env, &overrides);
        let expected = [
            "colour:",
            "max_body_bytes:",
            "queue_defaults.max_attempts:",
            "queues.email-send.timeout:",
            "queues.email-send.backoff.factor:",
            "queues.email-send.backoff.jitter:",
            "RAMPART_NOPE:",
            "log_format:",
            "listen:",
            "queues.email-send.frobnicate:",
        ];
        assert_eq!(lines.len(), expected.len(), "{lines:#?}");
        for start in expected {
            assert!(lines.iter().any(|l| l.starts_with(start)), "no line for {start}: {lines:#?}");
        }
        let shown = ConfigErrors(lines.clone()).to_string();
        assert_eq!(shown.lines().count(), expected.len());
    }
}
