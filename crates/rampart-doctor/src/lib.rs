//! rampart-doctor: the checks of `rampart doctor` and `GET /v1/admin/doctor`
//! as pure functions.
//!
//! The server gathers what it observes (the store's probe, readiness, the
//! loops' last runs, cron schedules, push targets, queues, its listener and
//! data directory) into the API's own views, and each function here turns
//! one observation into a [`Finding`]: `pass`, `warn` or `fail` with a
//! detail for people. No I/O and no clock: the time comes in as an
//! argument, so every check has a passing and a failing test beside it.
//! [`report`] assembles the findings into the wire's
//! [`DoctorReport`](rampart_client::wire::DoctorReport).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rampart_client::wire::{
    CronView, DoctorCheck, DoctorReport, LoopView, PushTargetView, QueueView, RedisBackendView, StoreHealth,
};
use rampart_core::duration::format_duration;
use rampart_core::time::UnixMillis;

rampart_core::named_enum! {
    /// A check's verdict.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Status {
        /// All is as it should be.
        Pass = "pass",
        /// Works, but needs a look before launch.
        Warn = "warn",
        /// Broken: a deploy should stop.
        Fail = "fail",
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The check's name.
    pub name: String,
    /// Its verdict.
    pub status: Status,
    /// What was found.
    pub detail: String,
}

impl Finding {
    fn new(name: &str, status: Status, detail: impl Into<String>) -> Finding {
        Finding { name: name.to_string(), status, detail: detail.into() }
    }
}

/// A store slower than this to answer a ping is a warning.
pub const SLOW_STORE: Duration = Duration::from_millis(250);

/// A SQLite data directory with less than this share of its disk free is a warning.
pub const LOW_DISK_SHARE: f64 = 0.10;

/// The findings with how long each took, as the API answers them.
pub fn report(findings: Vec<(Finding, Duration)>) -> DoctorReport {
    tally(findings.into_iter().map(|(f, took)| check(f, took)).collect())
}

/// A finding as a row of the report.
pub fn check(finding: Finding, took: Duration) -> DoctorCheck {
    DoctorCheck {
        name: finding.name,
        status: finding.status.to_string(),
        duration_ms: (took.as_secs_f64() * 1e5).round() / 100.0,
        detail: finding.detail,
    }
}

/// The report of these rows: counted, and `ok` unless one failed.
pub fn tally(checks: Vec<DoctorCheck>) -> DoctorReport {
    let count = |s: Status| checks.iter().filter(|c| c.status == s.as_str()).count() as u32;
    let (passed, warned, failed) = (count(Status::Pass), count(Status::Warn), count(Status::Fail));
    DoctorReport { ok: failed == 0, passed, warned, failed, checks }
}

/// The server answers at all: `Ok(version)` or the error.
pub fn reachable(url: &str, answer: Result<&str, String>) -> Finding {
    match answer {
        Ok(version) => Finding::new("server", Status::Pass, format!("{url} answers (rampart {version})")),
        Err(e) => Finding::new("server", Status::Fail, e),
    }
}

/// The store answers, and how fast.
pub fn store(health: &StoreHealth) -> Finding {
    let name = "store";
    if health.status != "up" {
        let error = health.error.as_deref().unwrap_or("no answer");
        return Finding::new(name, Status::Fail, format!("{} is {}: {error}", health.backend, health.status));
    }
    let latency = health.latency_ms.unwrap_or_default();
    let detail = format!("{} answers in {latency:.2} ms", health.backend);
    if latency > SLOW_STORE.as_secs_f64() * 1e3 {
        Finding::new(name, Status::Warn, format!("{detail}, slower than {} ms", SLOW_STORE.as_millis()))
    } else {
        Finding::new(name, Status::Pass, detail)
    }
}

/// The node answers its readiness probe with `ready`.
pub fn readiness(status: &str) -> Finding {
    match status {
        "ready" => Finding::new("ready", Status::Pass, "/health/ready answers ready"),
        other => Finding::new("ready", Status::Fail, format!("/health/ready answers {other}")),
    }
}

/// The store's schema: `applied` migrations in the database against the
/// `known` ones of this rampart (a node migrates at start-up; a database
/// migrated further by a newer node is a warning to upgrade this one).
pub fn migrations(backend: &str, applied: u32, known: u32) -> Finding {
    let name = "store.migrations";
    match applied.cmp(&known) {
        std::cmp::Ordering::Equal => {
            Finding::new(name, Status::Pass, format!("{backend}: current ({applied} of {known})"))
        }
        std::cmp::Ordering::Less => {
            Finding::new(name, Status::Fail, format!("{backend}: {applied} of {known} applied (rampart migrate)"))
        }
        std::cmp::Ordering::Greater => Finding::new(
            name,
            Status::Warn,
            format!("{backend}: at {applied}, newer than this node's {known}: upgrade this node"),
        ),
    }
}

