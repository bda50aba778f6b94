//! rampart's configuration: layered, parsed first, validated second.
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
//!    `ratelimit.trusted_proxies` as comma-separated lists), and the
//!    conventional `DATABASE_URL`, `REDIS_URL`, `SLACK_WEBHOOK_URL` and
//!    `SENTRY_DSN` (the `RAMPART_` variable wins when both are set);
//! 4. overrides from command-line flags, as dotted keys.
//!
//! All layers are merged into one TOML table (string values from the
//! environment and flags are converted to the type their key expects), and
//! that table is then walked by hand so that every problem — unknown keys,
//! wrong types, bad durations, values out of range, invalid queue names — is
//! reported at once, one line each, naming the key and where it was set.
//!
//! Layout, from the bottom up (a module uses only those above it in this
//! list; no section uses another's checks or the loader):
//! - `keys`: what kind of value a key holds, how a key path is shown;
//! - `layers`: the sources ([`ConfigSources`]), merged into one table that
//!   remembers which file, variable or flag set each key;
//! - `check`: the validating walk's primitives (text, whole numbers,
//!   durations, choices, …), each reporting with the key and its source;
//! - `urls`: the URLs that may hold secrets, shown redacted, and the push target;
//! - one module per section, each owning its keys, their resolution from
//!   variables and flags, and their checks: `server` (listen, body limits,
//!   logs, shutdown), `connection` (`[http]`: HTTP timeouts and the
//!   connection cap), `store` (`data_dir`, `database_url`, `[postgres]`),
//!   `queues` (`[queue_defaults]`, `[queues.NAME]`, `[push]`),
//!   `ratelimit` (`[ratelimit]`, its policies' one spec and validation),
//!   `monitoring`, `alerts`, `breaker` (`[breaker_defaults]`,
//!   `[breakers.NAME]`), `cron` (`[[cron]]`, `[retention]`),
//!   `diagnostics` (`[diagnostics]`, `[sentry]`), `insight` (`[caches]`,
//!   `[caches.NAME]`, `[errors]`, `[errors.rules.NAME]`: what apps report), `ui` (`[ui]`, the
//!   dashboard) and `webhooks` (`[webhooks]`, `[webhooks.NAME]` sources read
//!   by rampart-webhook's one validation);
//! - `load`: [`Config::load`], which stacks the layers, resolves each
//!   variable and flag to its section's key, and hands each section its
//!   table.

mod alerts;
mod breaker;
mod check;
mod connection;
mod cron;
mod diagnostics;
mod insight;
mod keys;
mod layers;
mod load;
mod monitoring;
mod queues;
mod ratelimit;
mod server;
mod store;
mod ui;
mod urls;
mod usage;
mod webhooks;

#[cfg(test)]
mod testing;

pub use alerts::{AlertThresholds, AlertsConfig, ChannelConfig, ChannelKind, SLACK_API_URL, SlackAppConfig};
pub use connection::HttpConfig;
pub use cron::{CronConfig, RetentionConfig};
pub use diagnostics::{DiagnosticsConfig, SentryConfig, SentryDsn};
pub use insight::{CachesConfig, ErrorCountRule, ErrorsConfig};
pub use layers::{ConfigSources, DEFAULT_TOML};
pub use load::{Config, ConfigErrors};
pub use monitoring::MonitoringConfig;
pub use queues::{PushBreakerConfig, PushConfig, QueueConfig};
pub use ratelimit::{
    ApiLimitsConfig, DenyBody, IpNet, KeySource, LimitBackend, OnBackendError, PolicyConfig, PolicyName,
    PolicyNameError, PolicySpec, RateLimitConfig, ResetFormat, SpecProblem,
};
pub use server::LogFormat;
pub use store::PostgresConfig;
pub use ui::UiConfig;
pub use urls::{DatabaseUrl, PushTarget, RedisUrl, SecretText, SecretUrl, redact_query};
pub use usage::UsageConfig;
pub use webhooks::WebhooksConfig;
