//! `GET /v1/admin/doctor` (admin role): the deployment's launch checklist,
//! so a deploy pipeline can gate on it and `rampart doctor` can print it.
//!
//! This module only gathers what the node observes — readiness and the
//! store's probe, the schema version, the rate limiter's Redis, the alert
//! channels, the loops' last runs, cron schedules and retention, push
//! targets, dead letters, the admin key file, the listener and the data
//! directory's disk — and hands each observation to its check in
//! `rampart-doctor` (pure functions, tested there). A check that cannot
//! look (the store is down) fails with the reason; the route itself answers
//! 200 whenever the caller is an admin.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use rampart_client::endpoint::ADMIN_DOCTOR;
use rampart_client::wire::DoctorReport;
use rampart_core::time::UnixMillis;
use rampart_doctor::{Finding, NodeClock};

use super::extract::{Admin, Auth};
use super::route::Routes;
use super::{AppState, cron, diagnostics, health, view};
use crate::config::Config;
use crate::service::loops::names;
use crate::service::{
    NotifierConfig, PolicySyncerConfig, PromoterConfig, ReaperConfig, RedisProberConfig, SchedulerConfig, SweeperConfig,
};

/// What the checks need to know of the node's configuration, taken at start-up.
#[derive(Debug, Clone)]
pub struct DoctorSettings {
    /// The address the node listens on.
    pub listen: SocketAddr,
    /// The data directory (the admin key file; the SQLite database).
    pub data_dir: PathBuf,
    /// Whether the store is SQLite in the data directory.
    pub sqlite: bool,
    /// Whether a Sentry DSN is set.
    pub sentry: bool,
    /// Queues configured.
    pub queues: usize,
    /// Cron schedules configured.
    pub cron: usize,
    /// Each periodic loop's interval; loops driven by events have none.
    pub intervals: BTreeMap<&'static str, Duration>,
    /// How recent a node's report must be (three sampling intervals and
    /// five seconds); `None` when monitoring, which reports, is off.
    pub nodes_seen_within: Option<Duration>,
}

impl DoctorSettings {
    /// The settings of a configuration, for a node listening on `listen`.
    pub fn from_config(config: &Config, listen: SocketAddr) -> DoctorSettings {
        let sample = config.monitoring.interval;
        let intervals = BTreeMap::from([
            (names::REAPER, ReaperConfig::default().interval),
            (names::PROMOTER, PromoterConfig::default().max_sleep),
            (names::SCHEDULER, SchedulerConfig::default().max_sleep),
            (names::SWEEPER, SweeperConfig::default().interval),
            (names::POLICY_SYNCER, PolicySyncerConfig::default().interval),
            (names::REDIS_PROBER, RedisProberConfig::default().interval),
            (names::NOTIFIER, NotifierConfig::default().interval),
            (names::SAMPLER, sample),
            (names::ALERTER, sample),
        ]);
        DoctorSettings {
            listen,
            data_dir: config.data_dir.clone(),
            sqlite: config.database_url.is_none(),
            sentry: config.sentry.dsn.is_some(),
            queues: config.queues.len(),
            cron: config.cron.len(),
            intervals,
            nodes_seen_within: config.monitoring.enabled.then(|| sample * 3 + Duration::from_secs(5)),
        }
    }
}

pub(super) fn router() -> Routes {
    Routes::new().add(ADMIN_DOCTOR, admin_doctor)
}

/// Runs a check that needs no waiting, timing it.
fn timed(check: impl FnOnce() -> Finding) -> (Finding, Duration) {
    let started = Instant::now();
    let finding = check();
    (finding, started.elapsed())
}