/// A check that could not look: what it needed did not answer.
pub fn unavailable(name: &str, error: &dyn std::fmt::Display) -> Finding {
    Finding::new(name, Status::Fail, format!("cannot check: {error}"))
}

/// The rate limiter's Redis, when one is configured: up, or down with the
/// limits in fallback.
pub fn redis(view: Option<&RedisBackendView>) -> Finding {
    let name = "redis";
    match view {
        None => Finding::new(name, Status::Pass, "not configured: rate limits count in memory"),
        Some(r) if r.status == "up" => Finding::new(name, Status::Pass, "up; limits count in Redis"),
        Some(r) => Finding::new(
            name,
            Status::Fail,
            format!(
                "down ({} failures, last: {}); limits are in fallback (each policy's on_backend_error)",
                r.failures,
                r.last_error.as_deref().unwrap_or("no answer")
            ),
        ),
    }
}

/// Alert channels: some configured, none failing on this node.
pub fn alert_channels(configured: &[String], failing: &[String]) -> Finding {
    let name = "alerts.channels";
    if configured.is_empty() {
        return Finding::new(name, Status::Warn, "no channel: alerts fire but nobody is told ([[alerts.channels]])");
    }
    if !failing.is_empty() {
        return Finding::new(name, Status::Fail, format!("the last send failed on {}", failing.join(", ")));
    }
    Finding::new(name, Status::Pass, format!("{} configured: {}", configured.len(), configured.join(", ")))
}

/// The result of a test message to each channel: `(channel, error)` for
/// every one that refused it.
pub fn alert_test(sent: usize, refused: &[(String, String)]) -> Finding {
    let name = "alerts.test";
    if !refused.is_empty() {
        let list: Vec<String> = refused.iter().map(|(c, e)| format!("{c}: {e}")).collect();
        return Finding::new(name, Status::Fail, format!("refused by {}", list.join("; ")));
    }
    if sent == 0 {
        return Finding::new(name, Status::Warn, "no channel to send a test to");
    }
    Finding::new(name, Status::Pass, format!("a test alert was delivered to {sent} channel(s)"))
}

/// Error reporting: a Sentry DSN set.
pub fn sentry(dsn_set: bool) -> Finding {
    if dsn_set {
        Finding::new("sentry", Status::Pass, "a DSN is set: internal errors are reported")
    } else {
        Finding::new("sentry", Status::Warn, "no DSN: internal errors reach only the log (SENTRY_DSN)")
    }
}

/// Every background loop of this node ran within its interval (with room
/// for a busy machine: three intervals and five seconds) and its last run
/// did not fail. `interval` gives a loop's interval; loops driven by events
/// (no interval) are only checked for failures. A loop that has not run
/// yet counts from `up_since`, when the node started.
pub fn loops(
    loops: &[LoopView],
    interval: impl Fn(&str) -> Option<Duration>,
    now: UnixMillis,
    up_since: UnixMillis,
) -> Finding {
    let name = "loops";
    let mut failing = Vec::new();
    let mut late = Vec::new();
    for l in loops {
        if l.status == "failing" {
            failing.push(format!("{} ({})", l.name, l.last_error.as_deref().unwrap_or("failed")));
            continue;
        }
        let Some(every) = interval(&l.name) else { continue };
        let bound = every * 3 + Duration::from_secs(5);
        let last = l.last_run_at.as_deref().and_then(|t| UnixMillis::parse_rfc3339(t).ok());
        let since = now.since(last.unwrap_or(up_since));
        if since <= bound {
            continue;
        }
        let (since, every) = (format_duration(since), format_duration(every));
        late.push(match last {
            Some(_) => format!("{} (last ran {since} ago, every {every})", l.name),
            None => format!("{} (never ran in {since}, every {every})", l.name),
        });
    }
    if !failing.is_empty() || !late.is_empty() {
        let parts: Vec<String> = [("failing", failing), ("late", late)]
            .into_iter()
            .filter(|(_, list)| !list.is_empty())
            .map(|(what, list)| format!("{what}: {}", list.join(", ")))
            .collect();
        return Finding::new(name, Status::Fail, parts.join("; "));
    }
    Finding::new(name, Status::Pass, format!("{} loops ran within their interval", loops.len()))
}

