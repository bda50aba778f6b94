//! The test harness: a real `rampart serve` per test, CLI runs against it,
//! `rampart work` processes, and waiting on conditions.
//!
//! - [`TestServer`] starts the binary on `127.0.0.1:0` with its own temp
//!   directory (`data/` for the store and `admin.key`, `work/` as the working
//!   directory of every process and the scratch space of worker scripts,
//!   `server.toml` when a configuration is given), reads the bound address
//!   from the server's log line and waits for `GET /health`.
//! - [`Cli`] runs one CLI command with `RAMPART_URL` and `RAMPART_DATA_DIR`
//!   set and every other `RAMPART_*` variable of the test's environment
//!   removed; [`WorkerBuilder`] starts `rampart work … -- sh -c SCRIPT`.
//! - [`Process`] owns every long-running process: each starts in its own
//!   process group, and the guard SIGKILLs the whole group (the shell
//!   commands a worker started included) and reaps it on drop, so a failing
//!   test leaves nothing behind. When a test fails, the guard prints the
//!   process's stderr.
//! - [`ServerBuilder::env`] and [`ServerBuilder::api_key`] make a node of a
//!   cluster: `DATABASE_URL` and other settings by environment, and the key
//!   the first node wrote (keys live in the shared database, so a joining
//!   node writes no `admin.key` of its own).
//! - [`eventually`] polls a condition every 20ms for up to a minute
//!   ([`eventually_within`] for a longer bound, [`TestServer::job_until`]
//!   for a job, naming what it last saw): the only way these tests wait.

use std::future::Future;
use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rampart_client::client::Client;
use rampart_client::wire::JobView;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

/// The binary under test.
const RAMPART: &str = env!("CARGO_BIN_EXE_rampart");

/// The longest any awaited condition may take before the test fails: far
/// beyond what a healthy run needs, so a slow machine never fails a test.
const PATIENCE: Duration = Duration::from_secs(60);

/// How often a condition is checked again.
const POLL: Duration = Duration::from_millis(20);

/// What the server logs once it has bound its address.
const LISTENING: &str = "rampart is listening on ";

/// What `rampart work` logs once it has reached the server and starts leasing.
const WORKER_STARTED: &str = "worker started";

/// Polls `probe` until it answers `Some`, failing the test after [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(what, PATIENCE, probe).await
}

/// Polls `probe` until it answers `Some`, failing the test after `patience`:
/// for conditions that take long by design, such as draining a big queue.
pub async fn eventually_within<T, F, Fut>(what: &str, patience: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    poll_until(what, patience, || {
        let answer = probe();
        async move { answer.await.ok_or_else(String::new) }
    })
    .await
}

/// The one polling loop of these tests: polls `probe` every [`POLL`] until
/// it answers `Ok`, failing the test after `patience` with `what` it waited
/// for and the last thing it saw instead (the probe's last `Err`).
async fn poll_until<T, F, Fut>(what: &str, patience: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + patience;
    loop {
        let seen = match probe().await {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        assert!(Instant::now() < deadline, "gave up after {patience:?} waiting for {what}; {seen}");
        tokio::time::sleep(POLL).await;
    }
}

/// A JSON value held as raw text (a payload, a result), parsed.
pub fn parsed(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).expect("the server sends valid JSON")
}

/// The URL of a local port nothing listens on (bound, then released).
pub fn unused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    format!("http://127.0.0.1:{port}")
}

/// Whether process `pid` has ended: gone, or a zombie left for init to reap.
pub fn has_ended(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name, which is in parentheses and may hold spaces.
    stat.is_empty() || stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'))
}

/// A `rampart` command whose environment holds no `RAMPART_*` variable
/// (nor `DATABASE_URL` or `REDIS_URL`) of the test's own environment, run
/// from `cwd`.
fn rampart(cwd: &Path) -> Command {
    let mut command = Command::new(RAMPART);
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("RAMPART_") || ["DATABASE_URL", "REDIS_URL", "SENTRY_DSN"].contains(&key_text.as_ref())
        {
            command.env_remove(key);
        }
    }
    // Keys saved by `rampart login` live under the test's own directory,
    // never the user's.
    command.current_dir(cwd).env("XDG_CONFIG_HOME", cwd.join(".config"));
    command
}

