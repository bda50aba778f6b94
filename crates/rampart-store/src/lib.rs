//! rampart-store: the only crate that speaks SQL.
//!
//! [`Store`] is the one storage interface the rest of rampart sees: a closed
//! enum over backends, so a call is a plain `match` and nothing above this
//! crate knows which database it has. Every method is exercised by the
//! conformance suite in `tests/it/conformance.rs`, which runs unchanged
//! against each backend.
//!
//! Layout:
//! - [`error`]: [`StoreError`], whose variants mean the same on every backend.
//! - [`job`]: parameters and records of job operations.
//! - [`queue`], [`api_key`]: the same for queues and API keys.
//! - [`rate`]: queue start rates, counted per window in the lease's own
//!   transaction.
//! - [`ratelimit`]: rate-limit policies defined through the API, kept as the
//!   server's JSON text, and the revision every node polls to reload them.
//! - [`breaker`]: shared circuit breakers: the state machine's row and the
//!   transitions, stepped atomically across nodes.
//! - [`cron`]: cron schedules, their runs (fired exactly once with their job,
//!   settled from it), and the bounded deletes of retention.
//! - [`integration`]: the third-party connections apps report, read back
//!   per platform and by token expiry.
//! - [`audit`]: the dashboard's audit log, appended to and read newest
//!   first in pages by id.
//! - [`sqlite`]: the embedded backend (WAL, one writer thread with group
//!   commit, a pool of read connections).
//! - [`postgres`]: the backend for several nodes on one database (a pool,
//!   `SKIP LOCKED` claims, `LISTEN/NOTIFY` between nodes).
//! - [`signal`]: what a shared store tells every node ([`StoreSignal`]).
//! - Push secrets: the signing secret of each push queue that its
//!   configuration leaves out, made once and shared by every node
//!   ([`Store::push_secret_ensure`]).
//! - [`alert`]: alerts, silences and the outbox of alert notifications.
//! - [`usage`]: AI usage rows (idempotent on the call id, in batches),
//!   budgets kept through the API, their windows, and reservations held
//!   all or none and settled by the usage row that names them.
//! - [`webhook`]: webhook intake: sources kept through the API, the event
//!   ids taken per source, the delivery log (following each event's job),
//!   idempotency keys of enqueues, and their retention.
//! - [`insight`]: what apps report about themselves: each cache's latest
//!   snapshot, counters per interval and last 1,000 evictions; error events
//!   and their counts per kind, fingerprint and interval; their retention.
//! - [`monitoring`]: the running totals of every queue, kept across
//!   restarts, the job figures readiness reports, and whether the database
//!   takes writes ([`Store::write_failure`], [`Store::write_probe`]).
//! - `nul`: the NUL rule of `rampart_core::nul`, applied by every method
//!   here before a backend sees its arguments, so both answer the same.
//! - `row`: one trait to read a row on either backend, so each record's
//!   mapping from its row is written once, beside the record.
//!
//! Method names read noun first, then verb (`job_insert_many`, `job_lease`);
//! every method that records a time takes `now` so tests control the clock.

/// Calls the same method on whichever backend a [`Store`] holds; every
/// module's `impl Store` delegates through it.
macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            $crate::Store::Sqlite($s) => $call.await,
            $crate::Store::Postgres($s) => $call.await,
        }
    };
}

pub mod alert;
pub mod api_key;
pub mod audit;
pub mod breaker;
pub mod cron;
pub mod error;
pub mod flow;
pub mod insight;
pub mod integration;
pub mod job;
pub mod monitoring;
pub mod node;
mod nul;
pub mod postgres;
pub mod queue;
pub mod rate;
pub mod ratelimit;
mod row;
pub mod signal;
pub mod sqlite;
pub mod step;
pub mod usage;
pub mod webhook;

pub use alert::*;
pub use api_key::{ApiKeyInsert, ApiKeyRecord};
pub use audit::{AuditInsert, AuditListParams, AuditRecord};
pub use breaker::{BreakerApplied, BreakerApplyParams, BreakerOp, BreakerRecord, BreakerTransitionRecord};
pub use cron::*;
pub use error::StoreError;
pub use flow::{ChildOutcome, FlowInserted, FlowJob, JobFlowInsertParams};
pub use insight::*;
pub use integration::{IntegrationCounts, IntegrationRecord, IntegrationSummary, IntegrationUpsertParams};
pub use job::*;
pub use monitoring::{JobHealthCounts, QueueTotalsAddParams, QueueTotalsDelta, QueueTotalsRecord, utc_day};
pub use node::{NodeList, NodeRecord, NodeReportParams};
pub use queue::{QueueCounts, QueueDeleted, QueueRecord};
pub use rate::{JobLeased, QueueRateParams, QueueRateStatus};
pub use ratelimit::RateLimitPolicyRecord;
pub use signal::StoreSignal;
pub use step::{EventSendParams, EventSent, JobStepParams, JobStepRecorded, StepRecord, StepWait};
pub use usage::*;
pub use webhook::*;

