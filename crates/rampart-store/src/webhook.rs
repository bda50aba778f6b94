//! Webhook intake's records: sources defined through the API, the delivery
//! log, the event ids taken per source, and their retention.
//!
//! [`Store::webhook_intake`](crate::Store::webhook_intake) is the one write
//! of a verified event: in one transaction it takes the event id for its
//! window (or finds it taken: a duplicate), inserts the job through the job
//! SQL and logs the delivery. On SQLite it is one write of the group commit,
//! so concurrent intakes share transactions as enqueues do; on PostgreSQL
//! concurrent deliveries of one event meet on the event key's primary key.
//!
//! A delivery's status, attempts, times and error are read from its job
//! while the job exists (a join, so the job's path writes nothing more),
//! and copied into the row by `webhook_delivery_settle` before retention
//! prunes finished jobs.

use rampart_core::delivery::{DeliveryId, DeliveryStatus};
use rampart_core::id::{JobId, QueueName, SourceName};
use rampart_core::time::UnixMillis;

use crate::job::{JobInserted, NewJob};
use crate::row::Row;

/// A source kept in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSourceRecord {
    /// Its name.
    pub name: SourceName,
    /// Its spec as JSON, secrets included: the server reads and validates it.
    pub spec: String,
    /// When it was first put.
    pub created_at: UnixMillis,
    /// When it was last put.
    pub updated_at: UnixMillis,
}

impl WebhookSourceRecord {
    /// The record of a row read with the columns `name, spec, created_at, updated_at`.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<WebhookSourceRecord, R::Error> {
        Ok(WebhookSourceRecord {
            name: r.parsed(0, "webhook source name")?,
            spec: r.text(1)?,
            created_at: r.time(2)?,
            updated_at: r.time(3)?,
        })
    }
}

/// A verified event to take: its key, its job and its log row.
#[derive(Debug, Clone)]
pub struct WebhookIntakeParams {
    /// The source it came to.
    pub source: SourceName,
    /// Its event id (the provider's, or `sha256:` and the body's hash).
    pub event_id: String,
    /// Until when the event id stays taken (`now` plus the source's window).
    pub expires_at: UnixMillis,
    /// Its type, when known.
    pub event_type: Option<String>,
    /// Its tenant, when known.
    pub tenant: Option<String>,
    /// The request's headers as logged (secrets masked).
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The body's hex SHA-256.
    pub body_sha256: String,
    /// The job to insert when the event is new.
    pub job: NewJob,
    /// The time of arrival.
    pub now: UnixMillis,
}

/// What [`Store::webhook_intake`](crate::Store::webhook_intake) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookIntaken {
    /// A new event: its delivery and its job.
    Accepted {
        /// The delivery logged.
        delivery: DeliveryId,
        /// The job inserted.
        job: JobInserted,
    },
    /// The event id was taken within its window: the delivery is logged as
    /// a duplicate and nothing is enqueued.
    Duplicate {
        /// The duplicate's own delivery row.
        delivery: DeliveryId,
        /// The delivery that took the event first.
        original: DeliveryId,
        /// That delivery's status now.
        status: DeliveryStatus,
        /// That delivery's job.
        job: Option<JobId>,
    },
}

/// A request refused before it became an event: only its headers, size and
/// body hash are kept.
#[derive(Debug, Clone)]
pub struct WebhookRejectParams {
    /// The source it came to.
    pub source: SourceName,
    /// Why: the error code and its message.
    pub reason: String,
    /// The request's headers as logged (secrets masked).
    pub headers: Vec<(String, String)>,
    /// The body's size in bytes.
    pub body_size: u64,
    /// The body's hex SHA-256.
    pub body_sha256: String,
    /// The time of arrival.
    pub now: UnixMillis,
}

/// Which deliveries to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct WebhookDeliveryListParams {
    /// Only this source's.
    pub source: Option<SourceName>,
    /// Only this tenant's.
    pub tenant: Option<String>,
    /// Only those with this status now.
    pub status: Option<DeliveryStatus>,
    /// Only events of this type.
    pub event_type: Option<String>,
    /// Only those received at or after this time.
    pub since: Option<UnixMillis>,
    /// Only those older than this delivery (the page cursor).
    pub before: Option<DeliveryId>,
    /// At most this many.
    pub limit: u32,
}

/// One delivery as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDeliveryRecord {
    /// Its id.
    pub id: DeliveryId,
    /// The source it came to.
    pub source: SourceName,
    /// Its tenant.
    pub tenant: Option<String>,
    /// Its event type.
    pub event_type: Option<String>,
    /// Its event id (none for a rejected request).
    pub event_id: Option<String>,
    /// When it arrived.
    pub received_at: UnixMillis,
    /// Where it stands: its job's state while the job exists.
    pub status: DeliveryStatus,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// For a duplicate, the delivery that took the event first.
    pub duplicate_of: Option<DeliveryId>,
    /// Its job.
    pub job_id: Option<JobId>,
    /// Attempts its job made.
    pub attempts: u32,
    /// When its job's latest attempt started.
    pub last_attempt_at: Option<UnixMillis>,
    /// When its job completed.
    pub completed_at: Option<UnixMillis>,
    /// Its job's latest error.
    pub last_error: Option<String>,
    /// The request's headers as logged (secrets masked).
    pub headers: Vec<(String, String)>,
    /// The body's size in bytes.
    pub body_size: u64,
    /// The body's hex SHA-256.
    pub body_sha256: String,
    /// Whether the body is still kept (retention drops bodies first).
    pub body_kept: bool,
}

