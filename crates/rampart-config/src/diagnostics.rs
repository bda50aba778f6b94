//! The `[diagnostics]` and `[sentry]` sections: what the admin diagnostics
//! show, and where errors are reported when a Sentry DSN is set.

use std::fmt;
use std::time::Duration;

use toml::Value;

use crate::check::Check;
use crate::keys::{Kind, Resolved, child, resolve_flat};

/// Settings of the admin diagnostics (`[diagnostics]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnosticsConfig {
    /// Tokens expiring within this long are listed as expiring
    /// (`token_expiry_horizon`, more than zero).
    pub token_expiry_horizon: Duration,
    /// How many of each platform's most recently reported connections the
    /// integrations diagnostics list (`recent_connections`, 1 to 1000).
    pub recent_connections: u32,
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        DiagnosticsConfig { token_expiry_horizon: Duration::from_secs(7 * 86_400), recent_connections: 10 }
    }
}

/// Error reporting to Sentry (`[sentry]`); off while `dsn` is empty.
#[derive(Clone, PartialEq)]
pub struct SentryConfig {
    /// Where to send errors (`dsn`, or `SENTRY_DSN`); `None` sends nothing
    /// and opens no connection.
    pub dsn: Option<SentryDsn>,
    /// The environment events are tagged with (`environment`); `None` lets
    /// the client choose.
    pub environment: Option<String>,
    /// The share of error events sent (`sample_rate`, 0.0 to 1.0).
    pub sample_rate: f32,
}

impl Default for SentryConfig {
    fn default() -> Self {
        SentryConfig { dsn: None, environment: None, sample_rate: 1.0 }
    }
}

impl fmt::Debug for SentryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentryConfig")
            .field("dsn", &self.dsn)
            .field("environment", &self.environment)
            .field("sample_rate", &self.sample_rate)
            .finish()
    }
}

/// A Sentry DSN, checked when read. Its public key lets anyone send events
/// to the project, so it shows as `<scheme>://***@<host>/<project>`.
#[derive(Clone, PartialEq, Eq)]
pub struct SentryDsn(String);

impl SentryDsn {
    /// Checks a DSN.
    pub fn parse(dsn: &str) -> Result<SentryDsn, String> {
        dsn.trim()
            .parse::<sentry_types::Dsn>()
            .map(|_| SentryDsn(dsn.trim().to_string()))
            .map_err(|e| format!("not a Sentry DSN ({e}); give one like https://KEY@o0.ingest.sentry.io/0"))
    }

    /// The DSN itself, to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SentryDsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.parse::<sentry_types::Dsn>() {
            Ok(dsn) => write!(f, "{}://***@{}/{}", dsn.scheme(), dsn.host(), dsn.project_id()),
            Err(_) => f.write_str("***"),
        }
    }
}

impl fmt::Debug for SentryDsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SentryDsn({self})")
    }
}

pub(crate) const DIAGNOSTICS_KEYS: &[(&str, Kind)] =
    &[("token_expiry_horizon", Kind::Text), ("recent_connections", Kind::Int)];

pub(crate) const SENTRY_KEYS: &[(&str, Kind)] =
    &[("dsn", Kind::Text), ("environment", Kind::Text), ("sample_rate", Kind::Float)];

/// The variable Sentry's clients read for a DSN; read as `sentry.dsn`,
/// below `RAMPART_SENTRY__DSN` (and its short form `RAMPART_SENTRY_DSN`).
pub(crate) const ENV_SENTRY_DSN: &str = "SENTRY_DSN";

/// Resolves the key that follows `diagnostics` or `sentry` (`table`).
pub(crate) fn resolve_section(table: &str, rest: &[&str]) -> Resolved {
    let keys = if table == "sentry" { SENTRY_KEYS } else { DIAGNOSTICS_KEYS };
    resolve_flat(table, keys, keys[0].0, rest)
}

