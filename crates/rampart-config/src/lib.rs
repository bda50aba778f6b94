//! Server configuration: layered, parsed first, validated second.
//!
//! The layers stack in this order, each overriding the keys it sets:
//!
//! 1. the built-in [`DEFAULT_TOML`] (`config.default.toml`), which holds every
//!    key at its default value with a comment and is the documentation;
//! 2. the configuration file: [`ConfigSources::file`], else `./rampart.toml`
//!    when [`ConfigSources::look_for_default_file`] is set and it exists;
//! 3. environment variables: `RAMPART_<KEY>` for top-level keys and `__`
//!    between the parts of nested keys (`RAMPART_QUEUE_DEFAULTS__MAX_ATTEMPTS`,
//!    `RAMPART_QUEUES__email-send__BACKOFF__INITIAL`,
//!    `RAMPART_RATELIMIT__POLICIES__oauth__LIMIT`; arrays such as
//!    `ratelimit.trusted_proxies` as comma-separated lists), and the conventional
//!    `DATABASE_URL` for `database_url` (`RAMPART_DATABASE_URL` wins when
//!    both are set);
//! 4. overrides from command-line flags, as dotted keys.
//!
//! All layers are merged into one TOML table (string values from the
//! environment and flags are converted to the type their key expects), and
//! that table is then walked by hand so that every problem — unknown keys,
//! wrong types, bad durations, values out of range, invalid queue names — is
//! reported at once, one line each, naming the key and where it was set.
//!
//! Queue settings resolve per key: a `[queues.NAME]` table overrides only the
//! keys it sets and takes every other key, backoff keys included, from
//! `[queue_defaults]`. Rate-limit policies (`[ratelimit.policies.NAME]`) are
//! checked by building the [`Policy`] each describes. Alerting
//! (`[alerts]`, `[[alerts.channels]]`, `SLACK_WEBHOOK_URL`) is read in
//! [`alerts`].
//! Circuit breakers (`[breakers.NAME]` over `[breaker_defaults]`) resolve
//! the same way and are checked in `config/breaker.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use http::HeaderName;
use rampart_core::breaker::BreakerPolicy;
use rampart_core::duration::{format_duration, parse_duration};
use rampart_core::id::{BreakerName, QueueName};
use rampart_core::retry::Backoff;
use rampart_core::webhook::WebhookSecret;
use rampart_limit::{Algorithm, Policy, PolicyError};
use rampart_store::postgres::{PgConfig, check_url};
use rampart_store::sqlite::Durability;
use toml::{Table, Value};

mod alerts;
mod breaker;
mod cron;

pub use alerts::{AlertThresholds, AlertsConfig, ChannelConfig, ChannelKind, SecretUrl};

pub use cron::{CronConfig, RetentionConfig};
mod diagnostics;
pub use diagnostics::{DiagnosticsConfig, SentryConfig, SentryDsn};
mod connection;
pub use connection::HttpConfig;

/// The built-in configuration file: every key at its default value, with a
/// comment explaining it. It is the first layer of [`Config::load`].
pub const DEFAULT_TOML: &str = include_str!("../config.default.toml");

/// The file read when no file is named and looking for one is asked for.
const DEFAULT_FILE: &str = "./rampart.toml";

/// Prefix of the environment variables read as configuration.
const ENV_PREFIX: &str = "RAMPART_";

/// `RAMPART_*` variables that belong to the command-line tool or to workers,
/// not to this configuration (named without the prefix).
const ENV_NOT_CONFIG: &[&str] = &["CONFIG", "URL", "API_KEY", "LOG", "JOB_ID", "ATTEMPT", "QUEUE"];

/// The variable hosting platforms and tools set for an app's database; read
/// as `database_url`, below `RAMPART_DATABASE_URL`.
const ENV_DATABASE_URL: &str = "DATABASE_URL";

/// The conventional variable for a Redis URL; read as `redis_url`, below
/// `RAMPART_REDIS_URL`.
const ENV_REDIS_URL: &str = "REDIS_URL";

/// The variable Sentry's clients read for a DSN; read as `sentry.dsn`,
/// below `RAMPART_SENTRY__DSN` (and its short form `RAMPART_SENTRY_DSN`).
const ENV_SENTRY_DSN: &str = "SENTRY_DSN";

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
    /// Alert rules, timing and channels (`[alerts]`).
    pub alerts: AlertsConfig,
}

/// Queue metrics, their history and `/metrics` (`[monitoring]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitoringConfig {
    /// Whether the sampler runs and HTTP requests are counted (`enabled`);
    /// health routes answer either way.
    pub enabled: bool,
    /// How often every queue is sampled and the totals stored (`interval`,
    /// from 1s to 1h).
    pub interval: Duration,
    /// Samples kept in memory per queue (`retain`, 1 to 10,000).
    pub retain: usize,
    /// Whether `GET /metrics` answers without a key (`metrics_public`);
    /// otherwise it needs the reader role.
    pub metrics_public: bool,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        MonitoringConfig { enabled: true, interval: Duration::from_secs(30), retain: 100, metrics_public: false }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// A PostgreSQL connection URL (or `key=value` string), checked when read.
///
/// It may hold a password, so it shows redacted (`postgres://user:***@host/db`)
/// in `Display` and `Debug`, which is what logs and messages use;
/// [`DatabaseUrl::expose`] gives the real one to connect with.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Checks `url` without connecting; the error says what is wrong, without
    /// repeating the URL.
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        let url = url.trim();
        check_url(url)?;
        Ok(DatabaseUrl(url.to_string()))
    }

    /// The URL with its password, for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_password(&self.0))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", redact_password(&self.0))
    }
}

/// A Redis URL (`redis://[user:password@]host[:port][/db]`, `rediss://` for
/// TLS, or `redis+unix:///path`), checked when read. It shows with its
/// password hidden; [`RedisUrl::expose`] gives the real one.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// Checks the form of `url` without connecting.
    pub fn parse(url: &str) -> Result<RedisUrl, String> {
        let url = url.trim();
        let rest = ["redis://", "rediss://", "redis+unix://", "unix://"]
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme))
            .ok_or("the Redis URL must start with redis://, rediss:// or redis+unix://, e.g. redis://127.0.0.1:6379")?;
        if rest.is_empty() {
            return Err("the Redis URL names no host; write e.g. redis://127.0.0.1:6379".to_string());
        }
        Ok(RedisUrl(url.to_string()))
    }

    /// The URL with its password, for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.0.split_once("://") else { return self.0.clone() };
        match rest.rsplit_once('@') {
            Some((credentials, place)) => match credentials.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{place}"),
                None => format!("{scheme}://***@{place}"),
            },
            None => self.0.clone(),
        }
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({:?})", self.redacted())
    }
}

/// The connection string with every password replaced by `***`: the one
/// after `user:` in a URL, a `password=` query parameter, and a `password`
/// value of a `key=value` string. Splits the way the PostgreSQL driver does
/// (libpq's rules), so that what it reads as a password is what is hidden.
fn redact_password(url: &str) -> String {
    const HIDDEN: &str = "***";
    let Some((scheme, rest)) =
        ["postgres://", "postgresql://"].iter().find_map(|scheme| url.strip_prefix(scheme).map(|rest| (*scheme, rest)))
    else {
        return redact_key_values(url, HIDDEN);
    };
    let mut out = scheme.to_string();
    // The credentials run to the first `@`, the password from their first `:`.
    let rest = match rest.split_once('@') {
        Some((credentials, rest)) => {
            match credentials.split_once(':') {
                Some((user, _)) => out.push_str(&format!("{user}:{HIDDEN}@")),
                None => out.push_str(&format!("{credentials}@")),
            }
            rest
        }
        None => rest,
    };
    match rest.split_once('?') {
        Some((place, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}={HIDDEN}"),
                    _ => param.to_string(),
                })
                .collect();
            out.push_str(&format!("{place}?{}", params.join("&")));
        }
        None => out.push_str(rest),
    }
    out
}

/// `redact_password` for a `key=value` string (`host=db user=app
/// password='a secret'`): values are unquoted up to white space, or quoted
/// with `'`, and `\` escapes the next character in both.
fn redact_key_values(text: &str, hidden: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let skip_space = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    while i < bytes.len() {
        let start = i;
        let key_start = skip_space(i);
        i = key_start;
        while bytes.get(i).is_some_and(|b| !b.is_ascii_whitespace() && *b != b'=') {
            i += 1;
        }
        let key = &text[key_start..i];
        i = skip_space(i);
        if bytes.get(i) == Some(&b'=') {
            i = skip_space(i + 1);
        }
        // White space, key, `=` and the space around it, as written.
        out.push_str(&text[start..i]);
        let value_start = i;
        let quoted = bytes.get(i) == Some(&b'\'');
        if quoted {
            i += 1;
        }
        while let Some(&b) = bytes.get(i) {
            if b == b'\\' {
                i += 2;
                continue;
            }
            if (quoted && b == b'\'') || (!quoted && b.is_ascii_whitespace()) {
                break;
            }
            i += 1;
        }
        if quoted && i < bytes.len() {
            i += 1;
        }
        // An escape at the very end steps past it.
        i = i.min(bytes.len());
        if key.eq_ignore_ascii_case("password") {
            out.push_str(hidden);
        } else {
            out.push_str(&text[value_start..i]);
        }
    }
    out
}

/// How this node uses PostgreSQL (`[postgres]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// Most connections this node opens (`pool_size`, at least 1).
    pub pool_size: usize,
    /// Longest one statement may run before PostgreSQL cancels it
    /// (`statement_timeout`, more than zero: zero would mean no limit to
    /// PostgreSQL, and a stuck query would hold a connection for ever).
    pub statement_timeout: Duration,
    /// Longest wait to connect, or for a free connection of the pool
    /// (`connect_timeout`, more than zero).
    pub connect_timeout: Duration,
}

impl PostgresConfig {
    /// The store's configuration for the database at `url` with these settings.
    pub fn pg_config(&self, url: &DatabaseUrl) -> PgConfig {
        PgConfig {
            url: url.expose().to_string(),
            pool_size: self.pool_size,
            statement_timeout: self.statement_timeout,
            connect_timeout: self.connect_timeout,
        }
    }
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            pool_size: 16,
            statement_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

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
}

/// A push queue's target: an absolute http or https URL with a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    url: url::Url,
}

impl PushTarget {
    /// Parses and checks a target URL.
    pub fn parse(s: &str) -> Result<PushTarget, String> {
        let url = url::Url::parse(s.trim()).map_err(|e| format!("{s:?} is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{s:?} must be an http:// or https:// URL, not {}://", url.scheme()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{s:?} names no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            let mut shown = url.clone();
            if shown.password().is_some() {
                // Never quote a password: `set_password` fails only for URLs that cannot hold one.
                let _ = shown.set_password(Some("***"));
            }
            return Err(format!(
                "{:?} holds credentials; deliveries are signed with the queue's secret instead",
                shown.as_str()
            ));
        }
        Ok(PushTarget { url })
    }

    /// The URL requests go to.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The host and port its circuit breaker is named after (`host:port`,
    /// the port being the scheme's default when the URL gives none).
    pub fn host(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }
}

impl fmt::Display for PushTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
    }
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
        }
    }
}

/// Rate limiting (`[ratelimit]`): the limiter's bounds, how answers and the
/// gate read requests, and the named policies.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitConfig {
    /// Most keys the memory backend keeps at once; past it the oldest are
    /// evicted (`max_keys`, at least 1).
    pub max_keys: usize,
    /// Longest key a check may use, in bytes (`max_key_length`, 1 to 4096).
    pub max_key_length: usize,
    /// How `X-RateLimit-Reset` is written (`reset_format`).
    pub reset_format: ResetFormat,
    /// Addresses whose `X-Forwarded-For` is believed when a client IP is
    /// derived, by the gate and the API's per-IP limit (`trusted_proxies`);
    /// empty believes no one.
    pub trusted_proxies: Vec<IpNet>,
    /// Longest a check waits for Redis before `on_backend_error` decides
    /// (`redis_timeout`).
    pub redis_timeout: Duration,
    /// Put before every Redis key the limiter writes (`redis_prefix`), so
    /// several deployments can share one Redis.
    pub redis_prefix: String,
    /// The limits on rampart's own API (`[ratelimit.api]`).
    pub api: ApiLimitsConfig,
    /// The policies configured in `[ratelimit.policies.NAME]`.
    pub policies: BTreeMap<PolicyName, PolicyConfig>,
}

