//! `rampart openapi`: prints the API's OpenAPI 3.1 document without a
//! server, exactly as `GET /openapi.json` serves it, for generating clients
//! in a build. It reads the configuration as `rampart serve` does, because
//! the document follows it (`/metrics` needs no key when
//! `monitoring.metrics_public` is set).

use std::path::PathBuf;

use crate::cli::{config, output};

/// Options of `rampart openapi`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The configuration file [default: ./rampart.toml when it exists].
    #[arg(long, env = "RAMPART_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Prints the document as pretty JSON.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = config::load(args.config, Vec::new())?;
    output::json(&rampart_server::api::openapi_document(config.monitoring.metrics_public))
}
