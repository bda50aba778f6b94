//! The embedded SQLite backend.
//!
//! One database file in the data directory, in WAL mode. Writes go through
//! the [`writer::Writer`] thread (group commit); reads use a small pool of
//! read-only connections on tokio's blocking pool, so reads never wait for
//! writes. A lock file keeps a second server off the same directory.

mod alert;
mod audit;
mod breaker;
mod checkpointer;
mod cron;
mod flow;
mod insight;
mod integration;
mod job_admin;
mod jobs;
mod keys;
mod monitoring;
mod push;
mod queue;
mod ratelimit;
mod row;
mod steps;
mod usage;
mod webhook;
mod writer;

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rampart_core::cron::Timezone;
use rampart_core::id::{BreakerName, CacheName, CronName, JobId, PolicyName, QueueName};
use rampart_core::time::UnixMillis;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags};

use crate::audit::{AuditInsert, AuditListParams, AuditRecord};
use crate::breaker::{BreakerApplied, BreakerApplyParams, BreakerRecord};
use crate::cron::*;
use crate::error::StoreError;
use crate::insight::*;
use crate::integration::{IntegrationRecord, IntegrationSummary, IntegrationUpsertParams};
use crate::job::*;
use crate::monitoring::{JobHealthCounts, QueueTotalsAddParams, QueueTotalsRecord, WRITE_PROBE_BYTES, WriteHealth};
use crate::node::{NodeList, NodeReportParams};
use crate::queue::{QueueCounts, QueueDeleted, QueueRecord};
use crate::ratelimit::RateLimitPolicyRecord;
use crate::{ApiKeyInsert, ApiKeyRecord};

use writer::Writer;

/// Schema migrations in order; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_ratelimit_policies.sql"),
    include_str!("migrations/0003_cron.sql"),
    include_str!("migrations/0004_breakers.sql"),
    include_str!("migrations/0005_push.sql"),
    include_str!("migrations/0006_monitoring.sql"),
    include_str!("migrations/0007_alerts.sql"),
    include_str!("migrations/0008_integrations.sql"),
    include_str!("migrations/0009_write_probes.sql"),
    include_str!("migrations/0010_ui.sql"),
    include_str!("migrations/0011_webhooks.sql"),
    include_str!("migrations/0012_usage.sql"),
    include_str!("migrations/0013_telemetry.sql"),
    include_str!("migrations/0014_jobs_tenant_stalls.sql"),
    include_str!("migrations/0015_alert_threads.sql"),
    include_str!("migrations/0016_nodes.sql"),
    include_str!("migrations/0017_dashboard_jobs.sql"),
    include_str!("migrations/0018_queue_rates.sql"),
    include_str!("migrations/0019_job_steps.sql"),
    include_str!("migrations/0020_flows.sql"),
];

/// Read connections kept open between reads.
const READERS_KEPT: usize = 8;
/// Prepared statements kept per connection: more than the store has, so
/// none is ever parsed twice.
const STATEMENT_CACHE: usize = 128;

/// How SQLite flushes commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous = FULL`: a commit survives power loss.
    Full,
    /// `synchronous = NORMAL` (WAL): a commit survives a crash of rampart;
    /// the last commits may be lost on power loss.
    #[default]
    Normal,
}

/// Where and how to open the SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// The data directory; created if missing. The database is `rampart.db` in it.
    pub data_dir: PathBuf,
    /// Commit flushing.
    pub durability: Durability,
}

/// The SQLite store. Cloning shares it.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Writer,
    writes: Arc<WriteHealth>,
    _checkpointer: checkpointer::Checkpointer,
    readers: Mutex<Vec<Connection>>,
    db_path: PathBuf,
    // Held for the store's lifetime: the OS lock on the data directory.
    _lock: File,
}

impl SqliteStore {
    /// Opens the store, creating the directory and database and applying
    /// migrations as needed.
    pub async fn open(config: SqliteConfig) -> Result<SqliteStore, StoreError> {
        tokio::task::spawn_blocking(move || Self::open_blocking(config))
            .await
            .map_err(|e| StoreError::Internal(e.to_string()))?
    }

