//! The PostgreSQL backend, for several `rampart serve` nodes on one database.
//!
//! A pool of connections (deadpool) with prepared statements cached per
//! connection; every call fails fast with [`StoreError::Unavailable`] while the
//! database is away (connect and statement timeouts, plus a client-side bound
//! for a cut network) and uses fresh connections once it is back. Rows are
//! claimed with `FOR UPDATE SKIP LOCKED`, so every node's workers, reaper and
//! promoter can run at once. Commits that make jobs available `NOTIFY` the
//! other nodes; [`listener`] turns those into [`StoreSignal`]s.

mod alert;
mod audit;
mod breaker;
mod cron;
mod error;
mod flow;
mod insight;
mod integration;
mod job_admin;
mod job_rates;
mod job_reads;
mod jobs;
mod keys;
mod listener;
mod migrate;
mod monitoring;
mod push;
mod queue;
mod ratelimit;
mod row;
mod steps;
pub mod testing;
mod usage;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rampart_core::id::{BreakerName, CacheName, CronName, JobId, PolicyName, QueueName};
use rampart_core::time::UnixMillis;
use tokio::sync::broadcast;
use tokio_postgres::NoTls;

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
use crate::signal::StoreSignal;
use crate::{ApiKeyInsert, ApiKeyRecord};

pub use migrate::{MigrateReport, migrate};

type Client = deadpool_postgres::Client;

/// How often a long-polling lease looks again on its own, in case a
/// notification was lost: a safety net, not the way jobs are found.
const FALLBACK_POLL: Duration = Duration::from_secs(5);

/// Where and how to reach PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// A `postgres://` URL (or key=value connection string).
    pub url: String,
    /// Most connections this node opens.
    pub pool_size: usize,
    /// Longest one statement may run on the server.
    pub statement_timeout: Duration,
    /// Longest wait to connect, or for a free connection of the pool.
    pub connect_timeout: Duration,
}

impl PgConfig {
    /// A configuration with the default pool size (16) and timeouts (5 s each).
    pub fn new(url: impl Into<String>) -> PgConfig {
        PgConfig {
            url: url.into(),
            pool_size: 16,
            statement_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// The driver's configuration: the URL plus our timeouts and name.
    fn driver(&self) -> Result<tokio_postgres::Config, StoreError> {
        let mut pg = parse_url(&self.url).map_err(StoreError::Unavailable)?;
        let mut options = pg.get_options().unwrap_or_default().to_string();
        options.push_str(&format!(" -c statement_timeout={}", self.statement_timeout.as_millis()));
        pg.options(options.trim());
        if pg.get_application_name().is_none() {
            pg.application_name("rampart");
        }
        pg.connect_timeout(self.connect_timeout);
        // Finds a peer that vanished without closing the connection.
        pg.keepalives(true).keepalives_idle(Duration::from_secs(10));
        Ok(pg)
    }

    /// Bound on a whole call: waiting for a connection, then its statements.
    fn call_timeout(&self) -> Duration {
        self.connect_timeout + self.statement_timeout + Duration::from_secs(1)
    }
}

/// Checks a database URL without connecting; the message says what is wrong.
pub fn check_url(url: &str) -> Result<(), String> {
    parse_url(url).map(|_| ())
}

fn parse_url(url: &str) -> Result<tokio_postgres::Config, String> {
    if url.trim().is_empty() {
        return Err("the database URL is empty; give one like postgres://user@host/db".into());
    }
    url.parse::<tokio_postgres::Config>()
        .map_err(|e| format!("the database URL is not valid ({e}); give one like postgres://user@host/db"))
}

/// The PostgreSQL store. Cloning shares it.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// This node's id in notifications, so it ignores its own.
    node: String,
    signals: broadcast::Sender<StoreSignal>,
    call_timeout: Duration,
    writes: WriteHealth,
    _listener: listener::Listener,
}

impl PgStore {
    /// Connects, applies pending migrations (under an advisory lock, so nodes
    /// starting together are safe) and starts listening for other nodes.
    pub async fn open(config: PgConfig) -> Result<PgStore, StoreError> {
        let driver = config.driver()?;
        migrate::apply(&driver).await?;
        let manager =
            Manager::from_config(driver.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(config.connect_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.connect_timeout))
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot build the connection pool: {e}")))?;
        let node = format!("{:016x}", rand::random::<u64>());
        let (signals, _) = broadcast::channel(1024);
        let (listener, listening) = listener::Listener::spawn(driver, node.clone(), signals.clone());
        // Once open, no other node's commit goes unheard; if listening takes
        // too long the store still opens and the listener keeps trying.
        if tokio::time::timeout(config.connect_timeout, listening).await.is_err() {
            tracing::warn!("not yet listening for other nodes' jobs; long-polls fall back to polling meanwhile");
        }
        Ok(PgStore {
            inner: Arc::new(Inner {
                pool,
                node,
                signals,
                call_timeout: config.call_timeout(),
                writes: WriteHealth::default(),
                _listener: listener,
            }),
        })
    }