/// Sends `signal` (a name such as `TERM`) to `target`: a pid, or `-pgid`
/// for a whole process group. Answers whether `kill` succeeded.
pub fn send_signal(signal: &str, target: &str) -> bool {
    Command::new("kill")
        .args(["-s", signal, "--", target])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The text without terminal colour sequences (`ESC [ … letter`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A running process in its own process group, killed with its group and
/// reaped on drop. Its stderr is collected line by line.
pub struct Process {
    name: String,
    child: Child,
    stderr: Arc<Stderr>,
    exited: Option<ExitStatus>,
}

/// A process's stderr as collected so far by its reader thread.
#[derive(Default)]
struct Stderr {
    text: Mutex<String>,
    /// Set once the pipe is closed: `text` is complete.
    closed: AtomicBool,
}

impl Process {
    /// Starts `command` as the leader of a new process group, stdin and
    /// stdout closed, stderr collected.
    pub fn spawn(name: &str, mut command: Command) -> Process {
        command.process_group(0).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot start the {name}: {e}"));
        let pipe = child.stderr.take().expect("stderr is piped");
        let stderr = Arc::new(Stderr::default());
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut text = sink.text.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                text.push_str(&strip_ansi(&line));
                text.push('\n');
            }
            sink.closed.store(true, Ordering::SeqCst);
        });
        Process { name: name.to_string(), child, stderr, exited: None }
    }

    /// The process id, which is also its process group id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Whether the process is still running (reaping it when it is not).
    pub fn is_running(&mut self) -> bool {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("try_wait");
        }
        self.exited.is_none()
    }

    /// Waits for a stderr line containing `needle` and answers it; fails
    /// the test when the process exits without writing one.
    pub async fn wait_for_stderr(&mut self, needle: &str) -> String {
        let what = format!("the {} to write `{needle}` on stderr", self.name);
        eventually(&what, || {
            // Read `closed` first: once it is set, the text read after it is complete.
            let complete = self.stderr.closed.load(Ordering::SeqCst);
            let stderr = self.stderr();
            let line = stderr.lines().find(|l| l.contains(needle)).map(str::to_string);
            if line.is_none() && complete && !self.is_running() {
                panic!("the {} exited ({:?}) before writing `{needle}`:\n{stderr}", self.name, self.exited);
            }
            std::future::ready(line)
        })
        .await
    }

    /// Sends `signal` (e.g. `TERM`) to the process alone.
    pub fn signal(&self, signal: &str) {
        assert!(send_signal(signal, &self.id().to_string()), "cannot send SIG{signal} to the {}", self.name);
    }

    /// SIGKILLs the process and everything it started, and reaps it.
    pub fn kill(&mut self) {
        if self.exited.is_none() {
            // The group outlives its leader only until the leader is reaped: kill it first.
            send_signal("KILL", &format!("-{}", self.id()));
            let _ = self.child.kill();
            self.exited = Some(self.child.wait().expect("reap the killed process"));
        }
    }

    /// Waits for the process to exit on its own and answers its status.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        let what = format!("the {} to exit", self.name);
        eventually(&what, || std::future::ready(if self.is_running() { None } else { self.exited })).await
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("----- stderr of the {} -----\n{}", self.name, self.stderr());
        }
    }
}

/// How a [`TestServer`] starts.
#[derive(Debug, Default)]
pub struct ServerBuilder {
    config: Option<String>,
    env: Vec<(String, String)>,
    api_key: Option<String>,
}

impl ServerBuilder {
    /// Starts the server with this `rampart.toml` content (`--config`).
    pub fn config(mut self, toml: &str) -> ServerBuilder {
        self.config = Some(toml.to_string());
        self
    }