use std::pin::Pin;
use std::time::Duration;

use rampart_core::delivery::DeliveryId;
use rampart_core::id::{BreakerName, CronName, JobId, PolicyName, QueueName, SourceName};
use rampart_core::time::UnixMillis;
use tokio::sync::broadcast;

use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;

/// What [`Store::job_insert_many`] answers.
pub type InsertResult = Result<Vec<JobInserted>, StoreError>;

/// The store's schema version ([`Store::schema_version`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaVersion {
    /// The migrations the database has applied.
    pub applied: u32,
    /// The migrations this rampart knows.
    pub known: u32,
}

/// The storage interface: one variant per backend.
#[derive(Clone)]
pub enum Store {
    /// Embedded SQLite in a data directory.
    Sqlite(SqliteStore),
    /// PostgreSQL, shared by every node.
    Postgres(PgStore),
}

impl Store {
    /// Opens (creating and migrating if needed) an SQLite store.
    pub async fn open_sqlite(config: sqlite::SqliteConfig) -> Result<Store, StoreError> {
        Ok(Store::Sqlite(SqliteStore::open(config).await?))
    }

    /// Connects to PostgreSQL, applying pending migrations.
    pub async fn open_postgres(config: postgres::PgConfig) -> Result<Store, StoreError> {
        Ok(Store::Postgres(PgStore::open(config).await?))
    }

    /// A short name of the backend for logs and health output.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Signals from the other nodes sharing this store; `None` when no other
    /// node can share it (SQLite).
    pub fn subscribe(&self) -> Option<broadcast::Receiver<StoreSignal>> {
        match self {
            Store::Sqlite(_) => None,
            Store::Postgres(s) => Some(s.subscribe()),
        }
    }

    /// How often a waiting lease should look again by itself, as a safety net
    /// against lost signals; `None` when every change is seen in-process.
    pub fn fallback_poll(&self) -> Option<Duration> {
        match self {
            Store::Sqlite(_) => None,
            Store::Postgres(s) => Some(s.fallback_poll()),
        }
    }