    /// Signals from other nodes.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<StoreSignal> {
        self.inner.signals.subscribe()
    }

    pub(crate) fn fallback_poll(&self) -> Duration {
        FALLBACK_POLL
    }

    /// Runs one call with a connection from the pool, bounded in time so a
    /// silent network cannot hang it.
    async fn call<T>(&self, op: impl AsyncFnOnce(&mut Client) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let work = async {
            let mut client = self.inner.pool.get().await.map_err(error::from_pool)?;
            op(&mut client).await
        };
        let out = match tokio::time::timeout(self.inner.call_timeout, work).await {
            Ok(out) => out,
            Err(_) => Err(StoreError::Unavailable(format!(
                "PostgreSQL did not answer within {:?}; is it up and reachable?",
                self.inner.call_timeout
            ))),
        };
        self.inner.writes.observe(&out);
        out
    }

    /// Whether writes go through; fed by every call.
    pub(crate) fn write_health(&self) -> &WriteHealth {
        &self.inner.writes
    }

    pub(crate) async fn write_probe(&self, now: UnixMillis) -> Result<(), StoreError> {
        let node = &self.inner.node;
        let mut filler = vec![0u8; WRITE_PROBE_BYTES];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut filler);
        self.call(async |c| {
            let tx = c.transaction().await?;
            tx.execute("INSERT INTO write_probes (node, at, filler) VALUES ($1, $2, $3)", &[node, &now.0, &filler])
                .await?;
            tx.execute("DELETE FROM write_probes WHERE node = $1", &[node]).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        self.call(async |c| {
            c.simple_query("SELECT 1").await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn schema_version(&self) -> Result<crate::SchemaVersion, StoreError> {
        let applied: i32 = self
            .call(async |c| {
                Ok(c.query_one("SELECT COALESCE(MAX(version), 0) FROM rampart_migrations", &[]).await?.get(0))
            })
            .await?;
        Ok(crate::SchemaVersion { applied: u32::try_from(applied).unwrap_or(0), known: migrate::known() })
    }

    pub(crate) async fn job_insert_many(&self, p: JobInsertParams) -> Result<Vec<JobInserted>, StoreError> {
        let node = &self.inner.node;
        self.call(async |c| jobs::insert_many(c, node, &p).await).await
    }

    pub(crate) async fn job_lease(&self, p: JobLeaseParams) -> Result<crate::JobLeased, StoreError> {
        self.call(async |c| jobs::lease(c, &p).await).await
    }

    pub(crate) async fn queue_rate_status(
        &self,
        p: crate::QueueRateParams,
    ) -> Result<crate::QueueRateStatus, StoreError> {
        self.call(async |c| job_rates::rate_status(c, &p).await).await
    }

    pub(crate) async fn job_heartbeat(&self, p: JobHeartbeatParams) -> Result<UnixMillis, StoreError> {
        self.call(async |c| jobs::heartbeat(c, &p).await).await
    }

    pub(crate) async fn job_ack_many(&self, p: JobAckParams) -> Result<Vec<Result<JobAcked, StoreError>>, StoreError> {
        self.call(async |c| jobs::ack_many(c, &p).await).await
    }

    pub(crate) async fn job_step_record(
        &self,
        p: crate::step::JobStepParams,
    ) -> Result<crate::step::JobStepRecorded, StoreError> {
        self.call(async |c| steps::record(c, &p).await).await
    }

    pub(crate) async fn event_send(
        &self,
        p: crate::step::EventSendParams,
    ) -> Result<crate::step::EventSent, StoreError> {
        let node = &self.inner.node;
        self.call(async |c| steps::send_event(c, node, &p).await).await
    }

    pub(crate) async fn job_get(&self, id: JobId) -> Result<Option<JobRecord>, StoreError> {
        self.call(async |c| job_reads::get(c, id).await).await
    }

    pub(crate) async fn job_find_live_by_key(
        &self,
        queue: QueueName,
        key: String,
    ) -> Result<Option<JobId>, StoreError> {
        self.call(async |c| job_reads::find_live_by_key(c, &queue, &key).await).await
    }

    pub(crate) async fn job_list(&self, p: JobListParams) -> Result<Vec<JobRecord>, StoreError> {
        self.call(async |c| job_reads::list(c, &p).await).await
    }

    pub(crate) async fn job_release_many(
        &self,
        p: JobReleaseParams,
    ) -> Result<Vec<Result<JobReleased, StoreError>>, StoreError> {
        let node = &self.inner.node;
        self.call(async |c| jobs::release_many(c, node, &p).await).await
    }

    pub(crate) async fn job_retry(
        &self,
        id: JobId,
        payload: Option<String>,
        now: UnixMillis,
    ) -> Result<JobRetried, StoreError> {
        let node = &self.inner.node;
        self.call(async |c| jobs::retry(c, node, id, payload.as_deref(), now).await).await
    }

    pub(crate) async fn job_search(&self, p: JobSearchParams) -> Result<Vec<JobRecord>, StoreError> {
        self.call(async |c| job_admin::search(c, &p).await).await
    }

    pub(crate) async fn job_search_count(&self, p: JobSearchParams, cap: u64) -> Result<u64, StoreError> {
        self.call(async |c| job_admin::count(c, &p, cap).await).await
    }

    pub(crate) async fn job_lease_token(&self, id: JobId) -> Result<Option<String>, StoreError> {
        self.call(async |c| job_admin::lease_token(c, id).await).await
    }

    pub(crate) async fn job_delete_finished(&self, queue: QueueName, ids: Vec<JobId>) -> Result<u64, StoreError> {
        self.call(async |c| job_admin::delete_finished(c, &queue, &ids).await).await
    }

    pub(crate) async fn job_cancel(&self, id: JobId, now: UnixMillis) -> Result<(), StoreError> {
        self.call(async |c| jobs::cancel(c, id, now).await).await
    }

    pub(crate) async fn job_insert_flow(
        &self,
        p: crate::JobFlowInsertParams,
    ) -> Result<Vec<crate::FlowInserted>, StoreError> {
        let node = &self.inner.node;
        self.call(async |c| {
            let tx = c.transaction().await?;
            let (inserted, ready) = flow::insert(&tx, &p.jobs, p.now).await?;
            let ready: Vec<&str> = ready.iter().map(String::as_str).collect();
            jobs::notify_ready(&tx, node, &ready).await?;
            tx.commit().await?;
            Ok(inserted)
        })
        .await
    }

    pub(crate) async fn job_children(&self, parent: JobId) -> Result<Vec<crate::ChildOutcome>, StoreError> {
        self.call(async |c| flow::children(&*c, parent).await).await
    }

    pub(crate) async fn job_retry_dead(&self, p: JobRetryDeadParams) -> Result<JobRetryDeadPage, StoreError> {
        let node = &self.inner.node;
        self.call(async |c| jobs::retry_dead(c, node, &p).await).await
    }

    pub(crate) async fn job_purge_dead(&self, queue: QueueName, limit: u32) -> Result<u64, StoreError> {
        self.call(async |c| job_admin::purge_dead(c, &queue, limit).await).await
    }

    pub(crate) async fn job_dead_tenants(&self, per_queue: u32) -> Result<Vec<DeadTenant>, StoreError> {
        self.call(async |c| job_reads::dead_tenants(c, per_queue).await).await
    }

    pub(crate) async fn job_reap(&self, p: JobReapParams) -> Result<Vec<JobReaped>, StoreError> {
        let node = &self.inner.node;
        self.call(async |c| jobs::reap(c, node, &p).await).await
    }

    pub(crate) async fn job_promote_due(
        &self,
        now: UnixMillis,
        limit: u32,
    ) -> Result<Vec<(QueueName, u64)>, StoreError> {
        let node = &self.inner.node;
        self.call(async |c| jobs::promote_due(c, node, now, limit).await).await
    }

    pub(crate) async fn job_next_due(&self) -> Result<Option<UnixMillis>, StoreError> {
        self.call(async |c| jobs::next_due(c).await).await
    }

    pub(crate) async fn queue_counts(&self) -> Result<Vec<QueueCounts>, StoreError> {
        self.call(async |c| queue::queue_counts(c).await).await
    }

    pub(crate) async fn queue_list(&self) -> Result<Vec<QueueRecord>, StoreError> {
        self.call(async |c| queue::queue_list(c).await).await
    }

    pub(crate) async fn queue_ensure(&self, names: Vec<QueueName>, now: UnixMillis) -> Result<(), StoreError> {
        self.call(async |c| queue::queue_ensure(c, &names, now).await).await
    }

    pub(crate) async fn queue_delete(&self, name: QueueName) -> Result<QueueDeleted, StoreError> {
        self.call(async |c| queue::queue_delete(c, &name).await).await
    }

    pub(crate) async fn queue_set_paused(
        &self,
        name: QueueName,
        paused: bool,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        let node = &self.inner.node;
        self.call(async |c| queue::queue_set_paused(c, node, &name, paused, now).await).await
    }

    pub(crate) async fn api_key_insert(&self, key: ApiKeyInsert) -> Result<ApiKeyRecord, StoreError> {
        self.call(async |c| keys::insert(c, &key).await).await
    }

    pub(crate) async fn api_key_find(&self, hash: String) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.call(async |c| keys::find(c, &hash).await).await
    }

    pub(crate) async fn api_key_list(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.call(async |c| keys::list(c).await).await
    }

    pub(crate) async fn api_key_revoke(&self, id_or_name: String, now: UnixMillis) -> Result<bool, StoreError> {
        self.call(async |c| keys::revoke(c, &id_or_name, now).await).await
    }

    pub(crate) async fn ratelimit_policy_put(
        &self,
        name: &PolicyName,
        spec: &str,
        now: UnixMillis,
    ) -> Result<RateLimitPolicyRecord, StoreError> {
        self.call(async |c| ratelimit::put(c, name, spec, now).await).await
    }

    pub(crate) async fn ratelimit_policy_delete(&self, name: &PolicyName) -> Result<bool, StoreError> {
        self.call(async |c| ratelimit::delete(c, name).await).await
    }

    pub(crate) async fn ratelimit_policy_list(&self) -> Result<Vec<RateLimitPolicyRecord>, StoreError> {
        self.call(async |c| ratelimit::list(c).await).await
    }

    pub(crate) async fn ratelimit_policy_revision(&self) -> Result<u64, StoreError> {
        self.call(async |c| ratelimit::revision(c).await).await
    }

    pub(crate) async fn integration_upsert(&self, p: IntegrationUpsertParams) -> Result<IntegrationRecord, StoreError> {
        self.call(async |c| integration::upsert(c, &p).await).await
    }

    pub(crate) async fn audit_insert(&self, a: AuditInsert) -> Result<AuditRecord, StoreError> {
        self.call(async |c| audit::insert(c, &a).await).await
    }

    pub(crate) async fn audit_list(&self, p: AuditListParams) -> Result<Vec<AuditRecord>, StoreError> {
        self.call(async |c| audit::list(c, p).await).await
    }

    pub(crate) async fn cache_report(&self, p: CacheReportParams) -> Result<(), StoreError> {
        self.call(async |c| insight::report(c, &p).await).await
    }

    pub(crate) async fn cache_list(&self) -> Result<Vec<CacheSnapshotRecord>, StoreError> {
        self.call(async |c| insight::list(c).await).await
    }

    pub(crate) async fn cache_get(&self, name: &CacheName) -> Result<Option<CacheSnapshotRecord>, StoreError> {
        self.call(async |c| insight::one(c, name).await).await
    }

    pub(crate) async fn cache_intervals(
        &self,
        name: &CacheName,
        since: UnixMillis,
    ) -> Result<Vec<CacheIntervalRecord>, StoreError> {
        self.call(async |c| insight::intervals(c, name, since).await).await
    }

    pub(crate) async fn cache_totals(&self, since: UnixMillis) -> Result<Vec<(CacheName, CacheTally)>, StoreError> {
        self.call(async |c| insight::totals(c, since).await).await
    }

    pub(crate) async fn cache_evictions(
        &self,
        name: &CacheName,
        limit: u32,
    ) -> Result<Vec<CacheEvictionRecord>, StoreError> {
        self.call(async |c| insight::evictions(c, name, limit).await).await
    }

    pub(crate) async fn cache_prune(&self, before: UnixMillis, limit: u32) -> Result<InsightPruned, StoreError> {
        self.call(async |c| insight::cache_prune(c, before, limit).await).await
    }

    pub(crate) async fn error_insert(&self, p: ErrorInsertParams) -> Result<Vec<ErrorEventRecord>, StoreError> {
        self.call(async |c| insight::error_insert(c, &p).await).await
    }

    pub(crate) async fn error_list(&self, p: ErrorListParams) -> Result<Vec<ErrorEventRecord>, StoreError> {
        self.call(async |c| insight::error_list(c, &p).await).await
    }

    pub(crate) async fn error_counts(&self, p: ErrorCountsParams) -> Result<Vec<ErrorCountRecord>, StoreError> {
        self.call(async |c| insight::error_counts(c, &p).await).await
    }

    pub(crate) async fn error_prune(&self, before: UnixMillis, limit: u32) -> Result<InsightPruned, StoreError> {
        self.call(async |c| insight::error_prune(c, before, limit).await).await
    }

    pub(crate) async fn integration_summary(&self) -> Result<Vec<IntegrationSummary>, StoreError> {
        self.call(async |c| integration::summary(c).await).await
    }

    pub(crate) async fn integration_recent(&self, per_platform: u32) -> Result<Vec<IntegrationRecord>, StoreError> {
        self.call(async |c| integration::recent(c, per_platform).await).await
    }

    pub(crate) async fn integration_expiring(
        &self,
        before: UnixMillis,
        limit: u32,
    ) -> Result<Vec<IntegrationRecord>, StoreError> {
        self.call(async |c| integration::expiring(c, before, limit).await).await
    }

    pub(crate) async fn push_secret_ensure(
        &self,
        queue: &QueueName,
        candidate: &str,
        now: UnixMillis,
    ) -> Result<String, StoreError> {
        self.call(async |c| push::secret_ensure(c, queue, candidate, now).await).await
    }

    pub(crate) async fn breaker_apply(&self, p: BreakerApplyParams) -> Result<BreakerApplied, StoreError> {
        self.call(async |c| breaker::apply(c, &p).await).await
    }

    pub(crate) async fn breaker_get(
        &self,
        name: BreakerName,
        transitions: u32,
    ) -> Result<Option<BreakerRecord>, StoreError> {
        self.call(async |c| breaker::get(c, &name, transitions).await).await
    }

    pub(crate) async fn breaker_list(&self) -> Result<Vec<BreakerRecord>, StoreError> {
        self.call(async |c| breaker::list(c).await).await
    }

    pub(crate) async fn cron_put(&self, p: CronPutParams) -> Result<CronScheduleRecord, StoreError> {
        self.call(async |c| cron::put(c, &p).await).await
    }

    pub(crate) async fn cron_sync(&self, p: CronSyncParams) -> Result<(), StoreError> {
        self.call(async |c| cron::sync(c, &p).await).await
    }

    pub(crate) async fn cron_get(&self, name: CronName) -> Result<Option<CronScheduleRecord>, StoreError> {
        self.call(async |c| cron::get(c, &name).await).await
    }

    pub(crate) async fn cron_list(&self) -> Result<Vec<CronScheduleRecord>, StoreError> {
        self.call(async |c| cron::list(c).await).await
    }

    pub(crate) async fn cron_delete(&self, name: CronName) -> Result<bool, StoreError> {
        self.call(async |c| cron::delete(c, &name).await).await
    }

    pub(crate) async fn cron_set_paused(
        &self,
        name: CronName,
        paused: bool,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        self.call(async |c| cron::set_paused(c, &name, paused, now).await).await
    }

    pub(crate) async fn cron_fire(&self, p: CronFireParams) -> Result<Option<CronFired>, StoreError> {
        let node = &self.inner.node;
        self.call(async |c| cron::fire(c, node, &p).await).await
    }

    pub(crate) async fn cron_run_list(&self, p: CronRunListParams) -> Result<Vec<CronRunRecord>, StoreError> {
        self.call(async |c| cron::run_list(c, &p).await).await
    }

    pub(crate) async fn cron_run_last(&self) -> Result<Vec<CronRunRecord>, StoreError> {
        self.call(async |c| cron::run_last(c).await).await
    }

    pub(crate) async fn cron_run_settle(&self) -> Result<u64, StoreError> {
        self.call(async |c| cron::run_settle(c).await).await
    }

    pub(crate) async fn cron_run_finish(&self, p: CronRunFinishParams) -> Result<bool, StoreError> {
        self.call(async |c| cron::run_finish(c, &p).await).await
    }

    pub(crate) async fn cron_run_prune(&self, p: CronRunPruneParams) -> Result<u64, StoreError> {
        self.call(async |c| cron::run_prune(c, &p).await).await
    }

    pub(crate) async fn job_prune(&self, p: JobPruneParams) -> Result<u64, StoreError> {
        self.call(async |c| cron::job_prune(c, &p).await).await
    }

    pub(crate) async fn queue_totals_add(&self, p: QueueTotalsAddParams) -> Result<(), StoreError> {
        self.call(async |c| monitoring::totals_add(c, &p).await).await
    }

    pub(crate) async fn queue_totals_list(&self) -> Result<Vec<QueueTotalsRecord>, StoreError> {
        self.call(async |c| monitoring::totals_list(c).await).await
    }

    pub(crate) async fn node_report(&self, p: NodeReportParams) -> Result<(), StoreError> {
        self.call(async |c| monitoring::node_report(c, &p).await).await
    }

    pub(crate) async fn node_list(&self, _now: UnixMillis) -> Result<NodeList, StoreError> {
        self.call(async |c| monitoring::node_list(c).await).await
    }

    pub(crate) async fn job_health_counts(&self, now: UnixMillis) -> Result<JobHealthCounts, StoreError> {
        self.call(async |c| monitoring::job_health_counts(c, now).await).await
    }
}