    /// Sets an environment variable of the server process (e.g.
    /// `DATABASE_URL`), kept across restarts.
    pub fn env(mut self, key: &str, value: &str) -> ServerBuilder {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Talks to the server with this key instead of the one it writes to
    /// `admin.key`: for a node joining a cluster whose first node made the key.
    pub fn api_key(mut self, key: &str) -> ServerBuilder {
        self.api_key = Some(key.to_string());
        self
    }

    /// Starts the server and waits until it answers `/health`.
    pub async fn start(self) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("work")).expect("create the work dir");
        let config = self.config.map(|toml| {
            let path = dir.path().join("server.toml");
            std::fs::write(&path, toml).expect("write the server config");
            path
        });
        let mut server = TestServer {
            dir,
            config,
            env: self.env,
            given_key: self.api_key,
            process: None,
            url: String::new(),
            key: String::new(),
            client: None,
        };
        server.launch("127.0.0.1:0").await;
        server
    }
}

/// A `rampart serve` process with its own data directory.
pub struct TestServer {
    // Declared before `dir`: the process dies before its directory is removed.
    process: Option<Process>,
    dir: tempfile::TempDir,
    config: Option<PathBuf>,
    env: Vec<(String, String)>,
    /// The key given with [`ServerBuilder::api_key`], if any.
    given_key: Option<String>,
    url: String,
    /// The key the client and CLI use.
    key: String,
    client: Option<Client>,
}

impl TestServer {
    /// A server with a configuration of its own, see [`ServerBuilder`].
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// A server with the default configuration.
    pub async fn start() -> TestServer {
        TestServer::builder().start().await
    }

    /// Starts the binary on the data directory, listening on `listen`, and
    /// waits until it serves.
    async fn launch(&mut self, listen: &str) {
        let mut command = rampart(&self.work_dir());
        command.args(["serve", "--listen", listen, "--data-dir"]).arg(self.data_dir());
        if let Some(config) = &self.config {
            command.arg("--config").arg(config);
        }
        command.envs(self.env.iter().map(|(key, value)| (key, value)));
        let mut process = Process::spawn("server", command);
        let line = process.wait_for_stderr(LISTENING).await;
        let url = line
            .split(LISTENING)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in `{line}`"))
            .to_string();
        let key = match &self.given_key {
            Some(key) => key.clone(),
            None => std::fs::read_to_string(self.data_dir().join("admin.key"))
                .expect("the server wrote admin.key (a node joining a cluster needs `api_key`)")
                .trim()
                .to_string(),
        };
        let client = Client::new(&url, Some(key.clone())).expect("a client of the test server");
        eventually("the server to answer /health", || {
            let client = client.clone();
            async move { client.health().await.ok() }
        })
        .await;
        self.process = Some(process);
        self.url = url;
        self.key = key;
        self.client = Some(client);
    }

