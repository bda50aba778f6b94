//! The commands of the `rampart` binary, one module per command group, and
//! what they share: the global options, the connection to a server and the
//! way errors reach the user.
//!
//! Each module has an `Args` (parsed by clap) and a `run` that calls the
//! server through the typed [`Client`] or the server library, then prints
//! with [`output`]. Commands that talk to a server get a [`Remote`].

pub mod alerts;
pub mod bench;
pub mod breakers;
pub mod caches;
pub mod chaos;
pub mod config;
pub mod credentials;
pub mod cron;
pub mod diag;
pub mod dlq;
pub mod doctor;
pub mod enqueue;
pub mod env;
pub mod errors;
pub mod jobs;
pub mod keys;
pub mod login;
pub mod migrate;
pub mod monitor;
pub mod openapi;
pub mod output;
pub mod queues;
pub mod ratelimit;
pub mod serve;
pub mod usage;
pub mod webhooks;
pub mod work;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use rampart_client::client::{Client, ClientError};
use rampart_server::config::ConfigErrors;

/// Where the data directory is when `RAMPART_DATA_DIR` is not set.
const DEFAULT_DATA_DIR: &str = "./rampart-data";

/// Options every subcommand takes.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The rampart server to talk to.
    #[arg(long, global = true, env = "RAMPART_URL", default_value = "http://127.0.0.1:7433")]
    pub url: String,
    /// The API key [default: the key `rampart login` saved for --url, else
    /// the one in <data_dir>/admin.key, where data_dir is RAMPART_DATA_DIR
    /// or ./rampart-data].
    #[arg(long, global = true, env = "RAMPART_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Print the server's answers as JSON, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
}

/// A connection to a server, for commands that talk to one.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The typed client.
    pub client: Client,
    /// Whether to print JSON instead of text for people.
    pub json: bool,
    /// The API key the client sends, for a command that starts another
    /// `rampart` process against the same server (`rampart chaos`).
    pub key: Option<String>,
}

impl Remote {
    /// A client for the server named by the global options, with the key
    /// given, else the one `rampart login` saved for the URL, else the one
    /// in the admin key file.
    pub fn connect(global: &GlobalArgs) -> anyhow::Result<Remote> {
        let saved = match (&global.api_key, credentials::path()) {
            (None, Some(file)) => credentials::key_for(&file, &global.url)?,
            _ => None,
        };
        let key = api_key(global.api_key.as_deref().or(saved.as_deref()), &admin_key_file())?;
        Ok(Remote { client: Client::new(&global.url, key.clone())?, json: global.json, key })
    }
}

/// The admin key file the server writes on first start: `admin.key` in
/// `RAMPART_DATA_DIR`, else in `./rampart-data`.
pub fn admin_key_file() -> PathBuf {
    let dir = std::env::var_os("RAMPART_DATA_DIR").map_or_else(|| PathBuf::from(DEFAULT_DATA_DIR), PathBuf::from);
    dir.join("admin.key")
}

/// The key to send: the one given, else the contents of `key_file` when it
/// exists, else none (the server's 401 then explains).
fn api_key(given: Option<&str>, key_file: &Path) -> anyhow::Result<Option<String>> {
    let nonempty = |s: &str| Some(s.trim().to_string()).filter(|k| !k.is_empty());
    if let Some(key) = given {
        return Ok(nonempty(key));
    }
    match std::fs::read_to_string(key_file) {
        Ok(text) => Ok(nonempty(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read the API key from {}", key_file.display())),
    }
}

/// A mistake in how a command was called that shows only after parsing
/// (a payload file that is not JSON, a purge without `--yes`); exits with 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Prints a failed command's error to stderr and picks the exit code: 2 for
/// configuration and usage errors, 1 for everything else. A closed stdout
/// (`rampart … | head`) is not an error.
pub fn report(err: &anyhow::Error) -> ExitCode {
    if let Some(errors) = err.downcast_ref::<ConfigErrors>() {
        for line in &errors.0 {
            eprintln!("config error: {line}");
        }
        return ExitCode::from(2);
    }
    let broken_pipe = err
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {}", describe(err));
    if err.downcast_ref::<UsageError>().is_some() { ExitCode::from(2) } else { ExitCode::FAILURE }
}

/// The error as one line: its context chain, leaving out a cause whose text
/// the previous one already shows, and stopping at a client error, whose
/// message already says everything useful (its sources would only repeat
/// the HTTP stack's layers).
fn describe(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let mut part = cause.to_string();
        if parts.last().is_some_and(|previous| previous.contains(&part)) {
            continue;
        }
        let client_error = cause.downcast_ref::<ClientError>();
        if let Some(ClientError::Unauthorized { key_sent: false, .. }) = client_error {
            part.push_str(&format!(
                "; no key was saved for this server by `rampart login` and no key file was found at {} \
                 (run `rampart login`, or set RAMPART_DATA_DIR to the server's data directory)",
                admin_key_file().display()
            ));
        }
        parts.push(part);
        if client_error.is_some() {
            break;
        }
    }
    parts.join(": ").replace('\n', " ")
}

/// Parses `argv` as the arguments of one command, for the commands' tests.
#[cfg(test)]
pub fn parse_args<A: clap::Args>(name: &str, argv: &[&str]) -> Result<A, clap::Error> {
    use clap::Parser as _;

    #[derive(Debug, clap::Parser)]
    struct Command<A: clap::Args> {
        #[command(flatten)]
        args: A,
    }
    Command::<A>::try_parse_from(std::iter::once(name).chain(argv.iter().copied())).map(|c| c.args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_key_wins_and_is_trimmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("admin.key");
        std::fs::write(&file, "rk_from_file\n").expect("write");
        assert_eq!(api_key(Some(" rk_flag "), &file).expect("key"), Some("rk_flag".to_string()));
        assert_eq!(api_key(None, &file).expect("key"), Some("rk_from_file".to_string()));
    }

    #[test]
    fn no_key_and_no_file_means_no_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(api_key(None, &dir.path().join("admin.key")).expect("no key"), None);
        let empty = dir.path().join("empty.key");
        std::fs::write(&empty, "  \n").expect("write");
        assert_eq!(api_key(None, &empty).expect("no key"), None);
    }

    #[test]
    fn errors_read_as_one_line_and_pick_the_exit_code() {
        let err = anyhow::Error::new(ClientError::Api {
            status: 404,
            code: "JOB_NOT_FOUND".into(),
            message: "no job 9".into(),
        })
        .context("cannot show job 9");
        assert_eq!(describe(&err), "cannot show job 9: JOB_NOT_FOUND: no job 9");
        let io = std::io::Error::other("address in use");
        let repeated = anyhow::Error::new(io).context("cannot listen on :80: address in use").context("starting");
        assert_eq!(describe(&repeated), "starting: cannot listen on :80: address in use");
        assert_eq!(report(&err), ExitCode::FAILURE);
        assert_eq!(report(&anyhow::Error::new(UsageError("pass --yes".into()))), ExitCode::from(2));
        assert_eq!(report(&anyhow::Error::new(ConfigErrors(vec!["listen: bad".into()]))), ExitCode::from(2));
    }
}