/// Every cron schedule is registered and its last run did not fail.
pub fn cron(schedules: &[CronView]) -> Finding {
    let name = "cron";
    let failed: Vec<String> = schedules
        .iter()
        .filter_map(|s| {
            let run = s.last_run.as_ref()?;
            (run.status == "dead").then(|| format!("{} ({})", s.name, run.error.as_deref().unwrap_or(&run.status)))
        })
        .collect();
    if !failed.is_empty() {
        return Finding::new(name, Status::Fail, format!("last run failed: {}", failed.join(", ")));
    }
    let paused = schedules.iter().filter(|s| s.paused).count();
    let mut detail = format!("{} schedules registered, no last run failed", schedules.len());
    if paused > 0 {
        detail.push_str(&format!(" ({paused} paused)"));
    }
    Finding::new(name, Status::Pass, detail)
}

/// The name of the built-in retention schedule.
pub const RETENTION_SCHEDULE: &str = "rampart.retention";

/// Retention ran within its schedule: its last run did not fail, and its
/// next run is not overdue by more than a minute.
pub fn retention(schedules: &[CronView], now: UnixMillis) -> Finding {
    let name = "retention";
    let Some(s) = schedules.iter().find(|s| s.name == RETENTION_SCHEDULE) else {
        return Finding::new(name, Status::Fail, format!("the {RETENTION_SCHEDULE} schedule is missing"));
    };
    if s.paused {
        return Finding::new(name, Status::Warn, format!("{RETENTION_SCHEDULE} is paused: old jobs are kept"));
    }
    if let Some(run) = &s.last_run
        && run.status == "dead"
    {
        let error = run.error.as_deref().unwrap_or(&run.status);
        return Finding::new(name, Status::Fail, format!("the last run failed: {error}"));
    }
    if let Some(next) = s.next_run_at
        && now.since(next) > Duration::from_secs(60)
    {
        return Finding::new(name, Status::Fail, format!("overdue since {} ({})", next.to_rfc3339(), s.schedule));
    }
    let last = s.last_run.as_ref().map_or_else(|| "not run yet".to_string(), |r| format!("last run {}", r.status));
    Finding::new(name, Status::Pass, format!("{last}; runs {}", s.schedule))
}

/// Every push target's breaker is closed.
pub fn push_targets(targets: &[PushTargetView]) -> Finding {
    let name = "push.targets";
    if targets.is_empty() {
        return Finding::new(name, Status::Pass, "no push queue");
    }
    let open: Vec<String> = targets
        .iter()
        .filter(|t| t.state != "closed")
        .map(|t| format!("{} → {} {} ({})", t.queue, t.target, t.state, t.last_error.as_deref().unwrap_or("failing")))
        .collect();
    if open.is_empty() {
        Finding::new(name, Status::Pass, format!("{} target(s), every breaker closed", targets.len()))
    } else {
        Finding::new(name, Status::Fail, format!("breaker not closed: {}", open.join(", ")))
    }
}

/// Dead letters: none, or a warning with the count per queue.
pub fn dead_letters(queues: &[QueueView]) -> Finding {
    let name = "dead_letters";
    let dead: Vec<String> =
        queues.iter().filter(|q| q.counts.dead > 0).map(|q| format!("{} {}", q.name, q.counts.dead)).collect();
    if dead.is_empty() {
        Finding::new(name, Status::Pass, format!("none in {} queue(s)", queues.len()))
    } else {
        Finding::new(name, Status::Warn, format!("dead jobs: {} (rampart dlq list QUEUE)", dead.join(", ")))
    }
}

/// The admin key file's mode: readable by its owner only. `None` when the
/// file is not there (taken away after first start, which is fine).
pub fn admin_key_mode(mode: Option<u32>) -> Finding {
    let name = "admin_key.mode";
    match mode {
        None => Finding::new(name, Status::Pass, "no admin.key in the data directory"),
        Some(m) if m & 0o077 == 0 => Finding::new(name, Status::Pass, format!("admin.key is {:04o}", m & 0o7777)),
        Some(m) => Finding::new(
            name,
            Status::Fail,
            format!("admin.key is {:04o}: others can read the admin key (chmod 600)", m & 0o7777),
        ),
    }
}