    /// Whether the server process is still running (not killed, not exited).
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(Process::is_running)
    }

    /// Everything the server wrote to stderr so far (empty once killed).
    pub fn stderr(&self) -> String {
        self.process.as_ref().map(Process::stderr).unwrap_or_default()
    }

    /// The server's base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The API key the client and CLI use.
    pub fn api_key(&self) -> &str {
        &self.key
    }

    /// `GET /health/ready` (no key): its status code and JSON body.
    pub async fn ready(&self) -> (u16, Value) {
        let http = reqwest::Client::builder().timeout(PATIENCE).build().expect("an HTTP client");
        let response = http
            .get(format!("{}/health/ready", self.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /health/ready of {} failed: {e}", self.url));
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_else(|e| panic!("reading /health/ready failed: {e}"));
        let body = serde_json::from_str(&body).unwrap_or_else(|e| panic!("/health/ready sent no JSON ({e}): {body}"));
        (status, body)
    }

    /// SIGKILLs the server: no shutdown, no flush.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// Sends `signal` (e.g. `TERM`) to the server process.
    pub fn signal(&self, signal: &str) {
        self.process.as_ref().expect("the server is running").signal(signal);
    }

    /// Waits for a line containing `needle` on the server's stderr.
    pub async fn wait_for_stderr(&mut self, needle: &str) -> String {
        self.process.as_mut().expect("the server is running").wait_for_stderr(needle).await
    }

    /// Waits for the server to exit on its own and answers its status; it
    /// can then be started again with [`TestServer::restart`].
    pub async fn wait_exit(&mut self) -> ExitStatus {
        let status = self.process.as_mut().expect("the server is running").wait_exit().await;
        self.process = None;
        status
    }

    /// Starts a server again on the same data directory and configuration
    /// (on a new port), after [`TestServer::kill`] or its exit.
    pub async fn restart(&mut self) {
        assert!(self.process.is_none(), "kill the server before restarting it");
        self.launch("127.0.0.1:0").await;
    }

    /// Starts a server again on the same data directory, configuration and
    /// address, so that clients and workers of the stopped one reach it.
    pub async fn restart_on_the_same_address(&mut self) {
        assert!(self.process.is_none(), "stop the server before restarting it");
        let address = self.url.trim_start_matches("http://").to_string();
        self.launch(&address).await;
    }

    /// The data directory (store and `admin.key`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The working directory of every process the test starts, free for
    /// the test's own files.
    pub fn work_dir(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// The typed client, with the admin key.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("the server is running")
    }

    /// The CLI, pointed at this server (with the key given to the
    /// builder, else the one in `admin.key`).
    pub fn cli(&self) -> Cli {
        let cli = Cli::new(&self.url, &self.data_dir(), &self.work_dir());
        match &self.given_key {
            Some(key) => Cli { api_key: Some(key.clone()), ..cli },
            None => cli,
        }
    }

    /// Enqueues a job with `rampart enqueue --json` and answers its id.
    pub async fn enqueue(&self, queue: &str, payload: &str) -> String {
        let answer: Value = self.cli().json(&["enqueue", queue, "--payload", payload]).await;
        answer["id"].as_str().unwrap_or_else(|| panic!("no id in {answer}")).to_string()
    }

    /// The job as `rampart jobs show ID --json` prints it.
    pub async fn job(&self, id: &str) -> JobView {
        self.cli().json(&["jobs", "show", id]).await
    }

    /// Polls the job until `done` holds for it and answers it; `what`
    /// describes the awaited condition for the failure message.
    pub async fn job_until(&self, id: &str, what: &str, done: impl Fn(&JobView) -> bool) -> JobView {
        poll_until(&format!("job {id}: {what}"), PATIENCE, || async {
            let job = self.client().job(id).await.unwrap_or_else(|e| panic!("cannot read job {id}: {e}"));
            if done(&job) {
                return Ok(job);
            }
            Err(format!("last seen:\n{}", serde_json::to_string_pretty(&job).expect("a job is JSON")))
        })
        .await
    }

    /// Polls the job until it is in `state` and answers it.
    pub async fn job_in_state(&self, id: &str, state: &str) -> JobView {
        self.job_until(id, &format!("state `{state}`"), |job| job.state.as_str() == state).await
    }
}

/// The CLI as a user runs it against one server: `RAMPART_URL` and
/// `RAMPART_DATA_DIR` set, so it finds `<data_dir>/admin.key`, or
/// `RAMPART_API_KEY` when the key is given.
#[derive(Debug, Clone)]
pub struct Cli {
    url: String,
    data_dir: PathBuf,
    cwd: PathBuf,
    api_key: Option<String>,
}

/// What one CLI run did.
#[derive(Debug)]
pub struct Run {
    /// The arguments, for failure messages.
    pub args: String,
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error, without colours.
    pub stderr: String,
}

impl Run {
    /// Fails the test unless the command exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "`rampart {}` exited {:?}, not {code}\nstdout:\n{}\nstderr:\n{}",
            self.args,
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }
}

impl Cli {
    /// The CLI of the server at `url` whose data directory is `data_dir`,
    /// run from `cwd`.
    pub fn new(url: &str, data_dir: &Path, cwd: &Path) -> Cli {
        Cli { url: url.to_string(), data_dir: data_dir.to_path_buf(), cwd: cwd.to_path_buf(), api_key: None }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = rampart(&self.cwd);
        command.env("RAMPART_URL", &self.url).env("RAMPART_DATA_DIR", &self.data_dir).args(args);
        if let Some(key) = &self.api_key {
            command.env("RAMPART_API_KEY", key);
        }
        command
    }

