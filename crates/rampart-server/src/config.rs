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
//!    `RAMPART_QUEUES__email-send__BACKOFF__INITIAL`), and the conventional
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
//! `[queue_defaults]`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use rampart_core::duration::{format_duration, parse_duration};
use rampart_core::id::QueueName;
use rampart_core::retry::Backoff;
use rampart_store::postgres::{PgConfig, check_url};
use rampart_store::sqlite::Durability;
use toml::{Table, Value};

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
    /// How this node uses PostgreSQL (`[postgres]`); unused with SQLite.
    pub postgres: PostgresConfig,
    /// Largest job payload accepted, in bytes (`max_payload_bytes`, at least 1).
    pub max_payload_bytes: usize,
    /// Largest HTTP request body accepted, in bytes (`max_body_bytes`, at
    /// least 1 and at least `max_payload_bytes`).
    pub max_body_bytes: usize,
    /// Log output format (`log_format`: `"text"` or `"json"`).
    pub log_format: LogFormat,
    /// Settings of every queue that its own table does not override
    /// (`[queue_defaults]`).
    pub queue_defaults: QueueConfig,
    /// Queues with their own settings (`[queues.NAME]`), already resolved:
    /// each key a queue's table leaves out holds the `queue_defaults` value.
    pub queues: BTreeMap<QueueName, QueueConfig>,
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
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 7433)),
            data_dir: PathBuf::from("./rampart-data"),
            durability: Durability::default(),
            database_url: None,
            postgres: PostgresConfig::default(),
            max_payload_bytes: 1024 * 1024,
            max_body_bytes: 32 * 1024 * 1024,
            log_format: LogFormat::default(),
            queue_defaults: QueueConfig::default(),
            queues: BTreeMap::new(),
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

        let mut check = Check { sources: &layers.sources, errors };
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
    /// A table of further keys.
    Table,
}

const TOP_KEYS: &[(&str, Kind)] = &[
    ("listen", Kind::Text),
    ("data_dir", Kind::Text),
    ("durability", Kind::Text),
    ("database_url", Kind::Text),
    ("postgres", Kind::Table),
    ("max_payload_bytes", Kind::Int),
    ("max_body_bytes", Kind::Int),
    ("log_format", Kind::Text),
    ("queue_defaults", Kind::Table),
    ("queues", Kind::Table),
];

const QUEUE_KEYS: &[(&str, Kind)] = &[
    ("max_attempts", Kind::Int),
    ("backoff", Kind::Table),
    ("timeout", Kind::Text),
    ("lease", Kind::Text),
    ("concurrency", Kind::Int),
    ("paused", Kind::Bool),
];

const BACKOFF_KEYS: &[(&str, Kind)] =
    &[("initial", Kind::Text), ("factor", Kind::Float), ("max", Kind::Text), ("jitter", Kind::Float)];

const POSTGRES_KEYS: &[(&str, Kind)] =
    &[("pool_size", Kind::Int), ("statement_timeout", Kind::Text), ("connect_timeout", Kind::Text)];

fn kind_of(keys: &[(&str, Kind)], key: &str) -> Option<Kind> {
    keys.iter().find(|(name, _)| *name == key).map(|(_, kind)| *kind)
}

/// "`a`, `b`, `c`": the keys allowed in a table, for error messages.
fn key_list(keys: &[(&str, Kind)]) -> String {
    keys.iter().map(|(name, _)| format!("`{name}`")).collect::<Vec<_>>().join(", ")
}

/// Maps the segments of a nested key to its path and kind. Key segments are
/// matched case-insensitively; the queue name after `queues` is kept as given,
/// since queue names are case-sensitive.
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

/// Maps a dotted flag key to its path and kind. A queue name may itself hold
/// dots, so under `queues.` the key is taken from the end.
fn resolve_dotted(key: &str) -> Result<(Vec<String>, Kind), String> {
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
}

impl Check<'_> {
    /// Records a problem with a key, naming where the key (or the nearest
    /// table holding it) was set.
    fn report(&mut self, path: &[String], problem: impl fmt::Display) {
        let source = (0..=path.len()).rev().find_map(|n| self.sources.get(&path[..n]));
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
                "database_url" => {
                    if let Some(s) = self.text(&path, value) {
                        // Empty is the default: SQLite. Never quote the URL: it may hold a password.
                        if !s.trim().is_empty() {
                            match DatabaseUrl::parse(s) {
                                Ok(url) => config.database_url = Some(url),
                                Err(e) => self.report(&path, e),
                            }
                        }
                    }
                }
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
                // Walked below, once queue_defaults is known.
                "queue_defaults" | "queues" => {}
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
                    let queue = self.queue(&path, value, &config.queue_defaults);
                    match QueueName::new(name) {
                        Ok(name) => {
                            config.queues.insert(name, queue);
                        }
                        Err(e) => self.report(&path, e),
                    }
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
                _ => self.unknown(&path, QUEUE_KEYS),
            }
        }
        queue
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