    fn open_blocking(config: SqliteConfig) -> Result<SqliteStore, StoreError> {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Unavailable(format!("cannot create the data directory {}: {e}", dir.display())))?;
        let lock_path = dir.join("rampart.lock");
        let lock = File::create(&lock_path)
            .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", lock_path.display())))?;
        lock.try_lock().map_err(|_| {
            StoreError::Unavailable(format!(
                "another rampart server is using the data directory {}; stop it or choose another --data-dir",
                dir.display()
            ))
        })?;
        let db_path = dir.join("rampart.db");
        let conn = Connection::open(&db_path)?;
        tune(&conn)?;
        let sync = match config.durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -16000; PRAGMA foreign_keys = OFF;
             PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;"
        ))?;
        migrate(&conn)?;
        let checkpointer = checkpointer::Checkpointer::spawn(&db_path)?;
        let writer = Writer::spawn(conn)
            .map_err(|e| StoreError::Internal(format!("cannot start the SQLite writer thread: {e}")))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer,
                writes: Arc::default(),
                _checkpointer: checkpointer,
                readers: Mutex::new(Vec::new()),
                db_path,
                _lock: lock,
            }),
        })
    }

    fn write<T, F>(&self, write: F) -> impl Future<Output = Result<T, StoreError>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let written = self.inner.writer.write(write);
        let health = self.inner.writes.clone();
        async move {
            let outcome = written.await;
            health.observe(&outcome);
            outcome
        }
    }

    /// Whether writes go through; fed by every write.
    pub(crate) fn write_health(&self) -> &WriteHealth {
        &self.inner.writes
    }

    pub(crate) async fn write_probe(&self, now: UnixMillis) -> Result<(), StoreError> {
        self.write(move |c| {
            c.prepare_cached("INSERT INTO write_probes (node, at, filler) VALUES ('local', ?1, randomblob(?2))")?
                .execute(rusqlite::params![now.0, WRITE_PROBE_BYTES])?;
            c.prepare_cached("DELETE FROM write_probes")?.execute([])?;
            Ok(())
        })
        .await
    }

    /// Limits how large the database may grow, in pages (`PRAGMA
    /// max_page_count` on the writer's connection; never below the current
    /// size), and answers the limit now in force. Past it every write that
    /// needs a new page fails as on a full disk
    /// ([`StoreError::NotWritable`]): tests use it to see rampart run out
    /// of space for real. The limit lasts until the store is closed.
    pub async fn max_page_count_set(&self, pages: u64) -> Result<u64, StoreError> {
        self.write(move |c| Ok(c.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| r.get(0))?)).await
    }

    async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().map_err(|_| StoreError::Internal("reader pool poisoned".into()))?.pop();
            let conn = match pooled {
                Some(c) => c,
                None => open_reader(&inner.db_path)?,
            };
            let out = read(&conn);
            if let Ok(mut pool) = inner.readers.lock()
                && pool.len() < READERS_KEPT
            {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }

    pub(crate) async fn schema_version(&self) -> Result<crate::SchemaVersion, StoreError> {
        let applied: i64 = self.read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?)).await?;
        let known = MIGRATIONS.len() as u32;
        Ok(crate::SchemaVersion { applied: u32::try_from(applied).unwrap_or(0), known })
    }

    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        // Writes run in the order they were queued: this one commits last.
        self.write(|_| Ok(())).await
    }

    pub(crate) fn job_insert_many(
        &self,
        p: JobInsertParams,
    ) -> impl Future<Output = Result<Vec<JobInserted>, StoreError>> + Send + 'static {
        self.write(move |c| jobs::insert_many(c, &p))
    }

    pub(crate) async fn job_lease(&self, p: JobLeaseParams) -> Result<crate::JobLeased, StoreError> {
        self.write(move |c| jobs::lease(c, &p)).await
    }

    pub(crate) async fn queue_rate_status(
        &self,
        p: crate::QueueRateParams,
    ) -> Result<crate::QueueRateStatus, StoreError> {
        self.read(move |c| jobs::rate_status(c, &p)).await
    }

    pub(crate) async fn job_heartbeat(&self, p: JobHeartbeatParams) -> Result<UnixMillis, StoreError> {
        self.write(move |c| jobs::heartbeat(c, &p)).await
    }

    pub(crate) async fn job_ack_many(&self, p: JobAckParams) -> Result<Vec<Result<JobAcked, StoreError>>, StoreError> {
        self.write(move |c| jobs::ack_many(c, &p)).await
    }

    pub(crate) async fn job_release_many(
        &self,
        p: JobReleaseParams,
    ) -> Result<Vec<Result<JobReleased, StoreError>>, StoreError> {
        self.write(move |c| jobs::release_many(c, &p)).await
    }

    pub(crate) async fn job_step_record(
        &self,
        p: crate::step::JobStepParams,
    ) -> Result<crate::step::JobStepRecorded, StoreError> {
        self.write(move |c| steps::record(c, &p)).await
    }

    pub(crate) async fn event_send(
        &self,
        p: crate::step::EventSendParams,
    ) -> Result<crate::step::EventSent, StoreError> {
        self.write(move |c| steps::send_event(c, &p)).await
    }

    pub(crate) async fn job_get(&self, id: JobId) -> Result<Option<JobRecord>, StoreError> {
        self.read(move |c| jobs::get(c, id)).await
    }

    pub(crate) async fn job_find_live_by_key(
        &self,
        queue: QueueName,
        key: String,
    ) -> Result<Option<JobId>, StoreError> {
        self.read(move |c| jobs::find_live_by_key(c, &queue, &key)).await
    }

    pub(crate) async fn job_list(&self, p: JobListParams) -> Result<Vec<JobRecord>, StoreError> {
        self.read(move |c| jobs::list(c, &p)).await
    }

    pub(crate) async fn job_retry(
        &self,
        id: JobId,
        payload: Option<String>,
        now: UnixMillis,
    ) -> Result<JobRetried, StoreError> {
        self.write(move |c| jobs::retry(c, id, payload.as_deref(), now)).await
    }

    pub(crate) async fn job_search(&self, p: JobSearchParams) -> Result<Vec<JobRecord>, StoreError> {
        self.read(move |c| job_admin::search(c, &p)).await
    }

    pub(crate) async fn job_search_count(&self, p: JobSearchParams, cap: u64) -> Result<u64, StoreError> {
        self.read(move |c| job_admin::count(c, &p, cap)).await
    }

    pub(crate) async fn job_lease_token(&self, id: JobId) -> Result<Option<String>, StoreError> {
        self.read(move |c| job_admin::lease_token(c, id)).await
    }

    pub(crate) async fn job_delete_finished(&self, queue: QueueName, ids: Vec<JobId>) -> Result<u64, StoreError> {
        self.write(move |c| job_admin::delete_finished(c, &queue, &ids)).await
    }

    pub(crate) async fn job_cancel(&self, id: JobId, now: UnixMillis) -> Result<(), StoreError> {
        self.write(move |c| jobs::cancel(c, id, now)).await
    }

    pub(crate) async fn job_insert_flow(
        &self,
        p: crate::JobFlowInsertParams,
    ) -> Result<Vec<crate::FlowInserted>, StoreError> {
        self.write(move |c| flow::insert(c, &p)).await
    }

    pub(crate) async fn job_children(&self, parent: JobId) -> Result<Vec<crate::ChildOutcome>, StoreError> {
        self.read(move |c| flow::children(c, parent)).await
    }

    pub(crate) async fn job_retry_dead(&self, p: JobRetryDeadParams) -> Result<JobRetryDeadPage, StoreError> {
        self.write(move |c| jobs::retry_dead(c, &p)).await
    }

    pub(crate) async fn job_purge_dead(&self, queue: QueueName, limit: u32) -> Result<u64, StoreError> {
        self.write(move |c| jobs::purge_dead(c, &queue, limit)).await
    }

    pub(crate) async fn job_dead_tenants(&self, per_queue: u32) -> Result<Vec<DeadTenant>, StoreError> {
        self.read(move |c| jobs::dead_tenants(c, per_queue)).await
    }

    pub(crate) async fn job_reap(&self, p: JobReapParams) -> Result<Vec<JobReaped>, StoreError> {
        self.write(move |c| jobs::reap(c, &p)).await
    }

    pub(crate) async fn job_promote_due(
        &self,
        now: UnixMillis,
        limit: u32,
    ) -> Result<Vec<(QueueName, u64)>, StoreError> {
        self.write(move |c| jobs::promote_due(c, now, limit)).await
    }

    pub(crate) async fn job_next_due(&self) -> Result<Option<UnixMillis>, StoreError> {
        self.read(|c| {
            let t: Option<i64> = c.query_row(
                "SELECT MIN(due) FROM (SELECT MIN(run_at) AS due FROM jobs WHERE state = 'scheduled'
                                           UNION ALL SELECT MIN(timeout_at) FROM job_waits)",
                [],
                |r| r.get(0),
            )?;
            Ok(t.map(UnixMillis))
        })
        .await
    }

    pub(crate) async fn queue_counts(&self) -> Result<Vec<QueueCounts>, StoreError> {
        self.read(jobs::queue_counts).await
    }

    pub(crate) async fn queue_list(&self) -> Result<Vec<QueueRecord>, StoreError> {
        self.read(jobs::queue_list).await
    }

    pub(crate) async fn queue_ensure(&self, names: Vec<QueueName>, now: UnixMillis) -> Result<(), StoreError> {
        self.write(move |c| {
            for n in &names {
                jobs::ensure_queue(c, n, now)?;
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn queue_delete(&self, name: QueueName) -> Result<QueueDeleted, StoreError> {
        self.write(move |c| queue::delete(c, &name)).await
    }

    pub(crate) async fn queue_set_paused(
        &self,
        name: QueueName,
        paused: bool,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO queues (name, paused, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET paused = excluded.paused",
            )?
            .execute(rusqlite::params![name.as_str(), paused, now.0])?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn api_key_insert(&self, key: ApiKeyInsert) -> Result<ApiKeyRecord, StoreError> {
        self.write(move |c| keys::insert(c, &key)).await
    }

    pub(crate) async fn api_key_find(&self, hash: String) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.read(move |c| keys::find(c, &hash)).await
    }

    pub(crate) async fn api_key_list(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.read(keys::list).await
    }

    pub(crate) async fn api_key_revoke(&self, id_or_name: String, now: UnixMillis) -> Result<bool, StoreError> {
        self.write(move |c| keys::revoke(c, &id_or_name, now)).await
    }

    pub(crate) async fn ratelimit_policy_put(
        &self,
        name: PolicyName,
        spec: String,
        now: UnixMillis,
    ) -> Result<RateLimitPolicyRecord, StoreError> {
        self.write(move |c| ratelimit::put(c, &name, &spec, now)).await
    }

    pub(crate) async fn ratelimit_policy_delete(&self, name: PolicyName) -> Result<bool, StoreError> {
        self.write(move |c| ratelimit::delete(c, &name)).await
    }

    pub(crate) async fn ratelimit_policy_list(&self) -> Result<Vec<RateLimitPolicyRecord>, StoreError> {
        self.read(ratelimit::list).await
    }

    pub(crate) async fn ratelimit_policy_revision(&self) -> Result<u64, StoreError> {
        self.read(ratelimit::revision).await
    }

    pub(crate) async fn integration_upsert(&self, p: IntegrationUpsertParams) -> Result<IntegrationRecord, StoreError> {
        self.write(move |c| integration::upsert(c, &p)).await
    }

    pub(crate) async fn audit_insert(&self, a: AuditInsert) -> Result<AuditRecord, StoreError> {
        self.write(move |c| audit::insert(c, &a)).await
    }

    pub(crate) async fn audit_list(&self, p: AuditListParams) -> Result<Vec<AuditRecord>, StoreError> {
        self.read(move |c| audit::list(c, p)).await
    }

    pub(crate) async fn cache_report(&self, p: CacheReportParams) -> Result<(), StoreError> {
        self.write(move |c| insight::report(c, &p)).await
    }

    pub(crate) async fn cache_list(&self) -> Result<Vec<CacheSnapshotRecord>, StoreError> {
        self.read(insight::list).await
    }

    pub(crate) async fn cache_get(&self, name: &CacheName) -> Result<Option<CacheSnapshotRecord>, StoreError> {
        let name = name.clone();
        self.read(move |c| insight::one(c, &name)).await
    }

    pub(crate) async fn cache_intervals(
        &self,
        name: &CacheName,
        since: UnixMillis,
    ) -> Result<Vec<CacheIntervalRecord>, StoreError> {
        let name = name.clone();
        self.read(move |c| insight::intervals(c, &name, since)).await
    }

    pub(crate) async fn cache_totals(&self, since: UnixMillis) -> Result<Vec<(CacheName, CacheTally)>, StoreError> {
        self.read(move |c| insight::totals(c, since)).await
    }

    pub(crate) async fn cache_evictions(
        &self,
        name: &CacheName,
        limit: u32,
    ) -> Result<Vec<CacheEvictionRecord>, StoreError> {
        let name = name.clone();
        self.read(move |c| insight::evictions(c, &name, limit)).await
    }

    pub(crate) async fn cache_prune(&self, before: UnixMillis, limit: u32) -> Result<InsightPruned, StoreError> {
        self.write(move |c| insight::cache_prune(c, before, limit)).await
    }

    pub(crate) async fn error_insert(&self, p: ErrorInsertParams) -> Result<Vec<ErrorEventRecord>, StoreError> {
        self.write(move |c| insight::error_insert(c, &p)).await
    }

    pub(crate) async fn error_list(&self, p: ErrorListParams) -> Result<Vec<ErrorEventRecord>, StoreError> {
        self.read(move |c| insight::error_list(c, &p)).await
    }

    pub(crate) async fn error_counts(&self, p: ErrorCountsParams) -> Result<Vec<ErrorCountRecord>, StoreError> {
        self.read(move |c| insight::error_counts(c, &p)).await
    }

    pub(crate) async fn error_prune(&self, before: UnixMillis, limit: u32) -> Result<InsightPruned, StoreError> {
        self.write(move |c| insight::error_prune(c, before, limit)).await
    }

    pub(crate) async fn integration_summary(&self) -> Result<Vec<IntegrationSummary>, StoreError> {
        self.read(integration::summary).await
    }

    pub(crate) async fn integration_recent(&self, per_platform: u32) -> Result<Vec<IntegrationRecord>, StoreError> {
        self.read(move |c| integration::recent(c, per_platform)).await
    }

    pub(crate) async fn integration_expiring(
        &self,
        before: UnixMillis,
        limit: u32,
    ) -> Result<Vec<IntegrationRecord>, StoreError> {
        self.read(move |c| integration::expiring(c, before, limit)).await
    }

    pub(crate) async fn push_secret_ensure(
        &self,
        queue: QueueName,
        candidate: String,
        now: UnixMillis,
    ) -> Result<String, StoreError> {
        self.write(move |c| push::secret_ensure(c, &queue, &candidate, now)).await
    }

    pub(crate) async fn breaker_apply(&self, p: BreakerApplyParams) -> Result<BreakerApplied, StoreError> {
        // A step that changes nothing is answered from a read; the writer
        // runs it again on the latest row otherwise.
        let name = p.name.clone();
        if let Some(stored) = self.read(move |c| breaker::load(c, &name)).await? {
            let mut machine = stored.clone();
            let (admission, transition) = p.step(&mut machine);
            if machine == stored {
                return Ok(BreakerApplied { machine, admission, transition });
            }
        }
        self.write(move |c| breaker::apply(c, &p)).await
    }

    pub(crate) async fn breaker_get(
        &self,
        name: BreakerName,
        transitions: u32,
    ) -> Result<Option<BreakerRecord>, StoreError> {
        self.read(move |c| breaker::get(c, &name, transitions)).await
    }

    pub(crate) async fn breaker_list(&self) -> Result<Vec<BreakerRecord>, StoreError> {
        self.read(breaker::list).await
    }

    pub(crate) async fn cron_put(&self, p: CronPutParams) -> Result<CronScheduleRecord, StoreError> {
        self.write(move |c| cron::put(c, &p.schedule, p.now)).await
    }

    pub(crate) async fn cron_sync(&self, p: CronSyncParams) -> Result<(), StoreError> {
        self.write(move |c| cron::sync(c, &p)).await
    }

    pub(crate) async fn cron_get(&self, name: CronName) -> Result<Option<CronScheduleRecord>, StoreError> {
        self.read(move |c| cron::get(c, &name)).await
    }

    pub(crate) async fn cron_list(&self) -> Result<Vec<CronScheduleRecord>, StoreError> {
        self.read(cron::list).await
    }

    pub(crate) async fn cron_delete(&self, name: CronName) -> Result<bool, StoreError> {
        self.write(move |c| cron::delete(c, &name)).await
    }

    pub(crate) async fn cron_set_paused(
        &self,
        name: CronName,
        paused: bool,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        self.write(move |c| cron::set_paused(c, &name, paused, now)).await
    }

    pub(crate) async fn cron_fire(&self, p: CronFireParams) -> Result<Option<CronFired>, StoreError> {
        self.write(move |c| cron::fire(c, &p)).await
    }

    pub(crate) async fn cron_run_list(&self, p: CronRunListParams) -> Result<Vec<CronRunRecord>, StoreError> {
        self.read(move |c| cron::run_list(c, &p)).await
    }

    pub(crate) async fn cron_run_last(&self) -> Result<Vec<CronRunRecord>, StoreError> {
        self.read(cron::run_last).await
    }

    pub(crate) async fn cron_run_settle(&self) -> Result<u64, StoreError> {
        self.write(cron::run_settle).await
    }

    pub(crate) async fn cron_run_finish(&self, p: CronRunFinishParams) -> Result<bool, StoreError> {
        self.write(move |c| cron::run_finish(c, &p)).await
    }

    pub(crate) async fn cron_run_prune(&self, p: CronRunPruneParams) -> Result<u64, StoreError> {
        self.write(move |c| cron::run_prune(c, &p)).await
    }

    pub(crate) async fn job_prune(&self, p: JobPruneParams) -> Result<u64, StoreError> {
        self.write(move |c| cron::job_prune(c, &p)).await
    }

    pub(crate) async fn queue_totals_add(&self, p: QueueTotalsAddParams) -> Result<(), StoreError> {
        self.write(move |c| monitoring::totals_add(c, &p)).await
    }

    pub(crate) async fn queue_totals_list(&self) -> Result<Vec<QueueTotalsRecord>, StoreError> {
        self.read(monitoring::totals_list).await
    }

    pub(crate) async fn node_report(&self, p: NodeReportParams) -> Result<(), StoreError> {
        self.write(move |c| monitoring::node_report(c, &p)).await
    }

    pub(crate) async fn node_list(&self, now: UnixMillis) -> Result<NodeList, StoreError> {
        self.read(move |c| monitoring::node_list(c, now)).await
    }

    pub(crate) async fn job_health_counts(&self, now: UnixMillis) -> Result<JobHealthCounts, StoreError> {
        self.read(move |c| monitoring::job_health_counts(c, now)).await
    }
}

/// Settings every connection gets.
fn tune(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Plans must not depend on bound values: otherwise SQLite re-prepares a
    // statement at every new binding (it did so for every lease, through
    // `LIMIT ?`), which cost more than running it.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // SQLite knows no time zones: a usage summary by day asks this one for
    // the calendar day of a time in a zone (`rampart_local_day(at, 'Europe/Berlin')`).
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("rampart_local_day", 2, flags, |ctx| {
        let at: i64 = ctx.get(0)?;
        let zone: String = ctx.get(1)?;
        let tz: Timezone = zone.parse().map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))?;
        Ok(tz.local_day(UnixMillis(at)))
    })?;
    Ok(())
}

fn open_reader(path: &std::path::Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    tune(&conn)?;
    conn.execute_batch("PRAGMA cache_size = -4000;")?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Unavailable(format!(
            "the database has schema version {applied} but this rampart knows only {}; run a newer rampart",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = i + 1;
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {sql}\nPRAGMA user_version = {version}; COMMIT;")).map_err(
            |e| {
                let _ = conn.execute_batch("ROLLBACK");
                StoreError::Internal(format!("migration {version} failed: {e}"))
            },
        )?;
        tracing::info!(version, "applied SQLite schema migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_not_reprepared_when_their_bindings_change() {
        let conn = Connection::open_in_memory().unwrap();
        tune(&conn).unwrap();
        migrate(&conn).unwrap();
        let mut stmt = conn
            .prepare(
                "UPDATE jobs SET state = 'active' WHERE id IN
                     (SELECT id FROM jobs WHERE queue = ?1 AND state = 'available' ORDER BY priority DESC LIMIT ?2)",
            )
            .unwrap();
        for (queue, limit) in [("a", 1), ("b", 10), ("a", 100)] {
            stmt.execute(rusqlite::params![queue, limit]).unwrap();
        }
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }
}