impl RateLimitConfig {
    /// The longest `max_key_length` allowed.
    pub const MAX_KEY_LENGTH: usize = 4096;
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            max_keys: 1_000_000,
            max_key_length: 256,
            reset_format: ResetFormat::default(),
            trusted_proxies: Vec::new(),
            redis_timeout: Duration::from_millis(50),
            redis_prefix: "rampart:rl:".to_string(),
            api: ApiLimitsConfig::default(),
            policies: BTreeMap::new(),
        }
    }
}

/// The limits on rampart's own API (`[ratelimit.api]`), counted in this
/// node's memory: `per_key` for requests with a key this node verified,
/// `per_ip` for every other request.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiLimitsConfig {
    /// Whether they apply (`enabled`).
    pub enabled: bool,
    /// What one API key may send (`[ratelimit.api.per_key]`).
    pub per_key: Policy,
    /// What one client IP may send without a verified key (`[ratelimit.api.per_ip]`).
    pub per_ip: Policy,
}

impl Default for ApiLimitsConfig {
    /// As `config.default.toml` says, where the choice is explained.
    fn default() -> Self {
        let gcra = |limit| {
            Policy::new(limit, Duration::from_secs(1), Algorithm::Gcra, None).expect("the default limits are valid")
        };
        ApiLimitsConfig { enabled: true, per_key: gcra(100_000), per_ip: gcra(100) }
    }
}

/// How the `X-RateLimit-Reset` header is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResetFormat {
    /// Whole seconds until the reset (`"seconds"`).
    #[default]
    Seconds,
    /// The reset as Unix seconds (`"epoch"`).
    Epoch,
    /// The reset as an RFC 3339 date-time (`"rfc3339"`).
    Rfc3339,
}

/// One configured rate-limit policy (`[ratelimit.policies.NAME]`).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    /// What a key may do: `limit`, `window`, `algorithm` and `burst`, checked.
    pub policy: Policy,
    /// How the gate derives the key from a request (`key`).
    pub key: KeySource,
    /// Where the policy's counters live (`backend`); `None` is the default:
    /// Redis when `redis_url` is set, else memory.
    pub backend: Option<LimitBackend>,
    /// What a check does when its backend fails (`on_backend_error`).
    pub on_backend_error: OnBackendError,
}

pub use rampart_core::id::{PolicyName, PolicyNameError};

/// How the gate derives a policy's key from a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum KeySource {
    /// The client IP (`"ip"`), from `X-Forwarded-For` only when the peer is a
    /// trusted proxy.
    #[default]
    Ip,
    /// The API key the request authenticated with (`"api_key"`).
    ApiKey,
    /// The value of a request header (`"header:NAME"`), e.g. a user or org id
    /// set by the app's proxy.
    Header(HeaderName),
}

impl fmt::Display for KeySource {
    /// As configured, so `FromStr` reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Ip => f.write_str("ip"),
            KeySource::ApiKey => f.write_str("api_key"),
            KeySource::Header(name) => write!(f, "header:{name}"),
        }
    }
}

impl FromStr for KeySource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if let Some((_, name)) = text.split_once(':').filter(|(kind, _)| kind.trim().eq_ignore_ascii_case("header")) {
            let name = name.trim();
            if name.is_empty() {
                return Err(format!("{s:?} names no header; write e.g. \"header:X-User-Id\""));
            }
            return HeaderName::from_bytes(name.as_bytes())
                .map(KeySource::Header)
                .map_err(|_| format!("{name:?} is not an HTTP header name; write e.g. \"header:X-User-Id\""));
        }
        match text.to_ascii_lowercase().as_str() {
            "ip" => Ok(KeySource::Ip),
            "api_key" => Ok(KeySource::ApiKey),
            _ => Err(format!("{s:?} is not a key source; use \"ip\", \"api_key\" or \"header:NAME\"")),
        }
    }
}

/// Where a policy's counters live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimitBackend {
    /// In this process (`"memory"`): each node counts on its own.
    #[default]
    Memory,
    /// In the Redis at `redis_url` (`"redis"`): every node shares one count.
    Redis,
}

impl LimitBackend {
    /// The name used in configuration and over HTTP.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitBackend::Memory => "memory",
            LimitBackend::Redis => "redis",
        }
    }
}

/// What a check does when its backend fails or answers too slowly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnBackendError {
    /// Counts in memory with the same policy until the backend is back (`"local"`).
    #[default]
    Local,
    /// Admits the check (`"allow"`).
    Allow,
    /// Refuses the check (`"deny"`).
    Deny,
}

impl OnBackendError {
    /// The name used in configuration and over HTTP.
    pub fn as_str(self) -> &'static str {
        match self {
            OnBackendError::Local => "local",
            OnBackendError::Allow => "allow",
            OnBackendError::Deny => "deny",
        }
    }
}

/// An IP network, `10.0.0.0/8`, or one address (`127.0.0.1`, read as `/32`,
/// or `/128` for IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    /// The network's first address: every bit past the prefix is zero.
    addr: IpAddr,
    /// How many leading bits of an address must match `addr`.
    prefix_len: u8,
}

impl IpNet {
    /// Whether `ip` is in the network. An IPv4 address written as IPv6
    /// (`::ffff:10.0.0.1`) counts as the IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.addr.is_ipv4() && first_address(ip, self.prefix_len) == self.addr
    }
}

/// `addr` with every bit past the first `prefix_len` cleared (`prefix_len` at
/// most the address's width).
fn first_address(addr: IpAddr, prefix_len: u8) -> IpAddr {
    let cleared = |bits: u32| bits - u32::from(prefix_len);
    match addr {
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & u32::MAX.checked_shl(cleared(32)).unwrap_or(0))),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & u128::MAX.checked_shl(cleared(128)).unwrap_or(0))),
    }
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let (addr, prefix) = text.split_once('/').map_or((text, None), |(addr, prefix)| (addr, Some(prefix)));
        let addr: IpAddr = addr.parse().map_err(|_| {
            format!("{s:?} is not an IP address or network; write e.g. \"127.0.0.1\" or \"10.0.0.0/8\"")
        })?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix.map(str::parse::<u8>) {
            None => bits,
            Some(Ok(n)) if n <= bits => n,
            Some(_) => return Err(format!("{s:?}: the prefix length must be a number from 0 to {bits}")),
        };
        let first = first_address(addr, prefix_len);
        if first != addr {
            return Err(format!("{s:?} has address bits set past its prefix; write \"{first}/{prefix_len}\""));
        }
        Ok(IpNet { addr, prefix_len })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
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
            monitoring: MonitoringConfig::default(),
            alerts: AlertsConfig::default(),
        }
    }
}

/// Where [`Config::load`] reads configuration from, besides the built-in defaults.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    /// Explicit file (from `--config` or `RAMPART_CONFIG`). Must exist and be
    /// readable, else an error naming the path.
    pub file: Option<PathBuf>,
    /// When `file` is `None`: use `./rampart.toml` if it exists (not an error
    /// if missing).
    pub look_for_default_file: bool,
    /// Environment variables to consider (the binary passes
    /// `std::env::vars()`; tests pass their own list). Only `RAMPART_*`
    /// variables and `DATABASE_URL` are read.
    pub env: Vec<(String, String)>,
    /// Flag overrides as (dotted key, value string), e.g.
    /// `("listen", "0.0.0.0:8080")` or `("queues.email-send.timeout", "30s")`.
    /// Highest precedence.
    pub overrides: Vec<(String, String)>,
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

    /// Loads and validates: built-in defaults, then the file, then
    /// environment, then overrides. Fails with every problem found.
    pub fn load(sources: &ConfigSources) -> Result<Config, ConfigErrors> {
        let mut errors = Vec::new();
        let mut layers = Layers::default();

        match DEFAULT_TOML.parse::<Table>() {
            Ok(table) => layers.table = table,
            Err(e) => errors.push(toml_error("built-in config.default.toml", DEFAULT_TOML, &e)),
        }

        if let Some((path, text)) = read_file(sources, &mut errors) {
            match text.parse::<Table>() {
                Ok(table) => layers.merge(table, &Source::File(path)),
                Err(e) => errors.push(toml_error(&path.display().to_string(), &text, &e)),
            }
        }

        // First, so that RAMPART_DATABASE_URL, read below, wins over it.
        for (name, value) in sources.env.iter().filter(|(name, _)| name == ENV_DATABASE_URL) {
            layers.set(&["database_url".to_string()], value, Kind::Text, Source::Env(name.clone()));
        }
        for (name, value) in sources.env.iter().filter(|(name, _)| name == ENV_REDIS_URL) {
            layers.set(&["redis_url".to_string()], value, Kind::Text, Source::Env(name.clone()));
        }
        for (name, value) in sources.env.iter().filter(|(name, _)| name == alerts::ENV_SLACK_WEBHOOK_URL) {
            let path = ["alerts", "slack_webhook_url"].map(String::from);
            layers.set(&path, value, Kind::Text, Source::Env(name.clone()));
        }
        for (name, value) in sources.env.iter().filter(|(name, _)| name == ENV_SENTRY_DSN) {
            layers.set(&["sentry".to_string(), "dsn".to_string()], value, Kind::Text, Source::Env(name.clone()));
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

        let mut check = Check { sources: &layers.sources, errors, origins: true };
        let config = check.config(&layers.table);
        if check.errors.is_empty() { Ok(config) } else { Err(ConfigErrors(check.errors)) }
    }
}

/// Reads the configuration file, if any; a failure to read is an error unless
/// the file was only looked for and is not there.
fn read_file(sources: &ConfigSources, errors: &mut Vec<String>) -> Option<(PathBuf, String)> {
    let (path, required) = match (&sources.file, sources.look_for_default_file) {
        (Some(path), _) => (path.clone(), true),
        (None, true) => (PathBuf::from(DEFAULT_FILE), false),
        (None, false) => return None,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Some((path, text)),
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            errors.push(format!("{}: cannot read the configuration file: {e}", path.display()));
            None
        }
    }
}

/// One line for a TOML syntax error: the file, line and column, and toml's message.
fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', "; ");
    let position = e.span().and_then(|span| text.get(..span.start)).map(|before| {
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    });
    match position {
        Some((line, column)) => format!("{file}: invalid TOML at line {line}, column {column}: {message}"),
        None => format!("{file}: invalid TOML: {message}"),
    }
}

// ---------------------------------------------------------------------------
// Schema: the keys that exist and the type each expects.

/// What a key holds; decides how a string from the environment or a flag is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A string (addresses, paths, names of variants, durations).
    Text,
    /// A whole number.
    Int,
    /// A number, whole or not.
    Float,
    /// `true` or `false`.
    Bool,
    /// An array of strings; from the environment or a flag, comma-separated.
    List,
    /// A table of further keys.
    Table,
}

const TOP_KEYS: &[(&str, Kind)] = &[
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
];

const MONITORING_KEYS: &[(&str, Kind)] =
    &[("enabled", Kind::Bool), ("interval", Kind::Text), ("retain", Kind::Int), ("metrics_public", Kind::Bool)];

const QUEUE_KEYS: &[(&str, Kind)] = &[
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
];

const PUSH_KEYS: &[(&str, Kind)] = &[("breaker", Kind::Table)];

const PUSH_BREAKER_KEYS: &[(&str, Kind)] =
    &[("failure_threshold", Kind::Int), ("cooldown", Kind::Text), ("half_open_max", Kind::Int)];

const BACKOFF_KEYS: &[(&str, Kind)] =
    &[("initial", Kind::Text), ("factor", Kind::Float), ("max", Kind::Text), ("jitter", Kind::Float)];

const POSTGRES_KEYS: &[(&str, Kind)] =
    &[("pool_size", Kind::Int), ("statement_timeout", Kind::Text), ("connect_timeout", Kind::Text)];

const RATELIMIT_KEYS: &[(&str, Kind)] = &[
    ("max_keys", Kind::Int),
    ("max_key_length", Kind::Int),
    ("reset_format", Kind::Text),
    ("trusted_proxies", Kind::List),
    ("redis_timeout", Kind::Text),
    ("redis_prefix", Kind::Text),
    ("api", Kind::Table),
    ("policies", Kind::Table),
];

const API_LIMIT_KEYS: &[(&str, Kind)] = &[("enabled", Kind::Bool), ("per_key", Kind::Table), ("per_ip", Kind::Table)];

