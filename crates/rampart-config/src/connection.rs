//! The `[http]` section, on HTTP connections: how long a client may take to
//! send a request, how long an idle connection stays open, and how many
//! connections the server holds at once. These bound what a slow or idle
//! client can hold.

use std::time::Duration;

use toml::Value;

use crate::check::Check;
use crate::keys::{Kind, Resolved, child, resolve_flat};

/// Limits on HTTP connections (`[http]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// How long a request's head (request line and headers) may take to
    /// arrive, from its first byte (`header_read_timeout`, more than 0).
    pub header_read_timeout: Duration,
    /// How long a request's body may take to arrive, from the end of its
    /// head (`body_read_timeout`, more than 0); past it the request answers
    /// 408 and the connection closes.
    pub body_read_timeout: Duration,
    /// How long a connection may stay open with no request in flight and
    /// none begun (`idle_timeout`, more than 0).
    pub idle_timeout: Duration,
    /// Connections served at once (`max_connections`, at least 1); further
    /// ones wait in the listen backlog until one closes.
    pub max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }
}

/// The most `max_connections` may be: beyond what any process gets file
/// descriptors for.
const MAX_CONNECTIONS: u64 = 1_000_000;

/// The keys of `[http]`.
pub(crate) const HTTP_KEYS: &[(&str, Kind)] = &[
    ("header_read_timeout", Kind::Text),
    ("body_read_timeout", Kind::Text),
    ("idle_timeout", Kind::Text),
    ("max_connections", Kind::Int),
];

/// Resolves the key segments that follow `http` (environment variables and flags).
pub(crate) fn resolve_key(rest: &[&str]) -> Resolved {
    resolve_flat("http", HTTP_KEYS, "idle_timeout", rest)
}

impl Check<'_> {
    /// The `[http]` table over the defaults.
    pub(crate) fn http(&mut self, path: &[String], value: &Value) -> HttpConfig {
        let mut http = HttpConfig::default();
        let Some(table) = self.table(path, value, "a table of HTTP connection settings") else {
            return http;
        };
        for (key, value) in table {
            let path = child(path, key);
            let timeout = match key.as_str() {
                "header_read_timeout" => &mut http.header_read_timeout,
                "body_read_timeout" => &mut http.body_read_timeout,
                "idle_timeout" => &mut http.idle_timeout,
                "max_connections" => {
                    if let Some(n) = self.int(&path, value, 1, MAX_CONNECTIONS).and_then(|n| usize::try_from(n).ok()) {
                        http.max_connections = n;
                    }
                    continue;
                }
                _ => {
                    self.unknown(&path, HTTP_KEYS);
                    continue;
                }
            };
            if let Some(d) = self.positive_duration(&path, value, "must be more than 0s; a client may not wait forever")
            {
                *timeout = d;
            }
        }
        http
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_TOML;
    use crate::testing::{errors, ok};

    #[test]
    fn the_default_file_documents_every_key_at_its_default() {
        let table: toml::Table = DEFAULT_TOML.parse().unwrap();
        let documented = table["http"].as_table().unwrap();
        for (key, _) in HTTP_KEYS {
            assert!(documented.contains_key(*key), "`http.{key}` missing from config.default.toml");
        }
        assert_eq!(ok(None, &[], &[]).http, HttpConfig::default());
    }

    #[test]
    fn keys_come_from_the_file_the_environment_and_flags() {
        let file = "[http]\nheader_read_timeout = \"2s\"\nmax_connections = 50";
        let env = [("RAMPART_HTTP__IDLE_TIMEOUT", "5m"), ("RAMPART_HTTP__BODY_READ_TIMEOUT", "1m")];
        let config = ok(Some(file), &env, &[("http.max_connections", "60")]);
        let expected = HttpConfig {
            header_read_timeout: Duration::from_secs(2),
            body_read_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(300),
            max_connections: 60,
        };
        assert_eq!(config.http, expected);
    }

    #[test]
    fn every_bad_value_is_reported_at_once_naming_its_key() {
        let file = "[http]\nheader_read_timeout = \"0s\"\nbody_read_timeout = 30\nidle_timeout = \"soon\"\n\
                    max_connections = 0\nkeep_alive = true";
        let got = errors(Some(file), &[("RAMPART_HTTP__NOPE", "1")], &[]);
        let want = [
            "RAMPART_HTTP__NOPE: `http.nope` is not a setting",
            "http.header_read_timeout: must be more than 0s",
            "http.body_read_timeout: expected a duration string",
            "http.idle_timeout: ",
            "http.max_connections: must be at least 1",
            "http.keep_alive: unknown key",
        ];
        for w in want {
            assert!(got.iter().any(|e| e.starts_with(w)), "missing {w:?} in {got:#?}");
        }
        assert_eq!(got.len(), want.len(), "{got:#?}");
    }
}