async fn admin_doctor(State(state): State<AppState>, _auth: Auth<Admin>) -> Json<DoctorReport> {
    let settings = &state.doctor;
    let now = state.engine.now();
    let mut findings = vec![timed(|| rampart_doctor::config(Ok((settings.queues, settings.cron))))];

    let started = Instant::now();
    let (_, Json(ready)) = health::ready(State(state.clone())).await;
    findings.push((rampart_doctor::readiness(&ready.status), started.elapsed()));
    let store = &ready.components.store;
    let latency = Duration::from_secs_f64(store.latency_ms.unwrap_or_default() / 1e3);
    findings.push((rampart_doctor::store(store), latency));

    let started = Instant::now();
    let migrations = match state.engine.store().schema_version().await {
        Ok(v) => rampart_doctor::migrations(&store.backend, v.applied, v.known),
        Err(e) => rampart_doctor::unavailable("store.migrations", &e),
    };
    findings.push((migrations, started.elapsed()));
    let started = Instant::now();
    let nodes = match state.engine.store().node_list(now).await {
        Ok(list) => {
            let clocks: Vec<NodeClock> = list
                .nodes
                .into_iter()
                .map(|n| NodeClock { name: n.node, node_at: n.node_at, db_at: n.db_at })
                .collect();
            rampart_doctor::nodes(&store.backend, &clocks, list.db_now, settings.nodes_seen_within)
        }
        Err(e) => rampart_doctor::unavailable("nodes", &e),
    };
    findings.push((nodes, started.elapsed()));
    findings.push(timed(|| rampart_doctor::redis(ready.components.redis.as_ref())));
    findings.push(timed(|| {
        rampart_doctor::alert_channels(&state.alerting.channels.names(), &state.alerting.health.failing())
    }));
    findings.push(timed(|| rampart_doctor::sentry(settings.sentry)));
    findings.push(timed(|| {
        let loops = diagnostics::loop_views(&state.loops);
        let up = u64::try_from(state.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let up_since = UnixMillis(now.0.saturating_sub(i64::try_from(up).unwrap_or(i64::MAX)));
        rampart_doctor::loops(&loops, |name| settings.intervals.get(name).copied(), now, up_since)
    }));

    let started = Instant::now();
    let schedules = state.cron.list().await.map(|list| list.into_iter().map(cron::schedule_view).collect::<Vec<_>>());
    let took = started.elapsed();
    match &schedules {
        Ok(list) => {
            findings.push((rampart_doctor::cron(list), took));
            findings.push(timed(|| rampart_doctor::retention(list, now)));
        }
        Err(e) => {
            findings.push((rampart_doctor::unavailable("cron", e), took));
            findings.push((rampart_doctor::unavailable("retention", e), Duration::ZERO));
        }
    }

    let started = Instant::now();
    let targets = match diagnostics::push_targets(&state).await {
        Ok(targets) => rampart_doctor::push_targets(&targets),
        Err(e) => rampart_doctor::unavailable("push.targets", &e.message),
    };
    findings.push((targets, started.elapsed()));

    let started = Instant::now();
    let dead = match state.engine.queues().await {
        Ok(queues) => rampart_doctor::dead_letters(&queues.into_iter().map(view::queue).collect::<Vec<_>>()),
        Err(e) => rampart_doctor::unavailable("dead_letters", &e),
    };
    findings.push((dead, started.elapsed()));

    findings.push(timed(|| rampart_doctor::admin_key_mode(key_file_mode(settings))));
    findings.push(timed(|| rampart_doctor::listener(settings.listen)));
    findings.push(timed(|| rampart_doctor::disk(settings.sqlite.then(|| disk_space(settings)).flatten())));
    Json(rampart_doctor::report(findings))
}

/// The admin key file's mode, `None` when it is not there.
fn key_file_mode(settings: &DoctorSettings) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(settings.data_dir.join("admin.key")).ok().map(|m| m.permissions().mode())
}

/// Free (for unprivileged writers) and total bytes of the data directory's
/// file system; `None` when it cannot be read.
fn disk_space(settings: &DoctorSettings) -> Option<(u64, u64)> {
    let stat = nix::sys::statvfs::statvfs(&settings.data_dir).ok()?;
    let unit = stat.fragment_size();
    Some((stat.blocks_available().saturating_mul(unit), stat.blocks().saturating_mul(unit)))
}