/// The keys of `[ratelimit.api.per_key]` and `[ratelimit.api.per_ip]`: a
/// policy's shape; what they count on and where is fixed.
const API_POLICY_KEYS: &[(&str, Kind)] =
    &[("limit", Kind::Int), ("window", Kind::Text), ("algorithm", Kind::Text), ("burst", Kind::Int)];

const POLICY_KEYS: &[(&str, Kind)] = &[
    ("limit", Kind::Int),
    ("window", Kind::Text),
    ("algorithm", Kind::Text),
    ("burst", Kind::Int),
    ("key", Kind::Text),
    ("backend", Kind::Text),
    ("on_backend_error", Kind::Text),
];

fn kind_of(keys: &[(&str, Kind)], key: &str) -> Option<Kind> {
    keys.iter().find(|(name, _)| *name == key).map(|(_, kind)| *kind)
}

/// "`a`, `b`, `c`": the keys allowed in a table, for error messages.
fn key_list(keys: &[(&str, Kind)]) -> String {
    keys.iter().map(|(name, _)| format!("`{name}`")).collect::<Vec<_>>().join(", ")
}

/// Maps the segments of a nested key to its path and kind. Key segments are
/// matched case-insensitively; the queue name after `queues` and the policy
/// name after `ratelimit.policies` are kept as given, since names are
/// case-sensitive.
fn resolve(segments: &[&str]) -> Result<(Vec<String>, Kind), String> {
    let Some((first, rest)) = segments.split_first() else {
        return Err("names no key".to_string());
    };
    let first = first.to_ascii_lowercase();
    match first.as_str() {
        "queue_defaults" => resolve_queue_key(vec![first], rest),
        "queues" => match rest.split_first() {
            Some((name, rest)) if !rest.is_empty() => resolve_queue_key(vec![first, (*name).to_string()], rest),
            _ => Err("`queues` needs a queue name and a key, e.g. `queues.email-send.timeout`".to_string()),
        },
        "postgres" => match rest {
            [key] => match kind_of(POSTGRES_KEYS, &key.to_ascii_lowercase()) {
                Some(kind) => Ok((vec![first, key.to_ascii_lowercase()], kind)),
                None => Err(format!(
                    "`postgres.{}` is not a setting; postgres keys are {}",
                    key.to_ascii_lowercase(),
                    key_list(POSTGRES_KEYS)
                )),
            },
            [] => Err("`postgres` is a table: set one of its keys, e.g. `postgres.pool_size`".to_string()),
            _ => Err(format!("`postgres` keys have no sub-keys; postgres keys are {}", key_list(POSTGRES_KEYS))),
        },
        "ratelimit" => resolve_ratelimit_key(rest),
        "alerts" => alerts::resolve_key(rest),
        "diagnostics" | "sentry" => diagnostics::resolve_section(&first, rest),
        "http" => connection::resolve_key(rest),
        // The short form of RAMPART_SENTRY__DSN.
        "sentry_dsn" if rest.is_empty() => Ok((vec!["sentry".into(), "dsn".into()], Kind::Text)),
        "push" => {
            let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
            match lower.as_slice() {
                [table, key] if table == "breaker" && kind_of(PUSH_BREAKER_KEYS, key).is_some() => {
                    Ok((vec![first, table.clone(), key.clone()], kind_of(PUSH_BREAKER_KEYS, key).unwrap_or(Kind::Text)))
                }
                [table, key] if table == "breaker" => Err(format!(
                    "`push.breaker.{key}` is not a setting; push.breaker keys are {}",
                    key_list(PUSH_BREAKER_KEYS)
                )),
                _ => Err(format!(
                    "`push.{}` is not a setting; set a key of [push.breaker]: {}",
                    lower.join("."),
                    key_list(PUSH_BREAKER_KEYS)
                )),
            }
        }
        "breaker_defaults" => breaker::resolve_key(vec![first], rest),
        "breakers" => breaker::resolve_named(rest),
        "retention" => cron::resolve_retention_key(rest),
        "cron" => Err("[[cron]] schedules are set in the configuration file or through the API".to_string()),
        "monitoring" => match rest {
            [key] => match kind_of(MONITORING_KEYS, &key.to_ascii_lowercase()) {
                Some(kind) => Ok((vec![first, key.to_ascii_lowercase()], kind)),
                None => Err(format!(
                    "`monitoring.{}` is not a setting; monitoring keys are {}",
                    key.to_ascii_lowercase(),
                    key_list(MONITORING_KEYS)
                )),
            },
            [] => Err("`monitoring` is a table: set one of its keys, e.g. `monitoring.interval`".to_string()),
            _ => Err(format!("`monitoring` keys have no sub-keys; monitoring keys are {}", key_list(MONITORING_KEYS))),
        },
        _ => match kind_of(TOP_KEYS, &first) {
            Some(kind) if rest.is_empty() => Ok((vec![first], kind)),
            Some(_) => Err(format!("`{first}` has no sub-keys")),
            None => Err(format!("`{first}` is not a setting; top-level keys are {}", key_list(TOP_KEYS))),
        },
    }
}

/// Resolves the key segments that follow a queue table (`queue_defaults` or
/// `queues.NAME`), whose path is `prefix`.
fn resolve_queue_key(mut prefix: Vec<String>, segments: &[&str]) -> Result<(Vec<String>, Kind), String> {
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

/// Resolves the key segments that follow `ratelimit`.
fn resolve_ratelimit_key(segments: &[&str]) -> Result<(Vec<String>, Kind), String> {
    let Some((key, rest)) = segments.split_first() else {
        return Err("`ratelimit` is a table: set one of its keys, e.g. `ratelimit.max_keys`".to_string());
    };
    let key = key.to_ascii_lowercase();
    if key == "policies" {
        let needs_name = "`ratelimit.policies` needs a policy name and a key, e.g. `ratelimit.policies.oauth.limit`";
        let [name, policy_key] = rest else {
            return Err(needs_name.to_string());
        };
        let policy_key = policy_key.to_ascii_lowercase();
        return match kind_of(POLICY_KEYS, &policy_key) {
            Some(kind) => Ok((vec!["ratelimit".into(), "policies".into(), (*name).to_string(), policy_key], kind)),
            None => Err(format!(
                "`ratelimit.policies.{name}.{policy_key}` is not a setting; policy keys are {}",
                key_list(POLICY_KEYS)
            )),
        };
    }
    if key == "api" {
        return resolve_api_limit_key(rest);
    }
    match kind_of(RATELIMIT_KEYS, &key) {
        Some(kind) if rest.is_empty() => Ok((vec!["ratelimit".to_string(), key], kind)),
        Some(_) => Err(format!("`ratelimit.{key}` has no sub-keys")),
        None => Err(format!("`ratelimit.{key}` is not a setting; ratelimit keys are {}", key_list(RATELIMIT_KEYS))),
    }
}

/// Resolves the key segments that follow `ratelimit.api`.
fn resolve_api_limit_key(segments: &[&str]) -> Result<(Vec<String>, Kind), String> {
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let path =
        |keys: &[String]| ["ratelimit", "api"].into_iter().map(String::from).chain(keys.iter().cloned()).collect();
    match lower.as_slice() {
        [] => Err("`ratelimit.api` is a table: set one of its keys, e.g. `ratelimit.api.enabled`".to_string()),
        [key] => match kind_of(API_LIMIT_KEYS, key) {
            Some(Kind::Table) => {
                Err(format!("`ratelimit.api.{key}` is a table: set one of its keys, e.g. `ratelimit.api.{key}.limit`"))
            }
            Some(kind) => Ok((path(&lower), kind)),
            None => Err(format!(
                "`ratelimit.api.{key}` is not a setting; ratelimit.api keys are {}",
                key_list(API_LIMIT_KEYS)
            )),
        },
        [table, key] if kind_of(API_LIMIT_KEYS, table) == Some(Kind::Table) => match kind_of(API_POLICY_KEYS, key) {
            Some(kind) => Ok((path(&lower), kind)),
            None => Err(format!(
                "`ratelimit.api.{table}.{key}` is not a setting; its keys are {}",
                key_list(API_POLICY_KEYS)
            )),
        },
        _ => Err(format!(
            "`ratelimit.api.{}` is not a setting; ratelimit.api keys are {}",
            lower.join("."),
            key_list(API_LIMIT_KEYS)
        )),
    }
}

/// Maps a dotted flag key to its path and kind. A queue or policy name may
/// itself hold dots, so under `queues.` and `ratelimit.policies.` the key is
/// taken from the end.
fn resolve_dotted(key: &str) -> Result<(Vec<String>, Kind), String> {
    if let Some(rest) = key.strip_prefix("ratelimit.policies.") {
        return match rest.rsplit_once('.') {
            Some((name, key)) => resolve(&["ratelimit", "policies", name, key]),
            None => resolve(&["ratelimit", "policies", rest]),
        };
    }
    if let Some(rest) = key.strip_prefix("alerts.queues.") {
        return alerts::resolve_dotted_queue(rest);
    }
    if let Some(rest) = key.strip_prefix("breakers.") {
        return match rest.rsplit_once('.') {
            Some((name, key)) => resolve(&["breakers", name, key]),
            None => resolve(&["breakers", rest]),
        };
    }
    let Some(rest) = key.strip_prefix("queues.") else {
        let segments: Vec<&str> = key.split('.').collect();
        return resolve(&segments);
    };
    let mut from_end = rest.rsplitn(3, '.');
    let is_backoff_key = |table: &str, key: &str| {
        table.eq_ignore_ascii_case("backoff") && kind_of(BACKOFF_KEYS, &key.to_ascii_lowercase()).is_some()
    };
    match (from_end.next(), from_end.next(), from_end.next()) {
        (Some(key), Some(table), Some(name)) if is_backoff_key(table, key) => resolve(&["queues", name, table, key]),
        _ => match rest.rsplit_once('.') {
            Some((name, key)) => resolve(&["queues", name, key]),
            None => resolve(&["queues", rest]),
        },
    }
}

// ---------------------------------------------------------------------------
// Layers: merging sources into one table and remembering who set what.

/// Where a value came from, for error messages.
#[derive(Debug, Clone)]
enum Source {
    /// A configuration file.
    File(PathBuf),
    /// An environment variable, by name.
    Env(String),
    /// A command-line override.
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => write!(f, "in {}", path.display()),
            Source::Env(name) => write!(f, "from {name}"),
            Source::Flag => f.write_str("from the command line"),
        }
    }
}

/// The merged table and, per key path, the source that last set it.
#[derive(Default)]
struct Layers {
    table: Table,
    sources: BTreeMap<Vec<String>, Source>,
}

impl Layers {
    /// Merges a parsed file over the table: tables merge key by key, any other
    /// value replaces what was there.
    fn merge(&mut self, layer: Table, source: &Source) {
        let mut path = Vec::new();
        merge_table(&mut self.table, layer, &mut path, source, &mut self.sources);
    }

    /// Sets one key from a string, converted to the key's kind when it reads
    /// as one (otherwise kept as a string, for validation to report).
    fn set(&mut self, path: &[String], raw: &str, kind: Kind, source: Source) {
        let Some((leaf, parents)) = path.split_last() else {
            return;
        };
        let mut table = &mut self.table;
        for (depth, segment) in parents.iter().enumerate() {
            if !table.contains_key(segment) {
                table.insert(segment.clone(), Value::Table(Table::new()));
                self.sources.insert(path[..=depth].to_vec(), source.clone());
            }
            match table.get_mut(segment) {
                Some(Value::Table(inner)) => table = inner,
                // A value that is not a table is in the way; validation
                // reports it where it was set.
                _ => return,
            }
        }
        table.insert(leaf.clone(), convert(raw, kind));
        self.sources.insert(path.to_vec(), source);
    }
}

fn merge_table(
    base: &mut Table,
    layer: Table,
    path: &mut Vec<String>,
    source: &Source,
    sources: &mut BTreeMap<Vec<String>, Source>,
) {
    for (key, value) in layer {
        path.push(key.clone());
        match (base.get_mut(&key), value) {
            (Some(Value::Table(inner)), Value::Table(layer)) => merge_table(inner, layer, path, source, sources),
            (_, value) => {
                record_all(&value, path, source, sources);
                base.insert(key, value);
            }
        }
        path.pop();
    }
}

/// Records `source` for a value and everything nested in it.
fn record_all(value: &Value, path: &mut Vec<String>, source: &Source, sources: &mut BTreeMap<Vec<String>, Source>) {
    sources.insert(path.clone(), source.clone());
    if let Value::Table(table) = value {
        for (key, value) in table {
            path.push(key.clone());
            record_all(value, path, source, sources);
            path.pop();
        }
    }
}

