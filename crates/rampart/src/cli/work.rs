//! `rampart work QUEUE -- CMD ARGS…`: a shell command as a worker.
//!
//! Each job runs the command once, with the payload JSON on stdin and
//! `RAMPART_JOB_ID`, `RAMPART_ATTEMPT`, `RAMPART_QUEUE` in its environment.
//! Exit 0 completes the job (stdout kept as the result when it is JSON);
//! exit 75 (`EX_TEMPFAIL` inverted: "do not retry") fails it for good; any
//! other exit fails the attempt with the tail of stderr as the error. The
//! lease is heartbeated while the command runs. SIGTERM or Ctrl-C stops
//! leasing and lets running commands finish within `--grace`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context as _;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{AccessFlags, Pid, access};
use rampart_client::worker::{HandlerResult, Job, JobError, Worker};
use rampart_core::duration::parse_duration;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::{Remote, UsageError};

/// Exit code a command uses to say "failed, and retrying will not help".
pub const EXIT_NO_RETRY: i32 = 75;
/// Bytes of stderr kept as the error message.
const STDERR_TAIL: usize = 2_000;

/// Arguments of `rampart work`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The queue to work.
    pub queue: String,
    /// Commands run at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Lease length; heartbeats go every third of it.
    #[arg(long, default_value = "30s")]
    pub lease: String,
    /// How long running commands may take to finish after SIGTERM.
    #[arg(long, default_value = "30s")]
    pub grace: String,
    /// The worker's name in job histories [default: host:pid].
    #[arg(long)]
    pub name: Option<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Works the queue until SIGTERM or Ctrl-C.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    let lease = parse_duration(&args.lease).map_err(|e| UsageError(format!("--lease: {e}")))?;
    let grace = parse_duration(&args.grace).map_err(|e| UsageError(format!("--grace: {e}")))?;
    if args.concurrency == 0 {
        return Err(UsageError("--concurrency must be at least 1".into()).into());
    }
    // A command that cannot run would fail every job it is given until each
    // runs out of attempts: refuse to start instead.
    let program = args.command.first().map_or("", String::as_str);
    let path = std::env::var_os("PATH").unwrap_or_default();
    runnable(program, &std::env::split_paths(&path).collect::<Vec<_>>()).map_err(UsageError)?;
    rampart_server::telemetry::init(rampart_server::config::LogFormat::Text);
    // Fail early and clearly when the server is not there.
    remote.client.health().await.context("cannot start the worker")?;
    let command = args.command;
    tracing::info!(queue = %args.queue, concurrency = args.concurrency, command = %command.join(" "), "worker started");
    let mut worker = Worker::new(remote.client.clone()).concurrency(args.concurrency).lease(lease).grace(grace);
    if let Some(name) = args.name {
        worker = worker.name(name);
    }
    worker
        .handle(&args.queue, move |job| run_command(command.clone(), job))
        .run(stop_signal())
        .await
        .context("the worker stopped")?;
    Ok(())
}

/// Runs the command for one job and turns its exit into the job's outcome.
async fn run_command(command: Vec<String>, job: Job) -> HandlerResult {
    let (program, args) = command.split_first().ok_or_else(|| JobError::fatal("no command given"))?;
    let mut child = Command::new(program)
        .args(args)
        .env("RAMPART_JOB_ID", job.id.to_string())
        .env("RAMPART_ATTEMPT", job.attempt.to_string())
        .env("RAMPART_QUEUE", job.queue.as_str())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a job abandoned (lease lost, timeout, grace
        // over) is stopped with every process it started, and Ctrl-C on the
        // worker's terminal lets running commands finish instead of killing them.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| JobError::retryable(format!("cannot start `{program}`: {e}")))?;
    let mut group = GroupGuard(child.id().and_then(|pid| i32::try_from(pid).ok()).map(Pid::from_raw));
    if let Some(mut stdin) = child.stdin.take() {
        // A command that ignores stdin may close it early; that is not a failure.
        let _ = stdin.write_all(job.payload.as_bytes()).await;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| JobError::retryable(format!("waiting for `{program}` failed: {e}")))?;
    group.disarm();
    let stderr = tail(&out.stderr);
    match out.status.code() {
        Some(0) => Ok(serde_json::from_slice(&out.stdout).ok()),
        Some(EXIT_NO_RETRY) => Err(JobError::fatal(format!("exit {EXIT_NO_RETRY} (do not retry): {stderr}"))),
        Some(code) => Err(JobError::retryable(format!("exit {code}: {stderr}"))),
        None => Err(JobError::retryable(format!("killed by a signal: {stderr}"))),
    }
}

/// Checks that `program` names an executable file, as a path when it holds
/// a `/` (relative to the current directory) or else on `path`; the error
/// says what is wrong and what to do.
fn runnable(program: &str, path: &[PathBuf]) -> Result<(), String> {
    let executable = |file: &Path| file.is_file() && access(file, AccessFlags::X_OK).is_ok();
    if program.contains('/') {
        let file = Path::new(program);
        let here = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| "here".into());
        return if !file.exists() {
            Err(format!("cannot run `{program}`: there is no such file (relative paths start from {here})"))
        } else if !file.is_file() {
            Err(format!("cannot run `{program}`: it is not a file"))
        } else if !executable(file) {
            Err(format!("cannot run `{program}`: it is not executable (try `chmod +x {program}`)"))
        } else {
            Ok(())
        };
    }
    if program.is_empty() {
        return Err("no command given after `--`".into());
    }
    if path.iter().any(|dir| executable(&dir.join(program))) {
        Ok(())
    } else {
        Err(format!(
            "cannot run `{program}`: no executable of that name is on PATH (give its path, e.g. `./{program}`)"
        ))
    }
}

/// Kills a command's whole process group when dropped before the command
/// finished: the handler future is dropped when its job is abandoned.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// The last [`STDERR_TAIL`] bytes of a command's stderr, trimmed.
fn tail(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(STDERR_TAIL);
    String::from_utf8_lossy(&bytes[start..]).trim().to_string()
}

/// Resolves on SIGTERM or SIGINT.
async fn stop_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("stop requested: finishing running jobs (up to the grace period)");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_command_that_can_run_starts_a_worker() {
        use std::os::unix::fs::PermissionsExt as _;

        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("job.sh");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n").expect("write");
        let script = script.to_str().expect("UTF-8 path").to_string();
        let on_path = [dir.path().to_path_buf()];

        let not_executable = runnable(&script, &on_path).expect_err("mode 0644");
        assert!(not_executable.contains("chmod +x"), "{not_executable}");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(runnable(&script, &on_path), Ok(()));
        assert_eq!(runnable("job.sh", &on_path), Ok(()));

        let missing = runnable("./send-email.sh", &on_path).expect_err("no such file");
        assert!(missing.contains("no such file"), "{missing}");
        let not_on_path = runnable("send-email.sh", &on_path).expect_err("not on PATH");
        assert!(not_on_path.contains("on PATH"), "{not_on_path}");
        let directory = runnable(dir.path().to_str().expect("UTF-8 path"), &on_path).expect_err("a directory");
        assert!(directory.contains("not a file"), "{directory}");
    }

    #[test]
    fn the_stderr_tail_keeps_the_end() {
        let long = format!("{}END", "x".repeat(5_000));
        let t = tail(long.as_bytes());
        assert_eq!(t.len(), STDERR_TAIL);
        assert!(t.ends_with("END"));
        assert_eq!(tail(b"  short\n"), "short");
    }
}