    /// Runs a trivial query: succeeds when the store can serve.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping())
    }

    /// The schema version the database has and the one this rampart
    /// knows: equal once migrated; a database another node migrated further
    /// shows a larger `applied`.
    pub async fn schema_version(&self) -> Result<SchemaVersion, StoreError> {
        dispatch!(self, s => s.schema_version())
    }

    /// The latest write the database refused because it cannot write (a
    /// full disk or size limit, a read-only file or standby:
    /// [`StoreError::NotWritable`]), until a [`Store::write_probe`] succeeds;
    /// `None` while writes go through. Readiness reports it.
    pub fn write_failure(&self) -> Option<String> {
        match self {
            Store::Sqlite(s) => s.write_health().failure(),
            Store::Postgres(s) => s.write_health().failure(),
        }
    }

    /// Writes a probe row of a few pages and deletes it again, committed:
    /// succeeds only when the database can grow and write, and then clears
    /// [`Store::write_failure`]. Readiness calls it while a write failure
    /// is kept, so it recovers by itself once there is room.
    pub async fn write_probe(&self, now: UnixMillis) -> Result<(), StoreError> {
        let probed = dispatch!(self, s => s.write_probe(now));
        if probed.is_ok() {
            match self {
                Store::Sqlite(s) => s.write_health().clear(),
                Store::Postgres(s) => s.write_health().clear(),
            }
        }
        probed
    }

    /// Answers once every write issued before it is durable; a stopping
    /// server calls it last. (PostgreSQL writes are committed when they
    /// answer, so there it has nothing to wait for.)
    pub async fn flush(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.flush().await,
            Store::Postgres(_) => Ok(()),
        }
    }

    /// Inserts jobs all-or-nothing; a live job with the same queue and
    /// `unique_key` is returned instead of a new one (`duplicate: true`).
    ///
    /// On SQLite the insert is queued when this is called, before the future
    /// is awaited: a write issued afterwards (a lease woken early by the
    /// engine) commits after it and sees the new jobs. On PostgreSQL it runs
    /// when awaited.
    pub fn job_insert_many(&self, mut params: JobInsertParams) -> Pin<Box<dyn Future<Output = InsertResult> + Send>> {
        if let Err(e) = params.jobs.iter_mut().try_for_each(nul::new_job) {
            return Box::pin(std::future::ready(Err(e)));
        }
        match self {
            Store::Sqlite(s) => Box::pin(s.job_insert_many(params)),
            Store::Postgres(s) => {
                let s = s.clone();
                Box::pin(async move { s.job_insert_many(params).await })
            }
        }
    }

    /// Leases up to `max` available jobs of a queue, highest priority first,
    /// then oldest `run_at`; none when the queue is paused or at its
    /// concurrency. Under a start rate (see [`rate`]) only as many as its
    /// windows have room for, skipping the jobs of full groups; the answer
    /// then says when the earliest full window ends.
    pub async fn job_lease(&self, params: JobLeaseParams) -> Result<JobLeased, StoreError> {
        nul::key_opt("worker", params.worker.as_deref())?;
        let mut leased = dispatch!(self, s => s.job_lease(params))?;
        // A parent's children ended before it became available and change
        // no more: read after the lease, outside its transaction.
        for job in &mut leased.jobs {
            if job.children.is_some() {
                job.children = Some(self.job_children(job.id).await?);
            }
        }
        Ok(leased)
    }

    /// Inserts jobs with their children (see [`flow`]), all-or-nothing in
    /// one transaction: a parent is stored `waiting` (due at once with no
    /// children), its children with `parent_id`. A top-level job whose
    /// unique key a live job holds answers that job and inserts no children.
    pub async fn job_insert_flow(&self, mut params: JobFlowInsertParams) -> Result<Vec<FlowInserted>, StoreError> {
        fn clean(f: &mut FlowJob) -> Result<(), StoreError> {
            nul::new_job(&mut f.job)?;
            f.children.iter_mut().flatten().try_for_each(clean)
        }
        params.jobs.iter_mut().try_for_each(clean)?;
        dispatch!(self, s => s.job_insert_flow(params))
    }

    /// A parent's children with their outcomes, in id order (at most
    /// [`flow::MAX_CHILDREN_SHOWN`]).
    pub async fn job_children(&self, parent: JobId) -> Result<Vec<ChildOutcome>, StoreError> {
        dispatch!(self, s => s.job_children(parent))
    }

    /// A queue's start-rate windows that are open now: the leases they gave
    /// out, how many groups have one and how many are full.
    pub async fn queue_rate_status(&self, params: QueueRateParams) -> Result<QueueRateStatus, StoreError> {
        dispatch!(self, s => s.queue_rate_status(params))
    }

    /// Extends a lease, keeping the attempt's progress when one is given;
    /// [`StoreError::LeaseLost`] when the token no longer holds it.
    pub async fn job_heartbeat(&self, mut params: JobHeartbeatParams) -> Result<UnixMillis, StoreError> {
        nul::key("lease_token", &params.lease_token)?;
        nul::clean_opt(&mut params.progress);
        dispatch!(self, s => s.job_heartbeat(params))
    }

    /// Applies completions and failures; each ack succeeds or fails on its own.
    ///
    /// An ack repeating the one that ended its attempt (the same token and
    /// outcome: its answer was lost on the way) succeeds again with the
    /// job's state, marked [`JobAcked::already`], and changes nothing.
    pub async fn job_ack_many(&self, params: JobAckParams) -> Result<Vec<Result<JobAcked, StoreError>>, StoreError> {
        let JobAckParams { acks, planner, now } = params;
        each_checked(acks, nul::ack, async |acks| {
            let params = JobAckParams { acks, planner, now };
            dispatch!(self, s => s.job_ack_many(params))
        })
        .await
    }

    /// Gives leases back without counting their attempts: each job held
    /// with its token becomes `available` again, first in line as before;
    /// [`StoreError::LeaseLost`] for a token that no longer holds its job.
    pub async fn job_release_many(
        &self,
        params: JobReleaseParams,
    ) -> Result<Vec<Result<JobReleased, StoreError>>, StoreError> {
        let JobReleaseParams { releases, now } = params;
        each_checked(
            releases,
            |r| nul::key("lease_token", &r.lease_token),
            async |releases| {
                let params = JobReleaseParams { releases, now };
                dispatch!(self, s => s.job_release_many(params))
            },
        )
        .await
    }

    /// Records a step of a job held by a live lease (`LeaseLost` otherwise):
    /// the first result of a name wins, a `step` event joins the history, and
    /// a durable sleep (`sleep_until`) gives the job back `scheduled` for its
    /// wake time in the same transaction, its attempt not counted.
    pub async fn job_step_record(&self, params: JobStepParams) -> Result<JobStepRecorded, StoreError> {
        nul::key("lease_token", &params.lease_token)?;
        nul::key("step", params.name.as_str())?;
        dispatch!(self, s => s.job_step_record(params))
    }

    /// Sends an event: kept for the lookback (`keep`; older events of the
    /// name are dropped), and in the same transaction every wait it matches
    /// is woken: its step records the payload and its job is available.
    /// A repeat of an `event_id` changes nothing (`duplicate`).
    pub async fn event_send(&self, params: EventSendParams) -> Result<EventSent, StoreError> {
        nul::key("event", &params.name)?;
        nul::key_opt("id", params.event_id.as_deref())?;
        dispatch!(self, s => s.event_send(params))
    }

    /// One job with its full history.
    pub async fn job_get(&self, id: JobId) -> Result<Option<JobRecord>, StoreError> {
        dispatch!(self, s => s.job_get(id))
    }

    /// The live (not completed, dead or cancelled) job of `queue` with
    /// unique key `key`, if any: one probe of the index that keeps unique
    /// keys unique. Finished jobs are not found by key.
    pub async fn job_find_live_by_key(&self, queue: QueueName, key: String) -> Result<Option<JobId>, StoreError> {
        nul::key("unique_key", &key)?;
        dispatch!(self, s => s.job_find_live_by_key(queue, key))
    }

    /// A page of a queue's jobs in id order (only a tenant's, when given), without history.
    pub async fn job_list(&self, params: JobListParams) -> Result<Vec<JobRecord>, StoreError> {
        nul::key_opt("tenant", params.tenant.as_deref())?;
        dispatch!(self, s => s.job_list(params))
    }

    /// Makes a dead or cancelled job available again with fresh attempts.
    pub async fn job_retry(&self, id: JobId, now: UnixMillis) -> Result<JobRetried, StoreError> {
        dispatch!(self, s => s.job_retry(id, None, now))
    }

    /// Makes a dead or cancelled job available again with fresh attempts
    /// and a new payload (JSON text, checked by the caller); the payload it
    /// replaces is kept in the history's `retried` event.
    pub async fn job_retry_edited(
        &self,
        id: JobId,
        mut payload: String,
        now: UnixMillis,
    ) -> Result<JobRetried, StoreError> {
        nul::clean(&mut payload);
        dispatch!(self, s => s.job_retry(id, Some(payload), now))
    }

    /// A page of a queue's jobs matching a filter, in id order, without
    /// history. Each filter is served by its index (unique key, tenant,
    /// state); a search inside payloads reads only the store's latest
    /// [`PAYLOAD_SEARCH_WINDOW`] jobs.
    pub async fn job_search(&self, params: JobSearchParams) -> Result<Vec<JobRecord>, StoreError> {
        nul::search(&params)?;
        dispatch!(self, s => s.job_search(params))
    }

    /// How many of a queue's jobs match a filter, counted up to `cap`.
    pub async fn job_search_count(&self, params: JobSearchParams, cap: u64) -> Result<u64, StoreError> {
        nul::search(&params)?;
        dispatch!(self, s => s.job_search_count(params, cap))
    }

    /// The token of the lease holding an active job (`None` when the job is
    /// not active), so an operator can release or fail the attempt through
    /// the calls a worker makes: they still compare the token, so an attempt
    /// that ended meanwhile is not touched ([`StoreError::LeaseLost`]).
    pub async fn job_lease_token(&self, id: JobId) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.job_lease_token(id))
    }

    /// Deletes those of `ids` that are jobs of `queue` and finished
    /// (completed, dead or cancelled), with their history; answers how many.
    pub async fn job_delete_finished(&self, queue: QueueName, ids: Vec<JobId>) -> Result<u64, StoreError> {
        dispatch!(self, s => s.job_delete_finished(queue, ids))
    }

    /// Cancels a job that is not active and not finished.
    pub async fn job_cancel(&self, id: JobId, now: UnixMillis) -> Result<(), StoreError> {
        dispatch!(self, s => s.job_cancel(id, now))
    }

    /// Makes up to `limit` dead jobs of a queue available again (the given
    /// ids only, when `ids` is set); a job whose unique key a live job holds
    /// stays dead.
    pub async fn job_retry_dead(&self, params: JobRetryDeadParams) -> Result<JobRetryDeadPage, StoreError> {
        dispatch!(self, s => s.job_retry_dead(params))
    }

    /// Deletes up to `limit` dead jobs of a queue; answers how many.
    pub async fn job_purge_dead(&self, queue: QueueName, limit: u32) -> Result<u64, StoreError> {
        dispatch!(self, s => s.job_purge_dead(queue, limit))
    }

    /// The tenants with the most dead jobs in each queue, at most `per_queue`
    /// each, most first (then by name); jobs without a tenant are not counted.
    pub async fn job_dead_tenants(&self, per_queue: u32) -> Result<Vec<DeadTenant>, StoreError> {
        dispatch!(self, s => s.job_dead_tenants(per_queue))
    }

    /// Fails active jobs whose lease expired or whose timeout passed; a
    /// job whose lease expired and that has stalled fewer than its queue's
    /// `max_stalls` times goes back to `available` instead, its attempt
    /// not counted, the stall in its history.
    pub async fn job_reap(&self, params: JobReapParams) -> Result<Vec<JobReaped>, StoreError> {
        dispatch!(self, s => s.job_reap(params))
    }

    /// Makes scheduled jobs whose `run_at` has come available; answers the
    /// queues that received jobs, with how many each.
    pub async fn job_promote_due(&self, now: UnixMillis, limit: u32) -> Result<Vec<(QueueName, u64)>, StoreError> {
        dispatch!(self, s => s.job_promote_due(now, limit))
    }

    /// The earliest `run_at` among scheduled jobs.
    pub async fn job_next_due(&self) -> Result<Option<UnixMillis>, StoreError> {
        dispatch!(self, s => s.job_next_due())
    }

    /// Job counts per state for every queue that has jobs.
    pub async fn queue_counts(&self) -> Result<Vec<QueueCounts>, StoreError> {
        dispatch!(self, s => s.queue_counts())
    }

    /// Every known queue (configured or used) and whether it is paused.
    pub async fn queue_list(&self) -> Result<Vec<QueueRecord>, StoreError> {
        dispatch!(self, s => s.queue_list())
    }

    /// Makes sure the queues exist, without changing their pause state.
    pub async fn queue_ensure(&self, names: Vec<QueueName>, now: UnixMillis) -> Result<(), StoreError> {
        dispatch!(self, s => s.queue_ensure(names, now))
    }

    /// Pauses or resumes a queue (creating it if unknown).
    pub async fn queue_set_paused(&self, name: QueueName, paused: bool, now: UnixMillis) -> Result<(), StoreError> {
        dispatch!(self, s => s.queue_set_paused(name, paused, now))
    }

    /// Deletes a queue that holds no unfinished job: its finished jobs with
    /// their history, its totals, start-rate windows, enqueue keys and row,
    /// in one transaction. A queue holding scheduled, available or active
    /// jobs is left whole ([`QueueDeleted::NotEmpty`] with their counts).
    /// Its push signing secret stays: a configured push target's receivers
    /// keep verifying with it.
    pub async fn queue_delete(&self, name: QueueName) -> Result<QueueDeleted, StoreError> {
        dispatch!(self, s => s.queue_delete(name))
    }

    /// Stores a new API key (its hash, never the key).
    pub async fn api_key_insert(&self, key: ApiKeyInsert) -> Result<ApiKeyRecord, StoreError> {
        nul::key("name", &key.name)?;
        nul::key("hash", &key.hash)?;
        nul::key("prefix", &key.prefix)?;
        dispatch!(self, s => s.api_key_insert(key))
    }

    /// The unrevoked key with this hash.
    pub async fn api_key_find(&self, hash: String) -> Result<Option<ApiKeyRecord>, StoreError> {
        nul::key("hash", &hash)?;
        dispatch!(self, s => s.api_key_find(hash))
    }

    /// Every key, revoked ones included, oldest first.
    pub async fn api_key_list(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        dispatch!(self, s => s.api_key_list())
    }

    /// Revokes a key by id or name; false when no unrevoked key matched.
    pub async fn api_key_revoke(&self, id_or_name: String, now: UnixMillis) -> Result<bool, StoreError> {
        nul::key("key", &id_or_name)?;
        dispatch!(self, s => s.api_key_revoke(id_or_name, now))
    }

    /// Stores a rate-limit policy under `name`, replacing the one there (a
    /// replace keeps `created_at`), and changes the revision.
    ///
    /// `spec` is kept as given: the caller validates it.
    pub async fn ratelimit_policy_put(
        &self,
        name: &PolicyName,
        spec: &str,
        now: UnixMillis,
    ) -> Result<RateLimitPolicyRecord, StoreError> {
        let spec = rampart_core::nul::clean(spec);
        match self {
            Store::Sqlite(s) => s.ratelimit_policy_put(name.clone(), spec.into_owned(), now).await,
            Store::Postgres(s) => s.ratelimit_policy_put(name, &spec, now).await,
        }
    }

    /// Deletes a rate-limit policy, changing the revision; false (and the
    /// revision unchanged) when there was none of that name.
    pub async fn ratelimit_policy_delete(&self, name: &PolicyName) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.ratelimit_policy_delete(name.clone()).await,
            Store::Postgres(s) => s.ratelimit_policy_delete(name).await,
        }
    }

    /// Every stored rate-limit policy, in bytewise name order.
    pub async fn ratelimit_policy_list(&self) -> Result<Vec<RateLimitPolicyRecord>, StoreError> {
        dispatch!(self, s => s.ratelimit_policy_list())
    }

    /// A number that changes with every put and delete of a rate-limit
    /// policy, by any node; reads leave it alone. Cheap enough to poll every
    /// second: read it, and only when it moved, reload with
    /// [`Store::ratelimit_policy_list`]. Reading the revision before the list
    /// means the list holds at least every change up to that revision.
    pub async fn ratelimit_policy_revision(&self) -> Result<u64, StoreError> {
        dispatch!(self, s => s.ratelimit_policy_revision())
    }

    /// Records a report of a third-party connection: inserts it, or updates
    /// the stored one with the status and every field the report carries
    /// (fields it leaves out keep their stored values; `created_at` stays).
    pub async fn integration_upsert(
        &self,
        mut params: IntegrationUpsertParams,
    ) -> Result<IntegrationRecord, StoreError> {
        nul::key("reported_by", &params.reported_by)?;
        nul::clean_opt(&mut params.last_error);
        dispatch!(self, s => s.integration_upsert(params))
    }

    /// Records one action taken from the dashboard; free text is cleaned
    /// by the NUL rule, the actor (a key's name) must have no NUL.
    pub async fn audit_insert(&self, mut audit: AuditInsert) -> Result<AuditRecord, StoreError> {
        nul::key("actor", &audit.actor)?;
        nul::clean(&mut audit.action);
        nul::clean(&mut audit.target);
        nul::clean(&mut audit.detail);
        dispatch!(self, s => s.audit_insert(audit))
    }

    /// A page of the audit log, newest first.
    pub async fn audit_list(&self, params: AuditListParams) -> Result<Vec<AuditRecord>, StoreError> {
        dispatch!(self, s => s.audit_list(params))
    }

    /// Every platform with its connections counted per status, by platform name.
    pub async fn integration_summary(&self) -> Result<Vec<IntegrationSummary>, StoreError> {
        dispatch!(self, s => s.integration_summary())
    }

    /// The `per_platform` most recently reported connections of each
    /// platform: by platform name, then newest first.
    pub async fn integration_recent(&self, per_platform: u32) -> Result<Vec<IntegrationRecord>, StoreError> {
        dispatch!(self, s => s.integration_recent(per_platform))
    }

    /// Up to `limit` connections whose token expires at or before `before`
    /// (those already expired included), soonest first. The admin
    /// diagnostics call it with `now + diagnostics.token_expiry_horizon`; an
    /// alert rule on expiring tokens calls it the same way each evaluation.
    pub async fn integration_expiring(
        &self,
        before: UnixMillis,
        limit: u32,
    ) -> Result<Vec<IntegrationRecord>, StoreError> {
        dispatch!(self, s => s.integration_expiring(before, limit))
    }

    /// The signing secret kept for a push queue: `candidate` is stored when
    /// the queue has none yet, else the stored one is answered. Race-free, so
    /// nodes starting together agree on one secret.
    pub async fn push_secret_ensure(
        &self,
        queue: &QueueName,
        candidate: &str,
        now: UnixMillis,
    ) -> Result<String, StoreError> {
        match self {
            Store::Sqlite(s) => s.push_secret_ensure(queue.clone(), candidate.to_string(), now).await,
            Store::Postgres(s) => s.push_secret_ensure(queue, candidate, now).await,
        }
    }

    /// Runs one step of a shared breaker (acquire, record or reset),
    /// creating it closed when it does not exist yet: load, run the state
    /// machine, write back with the transition it caused, atomically across
    /// nodes. A step that changes nothing writes nothing.
    pub async fn breaker_apply(&self, params: BreakerApplyParams) -> Result<BreakerApplied, StoreError> {
        dispatch!(self, s => s.breaker_apply(params))
    }

    /// One shared breaker with its latest `transitions` transitions, oldest first.
    pub async fn breaker_get(&self, name: &BreakerName, transitions: u32) -> Result<Option<BreakerRecord>, StoreError> {
        dispatch!(self, s => s.breaker_get(name.clone(), transitions))
    }

    /// Every shared breaker, without transitions, in bytewise name order.
    pub async fn breaker_list(&self) -> Result<Vec<BreakerRecord>, StoreError> {
        dispatch!(self, s => s.breaker_list())
    }

    /// Stores a schedule, replacing the one of that name. An unchanged
    /// expression and zone keep the stored `next_run_at`; the pause stays.
    pub async fn cron_put(&self, mut params: CronPutParams) -> Result<CronScheduleRecord, StoreError> {
        nul::cron_schedule(&mut params.schedule)?;
        dispatch!(self, s => s.cron_put(params))
    }

    /// Puts every schedule of a source and deletes that source's others, in
    /// one transaction (the configured schedules, at start).
    pub async fn cron_sync(&self, mut params: CronSyncParams) -> Result<(), StoreError> {
        params.schedules.iter_mut().try_for_each(nul::cron_schedule)?;
        dispatch!(self, s => s.cron_sync(params))
    }

    /// One schedule.
    pub async fn cron_get(&self, name: &CronName) -> Result<Option<CronScheduleRecord>, StoreError> {
        dispatch!(self, s => s.cron_get(name.clone()))
    }

    /// Every schedule, in bytewise name order.
    pub async fn cron_list(&self) -> Result<Vec<CronScheduleRecord>, StoreError> {
        dispatch!(self, s => s.cron_list())
    }

    /// Deletes a schedule (its runs stay until retention); false when there was none.
    pub async fn cron_delete(&self, name: &CronName) -> Result<bool, StoreError> {
        dispatch!(self, s => s.cron_delete(name.clone()))
    }

    /// Pauses or resumes a schedule; false when there is none.
    pub async fn cron_set_paused(&self, name: &CronName, paused: bool, now: UnixMillis) -> Result<bool, StoreError> {
        dispatch!(self, s => s.cron_set_paused(name.clone(), paused, now))
    }

    /// Fires a schedule in one transaction: compare-and-sets `next_run_at`
    /// (when `advance` is given), inserts the job and records the run.
    /// `None` when nothing changed: another node fired that tick first, or
    /// the schedule is gone.
    pub async fn cron_fire(&self, mut params: CronFireParams) -> Result<Option<CronFired>, StoreError> {
        if let Some(job) = params.run.as_mut().and_then(|r| r.job.as_mut()) {
            nul::new_job(job)?;
        }
        dispatch!(self, s => s.cron_fire(params))
    }

    /// A page of a schedule's runs, newest first.
    pub async fn cron_run_list(&self, params: CronRunListParams) -> Result<Vec<CronRunRecord>, StoreError> {
        dispatch!(self, s => s.cron_run_list(params))
    }

    /// The latest run of every stored schedule that has runs, by name.
    pub async fn cron_run_last(&self) -> Result<Vec<CronRunRecord>, StoreError> {
        dispatch!(self, s => s.cron_run_last())
    }

    /// Copies their jobs' state, times, attempts, error and result into the
    /// runs not yet settled; answers how many changed. A run whose job was
    /// deleted keeps what it last saw.
    pub async fn cron_run_settle(&self) -> Result<u64, StoreError> {
        dispatch!(self, s => s.cron_run_settle())
    }

    /// Ends a run of built-in work (one without a job); false when there is none.
    pub async fn cron_run_finish(&self, mut params: CronRunFinishParams) -> Result<bool, StoreError> {
        nul::clean_opt(&mut params.error);
        nul::clean_opt(&mut params.result);
        dispatch!(self, s => s.cron_run_finish(params))
    }

    /// Deletes up to `limit` runs enqueued before `older_than`; answers how many.
    pub async fn cron_run_prune(&self, params: CronRunPruneParams) -> Result<u64, StoreError> {
        dispatch!(self, s => s.cron_run_prune(params))
    }

    /// Deletes up to `limit` jobs in `state` that finished before
    /// `older_than`, with their history; answers how many.
    pub async fn job_prune(&self, params: JobPruneParams) -> Result<u64, StoreError> {
        dispatch!(self, s => s.job_prune(params))
    }

    /// Adds one node's deltas to the stored totals of their queues (creating
    /// the rows), and counts their completed and dead jobs on the UTC day of
    /// `now`: a later day starts those two afresh.
    pub async fn queue_totals_add(&self, params: QueueTotalsAddParams) -> Result<(), StoreError> {
        dispatch!(self, s => s.queue_totals_add(params))
    }

    /// Every queue's stored totals, in bytewise name order.
    pub async fn queue_totals_list(&self) -> Result<Vec<QueueTotalsRecord>, StoreError> {
        dispatch!(self, s => s.queue_totals_list())
    }

    /// Records a node's report in the node registry (with the database's
    /// time), and forgets the nodes silent for [`node::FORGET_AFTER`].
    pub async fn node_report(&self, params: NodeReportParams) -> Result<(), StoreError> {
        dispatch!(self, s => s.node_report(params))
    }

    /// Every node of the registry, by name, with the database's time now
    /// (on SQLite, whose one node's clock is the database's, `now`).
    pub async fn node_list(&self, now: UnixMillis) -> Result<NodeList, StoreError> {
        dispatch!(self, s => s.node_list(now))
    }

    /// The job figures readiness reports at `now`: available and active
    /// jobs, expired leases not reaped yet, and today's (UTC) completed and
    /// dead jobs from the stored totals. Reads only indexes the hot path
    /// keeps anyway, so it stays cheap however many jobs have finished.
    pub async fn job_health_counts(&self, now: UnixMillis) -> Result<JobHealthCounts, StoreError> {
        dispatch!(self, s => s.job_health_counts(now))
    }

    /// Stores a webhook source's spec under `name`, replacing the one there
    /// (a replace keeps `created_at`). The caller validates the spec.
    pub async fn webhook_source_put(
        &self,
        name: &SourceName,
        spec: &str,
        now: UnixMillis,
    ) -> Result<WebhookSourceRecord, StoreError> {
        let spec = rampart_core::nul::clean(spec);
        match self {
            Store::Sqlite(s) => s.webhook_source_put(name.clone(), spec.into_owned(), now).await,
            Store::Postgres(s) => s.webhook_source_put(name, &spec, now).await,
        }
    }

    /// Deletes a webhook source kept in the store; false when there was none.
    pub async fn webhook_source_delete(&self, name: &SourceName) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.webhook_source_delete(name.clone()).await,
            Store::Postgres(s) => s.webhook_source_delete(name).await,
        }
    }

    /// Every webhook source kept in the store, in bytewise name order.
    pub async fn webhook_source_list(&self) -> Result<Vec<WebhookSourceRecord>, StoreError> {
        dispatch!(self, s => s.webhook_source_list())
    }

    /// Takes a verified event in one transaction: when its event id is not
    /// taken (or its key expired), takes it until `expires_at`, inserts the
    /// job and logs the delivery as `pending`; else logs a `duplicate` of
    /// the delivery holding the key and inserts nothing. Concurrent intakes
    /// of one event take it once, on every backend and node.
    ///
    /// On SQLite the write is queued when this is called (as
    /// [`Store::job_insert_many`]).
    pub fn webhook_intake(
        &self,
        mut params: WebhookIntakeParams,
    ) -> Pin<Box<dyn Future<Output = Result<WebhookIntaken, StoreError>> + Send>> {
        let checked = nul::key("event_id", &params.event_id).and_then(|()| nul::new_job(&mut params.job));
        if let Err(e) = checked {
            return Box::pin(std::future::ready(Err(e)));
        }
        nul::clean_opt(&mut params.tenant);
        nul::clean_opt(&mut params.event_type);
        params.headers.iter_mut().for_each(|(k, v)| {
            nul::clean(k);
            nul::clean(v);
        });
        match self {
            Store::Sqlite(s) => Box::pin(s.webhook_intake(params)),
            Store::Postgres(s) => {
                let s = s.clone();
                Box::pin(async move { s.webhook_intake(params).await })
            }
        }
    }

    /// Logs a request refused before it became an event (`rejected`, with
    /// its reason, headers, size and body hash; never its body).
    pub async fn webhook_reject(&self, mut params: WebhookRejectParams) -> Result<DeliveryId, StoreError> {
        nul::clean(&mut params.reason);
        params.headers.iter_mut().for_each(|(k, v)| {
            nul::clean(k);
            nul::clean(v);
        });
        dispatch!(self, s => s.webhook_reject(params))
    }

    /// A page of deliveries, newest first, each with its status read from
    /// its job while the job exists.
    pub async fn webhook_delivery_list(
        &self,
        mut params: WebhookDeliveryListParams,
    ) -> Result<Vec<WebhookDeliveryRecord>, StoreError> {
        nul::clean_opt(&mut params.tenant);
        nul::clean_opt(&mut params.event_type);
        dispatch!(self, s => s.webhook_delivery_list(params))
    }

    /// One delivery with its body (`None` once retention dropped it, and
    /// for duplicates and rejections, which keep none).
    pub async fn webhook_delivery_get(&self, id: DeliveryId) -> Result<Option<WebhookDeliveryWithBody>, StoreError> {
        dispatch!(self, s => s.webhook_delivery_get(id))
    }

    /// Copies their jobs' outcome into up to `limit` pending deliveries whose
    /// jobs finished (completed, dead or cancelled), so the log keeps it
    /// once retention prunes the jobs; answers how many changed.
    pub async fn webhook_delivery_settle(&self, limit: u32) -> Result<u64, StoreError> {
        dispatch!(self, s => s.webhook_delivery_settle(limit))
    }

    /// Marks a delivery as following its job again (after a replay made a
    /// settled dead job live), so a later settle copies its new outcome.
    pub async fn webhook_delivery_reopen(&self, id: DeliveryId) -> Result<(), StoreError> {
        dispatch!(self, s => s.webhook_delivery_reopen(id))
    }

    /// One bounded retention step: deletes expired event ids and
    /// idempotency keys, drops old bodies and deletes old deliveries, at
    /// most `limit` rows of each.
    pub async fn webhook_prune(&self, params: WebhookPruneParams) -> Result<WebhookPruned, StoreError> {
        dispatch!(self, s => s.webhook_prune(params))
    }

    /// The latest delivery, event and rejection of every source with
    /// deliveries in the log, by name.
    pub async fn webhook_source_activity(&self) -> Result<Vec<WebhookSourceActivity>, StoreError> {
        dispatch!(self, s => s.webhook_source_activity())
    }

    /// Inserts jobs under an idempotency key: when the key is not taken (or
    /// expired), inserts them all-or-nothing and takes the key until
    /// `expires_at`; else answers the jobs the key made, `replayed`.
    ///
    /// On SQLite the write is queued when this is called.
    pub fn job_insert_keyed(
        &self,
        mut params: JobInsertKeyedParams,
    ) -> Pin<Box<dyn Future<Output = Result<JobInsertedKeyed, StoreError>> + Send>> {
        let checked =
            nul::key("idempotency_key", &params.key).and_then(|()| params.jobs.iter_mut().try_for_each(nul::new_job));
        if let Err(e) = checked {
            return Box::pin(std::future::ready(Err(e)));
        }
        match self {
            Store::Sqlite(s) => Box::pin(s.job_insert_keyed(params)),
            Store::Postgres(s) => {
                let s = s.clone();
                Box::pin(async move { s.job_insert_keyed(params).await })
            }
        }
    }
}

/// Runs `call` on the items `check` lets through, and answers every item in
/// order: the call's answer, or the check's error for an item it refused.
async fn each_checked<T, R>(
    mut items: Vec<T>,
    check: impl Fn(&mut T) -> Result<(), StoreError>,
    call: impl AsyncFnOnce(Vec<T>) -> Result<Vec<Result<R, StoreError>>, StoreError>,
) -> Result<Vec<Result<R, StoreError>>, StoreError> {
    let refused: Vec<Option<StoreError>> = items.iter_mut().map(|i| check(i).err()).collect();
    if refused.iter().all(Option::is_none) {
        return call(items).await;
    }
    let passed = items.into_iter().zip(&refused).filter(|(_, r)| r.is_none()).map(|(i, _)| i).collect();
    let mut answers = call(passed).await?.into_iter();
    let missing = || Err(StoreError::Internal("the backend answered fewer items than it was given".into()));
    Ok(refused.into_iter().map(|r| r.map_or_else(|| answers.next().unwrap_or_else(missing), Err)).collect())
}