/// Reads a string from the environment or a flag as the kind its key expects.
fn convert(raw: &str, kind: Kind) -> Value {
    let text = raw.trim();
    let converted = match kind {
        Kind::Int => text.parse().ok().map(Value::Integer),
        Kind::Float => text.parse().ok().map(Value::Float),
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" => Some(Value::Boolean(true)),
            "false" => Some(Value::Boolean(false)),
            _ => None,
        },
        Kind::List => {
            let items = text.split(',').map(str::trim).filter(|item| !item.is_empty());
            Some(Value::Array(items.map(|item| Value::String(item.to_string())).collect()))
        }
        Kind::Text | Kind::Table => None,
    };
    converted.unwrap_or_else(|| Value::String(raw.to_string()))
}

// ---------------------------------------------------------------------------
// Validation: walking the merged table, collecting every problem.

/// A key path shown as a dotted TOML key; segments that are not bare keys
/// (a queue name with `.` or `:`) are quoted.
struct Key<'a>(&'a [String]);

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            let bare =
                !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if bare {
                f.write_str(segment)?;
            } else {
                write!(f, "{segment:?}")?;
            }
        }
        Ok(())
    }
}

fn child(path: &[String], key: &str) -> Vec<String> {
    let mut path = path.to_vec();
    path.push(key.to_string());
    path
}

/// What a value is, for "expected …, got …" messages.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string {s:?}"),
        Value::Integer(i) => format!("the integer {i}"),
        Value::Float(x) => format!("the number {x:?}"),
        Value::Boolean(b) => format!("the boolean {b}"),
        Value::Datetime(d) => format!("the date-time {d}"),
        Value::Array(_) => "an array".to_string(),
        Value::Table(_) => "a table".to_string(),
    }
}

/// The validating walk over the merged table.
struct Check<'a> {
    sources: &'a BTreeMap<Vec<String>, Source>,
    errors: Vec<String>,
    /// Whether messages say which layer set the key (not for input that
    /// came from elsewhere, such as the admin API).
    origins: bool,
}

/// Reads one rate-limit policy given outside the configuration (the admin
/// API's JSON body, or a policy kept in the store) with the rules and
/// messages of `[ratelimit.policies.NAME]`: every problem, each named by its
/// key. A `null` field counts as left out.
pub fn policy_from_json(value: &serde_json::Value) -> Result<PolicyConfig, Vec<String>> {
    let table = match json_to_toml(value) {
        Ok(Value::Table(table)) => table,
        Ok(_) => return Err(vec!["a policy is a JSON object such as {\"limit\": 10, \"window\": \"5m\"}".into()]),
        Err(e) => return Err(vec![e]),
    };
    let sources = BTreeMap::new();
    let mut check = Check { sources: &sources, errors: Vec::new(), origins: false };
    match check.policy(&[], &Value::Table(table)) {
        Some(policy) if check.errors.is_empty() => Ok(policy),
        _ => Err(check.errors),
    }
}

/// JSON as TOML, for [`policy_from_json`]; `null` members are dropped.
fn json_to_toml(value: &serde_json::Value) -> Result<Value, String> {
    use serde_json::Value as Json;
    Ok(match value {
        Json::Null => return Err("null is not a value here".into()),
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::Integer(i),
            (None, Some(_)) if n.is_u64() => return Err(format!("{n} is too large")),
            (None, Some(x)) => Value::Float(x),
            (None, None) => return Err(format!("{n} is not a number rampart can read")),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(json_to_toml).collect::<Result<_, _>>()?),
        Json::Object(members) => {
            let mut table = Table::new();
            for (key, member) in members.iter().filter(|(_, m)| !m.is_null()) {
                table.insert(key.clone(), json_to_toml(member).map_err(|e| format!("{key}: {e}"))?);
            }
            Value::Table(table)
        }
    })
}

