//! `rampart login` and `rampart logout`: save an API key for a server in
//! the per-user credentials file (see [`super::credentials`]), checked
//! against the server first, so later commands find it from any directory.

use std::io::BufRead as _;

use anyhow::Context as _;
use rampart_client::client::Client;

use super::{GlobalArgs, UsageError, credentials};

/// Arguments of `rampart login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Read the key from this file instead of `--api-key` or standard input
    /// (e.g. the server's `rampart-data/admin.key`).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<std::path::PathBuf>,
}

/// Checks the key against the server at `--url` and saves it for that URL.
pub async fn login(args: LoginArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let key = match (&args.key_file, &global.api_key) {
        (Some(file), _) => {
            std::fs::read_to_string(file).with_context(|| format!("cannot read the key from {}", file.display()))?
        }
        (None, Some(key)) => key.clone(),
        (None, None) => {
            eprintln!("paste the API key for {} and press Enter:", global.url);
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).context("cannot read the key from standard input")?;
            line
        }
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(
            UsageError("no API key given: pass --api-key, --key-file or type it on standard input".into()).into()
        );
    }
    let client = Client::new(&global.url, Some(key.to_string()))?;
    client.queues().await.with_context(|| format!("the key was not saved: {} did not accept it", global.url))?;
    let file = credentials::path().context("cannot tell where to save the key: set HOME or XDG_CONFIG_HOME")?;
    credentials::save(&file, &global.url, key)?;
    println!("saved the key for {} in {}", global.url, file.display());
    Ok(())
}

/// Forgets the key saved for `--url`.
pub fn logout(global: &GlobalArgs) -> anyhow::Result<()> {
    let file = credentials::path().context("cannot tell where the credentials are: set HOME or XDG_CONFIG_HOME")?;
    if credentials::forget(&file, &global.url)? {
        println!("forgot the key for {}", global.url);
    } else {
        println!("no key was saved for {}", global.url);
    }
    Ok(())
}
