//! The local server the `restart` scenario kills and starts again.
//!
//! `rampart serve` writes its pid and the address it bound to
//! `rampart.pid` in its data directory ([`PID_FILE`], [`pid_file_text`]).
//! `rampart chaos --allow-restart`, run beside it with the same data
//! directory, reads that file ([`ServerProcess::find`]), and before the
//! kill takes from `/proc/PID` what it needs to start the server again as
//! it was: the executable, the arguments, the working directory and the
//! environment ([`Launch`]). The server started again listens on the
//! address the killed one had bound (its `--listen` is replaced by that
//! address, so a server started on port 0 comes back on the same port), in
//! a session of its own, so it outlives `rampart chaos`, with its output in
//! `rampart.restarted.log` in the data directory. Linux only (`/proc`).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStringExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The pid file's name in the data directory.
pub const PID_FILE: &str = "rampart.pid";

/// The log of a server the scenario started again, in the data directory.
pub const RESTART_LOG: &str = "rampart.restarted.log";

/// The pid file's content: the pid and the bound address, a line each.
pub fn pid_file_text(pid: u32, addr: SocketAddr) -> String {
    format!("{pid}\n{addr}\n")
}

/// A server found through its pid file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerProcess {
    /// Its process id.
    pub pid: u32,
    /// The address it bound.
    pub addr: SocketAddr,
    /// Its data directory (where the pid file is).
    pub data_dir: PathBuf,
}

impl ServerProcess {
    /// The server whose pid file is in `data_dir`, if it runs and listens
    /// on the port of `url`; the error says why it cannot be restarted.
    pub fn find(data_dir: &Path, url: &str) -> Result<ServerProcess, String> {
        let file = data_dir.join(PID_FILE);
        let text = std::fs::read_to_string(&file).map_err(|e| {
            format!("no running server's {} ({e}): run chaos beside the server, with RAMPART_DATA_DIR set to its data directory", file.display())
        })?;
        let server = parse(&text, data_dir).ok_or_else(|| format!("{} is not a rampart pid file", file.display()))?;
        if !server.is_running() {
            return Err(format!("{} names pid {}, which is not running", file.display(), server.pid));
        }
        let port = url.rsplit(':').next().and_then(|p| p.trim_end_matches('/').parse::<u16>().ok());
        if port != Some(server.addr.port()) {
            return Err(format!("the server of {} listens on {}, not at {url}", data_dir.display(), server.addr));
        }
        Ok(server)
    }

    /// Whether the process runs (not gone, not a zombie).
    pub fn is_running(&self) -> bool {
        is_running(self.pid)
    }
}

/// The pid file's content read back.
fn parse(text: &str, data_dir: &Path) -> Option<ServerProcess> {
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    let addr = lines.next()?.trim().parse().ok()?;
    Some(ServerProcess { pid, addr, data_dir: data_dir.to_path_buf() })
}

/// Whether process `pid` runs: `/proc/PID/stat` is there and not a zombie's.
pub fn is_running(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name, which is in parentheses and may hold spaces.
    !stat.is_empty() && !stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'))
}

/// How to start a process again as it was started.
#[derive(Debug, Clone)]
pub struct Launch {
    program: PathBuf,
    args: Vec<OsString>,
    cwd: PathBuf,
    env: Vec<(OsString, OsString)>,
}

impl Launch {
    /// Reads the process's executable, arguments, working directory and
    /// environment from `/proc`.
    pub fn of(pid: u32) -> Result<Launch, String> {
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let read =
            |name: &str| std::fs::read(proc.join(name)).map_err(|e| format!("cannot read /proc/{pid}/{name}: {e}"));
        let link = |name: &str| {
            std::fs::read_link(proc.join(name)).map_err(|e| format!("cannot read /proc/{pid}/{name}: {e}"))
        };
        let args: Vec<OsString> = nul_separated(&read("cmdline")?).into_iter().skip(1).collect();
        let env = nul_separated(&read("environ")?)
            .into_iter()
            .filter_map(|pair| {
                let bytes = pair.into_vec();
                let eq = bytes.iter().position(|b| *b == b'=')?;
                Some((OsString::from_vec(bytes[..eq].to_vec()), OsString::from_vec(bytes[eq + 1..].to_vec())))
            })
            .collect();
        Ok(Launch { program: link("exe")?, args, cwd: link("cwd")?, env })
    }

    /// Starts the process again, listening on `addr`, in a session of its
    /// own with its output appended to `log`; answers its pid.
    pub fn start(&self, addr: SocketAddr, log: &Path) -> Result<u32, String> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let child = Command::new(&self.program)
            .args(with_listen(&self.args, addr))
            .current_dir(&self.cwd)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {} again: {e}", self.program.display()))?;
        // Not waited for: the server outlives this run, as the one killed would have.
        Ok(child.id())
    }
}

/// The NUL-separated strings of a `/proc` file.
fn nul_separated(bytes: &[u8]) -> Vec<OsString> {
    bytes.split(|b| *b == 0).filter(|s| !s.is_empty()).map(|s| OsString::from_vec(s.to_vec())).collect()
}

/// The arguments with any `--listen X` / `--listen=X` replaced by `--listen ADDR`.
fn with_listen(args: &[OsString], addr: SocketAddr) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len() + 2);
    let mut skip_next = false;
    for arg in args {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if arg == "--listen" {
            skip_next = true;
        } else if !arg.to_string_lossy().starts_with("--listen=") {
            out.push(arg.clone());
        }
    }
    out.extend([OsString::from("--listen"), OsString::from(addr.to_string())]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pid_file_is_read_back() {
        let addr: SocketAddr = "127.0.0.1:7433".parse().expect("an address");
        let dir = Path::new("/d");
        let parsed = parse(&pid_file_text(42, addr), dir).expect("parses");
        assert_eq!(parsed, ServerProcess { pid: 42, addr, data_dir: dir.into() });
        assert_eq!(parse("x\n", dir), None);
        assert!(ServerProcess::find(Path::new("/nonexistent"), "http://127.0.0.1:7433").is_err());
    }

    #[test]
    fn the_listen_address_is_replaced() {
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        let addr: SocketAddr = "127.0.0.1:9".parse().expect("an address");
        let expected = args(&["serve", "--data-dir", "d", "--listen", "127.0.0.1:9"]);
        assert_eq!(with_listen(&args(&["serve", "--listen", "127.0.0.1:0", "--data-dir", "d"]), addr), expected);
        assert_eq!(with_listen(&args(&["serve", "--listen=0.0.0.0:0", "--data-dir", "d"]), addr), expected);
        assert_eq!(with_listen(&args(&["serve", "--data-dir", "d"]), addr), expected);
    }

    #[test]
    fn this_process_can_be_read_from_proc() {
        let me = Launch::of(std::process::id()).expect("readable");
        assert!(me.program.exists() && me.cwd.exists());
        assert!(is_running(std::process::id()));
        assert!(!is_running(u32::MAX));
    }
}
