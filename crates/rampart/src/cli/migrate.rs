//! `rampart migrate`: brings the store's schema up to date without starting
//! a server, e.g. as a deploy step before the new nodes start.
//!
//! It reads the configuration exactly as `rampart serve` does. With
//! PostgreSQL it applies the pending migrations under the same advisory lock
//! the nodes take on start, so running it while nodes start is safe. SQLite
//! migrates itself whenever it is opened; with it the command opens the store
//! in the data directory and closes it again.

use std::path::PathBuf;

use rampart_server::server::{self, Migration};

use crate::cli::config::{self, StoreArgs};
use crate::cli::output;

/// Options of `rampart migrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The configuration file [default: ./rampart.toml when it exists].
    #[arg(long, env = "RAMPART_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the jobs are kept.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Migrates the configured store and says what it did.
pub async fn run(args: Args, json: bool) -> anyhow::Result<()> {
    let config = config::load(args.config, args.store.overrides())?;
    let migration = server::migrate(&config).await?;
    if json {
        return output::json(&match &migration {
            Migration::Sqlite(data_dir) => serde_json::json!({
                "backend": "sqlite",
                "data_dir": data_dir.display().to_string(),
            }),
            Migration::Postgres(report) => serde_json::json!({
                "backend": "postgres",
                "applied": report.applied,
                "version": report.version,
            }),
        });
    }
    output::line(&summary(&migration))
}

/// What a migration did, in one line.
fn summary(migration: &Migration) -> String {
    let report = match migration {
        Migration::Sqlite(data_dir) => {
            return format!("the SQLite store in {} is up to date (SQLite migrates when opened)", data_dir.display());
        }
        Migration::Postgres(report) => report,
    };
    if report.applied.is_empty() {
        return format!("schema is up to date (version {})", report.version);
    }
    let applied: Vec<String> = report.applied.iter().map(u32::to_string).collect();
    let noun = if applied.len() == 1 { "migration" } else { "migrations" };
    format!("applied {noun} {} (schema version {})", applied.join(", "), report.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_choose_the_config_and_the_store() {
        let args = crate::cli::parse_args::<Args>(
            "migrate",
            &["--config", "/etc/rampart.toml", "--database-url", "postgres://db/jobs"],
        )
        .expect("parses");
        assert_eq!(args.config, Some(PathBuf::from("/etc/rampart.toml")));
        assert_eq!(args.store.overrides(), [("database_url".to_string(), "postgres://db/jobs".to_string())]);
    }

    #[test]
    fn the_summary_says_what_was_applied() {
        fn check(applied: &[u32], version: u32, expected: &str) {
            let report = server::MigrateReport { applied: applied.to_vec(), version };
            assert_eq!(summary(&Migration::Postgres(report)), expected);
        }
        check(&[], 1, "schema is up to date (version 1)");
        check(&[1], 1, "applied migration 1 (schema version 1)");
        check(&[2, 3], 3, "applied migrations 2, 3 (schema version 3)");
        assert_eq!(
            summary(&Migration::Sqlite(PathBuf::from("./rampart-data"))),
            "the SQLite store in ./rampart-data is up to date (SQLite migrates when opened)"
        );
    }
}