    /// Starts `rampart ARGS…` as a long-running [`Process`], to signal or
    /// wait for.
    pub fn spawn(&self, args: &[&str]) -> Process {
        Process::spawn(&format!("rampart {}", args.join(" ")), self.command(args))
    }

    /// Runs `rampart ARGS…` to its end (failing the test if that takes
    /// longer than a minute).
    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_within(args, PATIENCE).await
    }

    /// Runs `rampart ARGS…` to its end, failing the test past `patience`
    /// (for commands that run many steps, each with its own bound).
    pub async fn run_within(&self, args: &[&str], patience: Duration) -> Run {
        let mut command = tokio::process::Command::from(self.command(args));
        command.stdin(Stdio::null()).kill_on_drop(true);
        let joined = args.join(" ");
        let output = tokio::time::timeout(patience, command.output())
            .await
            .unwrap_or_else(|_| panic!("`rampart {joined}` did not finish within {patience:?}"))
            .unwrap_or_else(|e| panic!("cannot run `rampart {joined}`: {e}"));
        Run {
            args: joined,
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: strip_ansi(&String::from_utf8_lossy(&output.stderr)),
        }
    }

    /// Runs `rampart ARGS… --json`, which must succeed, and parses its output.
    pub async fn json<T: DeserializeOwned>(&self, args: &[&str]) -> T {
        let args: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
        let run = self.run(&args).await;
        run.expect_code(0);
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("`rampart {}` printed no valid JSON ({e}):\n{}", run.args, run.stdout))
    }

    /// A `rampart work QUEUE` process to start.
    pub fn worker(&self, queue: &str) -> WorkerBuilder {
        WorkerBuilder { cli: self.clone(), queue: queue.to_string(), options: Vec::new() }
    }
}

/// How a `rampart work` process starts; see [`Cli::worker`].
#[derive(Debug)]
pub struct WorkerBuilder {
    cli: Cli,
    queue: String,
    options: Vec<String>,
}

impl WorkerBuilder {
    fn option(mut self, name: &str, value: &str) -> WorkerBuilder {
        self.options.extend([name.to_string(), value.to_string()]);
        self
    }

    /// `--name`: the worker's name in job histories.
    pub fn name(self, name: &str) -> WorkerBuilder {
        self.option("--name", name)
    }

    /// `--lease`, e.g. `1s`.
    pub fn lease(self, lease: &str) -> WorkerBuilder {
        self.option("--lease", lease)
    }

    /// `--grace`, e.g. `60s`.
    pub fn grace(self, grace: &str) -> WorkerBuilder {
        self.option("--grace", grace)
    }

    /// `--concurrency`.
    pub fn concurrency(self, n: usize) -> WorkerBuilder {
        self.option("--concurrency", &n.to_string())
    }

    /// Starts `rampart work … -- sh -c SCRIPT` and waits until the worker
    /// has reached the server. The script runs in the server's work dir.
    pub async fn script(self, script: &str) -> Process {
        self.command(&["sh", "-c", script]).await
    }

    /// Starts `rampart work … -- COMMAND…` and waits until the worker has
    /// reached the server.
    pub async fn command(self, command: &[&str]) -> Process {
        let mut args: Vec<&str> = vec!["work", &self.queue];
        args.extend(self.options.iter().map(String::as_str));
        args.push("--");
        args.extend(command);
        let mut process = Process::spawn(&format!("worker of `{}`", self.queue), self.cli.command(&args));
        process.wait_for_stderr(WORKER_STARTED).await;
        process
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_stripped() {
        let line = "\u{1b}[2m2026-01-01\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m rampart is listening on http://127.0.0.1:1";
        assert_eq!(strip_ansi(line), "2026-01-01  INFO rampart is listening on http://127.0.0.1:1");
    }
}