impl Check<'_> {
    /// Records a problem with a key, naming where the key (or the nearest
    /// table holding it) was set.
    fn report(&mut self, path: &[String], problem: impl fmt::Display) {
        let source = (0..=path.len()).rev().find_map(|n| self.sources.get(&path[..n]));
        if !self.origins {
            self.errors.push(format!("{}: {problem}", Key(path)));
            return;
        }
        let line = match source {
            Some(source) => format!("{}: {problem} ({source})", Key(path)),
            None => format!("{}: {problem} (built-in default)", Key(path)),
        };
        self.errors.push(line);
    }

    /// How late the layer that set a key comes: 0 for the built-in defaults.
    fn layer_of(&self, path: &[String]) -> u8 {
        match self.sources.get(path) {
            None => 0,
            Some(Source::File(_)) => 1,
            Some(Source::Env(_)) => 2,
            Some(Source::Flag) => 3,
        }
    }

    fn unknown(&mut self, path: &[String], allowed: &[(&str, Kind)]) {
        self.report(path, format!("unknown key; allowed keys here are {}", key_list(allowed)));
    }

    fn table<'v>(&mut self, path: &[String], value: &'v Value, what: &str) -> Option<&'v Table> {
        match value {
            Value::Table(table) => Some(table),
            other => {
                self.report(path, format!("expected {what}, got {}", describe(other)));
                None
            }
        }
    }

    fn text<'v>(&mut self, path: &[String], value: &'v Value) -> Option<&'v str> {
        match value {
            Value::String(s) => Some(s),
            other => {
                self.report(path, format!("expected a string, got {}", describe(other)));
                None
            }
        }
    }

    /// A URL that may hold a password: empty means unset, and a message
    /// about it never quotes it.
    fn secret_url<T>(&mut self, path: &[String], value: &Value, parse: fn(&str) -> Result<T, String>) -> Option<T> {
        let s = self.text(path, value)?;
        if s.trim().is_empty() {
            return None;
        }
        parse(s).map_err(|e| self.report(path, e)).ok()
    }

    fn boolean(&mut self, path: &[String], value: &Value) -> Option<bool> {
        match value {
            Value::Boolean(b) => Some(*b),
            other => {
                self.report(path, format!("expected true or false, got {}", describe(other)));
                None
            }
        }
    }

    /// A whole number within `min..=max`.
    fn int(&mut self, path: &[String], value: &Value, min: u64, max: u64) -> Option<u64> {
        let n = match value {
            Value::Integer(n) => *n,
            other => {
                self.report(path, format!("expected a whole number, got {}", describe(other)));
                return None;
            }
        };
        match u64::try_from(n) {
            Ok(n) if n < min => self.report(path, format!("must be at least {min}, got {n}")),
            Err(_) => self.report(path, format!("must be at least {min}, got {n}")),
            Ok(n) if n > max => self.report(path, format!("must be at most {max}, got {n}")),
            Ok(n) => return Some(n),
        }
        None
    }

    /// A finite number within `min..=max`; whole numbers are accepted.
    fn float(&mut self, path: &[String], value: &Value, min: f64, max: f64) -> Option<f64> {
        let x = match value {
            Value::Float(x) => *x,
            Value::Integer(n) => *n as f64,
            other => {
                self.report(path, format!("expected a number, got {}", describe(other)));
                return None;
            }
        };
        if !x.is_finite() {
            self.report(path, format!("must be a finite number, got {x:?}"));
        } else if x < min {
            self.report(path, format!("must be at least {min:?}, got {x:?}"));
        } else if x > max {
            self.report(path, format!("must be at most {max:?}, got {x:?}"));
        } else {
            return Some(x);
        }
        None
    }

    /// A human duration string such as `"30s"`.
    fn duration(&mut self, path: &[String], value: &Value) -> Option<Duration> {
        let Value::String(s) = value else {
            self.report(path, format!("expected a duration string such as \"30s\", got {}", describe(value)));
            return None;
        };
        match parse_duration(s) {
            Ok(d) => Some(d),
            Err(e) => {
                self.report(path, e);
                None
            }
        }
    }

    /// A duration that must not be zero.
    fn positive_duration(&mut self, path: &[String], value: &Value, if_zero: &str) -> Option<Duration> {
        let d = self.duration(path, value)?;
        if d.is_zero() {
            self.report(path, if_zero);
            return None;
        }
        Some(d)
    }

    fn config(&mut self, table: &Table) -> Config {
        let mut config = Config::default();
        let max_size = u64::try_from(usize::MAX).unwrap_or(u64::MAX);
        let (mut payload_ok, mut body_ok) = (true, true);
        for (key, value) in table {
            let path = vec![key.clone()];
            match key.as_str() {
                "listen" => {
                    if let Some(s) = self.text(&path, value) {
                        match s.trim().parse::<SocketAddr>() {
                            Ok(addr) => config.listen = addr,
                            Err(_) => self.report(
                                &path,
                                format!(
                                    "{s:?} is not an IP address and port; write e.g. \"127.0.0.1:7433\", \
                                     \"0.0.0.0:7433\" or \"[::]:7433\""
                                ),
                            ),
                        }
                    }
                }
                "data_dir" => {
                    if let Some(s) = self.text(&path, value) {
                        if s.trim().is_empty() {
                            self.report(&path, "must not be empty");
                        } else {
                            config.data_dir = PathBuf::from(s);
                        }
                    }
                }
                "durability" => {
                    if let Some(s) = self.text(&path, value) {
                        match s.trim().to_ascii_lowercase().as_str() {
                            "full" => config.durability = Durability::Full,
                            "normal" => config.durability = Durability::Normal,
                            _ => self.report(&path, format!("{s:?} is not a durability; use \"full\" or \"normal\"")),
                        }
                    }
                }
                // Empty is the default: SQLite.
                "database_url" => config.database_url = self.secret_url(&path, value, DatabaseUrl::parse),
                // Empty is the default: counters in memory.
                "redis_url" => config.redis_url = self.secret_url(&path, value, RedisUrl::parse),
                "postgres" => config.postgres = self.postgres(&path, value),
                "max_payload_bytes" => {
                    match self.int(&path, value, 1, max_size).and_then(|n| usize::try_from(n).ok()) {
                        Some(n) => config.max_payload_bytes = n,
                        None => payload_ok = false,
                    }
                }
                "max_body_bytes" => match self.int(&path, value, 1, max_size).and_then(|n| usize::try_from(n).ok()) {
                    Some(n) => config.max_body_bytes = n,
                    None => body_ok = false,
                },
                "log_format" => {
                    if let Some(s) = self.text(&path, value) {
                        match s.trim().to_ascii_lowercase().as_str() {
                            "text" => config.log_format = LogFormat::Text,
                            "json" => config.log_format = LogFormat::Json,
                            _ => self.report(&path, format!("{s:?} is not a log format; use \"text\" or \"json\"")),
                        }
                    }
                }
                "http" => config.http = self.http(&path, value),
                "ratelimit" => config.ratelimit = self.ratelimit(&path, value),
                "push" => config.push = self.push(&path, value),
                "monitoring" => config.monitoring = self.monitoring(&path, value),
                "alerts" => config.alerts = self.alerts(&path, value),
                "shutdown_grace" => {
                    if let Some(d) = self.duration(&path, value) {
                        config.shutdown_grace = d;
                    }
                }
                "diagnostics" => config.diagnostics = self.diagnostics(&path, value),
                "sentry" => config.sentry = self.sentry(&path, value),
                "cron" => config.cron = self.cron(&path, value),
                "retention" => config.retention = self.retention(&path, value),
                // Walked below, once queue_defaults is known.
                "queue_defaults" | "queues" => {}
                // Walked below, once breaker_defaults is known.
                "breaker_defaults" | "breakers" => {}
                _ => self.unknown(&path, TOP_KEYS),
            }
        }
        if payload_ok && body_ok && config.max_payload_bytes > config.max_body_bytes {
            // Blame the key set by the later layer: that is the change that broke the pair.
            let (payload, body) = (vec!["max_payload_bytes".to_string()], vec!["max_body_bytes".to_string()]);
            let (payload_bytes, body_bytes) = (config.max_payload_bytes, config.max_body_bytes);
            let fix = "no payload that large could arrive; make max_body_bytes at least max_payload_bytes";
            if self.layer_of(&body) > self.layer_of(&payload) {
                self.report(&body, format!("{body_bytes} is smaller than max_payload_bytes ({payload_bytes}): {fix}"));
            } else {
                self.report(&payload, format!("{payload_bytes} is larger than max_body_bytes ({body_bytes}): {fix}"));
            }
        }

        let defaults_path = vec!["queue_defaults".to_string()];
        if let Some(value) = table.get("queue_defaults") {
            config.queue_defaults = self.queue(&defaults_path, value, &QueueConfig::default());
        }
        if let Some(value) = table.get("queues") {
            let path = vec!["queues".to_string()];
            if let Some(queues) = self.table(&path, value, "a table of queues ([queues.NAME])") {
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
                    let mut queue = self.queue(&path, value, &config.queue_defaults);
                    if queue.target.is_some() {
                        queue.concurrency.get_or_insert(QueueConfig::PUSH_CONCURRENCY);
                        queue.timeout.get_or_insert(QueueConfig::PUSH_TIMEOUT);
                    } else if queue.secret.is_some() {
                        self.report(&child(&path, "secret"), "is only used with `target`; set a target or remove it");
                    }
                    match QueueName::new(name) {
                        Ok(name) => {
                            config.queues.insert(name, queue);
                        }
                        Err(e) => self.report(&path, e),
                    }
                }
            }
        }
        self.breakers(table, &mut config);
        if config.redis_url.is_none() {
            for (name, policy) in &config.ratelimit.policies {
                if policy.backend == Some(LimitBackend::Redis) {
                    let path: Vec<String> =
                        ["ratelimit", "policies", name.as_str(), "backend"].map(String::from).into();
                    self.report(&path, "\"redis\" needs redis_url (or REDIS_URL) set; set it, or use \"memory\"");
                }
            }
        }
        config
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
                "max_attempts" => {
                    if let Some(n) = self.int(&path, value, 1, u64::from(u32::MAX)).and_then(|n| u32::try_from(n).ok())
                    {
                        queue.max_attempts = n;
                    }
                }
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
                    } else if let Some(n) =
                        self.int(&path, value, 1, u64::from(u32::MAX)).and_then(|n| u32::try_from(n).ok())
                    {
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

    /// The `[push]` table over the defaults.
    fn push(&mut self, path: &[String], value: &Value) -> PushConfig {
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
                        if let Some(n) =
                            self.int(&path, value, 1, u64::from(u32::MAX)).and_then(|n| u32::try_from(n).ok())
                        {
                            b.failure_threshold = n;
                        }
                    }
                    "cooldown" => {
                        if let Some(d) = self.positive_duration(&path, value, "must be more than 0s") {
                            b.cooldown = d;
                        }
                    }
                    "half_open_max" => {
                        if let Some(n) =
                            self.int(&path, value, 1, u64::from(u32::MAX)).and_then(|n| u32::try_from(n).ok())
                        {
                            b.half_open_max = n;
                        }
                    }
                    _ => self.unknown(&path, PUSH_BREAKER_KEYS),
                }
            }
        }
        push
    }

    /// The `[postgres]` table over the defaults.
    fn postgres(&mut self, path: &[String], value: &Value) -> PostgresConfig {
        let mut postgres = PostgresConfig::default();
        let Some(table) = self.table(path, value, "a table of PostgreSQL settings") else {
            return postgres;
        };
        let max_size = u64::try_from(usize::MAX).unwrap_or(u64::MAX);
        for (key, value) in table {
            let path = child(path, key);
            match key.as_str() {
                "pool_size" => {
                    if let Some(n) = self.int(&path, value, 1, max_size).and_then(|n| usize::try_from(n).ok()) {
                        postgres.pool_size = n;
                    }
                }
                "statement_timeout" => {
                    if let Some(d) = self.positive_duration(&path, value, "must be more than 0s") {
                        postgres.statement_timeout = d;
                    }
                }
                "connect_timeout" => {
                    if let Some(d) = self.positive_duration(&path, value, "must be more than 0s") {
                        postgres.connect_timeout = d;
                    }
                }
                _ => self.unknown(&path, POSTGRES_KEYS),
            }
        }
        postgres
    }

    /// The `[monitoring]` table over the defaults.
    fn monitoring(&mut self, path: &[String], value: &Value) -> MonitoringConfig {
        let mut monitoring = MonitoringConfig::default();
        let Some(table) = self.table(path, value, "a table of monitoring settings") else {
            return monitoring;
        };
        for (key, value) in table {
            let path = child(path, key);
            match key.as_str() {
                "enabled" => {
                    if let Some(b) = self.boolean(&path, value) {
                        monitoring.enabled = b;
                    }
                }
                "interval" => {
                    if let Some(d) = self.duration(&path, value) {
                        if d < Duration::from_secs(1) || d > Duration::from_secs(3600) {
                            self.report(&path, format!("must be from 1s to 1h, got {}", format_duration(d)));
                        } else {
                            monitoring.interval = d;
                        }
                    }
                }
                "retain" => {
                    if let Some(n) = self.int(&path, value, 1, 10_000).and_then(|n| usize::try_from(n).ok()) {
                        monitoring.retain = n;
                    }
                }
                "metrics_public" => {
                    if let Some(b) = self.boolean(&path, value) {
                        monitoring.metrics_public = b;
                    }
                }
                _ => self.unknown(&path, MONITORING_KEYS),
            }
        }
        monitoring
    }

    /// The `[ratelimit]` table over the defaults, its policies included.
    fn ratelimit(&mut self, path: &[String], value: &Value) -> RateLimitConfig {
        let mut ratelimit = RateLimitConfig::default();
        let Some(table) = self.table(path, value, "a table of rate-limit settings") else {
            return ratelimit;
        };
        let max_size = u64::try_from(usize::MAX).unwrap_or(u64::MAX);
        let max_key_length = RateLimitConfig::MAX_KEY_LENGTH as u64;
        for (key, value) in table {
            let path = child(path, key);
            match key.as_str() {
                "max_keys" => {
                    if let Some(n) = self.int(&path, value, 1, max_size).and_then(|n| usize::try_from(n).ok()) {
                        ratelimit.max_keys = n;
                    }
                }
                "max_key_length" => {
                    if let Some(n) = self.int(&path, value, 1, max_key_length).and_then(|n| usize::try_from(n).ok()) {
                        ratelimit.max_key_length = n;
                    }
                }
                "reset_format" => {
                    if let Some(s) = self.text(&path, value) {
                        match s.trim().to_ascii_lowercase().as_str() {
                            "seconds" => ratelimit.reset_format = ResetFormat::Seconds,
                            "epoch" => ratelimit.reset_format = ResetFormat::Epoch,
                            "rfc3339" => ratelimit.reset_format = ResetFormat::Rfc3339,
                            _ => self.report(
                                &path,
                                format!("{s:?} is not a reset format; use \"seconds\", \"epoch\" or \"rfc3339\""),
                            ),
                        }
                    }
                }
                "redis_timeout" => {
                    let if_zero = "must be more than 0s: it bounds how long a check waits for Redis";
                    if let Some(d) = self.positive_duration(&path, value, if_zero) {
                        ratelimit.redis_timeout = d;
                    }
                }
                "redis_prefix" => {
                    if let Some(s) = self.text(&path, value) {
                        ratelimit.redis_prefix = s.to_string();
                    }
                }
                "trusted_proxies" => {
                    let Value::Array(items) = value else {
                        let problem = format!(
                            "expected an array of IP addresses and networks such as [\"10.0.0.0/8\"], got {}",
                            describe(value)
                        );
                        self.report(&path, problem);
                        continue;
                    };
                    for item in items {
                        match self.text(&path, item).map(str::parse::<IpNet>) {
                            Some(Ok(net)) => ratelimit.trusted_proxies.push(net),
                            Some(Err(e)) => self.report(&path, e),
                            None => {}
                        }
                    }
                }
                "api" => ratelimit.api = self.api_limits(&path, value),
                "policies" => {
                    let Some(policies) = self.table(&path, value, "a table of policies ([ratelimit.policies.NAME])")
                    else {
                        continue;
                    };
                    for (name, value) in policies {
                        let path = child(&path, name);
                        if kind_of(POLICY_KEYS, name).is_some() && !value.is_table() {
                            self.report(
                                &path,
                                format!(
                                    "expected a table of settings for policy {name:?}, got {}; a policy's \
                                     settings go in its own table, [ratelimit.policies.NAME]",
                                    describe(value)
                                ),
                            );
                            continue;
                        }
                        let policy = self.policy(&path, value);
                        match (PolicyName::new(name), policy) {
                            (Ok(name), Some(policy)) => {
                                ratelimit.policies.insert(name, policy);
                            }
                            (Err(e), _) => self.report(&path, e),
                            (Ok(_), None) => {}
                        }
                    }
                }
                _ => self.unknown(&path, RATELIMIT_KEYS),
            }
        }
        ratelimit
    }

    /// The `[ratelimit.api]` table over the defaults; each of its two
    /// policies is read as a `[ratelimit.policies.NAME]` table holding only
    /// `limit`, `window`, `algorithm` and `burst`.
    fn api_limits(&mut self, path: &[String], value: &Value) -> ApiLimitsConfig {
        let mut api = ApiLimitsConfig::default();
        let Some(table) = self.table(path, value, "a table of settings for rampart's own API") else {
            return api;
        };
        for (key, value) in table {
            let path = child(path, key);
            let slot = match key.as_str() {
                "enabled" => {
                    if let Some(b) = self.boolean(&path, value) {
                        api.enabled = b;
                    }
                    continue;
                }
                "per_key" => &mut api.per_key,
                "per_ip" => &mut api.per_ip,
                _ => {
                    self.unknown(&path, API_LIMIT_KEYS);
                    continue;
                }
            };
            let Some(policy) = self.table(&path, value, "a table of policy settings") else {
                continue;
            };
            let mut shape = Table::new();
            for (key, value) in policy {
                if kind_of(API_POLICY_KEYS, key).is_some() {
                    shape.insert(key.clone(), value.clone());
                } else if kind_of(POLICY_KEYS, key).is_some() {
                    self.report(
                        &child(&path, key),
                        "not a setting here: per_key counts on the API key and per_ip on the client IP, always in                          this node's memory; the keys here are `limit`, `window`, `algorithm` and `burst`",
                    );
                } else {
                    self.unknown(&child(&path, key), API_POLICY_KEYS);
                }
            }
            if let Some(read) = self.policy(&path, &Value::Table(shape)) {
                *slot = read.policy;
            }
        }
        api
    }

    /// One `[ratelimit.policies.NAME]` table, checked by building its
    /// [`Policy`]; `None` when it has a problem (each one reported).
    fn policy(&mut self, path: &[String], value: &Value) -> Option<PolicyConfig> {
        let table = self.table(path, value, "a table of policy settings")?;
        let errors_before = self.errors.len();
        let (mut limit, mut window, mut algorithm, mut burst) = (None, None, Algorithm::default(), None);
        // Whether `algorithm` and `burst`, when set, were read.
        let mut shape_read = true;
        let (mut key_source, mut backend, mut on_backend_error) =
            (KeySource::default(), None, OnBackendError::default());
        for (key, value) in table {
            let path = child(path, key);
            match key.as_str() {
                // Ranges are the policy's to check, below.
                "limit" => limit = self.int(&path, value, 0, u64::MAX),
                "window" => window = self.duration(&path, value),
                "algorithm" => match self.text(&path, value).map(|s| s.trim().to_ascii_lowercase().parse()) {
                    Some(Ok(a)) => algorithm = a,
                    Some(Err(e)) => {
                        self.report(&path, e);
                        shape_read = false;
                    }
                    None => shape_read = false,
                },
                "burst" => match self.int(&path, value, 0, u64::MAX) {
                    Some(n) => burst = Some(n),
                    None => shape_read = false,
                },
                "key" => {
                    if let Some(s) = self.text(&path, value) {
                        match s.parse::<KeySource>() {
                            Ok(k) => key_source = k,
                            Err(e) => self.report(&path, e),
                        }
                    }
                }
                "backend" => {
                    if let Some(s) = self.text(&path, value) {
                        match s.trim().to_ascii_lowercase().as_str() {
                            "memory" => backend = Some(LimitBackend::Memory),
                            "redis" => backend = Some(LimitBackend::Redis),
                            _ => self.report(&path, format!("{s:?} is not a backend; use \"memory\" or \"redis\"")),
                        }
                    }
                }
                "on_backend_error" => {
                    if let Some(s) = self.text(&path, value) {
                        match s.trim().to_ascii_lowercase().as_str() {
                            "local" => on_backend_error = OnBackendError::Local,
                            "allow" => on_backend_error = OnBackendError::Allow,
                            "deny" => on_backend_error = OnBackendError::Deny,
                            _ => self.report(
                                &path,
                                format!("{s:?} is not a fallback; use \"local\", \"allow\" or \"deny\""),
                            ),
                        }
                    }
                }
                _ => self.unknown(&path, POLICY_KEYS),
            }
        }
        for (key, example) in [("limit", "limit = 10"), ("window", "window = \"5m\"")] {
            if !table.contains_key(key) {
                self.report(&child(path, key), format!("missing: every policy needs one, e.g. `{example}`"));
            }
        }
        // Built even when another key is wrong, so that its problems show too.
        let policy = match (limit, window) {
            (Some(limit), Some(window)) if shape_read => match Policy::new(limit, window, algorithm, burst) {
                Ok(policy) => Some(policy),
                Err(e) => {
                    let key = match e {
                        PolicyError::Limit(_) => "limit",
                        PolicyError::Window => "window",
                        PolicyError::Burst(_) => "burst",
                        PolicyError::UnknownAlgorithm(_) => "algorithm",
                    };
                    self.report(&child(path, key), e);
                    None
                }
            },
            _ => None,
        };
        if self.errors.len() > errors_before {
            return None;
        }
        Some(PolicyConfig { policy: policy?, key: key_source, backend, on_backend_error })
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> QueueName {
        QueueName::new(s).unwrap()
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Writes `file` (when given) to a temporary file and loads it with `env`
    /// and `overrides`.
    fn load(file: Option<&str>, env: &[(&str, &str)], overrides: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rampart.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let sources = ConfigSources {
            file: file.map(|_| path),
            look_for_default_file: false,
            env: owned(env),
            overrides: owned(overrides),
        };
        Config::load(&sources)
    }

    fn ok(file: Option<&str>, env: &[(&str, &str)], overrides: &[(&str, &str)]) -> Config {
        match load(file, env, overrides) {
            Ok(config) => config,
            Err(e) => panic!("expected a valid configuration, got:\n{e}"),
        }
    }

    fn errors(file: Option<&str>, env: &[(&str, &str)], overrides: &[(&str, &str)]) -> Vec<String> {
        match load(file, env, overrides) {
            Ok(config) => panic!("expected errors, got {config:#?}"),
            Err(e) => e.0,
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
    fn the_default_file_documents_every_key() {
        let table: Table = DEFAULT_TOML.parse().unwrap();
        for (key, _) in TOP_KEYS.iter().filter(|(k, _)| *k != "queues") {
            assert!(table.contains_key(*key), "top-level `{key}` missing from config.default.toml");
        }
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
        let postgres = table["postgres"].as_table().unwrap();
        for (key, _) in POSTGRES_KEYS {
            assert!(postgres.contains_key(*key), "postgres key `{key}` missing from config.default.toml");
        }
        assert!(DEFAULT_TOML.contains("# [queues.email-send]"));
        let ratelimit = table["ratelimit"].as_table().unwrap();
        for (key, _) in RATELIMIT_KEYS.iter().filter(|(k, _)| *k != "policies") {
            assert!(ratelimit.contains_key(*key), "ratelimit key `{key}` missing from config.default.toml");
        }
        assert!(DEFAULT_TOML.contains("\n# [ratelimit.policies.NAME]\n"));
        let breaker = table["push"]["breaker"].as_table().unwrap();
        for (key, _) in PUSH_BREAKER_KEYS {
            assert!(breaker.contains_key(*key), "push.breaker key `{key}` missing from config.default.toml");
        }
        for (key, _) in POLICY_KEYS {
            assert!(
                DEFAULT_TOML.contains(&format!("\n# {key} = ")),
                "policy key `{key}` missing from config.default.toml"
            );
        }
    }

    fn policy_name(s: &str) -> PolicyName {
        PolicyName::new(s).unwrap()
    }

    fn ip_net(s: &str) -> IpNet {
        s.parse().unwrap()
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
    fn rate_limiting_defaults_to_no_policies() {
        let ratelimit = ok(None, &[], &[]).ratelimit;
        assert_eq!(ratelimit, RateLimitConfig::default());
        assert_eq!(ratelimit.max_keys, 1_000_000);
        assert_eq!(ratelimit.max_key_length, 256);
        assert_eq!(ratelimit.reset_format, ResetFormat::Seconds);
        assert!(ratelimit.trusted_proxies.is_empty());
        assert!(ratelimit.policies.is_empty());
    }

    fn gcra(limit: u64, window_s: u64, burst: Option<u64>) -> Policy {
        Policy::new(limit, Duration::from_secs(window_s), Algorithm::Gcra, burst).unwrap()
    }

    #[test]
    fn the_own_api_limits_default_to_a_steady_rate_per_key_and_per_ip() {
        let api = ok(None, &[], &[]).ratelimit.api;
        assert_eq!(api, ApiLimitsConfig::default());
        assert_eq!(api, ApiLimitsConfig { enabled: true, per_key: gcra(100_000, 1, None), per_ip: gcra(100, 1, None) });
        assert_eq!((api.per_key.burst(), api.per_ip.burst()), (100_000, 100));
        let table: Table = DEFAULT_TOML.parse().unwrap();
        let documented = table["ratelimit"]["api"].as_table().unwrap();
        for (key, _) in API_LIMIT_KEYS {
            assert!(documented.contains_key(*key), "ratelimit.api key `{key}` missing from config.default.toml");
        }
        for key in ["limit", "window", "algorithm"] {
            assert!(documented["per_key"].get(key).is_some() && documented["per_ip"].get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn the_own_api_limits_come_from_file_environment_and_flags() {
        let file = r#"
            [ratelimit.api.per_key]
            limit = 50
            window = "10s"
            algorithm = "sliding_window"
        "#;
        let env = [("RAMPART_RATELIMIT__API__ENABLED", "false"), ("RAMPART_RATELIMIT__API__PER_IP__LIMIT", "7")];
        let api = ok(Some(file), &env, &[("ratelimit.api.per_ip.burst", "3")]).ratelimit.api;
        assert!(!api.enabled);
        assert_eq!(api.per_key, Policy::new(50, Duration::from_secs(10), Algorithm::SlidingWindow, None).unwrap());
        assert_eq!(api.per_ip, gcra(7, 1, Some(3)), "each key falls back to the default on its own");
    }

    #[test]
    fn every_own_api_limit_problem_names_its_key() {
        let file = r#"
            [ratelimit.api]
            enabled = "yes"
            per_host = { limit = 1, window = "1s" }
            [ratelimit.api.per_key]
            key = "ip"
            backend = "redis"
            limit = 0
            [ratelimit.api.per_ip]
            algorithm = "fixed_window"
            colour = "red"
        "#;
        let env = [("RAMPART_RATELIMIT__API__PER_KEY__ON_BACKEND_ERROR", "deny"), ("RAMPART_RATELIMIT__API", "1")];
        let errors = errors(Some(file), &env, &[("ratelimit.api.per_ip", "5")]);
        let expected = [
            "RAMPART_RATELIMIT__API__PER_KEY__ON_BACKEND_ERROR: `ratelimit.api.per_key.on_backend_error` is not a setting",
            "RAMPART_RATELIMIT__API: `ratelimit.api` is a table",
            "ratelimit.api.per_ip: `ratelimit.api.per_ip` is a table",
            "ratelimit.api.enabled: expected true or false",
            "ratelimit.api.per_host: unknown key; allowed keys here are `enabled`, `per_key`, `per_ip`",
            "ratelimit.api.per_key.key: not a setting here",
            "ratelimit.api.per_key.backend: not a setting here",
            "ratelimit.api.per_key.limit: ",
            "ratelimit.api.per_ip.colour: unknown key; allowed keys here are `limit`, `window`, `algorithm`, `burst`",
        ];
        for needle in expected {
            assert_eq!(errors.iter().filter(|e| e.starts_with(needle)).count(), 1, "{needle}: {errors:#?}");
        }
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    }

    #[test]
    fn the_shipped_presets_are_valid_policies() {
        // Uncomment the TOML lines of the presets, as a user would.
        let presets = DEFAULT_TOML.split("# Presets:").nth(1).expect("config.default.toml has presets");
        // Up to the next table that is set, [ratelimit.api].
        let presets = presets.split("\n[").next().unwrap_or(presets);
        let file: String = presets
            .lines()
            .filter_map(|line| line.strip_prefix("# "))
            .filter(|line| line.starts_with('[') || line.contains(" = "))
            .map(|line| format!("{line}\n"))
            .collect();
        let policies = ok(Some(&file), &[], &[]).ratelimit.policies;
        let expected = [
            ("oauth_callback", 10, 300, KeySource::Ip),
            ("inbox_sync", 5, 300, KeySource::Header(HeaderName::from_static("x-user-id"))),
            ("inbox_scan", 3, 600, KeySource::Header(HeaderName::from_static("x-user-id"))),
            ("ai", 20, 60, KeySource::Header(HeaderName::from_static("x-user-id"))),
            ("per_org", 1000, 3600, KeySource::Header(HeaderName::from_static("x-org-id"))),
            ("per_ip", 100, 900, KeySource::Ip),
            ("auth", 5, 900, KeySource::Ip),
            ("strict", 10, 10, KeySource::Ip),
            ("moderate", 30, 10, KeySource::Ip),
            ("lenient", 100, 10, KeySource::Ip),
        ];
        assert_eq!(policies.len(), expected.len(), "{policies:#?}");
        for (name, limit, window_s, key) in expected {
            let config = &policies[name];
            let policy = Policy::new(limit, Duration::from_secs(window_s), Algorithm::SlidingWindow, None).unwrap();
            assert_eq!(config.policy, policy, "{name}");
            assert_eq!(config.key, key, "{name}");
        }
    }

    #[test]
    fn policies_become_checked_policies_with_their_key_sources() {
        let file = r#"
            [ratelimit]
            max_keys = 5000
            max_key_length = 4096
            reset_format = "rfc3339"
            trusted_proxies = ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]
            [ratelimit.policies.oauth]
            limit = 10
            window = "5m"
            [ratelimit.policies."api:v2"]
            limit = 20
            window = "1s"
            algorithm = "gcra"
            burst = 40
            key = "header:X-User-Id"
            backend = "memory"
            on_backend_error = "deny"
            [ratelimit.policies.per-key]
            limit = 1000
            window = "1h"
            algorithm = "fixed_window"
            key = "api_key"
            on_backend_error = "allow"
        "#;
        let ratelimit = ok(Some(file), &[], &[]).ratelimit;
        assert_eq!(ratelimit.max_keys, 5000);
        assert_eq!(ratelimit.max_key_length, 4096);
        assert_eq!(ratelimit.reset_format, ResetFormat::Rfc3339);
        assert_eq!(ratelimit.trusted_proxies, [ip_net("127.0.0.1/32"), ip_net("10.0.0.0/8"), ip_net("fd00::/8")]);
        let expected = BTreeMap::from([
            (
                policy_name("oauth"),
                PolicyConfig {
                    policy: Policy::new(10, Duration::from_secs(300), Algorithm::SlidingWindow, None).unwrap(),
                    key: KeySource::Ip,
                    backend: None,
                    on_backend_error: OnBackendError::Local,
                },
            ),
            (
                policy_name("api:v2"),
                PolicyConfig {
                    policy: Policy::new(20, Duration::from_secs(1), Algorithm::Gcra, Some(40)).unwrap(),
                    key: KeySource::Header(HeaderName::from_static("x-user-id")),
                    backend: Some(LimitBackend::Memory),
                    on_backend_error: OnBackendError::Deny,
                },
            ),
            (
                policy_name("per-key"),
                PolicyConfig {
                    policy: Policy::new(1000, Duration::from_secs(3600), Algorithm::FixedWindow, None).unwrap(),
                    key: KeySource::ApiKey,
                    backend: None,
                    on_backend_error: OnBackendError::Allow,
                },
            ),
        ]);
        assert_eq!(ratelimit.policies, expected);
        // Looked up by the name a request gives.
        assert_eq!(ratelimit.policies.get("api:v2").map(|p| p.policy.burst()), Some(40));
    }

    #[test]
    fn redis_comes_from_redis_url_or_rampart_redis_url_and_hides_its_password() {
        assert_eq!(ok(None, &[], &[]).redis_url, None);
        let plain = "redis://:s3cret@cache:6379/2";
        let config = ok(None, &[("REDIS_URL", plain)], &[]);
        let url = config.redis_url.expect("REDIS_URL is read");
        assert_eq!(url.expose(), plain);
        assert_eq!(url.to_string(), "redis://:***@cache:6379/2");
        assert!(!format!("{url:?}").contains("s3cret"));
        let ours = ok(None, &[("REDIS_URL", plain), ("RAMPART_REDIS_URL", "redis://127.0.0.1")], &[]);
        assert_eq!(ours.redis_url.as_ref().map(RedisUrl::expose), Some("redis://127.0.0.1"));
        let kept_off = ok(None, &[("RAMPART_REDIS_URL", ""), ("REDIS_URL", plain)], &[]);
        assert_eq!(kept_off.redis_url, None, "an empty RAMPART_REDIS_URL ignores REDIS_URL");

        let file = "[ratelimit]\nredis_timeout = \"20ms\"\nredis_prefix = \"app1:\"";
        let ratelimit = ok(Some(file), &[], &[]).ratelimit;
        assert_eq!((ratelimit.redis_timeout, ratelimit.redis_prefix.as_str()), (Duration::from_millis(20), "app1:"));
        assert_eq!(RateLimitConfig::default().redis_timeout, Duration::from_millis(50));
    }

    #[test]
    fn bad_redis_settings_are_named() {
        let redis_policy = "[ratelimit.policies.shared]\nlimit = 5\nwindow = \"1m\"\nbackend = \"redis\"";
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);
        let cases: [Case<'_>; 4] = [
            ("redis_url = \"http://cache\"", &[], &["redis_url: ", "redis://"]),
            ("", &[("REDIS_URL", "cache:6379")], &["redis_url: ", "(from REDIS_URL)"]),
            ("[ratelimit]\nredis_timeout = \"0s\"", &[], &["ratelimit.redis_timeout: ", "more than 0s"]),
            (redis_policy, &[], &["ratelimit.policies.shared.backend: ", "needs redis_url"]),
        ];
        for (file, env, needles) in cases {
            let lines = errors(Some(file), env, &[]);
            assert_eq!(lines.len(), 1, "{file:?}: {lines:?}");
            for needle in needles {
                assert!(lines[0].contains(needle), "{file:?}: {:?} lacks {needle:?}", lines[0]);
            }
        }
        let with_redis = ok(Some(redis_policy), &[("REDIS_URL", "redis://127.0.0.1:6379")], &[]);
        assert_eq!(with_redis.ratelimit.policies["shared"].backend, Some(LimitBackend::Redis));
    }

    #[test]
    fn a_policy_reads_from_json_with_each_problem_named_without_a_source() {
        let policy = policy_from_json(&serde_json::json!({"limit": 3, "window": "10s", "algorithm": "gcra",
            "burst": 6, "key": "api_key", "backend": null}))
        .unwrap();
        assert_eq!(policy.policy, Policy::new(3, Duration::from_secs(10), Algorithm::Gcra, Some(6)).unwrap());
        assert_eq!((policy.key, policy.backend), (KeySource::ApiKey, None));
        let problems = policy_from_json(&serde_json::json!({"window": 5, "nope": true})).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().all(|p| !p.contains("built-in")), "{problems:?}");
        assert!(policy_from_json(&serde_json::json!([1])).is_err());
        assert!(policy_from_json(&serde_json::json!({"limit": u64::MAX, "window": "1s"})).is_err());
    }

    #[test]
    fn environment_and_flags_set_policy_keys() {
        let file = r#"
            [ratelimit.policies.oauth]
            limit = 10
            window = "5m"
            [ratelimit.policies."billing.v2"]
            limit = 5
            window = "1m"
        "#;
        let env = [
            ("RAMPART_RATELIMIT__POLICIES__oauth__LIMIT", "20"),
            ("RAMPART_RATELIMIT__POLICIES__oauth__KEY", "header:X-Forwarded-User"),
            // A policy from the environment alone, its name kept as written.
            ("RAMPART_RATELIMIT__POLICIES__Signup__LIMIT", "3"),
            ("RAMPART_RATELIMIT__POLICIES__Signup__WINDOW", "1h"),
            ("RAMPART_RATELIMIT__TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"),
            ("RAMPART_ratelimit__reset_format", "epoch"),
        ];
        let overrides = [("ratelimit.policies.billing.v2.window", "10s"), ("ratelimit.max_key_length", "64")];
        let ratelimit = ok(Some(file), &env, &overrides).ratelimit;
        let oauth = &ratelimit.policies["oauth"];
        assert_eq!(oauth.policy, Policy::new(20, Duration::from_secs(300), Algorithm::SlidingWindow, None).unwrap());
        assert_eq!(oauth.key, KeySource::Header(HeaderName::from_static("x-forwarded-user")));
        assert_eq!(ratelimit.policies["Signup"].policy.window(), Duration::from_secs(3600));
        assert!(!ratelimit.policies.contains_key("signup"));
        assert_eq!(ratelimit.policies["billing.v2"].policy.window(), Duration::from_secs(10));
        assert_eq!(ratelimit.policies.len(), 3);
        assert_eq!(ratelimit.trusted_proxies, [ip_net("127.0.0.1"), ip_net("10.0.0.0/8")]);
        assert_eq!(ratelimit.reset_format, ResetFormat::Epoch);
        assert_eq!(ratelimit.max_key_length, 64);
        // An empty list from the environment believes no proxy.
        let env = [("RAMPART_RATELIMIT__TRUSTED_PROXIES", "")];
        assert!(ok(Some("[ratelimit]\ntrusted_proxies = [\"::1\"]"), &env, &[]).ratelimit.trusted_proxies.is_empty());
    }

    #[test]
    fn trusted_proxies_hold_their_networks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let cases = [
            (
                "10.0.0.0/8",
                &["10.0.0.0", "10.255.1.2", "::ffff:10.1.2.3"][..],
                &["11.0.0.1", "9.255.255.255", "::1"][..],
            ),
            ("127.0.0.1", &["127.0.0.1", "::ffff:127.0.0.1"], &["127.0.0.2"]),
            ("0.0.0.0/0", &["1.2.3.4", "255.255.255.255"], &["::1"]),
            ("::1", &["::1"], &["::2", "127.0.0.1"]),
            ("2001:db8::/32", &["2001:db8::1", "2001:db8:ffff::"], &["2001:db9::1"]),
            ("::/0", &["::1", "fe80::1"], &["10.0.0.1"]),
        ];
        for (net, inside, outside) in cases {
            let parsed = ip_net(net);
            for addr in inside {
                assert!(parsed.contains(ip(addr)), "{net} should hold {addr}");
            }
            for addr in outside {
                assert!(!parsed.contains(ip(addr)), "{net} should not hold {addr}");
            }
        }
        assert_eq!(ip_net(" 10.0.0.0/8 ").to_string(), "10.0.0.0/8");
        assert_eq!(ip_net("::1").to_string(), "::1/128");
        for bad in ["", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/33", "::/129", "10.0.0/8", "localhost", "10.0.0.1/8"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad:?}");
        }
    }

    /// Each case must produce exactly one error line containing every fragment.
    #[test]
    fn every_rate_limit_problem_names_its_key() {
        type Pairs = &'static [(&'static str, &'static str)];
        // A valid policy `a` the cases below break one key of.
        const A: &str = "[ratelimit.policies.a]\nlimit = 10\nwindow = \"5m\"\n";
        let with_a = |extra: &str| format!("{A}{extra}");
        let cases: Vec<(String, Pairs, Pairs, &[&str])> = vec![
            // Policies: Policy::new's own messages, on the key at fault.
            (
                with_a("algorithm = \"leaky_bucket\""),
                &[],
                &[],
                &["ratelimit.policies.a.algorithm: unknown algorithm `leaky_bucket`", "gcra", "(in "],
            ),
            (
                "[ratelimit.policies.a]\nlimit = 0\nwindow = \"5m\"".into(),
                &[],
                &[],
                &["ratelimit.policies.a.limit: `limit` must be between 1 and 1099511627776; it is 0"],
            ),
            (
                "[ratelimit.policies.a]\nlimit = 1099511627777\nwindow = \"5m\"".into(),
                &[],
                &[],
                &["ratelimit.policies.a.limit: `limit` must be between 1 and"],
            ),
            (
                "[ratelimit.policies.a]\nlimit = -1\nwindow = \"5m\"".into(),
                &[],
                &[],
                &["ratelimit.policies.a.limit: must be at least 0, got -1"],
            ),
            (
                "[ratelimit.policies.a]\nlimit = 10\nwindow = \"0s\"".into(),
                &[],
                &[],
                &["ratelimit.policies.a.window: `window` must be between 1ms and 366 days"],
            ),
            (
                "[ratelimit.policies.a]\nlimit = 10\nwindow = \"367d\"".into(),
                &[],
                &[],
                &["ratelimit.policies.a.window: `window` must be between 1ms and 366 days"],
            ),
            (
                "[ratelimit.policies.a]\nlimit = 10\nwindow = \"soon\"".into(),
                &[],
                &[],
                &["ratelimit.policies.a.window: `soon` is not a duration"],
            ),
            (
                "[ratelimit.policies.a]\nlimit = 10\nwindow = 300".into(),
                &[],
                &[],
                &["ratelimit.policies.a.window: expected a duration string"],
            ),
            (
                with_a("algorithm = \"fixed_window\"\nburst = 20"),
                &[],
                &[],
                &["ratelimit.policies.a.burst: `burst` applies to gcra only, not to fixed_window"],
            ),
            (with_a("burst = 20"), &[], &[], &["ratelimit.policies.a.burst: `burst` applies to gcra only"]),
            (
                with_a("algorithm = \"gcra\"\nburst = 0"),
                &[],
                &[],
                &["ratelimit.policies.a.burst: `burst` must be between 1"],
            ),
            (
                "[ratelimit.policies.a]\nwindow = \"5m\"".into(),
                &[],
                &[],
                &["ratelimit.policies.a.limit: missing", "limit = 10"],
            ),
            ("[ratelimit.policies.a]\nlimit = 10".into(), &[], &[], &["ratelimit.policies.a.window: missing"]),
            // Key sources.
            (
                with_a("key = \"cookie\""),
                &[],
                &[],
                &["ratelimit.policies.a.key: \"cookie\" is not a key source", "header:NAME"],
            ),
            (with_a("key = \"header:\""), &[], &[], &["ratelimit.policies.a.key: \"header:\" names no header"]),
            (
                with_a("key = \"header:bad header\""),
                &[],
                &[],
                &["ratelimit.policies.a.key: \"bad header\" is not an HTTP header name"],
            ),
            (with_a("key = 5"), &[], &[], &["ratelimit.policies.a.key: expected a string, got the integer 5"]),
            // Backends and fallbacks.
            (with_a("backend = \"redis\""), &[], &[], &["ratelimit.policies.a.backend: ", "needs redis_url"]),
            (with_a("backend = \"disk\""), &[], &[], &["ratelimit.policies.a.backend: \"disk\" is not a backend"]),
            (
                with_a("on_backend_error = \"retry\""),
                &[],
                &[],
                &["ratelimit.policies.a.on_backend_error: \"retry\" is not a fallback", "\"deny\""],
            ),
            // Names and unknown keys.
            (
                "[ratelimit.policies.\"has space\"]\nlimit = 1\nwindow = \"1s\"".into(),
                &[],
                &[],
                &["ratelimit.policies.\"has space\": `has space` is not a policy name"],
            ),
            (with_a("limt = 5"), &[], &[], &["ratelimit.policies.a.limt: unknown key", "`on_backend_error`"]),
            ("[ratelimit]\nmax_key = 5".into(), &[], &[], &["ratelimit.max_key: unknown key", "`max_key_length`"]),
            ("ratelimit = 5".into(), &[], &[], &["ratelimit: expected a table of rate-limit settings"]),
            ("[ratelimit]\npolicies = 5".into(), &[], &[], &["ratelimit.policies: expected a table of policies"]),
            (
                "[ratelimit.policies]\nlimit = 5".into(),
                &[],
                &[],
                &["ratelimit.policies.limit: expected a table of settings for policy \"limit\""],
            ),
            (
                "[ratelimit.policies]\noauth = 5".into(),
                &[],
                &[],
                &["ratelimit.policies.oauth: expected a table of policy settings"],
            ),
            // The [ratelimit] keys.
            ("[ratelimit]\nmax_keys = 0".into(), &[], &[], &["ratelimit.max_keys: must be at least 1, got 0"]),
            (
                "[ratelimit]\nmax_key_length = 0".into(),
                &[],
                &[],
                &["ratelimit.max_key_length: must be at least 1, got 0"],
            ),
            (
                "[ratelimit]\nmax_key_length = 4097".into(),
                &[],
                &[],
                &["ratelimit.max_key_length: must be at most 4096"],
            ),
            (
                "[ratelimit]\nreset_format = \"iso\"".into(),
                &[],
                &[],
                &["ratelimit.reset_format: \"iso\" is not a reset format", "\"rfc3339\""],
            ),
            (
                "[ratelimit]\ntrusted_proxies = [\"10.0.0.0/40\"]".into(),
                &[],
                &[],
                &["ratelimit.trusted_proxies: \"10.0.0.0/40\": the prefix length must be a number from 0 to 32"],
            ),
            (
                "[ratelimit]\ntrusted_proxies = [\"127.0.0.1\", \"not-an-ip\"]".into(),
                &[],
                &[],
                &["ratelimit.trusted_proxies: \"not-an-ip\" is not an IP address or network"],
            ),
            (
                "[ratelimit]\ntrusted_proxies = [\"10.0.0.1/8\"]".into(),
                &[],
                &[],
                &[
                    "ratelimit.trusted_proxies: \"10.0.0.1/8\" has address bits set past its prefix; write \"10.0.0.0/8\"",
                ],
            ),
            (
                "[ratelimit]\ntrusted_proxies = \"10.0.0.0/8\"".into(),
                &[],
                &[],
                &["ratelimit.trusted_proxies: expected an array of IP addresses and networks"],
            ),
            (
                "[ratelimit]\ntrusted_proxies = [8]".into(),
                &[],
                &[],
                &["ratelimit.trusted_proxies: expected a string, got the integer 8"],
            ),
            // Environment and flags name the variable or the command line.
            (
                A.into(),
                &[("RAMPART_RATELIMIT__POLICIES__a__LIMIT", "0")],
                &[],
                &["ratelimit.policies.a.limit: `limit` must be", "(from RAMPART_RATELIMIT__POLICIES__a__LIMIT)"],
            ),
            (
                String::new(),
                &[("RAMPART_RATELIMIT__TRUSTED_PROXIES", "10.0.0.0/8,nope")],
                &[],
                &["ratelimit.trusted_proxies: \"nope\"", "(from RAMPART_RATELIMIT__TRUSTED_PROXIES)"],
            ),
            (
                String::new(),
                &[("RAMPART_RATELIMIT__MAX_KEYS", "many")],
                &[],
                &["ratelimit.max_keys: expected a whole number", "(from RAMPART_RATELIMIT__MAX_KEYS)"],
            ),
            (
                String::new(),
                &[("RAMPART_RATELIMIT__POLICIES__a__LIMT", "5")],
                &[],
                &["RAMPART_RATELIMIT__POLICIES__a__LIMT: `ratelimit.policies.a.limt` is not a setting"],
            ),
            (
                String::new(),
                &[("RAMPART_RATELIMIT__POLICIES__a", "5")],
                &[],
                &["RAMPART_RATELIMIT__POLICIES__a: `ratelimit.policies` needs a policy name and a key"],
            ),
            (String::new(), &[("RAMPART_RATELIMIT", "5")], &[], &["RAMPART_RATELIMIT: `ratelimit` is a table"]),
            (
                String::new(),
                &[("RAMPART_RATELIMIT__MAX_KEYS__X", "5")],
                &[],
                &["RAMPART_RATELIMIT__MAX_KEYS__X: `ratelimit.max_keys` has no sub-keys"],
            ),
            (
                String::new(),
                &[
                    ("RAMPART_RATELIMIT__POLICIES__bad name__LIMIT", "5"),
                    ("RAMPART_RATELIMIT__POLICIES__bad name__WINDOW", "1s"),
                ],
                &[],
                &[
                    "ratelimit.policies.\"bad name\": `bad name` is not a policy name",
                    "(from RAMPART_RATELIMIT__POLICIES__bad name__",
                ],
            ),
            (
                A.into(),
                &[],
                &[("ratelimit.policies.a.window", "0s")],
                &["ratelimit.policies.a.window: `window` must be", "(from the command line)"],
            ),
            (
                String::new(),
                &[],
                &[("ratelimit.policies.a.b.frob", "1")],
                &["`ratelimit.policies.a.b.frob` is not a setting", "(from the command line)"],
            ),
        ];
        for (file, env, overrides, fragments) in &cases {
            let lines = errors(Some(file), env, overrides);
            assert_eq!(lines.len(), 1, "case {file:?} {env:?} {overrides:?}: {lines:#?}");
            for fragment in *fragments {
                assert!(lines[0].contains(fragment), "case {file:?} {env:?}: {:?} lacks {fragment:?}", lines[0]);
            }
        }
    }

    #[test]
    fn every_rate_limit_problem_is_reported_at_once() {
        let file = r#"
            [ratelimit]
            max_key_length = 0
            reset_format = "iso"
            trusted_proxies = ["10.0.0.0/40", "not-an-ip"]
            [ratelimit.policies.a]
            limit = 0
            window = "5m"
            key = "cookie"
            [ratelimit.policies.b]
            limit = 10
            window = "5m"
            algorithm = "fixed_window"
            burst = 5
            colour = "red"
        "#;
        let lines = errors(Some(file), &[], &[]);
        let expected = [
            "ratelimit.max_key_length:",
            "ratelimit.reset_format:",
            "ratelimit.trusted_proxies: \"10.0.0.0/40\"",
            "ratelimit.trusted_proxies: \"not-an-ip\"",
            "ratelimit.policies.a.limit:",
            "ratelimit.policies.a.key:",
            "ratelimit.policies.b.burst:",
            "ratelimit.policies.b.colour:",
        ];
        assert_eq!(lines.len(), expected.len(), "{lines:#?}");
        for start in expected {
            assert!(lines.iter().any(|l| l.starts_with(start)), "no line for {start}: {lines:#?}");
        }
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

    #[test]
    fn the_monitoring_table_from_file_environment_and_flags() {
        assert_eq!(ok(None, &[], &[]).monitoring, MonitoringConfig::default());
        let file = "[monitoring]\ninterval = \"10s\"\nretain = 5";
        let env = [("RAMPART_MONITORING__METRICS_PUBLIC", "true"), ("RAMPART_MONITORING__RETAIN", "7")];
        let config = ok(Some(file), &env, &[("monitoring.enabled", "false")]);
        let expected =
            MonitoringConfig { enabled: false, interval: Duration::from_secs(10), retain: 7, metrics_public: true };
        assert_eq!(config.monitoring, expected);
    }

    #[test]
    fn bad_monitoring_settings_are_each_reported_with_their_key() {
        let file = "[monitoring]\ninterval = \"500ms\"\nretain = 0\nmetrics_public = \"yes\"\nsamples = 3";
        let got = errors(Some(file), &[("RAMPART_MONITORING__INTERVAL__X", "1s")], &[]);
        let expected = [
            "monitoring.interval: must be from 1s to 1h, got 500ms",
            "monitoring.retain: must be at least 1, got 0",
            "monitoring.metrics_public: expected true or false",
            "monitoring.samples: unknown key",
            "RAMPART_MONITORING__INTERVAL__X: `monitoring` keys have no sub-keys",
        ];
        for want in expected {
            assert!(got.iter().any(|e| e.contains(want)), "no error containing {want:?} in {got:#?}");
        }
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        let too_long = errors(None, &[("RAMPART_MONITORING__INTERVAL", "2h")], &[]);
        assert!(too_long[0].contains("must be from 1s to 1h"), "{too_long:?}");
        assert!(too_long[0].contains("(from RAMPART_MONITORING__INTERVAL)"), "{too_long:?}");
    }

    #[test]
    fn the_store_is_sqlite_unless_a_database_url_is_set() {
        let config = ok(None, &[], &[]);
        assert_eq!(config.database_url, None);
        assert_eq!(config.pg_config(), None);
        // An empty URL is the default: SQLite.
        assert_eq!(ok(Some("database_url = \"  \""), &[], &[]).database_url, None);
    }

    #[test]
    fn the_database_url_comes_from_database_url_or_rampart_database_url() {
        let (plain, ours, flag) = ("postgres://plain@h/db", "postgres://ours@h/db", "postgres://flag@h/db");
        type Pairs<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(Pairs, Pairs, Option<&str>)] = &[
            (&[("DATABASE_URL", plain)], &[], Some(plain)),
            (&[("RAMPART_DATABASE_URL", ours)], &[], Some(ours)),
            // RAMPART_DATABASE_URL wins whatever the order of the environment.
            (&[("DATABASE_URL", plain), ("RAMPART_DATABASE_URL", ours)], &[], Some(ours)),
            (&[("RAMPART_DATABASE_URL", ours), ("DATABASE_URL", plain)], &[], Some(ours)),
            // An empty RAMPART_DATABASE_URL keeps SQLite despite DATABASE_URL.
            (&[("RAMPART_DATABASE_URL", ""), ("DATABASE_URL", plain)], &[], None),
            (&[("DATABASE_URL", plain)], &[("database_url", flag)], Some(flag)),
            // Only the exact name counts.
            (&[("database_url", plain), ("MY_DATABASE_URL", plain)], &[], None),
        ];
        let config = ok(Some("database_url = \"postgres://file@h/db\""), &[], &[]);
        assert_eq!(config.database_url.as_ref().map(DatabaseUrl::expose), Some("postgres://file@h/db"));
        for (env, overrides, expected) in cases {
            let config = ok(None, env, overrides);
            assert_eq!(config.database_url.as_ref().map(DatabaseUrl::expose), *expected, "env {env:?}");
            assert_eq!(config.pg_config().map(|pg| pg.url).as_deref(), *expected, "env {env:?}");
        }
    }

    #[test]
    fn the_postgres_table_reaches_the_store_config() {
        let file = "database_url = \"postgres://app@db/jobs\"\n[postgres]\npool_size = 4\nstatement_timeout = \"2s\"";
        let config = ok(Some(file), &[("RAMPART_POSTGRES__CONNECT_TIMEOUT", "1500ms")], &[("postgres.pool_size", "8")]);
        let expected = PostgresConfig {
            pool_size: 8,
            statement_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_millis(1500),
        };
        assert_eq!(config.postgres, expected);
        assert_eq!(
            config.pg_config(),
            Some(PgConfig {
                url: "postgres://app@db/jobs".into(),
                pool_size: 8,
                statement_timeout: Duration::from_secs(2),
                connect_timeout: Duration::from_millis(1500),
            })
        );
        assert_eq!(ok(None, &[], &[]).postgres, PostgresConfig::default());
    }

    #[test]
    fn passwords_never_show() {
        fn check(url: &str, expected: &str) {
            assert_eq!(redact_password(url), expected, "{url:?}");
        }
        check("postgres://app:s3cret@db:5432/jobs", "postgres://app:***@db:5432/jobs");
        check("postgresql://app:@db/jobs", "postgresql://app:***@db/jobs");
        check("postgres://app@db/jobs", "postgres://app@db/jobs");
        check("postgres://db/jobs", "postgres://db/jobs");
        check("postgres://app:p:w@db/jobs?sslmode=disable", "postgres://app:***@db/jobs?sslmode=disable");
        check("postgres://a:x@y@db/jobs", "postgres://a:***@y@db/jobs");
        check(
            "postgres://db/jobs?user=app&password=s3cret&application_name=x",
            "postgres://db/jobs?user=app&password=***&application_name=x",
        );
        check("host=db user=app password=s3cret dbname=jobs", "host=db user=app password=*** dbname=jobs");
        check("host=db password = 's3 cr\\'et' user=app", "host=db password = *** user=app");
        check("password=s3\\ cret host=db", "password=*** host=db");
        check("host=db user=app", "host=db user=app");
        check("password='unterminated", "password=***");
        check("password=trailing\\", "password=***");

        let secret = "hunter2";
        let url = DatabaseUrl::parse(&format!("postgres://app:{secret}@db/jobs")).unwrap();
        assert_eq!(url.to_string(), "postgres://app:***@db/jobs");
        assert_eq!(url.expose(), format!("postgres://app:{secret}@db/jobs"));
        let config = ok(None, &[("DATABASE_URL", url.expose())], &[]);
        assert!(!format!("{config:?}").contains(secret), "{config:?}");
        // A URL the driver refuses is reported without being repeated.
        let lines = errors(None, &[("DATABASE_URL", &format!("postgres://app:{secret}@db:port/jobs"))], &[]);
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(lines[0].starts_with("database_url: ") && !lines[0].contains(secret), "{}", lines[0]);
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
