//! `rampart config check`, and the configuration loading `rampart serve`
//! shares with it: defaults, then the file, then `RAMPART_*` variables, then
//! flags, every problem reported at once.

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
            if json {
                return output::json(&serde_json::json!({
                    "ok": true,
                    "listen": config.listen.to_string(),
                    "data_dir": config.data_dir.display().to_string(),
                    "queues": queues,
                }));
            }
            output::line("configuration OK")?;
            output::print(&output::fields(&[
                ("listen", config.listen.to_string()),
                ("data_dir", config.data_dir.display().to_string()),
                (
                    "queues",
                    if queues.is_empty() { "none configured (defaults apply)".to_string() } else { queues.join(", ") },
                ),
            ]))
        }
    }
}
