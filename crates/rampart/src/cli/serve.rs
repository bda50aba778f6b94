//! `rampart serve`: loads the configuration, sets up logging and runs the
//! server until SIGINT or SIGTERM (then stops gracefully; a second signal
//! stops it at once).

use std::future::Future;
use std::path::PathBuf;

use anyhow::Context as _;
use rampart_server::server::Server;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::config::{self, StoreArgs};

/// Options of `rampart serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The configuration file [default: ./rampart.toml when it exists].
    #[arg(long, env = "RAMPART_CONFIG")]
    pub config: Option<PathBuf>,
    /// The address to listen on (overrides `listen`) [default: 127.0.0.1:7433].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Where the jobs are kept.
    #[command(flatten)]
    pub store: StoreArgs,
}

impl Args {
    /// The flags that override configuration keys, as `(dotted key, value)`.
    fn overrides(&self) -> Vec<(String, String)> {
        let listen = self.listen.clone().map(|v| ("listen".to_string(), v));
        listen.into_iter().chain(self.store.overrides()).collect()
    }
}

/// Runs the server until a shutdown signal arrives.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let overrides = args.overrides();
    let config = config::load(args.config, overrides)?;
    // Held to the end: dropping it sends the error reports still queued.
    let _telemetry = rampart_server::telemetry::init_with_sentry(config.log_format, &config.sentry);
    let shutdown = shutdown_signal()?;
    let ui = config.ui.clone();
    let pid_file = config.data_dir.join(rampart_chaos::restart::PID_FILE);
    let mut server = Server::start(config).await?;
    // For `rampart chaos --allow-restart`, which restarts the server beside it.
    let pid = std::process::id();
    let written = pid_file
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&pid_file, rampart_chaos::restart::pid_file_text(pid, server.local_addr())));
    if let Err(e) = written {
        tracing::warn!(path = %pid_file.display(), error = %e, "cannot write the pid file; `rampart chaos --allow-restart` will not find this server");
    }
    if ui.enabled {
        let routes = rampart_ui::router(server.state(), &ui);
        server = server.mount(routes);
        tracing::info!(address = %server.local_addr(), prefix = %ui.prefix, "the dashboard is at http://{}{}/", server.local_addr(), ui.prefix);
    }
    let served = server.run(shutdown).await;
    // Only our own: a server started since on the same data directory wrote its pid over ours.
    if std::fs::read_to_string(&pid_file).is_ok_and(|text| text.lines().next() == Some(&pid.to_string())) {
        let _ = std::fs::remove_file(&pid_file);
    }
    served?;
    Ok(())
}

/// A future that resolves on the first SIGINT or SIGTERM. A second one
/// ends the process at once, whatever is still in flight.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    Ok(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!(signal = name, "received a shutdown signal; send another to stop at once");
        tokio::spawn(async move {
            let (name, code) = tokio::select! {
                _ = interrupt.recv() => ("SIGINT", 130),
                _ = terminate.recv() => ("SIGTERM", 143),
            };
            tracing::warn!(signal = name, "received a second shutdown signal; stopping at once");
            std::process::exit(code);
        });
    })
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn flags_become_overrides() {
        let args = crate::cli::parse_args::<Args>(
            "serve",
            &["--listen", "127.0.0.1:0", "--data-dir", "/tmp/r", "--database-url", "postgres://db/jobs"],
        )
        .expect("parses");
        assert_eq!(
            args.overrides(),
            [
                ("listen".to_string(), "127.0.0.1:0".to_string()),
                ("data_dir".to_string(), "/tmp/r".to_string()),
                ("database_url".to_string(), "postgres://db/jobs".to_string())
            ]
        );
        let bare = crate::cli::parse_args::<Args>("serve", &[]).expect("parses");
        assert!(bare.overrides().is_empty());
    }
}