/// The status and job figures of a delivery row joined to its job `j`, in
/// the order `from_row` reads them after the delivery's own columns. SQL
/// both backends speak.
pub(crate) const DELIVERY_COLUMNS: &str = "d.id, d.source, d.tenant, d.event_type, d.event_id, d.received_at, \
     CASE WHEN j.id IS NULL THEN d.status \
          WHEN j.state = 'completed' THEN 'completed' \
          WHEN j.state = 'dead' THEN 'dead_letter' \
          WHEN j.state = 'cancelled' THEN 'cancelled' \
          WHEN j.state = 'active' THEN 'processing' \
          WHEN j.attempt > 0 THEN 'failed' \
          ELSE 'pending' END, \
     d.reason, d.duplicate_of, d.job_id, \
     CASE WHEN j.id IS NULL THEN d.attempts ELSE j.attempt END, \
     CASE WHEN j.id IS NULL THEN d.last_attempt_at ELSE j.started_at END, \
     CASE WHEN j.id IS NULL THEN d.completed_at WHEN j.state = 'completed' THEN j.finished_at ELSE NULL END, \
     CASE WHEN j.id IS NULL THEN d.last_error ELSE j.last_error END, \
     d.headers, d.body_size, d.body_sha256, d.body IS NOT NULL";

/// The status column of [`DELIVERY_COLUMNS`], for filtering on it.
pub(crate) const DELIVERY_STATUS: &str = "CASE WHEN j.id IS NULL THEN d.status \
          WHEN j.state = 'completed' THEN 'completed' \
          WHEN j.state = 'dead' THEN 'dead_letter' \
          WHEN j.state = 'cancelled' THEN 'cancelled' \
          WHEN j.state = 'active' THEN 'processing' \
          WHEN j.attempt > 0 THEN 'failed' \
          ELSE 'pending' END";

/// The deliveries and their jobs.
pub(crate) const DELIVERY_FROM: &str = "webhook_deliveries d LEFT JOIN jobs j ON j.id = d.job_id";

impl WebhookDeliveryRecord {
    /// The record of a row read with [`DELIVERY_COLUMNS`].
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<WebhookDeliveryRecord, R::Error> {
        let headers_text = r.text(14)?;
        let headers = serde_json::from_str(&headers_text).map_err(|e| r.invalid(14, "delivery headers", e))?;
        Ok(WebhookDeliveryRecord {
            id: DeliveryId(r.int(0)?),
            source: r.parsed(1, "webhook source name")?,
            tenant: r.opt_text(2)?,
            event_type: r.opt_text(3)?,
            event_id: r.opt_text(4)?,
            received_at: r.time(5)?,
            status: r.parsed(6, "delivery status")?,
            reason: r.opt_text(7)?,
            duplicate_of: r.opt_int(8)?.map(DeliveryId),
            job_id: r.opt_int(9)?.map(JobId),
            attempts: r.count(10)?,
            last_attempt_at: r.opt_time(11)?,
            completed_at: r.opt_time(12)?,
            last_error: r.opt_text(13)?,
            headers,
            body_size: r.counter(15)?,
            body_sha256: r.text(16)?,
            body_kept: r.flag(17)?,
        })
    }
}

/// A delivery with its body, when kept.
pub type WebhookDeliveryWithBody = (WebhookDeliveryRecord, Option<Vec<u8>>);

/// The latest activity of one source, for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSourceActivity {
    /// The source.
    pub source: SourceName,
    /// When its latest delivery arrived.
    pub last_received_at: Option<UnixMillis>,
    /// When its latest verified event arrived.
    pub last_event_at: Option<UnixMillis>,
    /// When its latest rejected request arrived.
    pub last_rejected_at: Option<UnixMillis>,
}

impl WebhookSourceActivity {
    /// The record of a row read with the columns `source, last_received_at,
    /// last_event_at, last_rejected_at`.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<WebhookSourceActivity, R::Error> {
        Ok(WebhookSourceActivity {
            source: r.parsed(0, "webhook source name")?,
            last_received_at: r.opt_time(1)?,
            last_event_at: r.opt_time(2)?,
            last_rejected_at: r.opt_time(3)?,
        })
    }
}

/// What one retention pass over webhook records deletes, in bounded batches.
#[derive(Debug, Clone, Copy)]
pub struct WebhookPruneParams {
    /// Bodies of deliveries received before this are dropped.
    pub bodies_before: UnixMillis,
    /// Deliveries received before this are deleted.
    pub deliveries_before: UnixMillis,
    /// Rows touched per kind at most.
    pub limit: u32,
    /// Event ids and idempotency keys that expired by now are deleted.
    pub now: UnixMillis,
}

/// How many rows one [`Store::webhook_prune`](crate::Store::webhook_prune) call removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookPruned {
    /// Expired event ids and idempotency keys deleted.
    pub keys: u64,
    /// Bodies dropped.
    pub bodies: u64,
    /// Deliveries deleted.
    pub deliveries: u64,
}

/// An enqueue under an `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct JobInsertKeyedParams {
    /// The queue.
    pub queue: QueueName,
    /// The key.
    pub key: String,
    /// Until when the key stays taken.
    pub expires_at: UnixMillis,
    /// The jobs to insert when the key is new.
    pub jobs: Vec<NewJob>,
    /// Now.
    pub now: UnixMillis,
}

/// What an enqueue under an `Idempotency-Key` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInsertedKeyed {
    /// The jobs: inserted now, or those the key made before (then `duplicate`).
    pub jobs: Vec<JobInserted>,
    /// Whether the key was taken already.
    pub replayed: bool,
}
