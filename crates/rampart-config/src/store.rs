//! The store's keys: `data_dir` and `durability` (SQLite), `database_url`
//! (or `DATABASE_URL`) for PostgreSQL, and the `[postgres]` table.

use std::path::PathBuf;
use std::time::Duration;

use rampart_store::postgres::PgConfig;
use rampart_store::sqlite::Durability;
use toml::Value;

use crate::check::Check;
use crate::keys::{Kind, Resolved, child, resolve_flat};
use crate::urls::DatabaseUrl;

/// The variable hosting platforms and tools set for an app's database; read
/// as `database_url`, below `RAMPART_DATABASE_URL`.
pub(crate) const ENV_DATABASE_URL: &str = "DATABASE_URL";

/// The keys of `[postgres]`.
pub(crate) const POSTGRES_KEYS: &[(&str, Kind)] =
    &[("pool_size", Kind::Int), ("statement_timeout", Kind::Text), ("connect_timeout", Kind::Text)];

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

/// Resolves the key segments that follow `postgres`.
pub(crate) fn resolve_postgres(rest: &[&str]) -> Resolved {
    resolve_flat("postgres", POSTGRES_KEYS, "pool_size", rest)
}

impl Check<'_> {
    /// `data_dir`: any path but an empty one.
    pub(crate) fn data_dir(&mut self, path: &[String], value: &Value) -> Option<PathBuf> {
        let s = self.text(path, value)?;
        if s.trim().is_empty() {
            self.report(path, "must not be empty");
            return None;
        }
        Some(PathBuf::from(s))
    }

    /// `durability`: `"full"` or `"normal"`.
    pub(crate) fn durability(&mut self, path: &[String], value: &Value) -> Option<Durability> {
        self.choice(path, value, "a durability", &[("full", Durability::Full), ("normal", Durability::Normal)])
    }

    /// `database_url`: empty is the default, SQLite.
    pub(crate) fn database_url(&mut self, path: &[String], value: &Value) -> Option<DatabaseUrl> {
        self.secret_url(path, value, DatabaseUrl::parse)
    }

    /// The `[postgres]` table over the defaults.
    pub(crate) fn postgres(&mut self, path: &[String], value: &Value) -> PostgresConfig {
        let mut postgres = PostgresConfig::default();
        let Some(table) = self.table(path, value, "a table of PostgreSQL settings") else {
            return postgres;
        };
        for (key, value) in table {
            let path = child(path, key);
            match key.as_str() {
                "pool_size" => postgres.pool_size = self.size(&path, value, 1).unwrap_or(postgres.pool_size),
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_TOML;
    use crate::testing::ok;

    #[test]
    fn the_default_file_documents_every_postgres_key() {
        let table: toml::Table = DEFAULT_TOML.parse().unwrap();
        let postgres = table["postgres"].as_table().unwrap();
        for (key, _) in POSTGRES_KEYS {
            assert!(postgres.contains_key(*key), "postgres key `{key}` missing from config.default.toml");
        }
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
}