impl Check<'_> {
    /// The `[diagnostics]` table over the defaults.
    pub(crate) fn diagnostics(&mut self, path: &[String], value: &Value) -> DiagnosticsConfig {
        let mut diagnostics = DiagnosticsConfig::default();
        let Some(table) = self.table(path, value, "a table of diagnostics settings") else {
            return diagnostics;
        };
        for (key, value) in table {
            let path = child(path, key);
            match key.as_str() {
                "token_expiry_horizon" => {
                    if let Some(d) = self.positive_duration(&path, value, "must be more than 0s") {
                        diagnostics.token_expiry_horizon = d;
                    }
                }
                "recent_connections" => {
                    if let Some(n) = self.int(&path, value, 1, 1000).and_then(|n| u32::try_from(n).ok()) {
                        diagnostics.recent_connections = n;
                    }
                }
                _ => self.unknown(&path, DIAGNOSTICS_KEYS),
            }
        }
        diagnostics
    }

    /// The `[sentry]` table over the defaults.
    pub(crate) fn sentry(&mut self, path: &[String], value: &Value) -> SentryConfig {
        let mut sentry = SentryConfig::default();
        let Some(table) = self.table(path, value, "a table of Sentry settings") else {
            return sentry;
        };
        for (key, value) in table {
            let path = child(path, key);
            match key.as_str() {
                // Empty is the default: no reporting.
                "dsn" => sentry.dsn = self.secret_url(&path, value, SentryDsn::parse),
                "environment" => {
                    if let Some(s) = self.text(&path, value) {
                        let s = s.trim();
                        if s.len() > 64 || s.contains(['/', '\n', '\r']) {
                            self.report(&path, "use at most 64 characters, without `/` or line breaks");
                        } else if !s.is_empty() {
                            sentry.environment = Some(s.to_string());
                        }
                    }
                }
                "sample_rate" => {
                    if let Some(x) = self.float(&path, value, 0.0, 1.0) {
                        sentry.sample_rate = x as f32;
                    }
                }
                _ => self.unknown(&path, SENTRY_KEYS),
            }
        }
        sentry
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use crate::testing;

    fn load(file: &str, env: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        testing::load(Some(file), env, &[]).map_err(|e| e.0)
    }

    #[test]
    fn the_default_file_documents_every_key() {
        let table: toml::Table = crate::DEFAULT_TOML.parse().unwrap();
        for (section, keys) in [("diagnostics", DIAGNOSTICS_KEYS), ("sentry", SENTRY_KEYS)] {
            let documented = table[section].as_table().unwrap();
            for (key, _) in keys {
                assert!(documented.contains_key(*key), "`{section}.{key}` missing from config.default.toml");
            }
        }
    }

    #[test]
    fn defaults_report_nothing_and_keep_a_week_of_horizon() {
        let config = load("", &[]).unwrap();
        assert_eq!(config.sentry, SentryConfig::default());
        assert!(config.sentry.dsn.is_none());
        assert_eq!(config.diagnostics.token_expiry_horizon, Duration::from_secs(604_800));
        assert_eq!(config.diagnostics.recent_connections, 10);
    }

    #[test]
    fn the_dsn_comes_from_the_file_or_the_environment_and_never_shows() {
        let dsn = "http://abc123@127.0.0.1:9/1";
        let from_file = load(&format!("[sentry]\ndsn = \"{dsn}\"\nsample_rate = 0.5\nenvironment = \"prod\""), &[]);
        let config = from_file.unwrap();
        assert_eq!(config.sentry.dsn.as_ref().map(SentryDsn::expose), Some(dsn));
        assert_eq!((config.sentry.sample_rate, config.sentry.environment.as_deref()), (0.5, Some("prod")));
        assert!(!format!("{config:?}").contains("abc123"), "{config:?}");
        assert_eq!(config.sentry.dsn.unwrap().to_string(), "http://***@127.0.0.1/1");

        let other = "http://def456@127.0.0.1:9/2";
        for env in [
            vec![("SENTRY_DSN", dsn)],
            vec![("RAMPART_SENTRY__DSN", dsn)],
            vec![("RAMPART_SENTRY_DSN", dsn), ("SENTRY_DSN", other)],
            vec![("RAMPART_SENTRY__DSN", dsn), ("SENTRY_DSN", other)],
        ] {
            let config = load("", &env).unwrap();
            assert_eq!(config.sentry.dsn.as_ref().map(SentryDsn::expose), Some(dsn), "{env:?}");
        }
        let off = load("", &[("RAMPART_SENTRY__DSN", ""), ("SENTRY_DSN", other)]).unwrap();
        assert!(
            off.sentry.dsn.is_none(),
            "an empty RAMPART_ variable turns a SENTRY_DSN meant for another program off"
        );
    }

    #[test]
    fn every_bad_value_is_reported_at_once_naming_its_key() {
        let file = "[sentry]\ndsn = \"not a dsn secret\"\nsample_rate = 1.5\nenvironment = \"a/b\"\ncolour = 1\n\
                    [diagnostics]\ntoken_expiry_horizon = \"0s\"\nrecent_connections = 0";
        let errors = load(file, &[("RAMPART_DIAGNOSTICS__NOPE", "1")]).unwrap_err();
        let want = [
            "RAMPART_DIAGNOSTICS__NOPE: `diagnostics.nope` is not a setting",
            "sentry.dsn: not a Sentry DSN",
            "sentry.sample_rate: must be at most 1.0",
            "sentry.environment: use at most 64 characters",
            "sentry.colour: unknown key",
            "diagnostics.token_expiry_horizon: must be more than 0s",
            "diagnostics.recent_connections: must be at least 1",
        ];
        for w in want {
            assert!(errors.iter().any(|e| e.starts_with(w)), "missing {w:?} in {errors:#?}");
        }
        assert!(!errors.join("\n").contains("secret"), "the DSN is never quoted: {errors:#?}");
    }
}
