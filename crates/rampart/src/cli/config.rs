//! `rampart config check`, and the configuration loading `rampart serve`
//! and `rampart migrate` share with it: defaults, then the file, then
//! `RAMPART_*` variables (and `DATABASE_URL`), then flags, every problem
//! reported at once.

use std::path::PathBuf;

use rampart_server::config::{Config, ConfigSources};

use crate::cli::output;

/// Options of `rampart config`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// The subcommands of `rampart config`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the configuration as `rampart serve` would, without starting.
    Check {
        /// The configuration file [default: ./rampart.toml when it exists].
        #[arg(long, env = "RAMPART_CONFIG")]
        config: Option<PathBuf>,
    },
}

/// The flags of `rampart serve` and `rampart migrate` that choose the store.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Where to keep the SQLite database and the admin key (overrides `data_dir`) [default: ./rampart-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The PostgreSQL database every node shares, e.g. postgres://user:password@host/db (overrides
    /// `database_url`, RAMPART_DATABASE_URL and DATABASE_URL) [default: SQLite in the data directory].
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// The Redis every node shares for rate-limit counters, e.g. redis://127.0.0.1:6379 (overrides
    /// `redis_url`, RAMPART_REDIS_URL and REDIS_URL) [default: counters in memory].
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
}

impl StoreArgs {
    /// The flags given, as `(dotted key, value)` overrides.
    pub fn overrides(&self) -> Vec<(String, String)> {
        let data_dir = self.data_dir.as_ref().map(|d| ("data_dir".to_string(), d.to_string_lossy().into_owned()));
        let database_url = self.database_url.clone().map(|url| ("database_url".to_string(), url));
        let redis_url = self.redis_url.clone().map(|url| ("redis_url".to_string(), url));
        data_dir.into_iter().chain(database_url).chain(redis_url).collect()
    }
}

/// Where a configuration keeps its jobs, for people: the backend and the
/// data directory or the database URL (its password hidden).
pub fn store_location(config: &Config) -> String {
    match &config.database_url {
        Some(url) => format!("postgres at {url}"),
        None => format!("sqlite in {}", config.data_dir.display()),
    }
}

/// Loads the configuration the way the server does; `overrides` are
/// `(dotted key, value)` pairs from flags. Fails with a
/// [`rampart_server::config::ConfigErrors`] listing every problem.
pub fn load(file: Option<PathBuf>, overrides: Vec<(String, String)>) -> anyhow::Result<Config> {
    let sources = ConfigSources { file, look_for_default_file: true, env: std::env::vars().collect(), overrides };
    Ok(Config::load(&sources)?)
}

/// Runs a `rampart config` subcommand.
pub fn run(args: Args, json: bool) -> anyhow::Result<()> {
    match args.command {
        ConfigCommand::Check { config } => {
            let config = load(config, Vec::new())?;
            let queues: Vec<&str> = config.queues.keys().map(|q| q.as_str()).collect();
            let policies: Vec<&str> = config.ratelimit.policies.keys().map(|p| p.as_str()).collect();
            let breakers: Vec<&str> = config.breakers.keys().map(|b| b.as_str()).collect();
            let cron: Vec<&str> = config.cron.iter().map(|c| c.name.as_str()).collect();
            if json {
                return output::json(&serde_json::json!({
                    "ok": true,
                    "listen": config.listen.to_string(),
                    "data_dir": config.data_dir.display().to_string(),
                    "store": if config.database_url.is_some() { "postgres" } else { "sqlite" },
                    "database_url": config.database_url.as_ref().map(ToString::to_string),
                    "redis_url": config.redis_url.as_ref().map(ToString::to_string),
                    "queues": queues,
                    "ratelimit_policies": policies,
                    "breakers": breakers,
                    "cron": cron,
                }));
            }
            output::line("configuration OK")?;
            output::print(&output::fields(&[
                ("listen", config.listen.to_string()),
                ("data_dir", config.data_dir.display().to_string()),
                ("store", store_location(&config)),
                (
                    "rate-limit counters",
                    config.redis_url.as_ref().map_or("in memory".to_string(), |url| format!("redis at {url}")),
                ),
                (
                    "queues",
                    if queues.is_empty() { "none configured (defaults apply)".to_string() } else { queues.join(", ") },
                ),
                (
                    "rate limits",
                    if policies.is_empty() { "no policies configured".to_string() } else { policies.join(", ") },
                ),
                (
                    "breakers",
                    if breakers.is_empty() {
                        "none configured (defaults apply)".to_string()
                    } else {
                        breakers.join(", ")
                    },
                ),
                ("cron", if cron.is_empty() { "no schedules configured".to_string() } else { cron.join(", ") }),
            ]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_flags_become_overrides() {
        let args = crate::cli::parse_args::<StoreArgs>(
            "serve",
            &["--data-dir", "/tmp/r", "--database-url", "postgres://app:pw@db/jobs", "--redis-url", "redis://r:6379"],
        )
        .expect("parses");
        assert_eq!(
            args.overrides(),
            [
                ("data_dir".to_string(), "/tmp/r".to_string()),
                ("database_url".to_string(), "postgres://app:pw@db/jobs".to_string()),
                ("redis_url".to_string(), "redis://r:6379".to_string()),
            ]
        );
        assert!(crate::cli::parse_args::<StoreArgs>("serve", &[]).expect("parses").overrides().is_empty());
    }

    #[test]
    fn the_store_location_hides_the_password() {
        let sources = ConfigSources {
            overrides: vec![("database_url".into(), "postgres://app:pw@db/jobs".into())],
            ..ConfigSources::default()
        };
        let config = Config::load(&sources).expect("valid");
        assert_eq!(store_location(&config), "postgres at postgres://app:***@db/jobs");
        let config = Config::load(&ConfigSources::default()).expect("valid");
        assert_eq!(store_location(&config), "sqlite in ./rampart-data");
    }
}