/// The listener: on loopback or a private network is fine; on a public or
/// every address, rampart's plain HTTP needs TLS in front of it.
pub fn listener(addr: SocketAddr) -> Finding {
    let name = "listener";
    let ip = addr.ip();
    let private = match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    };
    if private {
        Finding::new(name, Status::Pass, format!("plain HTTP on {addr}, not a public address"))
    } else if ip.is_unspecified() {
        Finding::new(name, Status::Warn, format!("plain HTTP on every address ({addr}): put TLS in front of it"))
    } else {
        Finding::new(name, Status::Warn, format!("plain HTTP on the public address {addr}: put TLS in front of it"))
    }
}

/// Disk space for the SQLite data directory: `None` on PostgreSQL (the
/// database's disk is its own), else free and total bytes.
pub fn disk(space: Option<(u64, u64)>) -> Finding {
    let name = "disk";
    let Some((free, total)) = space else {
        return Finding::new(name, Status::Pass, "the store is PostgreSQL: its disk is the database's");
    };
    if total == 0 {
        return Finding::new(name, Status::Warn, "the data directory's disk reports no size");
    }
    let share = free as f64 / total as f64;
    let detail = format!("{:.1}% free ({} MiB of {} MiB)", share * 100.0, free >> 20, total >> 20);
    if share < LOW_DISK_SHARE {
        Finding::new(name, Status::Warn, format!("{detail}: under {:.0}%", LOW_DISK_SHARE * 100.0))
    } else {
        Finding::new(name, Status::Pass, detail)
    }
}

/// A node's clock further than this from the database's fails.
pub const CLOCK_SKEW: Duration = Duration::from_secs(1);

/// A node of the registry as the doctor reads it: its last report, on its
/// clock and on the database's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeClock {
    /// The node's name (`host:port (pid N)`).
    pub name: String,
    /// Its last report, on its clock.
    pub node_at: UnixMillis,
    /// Its last report, on the database's clock.
    pub db_at: UnixMillis,
}

/// Every node of a PostgreSQL cluster seen recently and its clock within
/// [`CLOCK_SKEW`] of the database's. `seen_within` is how recent a report
/// must be by the database's clock (`None`: monitoring is off, so nodes do
/// not report); a node older than it is a warning (stopped, or cut off),
/// a clock off by more than the skew a failure (leases, schedules and
/// retries are times written by one node and read by another).
pub fn nodes(backend: &str, nodes: &[NodeClock], db_now: UnixMillis, seen_within: Option<Duration>) -> Finding {
    let name = "nodes";
    if backend != "postgres" {
        return Finding::new(name, Status::Pass, format!("{backend}: one node, whose clock is the database's"));
    }
    let Some(bound) = seen_within else {
        return Finding::new(name, Status::Warn, "monitoring.enabled = false: nodes do not report themselves");
    };
    if nodes.is_empty() {
        return Finding::new(name, Status::Warn, "no node has reported itself yet");
    }
    let skewed: Vec<String> = nodes
        .iter()
        .filter(|n| n.node_at.0.abs_diff(n.db_at.0) > CLOCK_SKEW.as_millis() as u64)
        .map(|n| {
            let off = n.node_at.0.abs_diff(n.db_at.0);
            let way = if n.node_at > n.db_at { "ahead of" } else { "behind" };
            format!("{} {off} ms {way} the database", n.name)
        })
        .collect();
    if !skewed.is_empty() {
        return Finding::new(
            name,
            Status::Fail,
            format!("clock off by more than {} (NTP?): {}", format_duration(CLOCK_SKEW), skewed.join(", ")),
        );
    }
    let stale: Vec<String> = nodes
        .iter()
        .filter(|n| db_now.since(n.db_at) > bound)
        .map(|n| format!("{} (last seen {} ago)", n.name, format_duration(db_now.since(n.db_at))))
        .collect();
    if !stale.is_empty() {
        return Finding::new(
            name,
            Status::Warn,
            format!(
                "not seen within {}: {} (stopped nodes are forgotten after a day)",
                format_duration(bound),
                stale.join(", ")
            ),
        );
    }
    Finding::new(
        name,
        Status::Pass,
        format!(
            "{} node(s) seen within {}, clocks within {} of the database's",
            nodes.len(),
            format_duration(bound),
            format_duration(CLOCK_SKEW)
        ),
    )
}

/// The configuration: `Ok((queues, cron schedules))` when it loads and
/// checks (a server runs only with one that does), else every problem.
pub fn config(loaded: Result<(usize, usize), Vec<String>>) -> Finding {
    match loaded {
        Ok((queues, schedules)) => {
            Finding::new("config", Status::Pass, format!("valid: {queues} queue(s), {schedules} cron schedule(s)"))
        }
        Err(problems) => Finding::new("config", Status::Fail, problems.join("; ")),
    }
}

#[cfg(test)]
mod tests;
