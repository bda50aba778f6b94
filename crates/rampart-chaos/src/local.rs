//! Throw-away `rampart serve` processes, for the scenarios that need a
//! server set up their own way (a push queue to a target they run, a store
//! behind a proxy they cut) and so cannot use the deployment.
//!
//! Each listens on `127.0.0.1:0` with a data directory of its own under the
//! system's temp directory, named `rampart-chaos-<pid>-<n>` after the chaos
//! process, and starts with a cleared environment: the caller's
//! `RAMPART_*`, `DATABASE_URL` or `REDIS_URL` would point it at the
//! deployment. It runs in a process group of its own, so a Ctrl-C at the
//! terminal reaches only `rampart chaos`, which then cleans up: dropping a
//! [`LocalServer`] kills it with SIGKILL, reaps it and removes its directory.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rampart_client::client::Client;

/// What the server logs once it has bound its address.
const LISTENING: &str = "rampart is listening on ";
/// How long a throw-away server may take to start.
const START_PATIENCE: Duration = Duration::from_secs(60);
/// The last lines of its log kept for an error message.
const TAIL: usize = 20;

/// A running throw-away server.
pub struct LocalServer {
    process: Process,
    log: Arc<Mutex<VecDeque<String>>>,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// A client with its admin key.
    pub client: Client,
}

impl LocalServer {
    /// Starts `program serve` with this configuration (`rampart.toml`
    /// content, may be empty) and these environment variables, and waits
    /// until it answers `/health`.
    pub async fn start(program: &Path, config: &str, env: &[(String, String)]) -> Result<LocalServer, String> {
        let dir = scratch_dir()?;
        let data = dir.join("data");
        let config_file = dir.join("rampart.toml");
        if let Err(e) = std::fs::write(&config_file, config) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!("cannot write {}: {e}", config_file.display()));
        }
        let mut command = Command::new(program);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .arg("--config")
            .arg(&config_file)
            .current_dir(&dir)
            .env_clear()
            .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("NO_COLOR", "1")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut process = match command.spawn() {
            Ok(child) => Process { child, dir },
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(format!("cannot start {} serve: {e}", program.display()));
            }
        };
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (url_tx, mut url_rx) = tokio::sync::mpsc::unbounded_channel();
        if let Some(pipe) = process.child.stderr.take() {
            let sink = log.clone();
            // Reads to the end, so the server never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Some(url) = listening_url(&line) {
                        let _ = url_tx.send(url);
                    }
                    let mut tail = sink.lock().unwrap_or_else(PoisonError::into_inner);
                    if tail.len() == TAIL {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            });
        }
        let url = match tokio::time::timeout(START_PATIENCE, url_rx.recv()).await {
            Ok(Some(url)) => url,
            _ => return Err(format!("the throw-away server did not start: {}", tail(&log))),
        };
        let key = std::fs::read_to_string(data.join("admin.key"))
            .map_err(|e| format!("the throw-away server wrote no admin.key: {e}"))?;
        let client = Client::new(&url, Some(key.trim().to_string())).map_err(|e| e.to_string())?;
        let mut server = LocalServer { process, log, url, client };
        let deadline = Instant::now() + START_PATIENCE;
        while server.client.health().await.is_err() {
            if Instant::now() > deadline || !server.is_running() {
                return Err(format!("the throw-away server does not answer /health: {}", server.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(server)
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.process.child.try_wait(), Ok(None))
    }

    /// The last lines the server logged, on one line, for error messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }
}

fn tail(log: &Mutex<VecDeque<String>>) -> String {
    let tail = log.lock().unwrap_or_else(PoisonError::into_inner);
    let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
    if lines.is_empty() { "it logged nothing".into() } else { lines.join(" | ") }
}

/// The server process and its directory: killed, reaped and removed on drop.
struct Process {
    child: Child,
    dir: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A new directory `rampart-chaos-<pid>-<n>` under the temp directory.
fn scratch_dir() -> Result<PathBuf, String> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("{}-{n}", scratch_prefix(std::process::id())));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// The name every throw-away directory of chaos process `pid` starts with,
/// so whatever it left can be found.
pub fn scratch_prefix(pid: u32) -> String {
    format!("rampart-chaos-{pid}")
}

/// The URL in the server's "listening" log line, without colour codes.
fn listening_url(line: &str) -> Option<String> {
    let rest = line.split(LISTENING).nth(1)?;
    let url: String = rest.chars().take_while(|c| !c.is_whitespace() && *c != '\u{1b}').collect();
    url.starts_with("http://").then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_read_from_the_listening_line() {
        let line = "2026-12-07T22:00:00Z  INFO rampart is listening on http://127.0.0.1:4242 address=127.0.0.1:4242";
        assert_eq!(listening_url(line).as_deref(), Some("http://127.0.0.1:4242"));
        let coloured = "\u{1b}[32m INFO\u{1b}[0m rampart is listening on http://127.0.0.1:1\u{1b}[0m";
        assert_eq!(listening_url(coloured).as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(listening_url("starting"), None);
    }
}
