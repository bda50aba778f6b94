//! SQL of webhook intake on SQLite: sources, the delivery log, event ids
//! and idempotency keys. Writes run on the writer thread inside their
//! savepoint, so an intake (key, job, log row) commits whole or not at all,
//! in the group commit with every other write waiting then.

use rampart_core::delivery::{DeliveryId, DeliveryStatus};
use rampart_core::id::{JobId, SourceName};
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;
use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, jobs};
use crate::error::StoreError;
use crate::job::{JobInsertParams, JobInserted};
use crate::row::Row as _;
use crate::webhook::*;

const SOURCE_COLUMNS: &str = "name, spec, created_at, updated_at";

fn headers_json(headers: &[(String, String)]) -> Result<String, StoreError> {
    serde_json::to_string(headers).map_err(|e| StoreError::Internal(e.to_string()))
}

fn intake(c: &Connection, p: &WebhookIntakeParams) -> Result<WebhookIntaken, StoreError> {
    let headers = headers_json(&p.headers)?;
    let taken: Option<i64> = c
        .prepare_cached(
            "SELECT delivery_id FROM webhook_events WHERE source = ?1 AND event_id = ?2 AND expires_at > ?3",
        )?
        .query_row(params![p.source.as_str(), p.event_id, p.now.0], |r| r.get(0))
        .optional()?;
    if let Some(original) = taken {
        c.prepare_cached(
            "INSERT INTO webhook_deliveries (source, tenant, event_type, event_id, received_at, status, duplicate_of,
                 headers, body_size, body_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, 'duplicate', ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            p.source.as_str(),
            p.tenant,
            p.event_type,
            p.event_id,
            p.now.0,
            original,
            headers,
            p.body.len() as i64,
            p.body_sha256,
        ])?;
        let delivery = DeliveryId(c.last_insert_rowid());
        let (status, job) = status_of(c, DeliveryId(original))?;
        return Ok(WebhookIntaken::Duplicate { delivery, original: DeliveryId(original), status, job });
    }
    let job = jobs::insert_many(c, &JobInsertParams { jobs: vec![p.job.clone()], now: p.now })?
        .pop()
        .ok_or_else(|| StoreError::Internal("the job insert answered nothing".into()))?;
    c.prepare_cached(
        "INSERT INTO webhook_deliveries (source, tenant, event_type, event_id, received_at, status, job_id,
             headers, body, body_size, body_sha256)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        p.source.as_str(),
        p.tenant,
        p.event_type,
        p.event_id,
        p.now.0,
        job.id.0,
        headers,
        p.body,
        p.body.len() as i64,
        p.body_sha256,
    ])?;
    let delivery = DeliveryId(c.last_insert_rowid());
    c.prepare_cached(
        "INSERT INTO webhook_events (source, event_id, delivery_id, expires_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (source, event_id) DO UPDATE SET delivery_id = excluded.delivery_id, expires_at = excluded.expires_at",
    )?
    .execute(params![p.source.as_str(), p.event_id, delivery.0, p.expires_at.0])?;
    Ok(WebhookIntaken::Accepted { delivery, job })
}

fn status_of(c: &Connection, id: DeliveryId) -> Result<(DeliveryStatus, Option<JobId>), StoreError> {
    let found = c
        .prepare_cached(&format!("SELECT {DELIVERY_STATUS}, d.job_id FROM {DELIVERY_FROM} WHERE d.id = ?1"))?
        .query_row([id.0], |r| Ok((r.parsed::<DeliveryStatus>(0, "delivery status")?, r.opt_int(1)?.map(JobId))))
        .optional()?;
    // The original may have been pruned while its event id is still taken.
    Ok(found.unwrap_or((DeliveryStatus::Completed, None)))
}

fn reject(c: &Connection, p: &WebhookRejectParams) -> Result<DeliveryId, StoreError> {
    c.prepare_cached(
        "INSERT INTO webhook_deliveries (source, received_at, status, reason, headers, body_size, body_sha256)
         VALUES (?1, ?2, 'rejected', ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        p.source.as_str(),
        p.now.0,
        p.reason,
        headers_json(&p.headers)?,
        i64::try_from(p.body_size).unwrap_or(i64::MAX),
        p.body_sha256
    ])?;
    Ok(DeliveryId(c.last_insert_rowid()))
}

fn list(c: &Connection, p: &WebhookDeliveryListParams) -> Result<Vec<WebhookDeliveryRecord>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM}
         WHERE (?1 IS NULL OR d.source = ?1) AND (?2 IS NULL OR d.tenant = ?2)
           AND (?3 IS NULL OR ({DELIVERY_STATUS}) = ?3) AND (?4 IS NULL OR d.event_type = ?4)
           AND (?5 IS NULL OR d.received_at >= ?5) AND d.id < ?6
         ORDER BY d.id DESC LIMIT ?7"
    );
    Ok(c.prepare_cached(&sql)?
        .query_map(
            params![
                p.source.as_ref().map(SourceName::as_str),
                p.tenant,
                p.status.map(|s| s.as_str()),
                p.event_type,
                p.since.map(|t| t.0),
                p.before.map_or(i64::MAX, |d| d.0),
                p.limit,
            ],
            |r| WebhookDeliveryRecord::from_row(r),
        )?
        .collect::<Result<Vec<_>, _>>()?)
}

fn get(c: &Connection, id: DeliveryId) -> Result<Option<WebhookDeliveryWithBody>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {DELIVERY_COLUMNS}, d.body FROM {DELIVERY_FROM} WHERE d.id = ?1"))?
        .query_row([id.0], |r| Ok((WebhookDeliveryRecord::from_row(r)?, r.get::<_, Option<Vec<u8>>>(18)?)))
        .optional()?)
}

fn settle(c: &Connection, limit: u32) -> Result<u64, StoreError> {
    let n = c
        .prepare_cached(
            "UPDATE webhook_deliveries SET
                 status = CASE j.state WHEN 'completed' THEN 'completed' WHEN 'dead' THEN 'dead_letter' ELSE 'cancelled' END,
                 attempts = j.attempt, last_attempt_at = j.started_at,
                 completed_at = CASE WHEN j.state = 'completed' THEN j.finished_at END, last_error = j.last_error
             FROM jobs AS j
             WHERE webhook_deliveries.id IN (
                     SELECT d.id FROM webhook_deliveries d JOIN jobs f ON f.id = d.job_id
                     WHERE d.status = 'pending'
                       AND f.state <> 'available' AND f.state <> 'active' AND f.state <> 'scheduled'
                     ORDER BY d.id LIMIT ?1)
               AND j.id = webhook_deliveries.job_id",
        )?
        .execute([limit])?;
    Ok(n as u64)
}

fn reopen(c: &Connection, id: DeliveryId) -> Result<(), StoreError> {
    c.prepare_cached("UPDATE webhook_deliveries SET status = 'pending' WHERE id = ?1 AND job_id > 0")?
        .execute([id.0])?;
    Ok(())
}

fn prune(c: &Connection, p: &WebhookPruneParams) -> Result<WebhookPruned, StoreError> {
    let events = c
        .prepare_cached(
            "DELETE FROM webhook_events WHERE (source, event_id) IN (
                 SELECT source, event_id FROM webhook_events WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)",
        )?
        .execute(params![p.now.0, p.limit])?;
    let keys = c
        .prepare_cached(
            "DELETE FROM enqueue_keys WHERE (queue, key) IN (
                 SELECT queue, key FROM enqueue_keys WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)",
        )?
        .execute(params![p.now.0, p.limit])?;
    let bodies = c
        .prepare_cached(
            "UPDATE webhook_deliveries SET body = NULL WHERE id IN (
                 SELECT id FROM webhook_deliveries WHERE body IS NOT NULL AND received_at < ?1
                 ORDER BY received_at LIMIT ?2)",
        )?
        .execute(params![p.bodies_before.0, p.limit])?;
    let deliveries = c
        .prepare_cached(
            "DELETE FROM webhook_deliveries WHERE id IN (
                 SELECT id FROM webhook_deliveries WHERE received_at < ?1 ORDER BY received_at LIMIT ?2)",
        )?
        .execute(params![p.deliveries_before.0, p.limit])?;
    Ok(WebhookPruned { keys: (events + keys) as u64, bodies: bodies as u64, deliveries: deliveries as u64 })
}

fn insert_keyed(c: &Connection, p: &JobInsertKeyedParams) -> Result<JobInsertedKeyed, StoreError> {
    let taken: Option<String> = c
        .prepare_cached("SELECT job_ids FROM enqueue_keys WHERE queue = ?1 AND key = ?2 AND expires_at > ?3")?
        .query_row(params![p.queue.as_str(), p.key, p.now.0], |r| r.get(0))
        .optional()?;
    if let Some(ids) = taken {
        let ids: Vec<i64> = serde_json::from_str(&ids).map_err(|e| StoreError::Internal(e.to_string()))?;
        let mut state = c.prepare_cached("SELECT state FROM jobs WHERE id = ?1")?;
        let mut jobs = Vec::with_capacity(ids.len());
        for id in ids {
            let found: Option<String> = state.query_row([id], |r| r.get(0)).optional()?;
            // A job pruned since keeps its id; its state is then unknown: completed is what pruning leaves.
            let state = found.and_then(|s| s.parse().ok()).unwrap_or(JobState::Completed);
            jobs.push(JobInserted { id: JobId(id), state, duplicate: true });
        }
        return Ok(JobInsertedKeyed { jobs, replayed: true });
    }
    let jobs = jobs::insert_many(c, &JobInsertParams { jobs: p.jobs.clone(), now: p.now })?;
    let ids: Vec<i64> = jobs.iter().map(|j| j.id.0).collect();
    let ids = serde_json::to_string(&ids).map_err(|e| StoreError::Internal(e.to_string()))?;
    c.prepare_cached(
        "INSERT INTO enqueue_keys (queue, key, job_ids, expires_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (queue, key) DO UPDATE SET job_ids = excluded.job_ids, expires_at = excluded.expires_at",
    )?
    .execute(params![p.queue.as_str(), p.key, ids, p.expires_at.0])?;
    Ok(JobInsertedKeyed { jobs, replayed: false })
}

impl SqliteStore {
    pub(crate) async fn webhook_source_put(
        &self,
        name: SourceName,
        spec: String,
        now: UnixMillis,
    ) -> Result<WebhookSourceRecord, StoreError> {
        self.write(move |c| {
            Ok(c.prepare_cached(&format!(
                "INSERT INTO webhook_sources ({SOURCE_COLUMNS}) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at
                 RETURNING {SOURCE_COLUMNS}"
            ))?
            .query_row(params![name.as_str(), spec, now.0], |r| WebhookSourceRecord::from_row(r))?)
        })
        .await
    }

    pub(crate) async fn webhook_source_delete(&self, name: SourceName) -> Result<bool, StoreError> {
        self.write(move |c| {
            Ok(c.prepare_cached("DELETE FROM webhook_sources WHERE name = ?1")?.execute([name.as_str()])? > 0)
        })
        .await
    }

    pub(crate) async fn webhook_source_list(&self) -> Result<Vec<WebhookSourceRecord>, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached(&format!("SELECT {SOURCE_COLUMNS} FROM webhook_sources ORDER BY name"))?
                .query_map([], |r| WebhookSourceRecord::from_row(r))?
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub(crate) fn webhook_intake(
        &self,
        p: WebhookIntakeParams,
    ) -> impl Future<Output = Result<WebhookIntaken, StoreError>> + Send + 'static {
        self.write(move |c| intake(c, &p))
    }

    pub(crate) async fn webhook_reject(&self, p: WebhookRejectParams) -> Result<DeliveryId, StoreError> {
        self.write(move |c| reject(c, &p)).await
    }

    pub(crate) async fn webhook_delivery_list(
        &self,
        p: WebhookDeliveryListParams,
    ) -> Result<Vec<WebhookDeliveryRecord>, StoreError> {
        self.read(move |c| list(c, &p)).await
    }

    pub(crate) async fn webhook_delivery_get(
        &self,
        id: DeliveryId,
    ) -> Result<Option<WebhookDeliveryWithBody>, StoreError> {
        self.read(move |c| get(c, id)).await
    }

    pub(crate) async fn webhook_delivery_settle(&self, limit: u32) -> Result<u64, StoreError> {
        self.write(move |c| settle(c, limit)).await
    }

    pub(crate) async fn webhook_delivery_reopen(&self, id: DeliveryId) -> Result<(), StoreError> {
        self.write(move |c| reopen(c, id)).await
    }

    pub(crate) async fn webhook_prune(&self, p: WebhookPruneParams) -> Result<WebhookPruned, StoreError> {
        self.write(move |c| prune(c, &p)).await
    }

    pub(crate) async fn webhook_source_activity(&self) -> Result<Vec<WebhookSourceActivity>, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT source, MAX(received_at),
                        MAX(CASE WHEN status <> 'rejected' AND status <> 'duplicate' THEN received_at END),
                        MAX(CASE WHEN status = 'rejected' THEN received_at END)
                 FROM webhook_deliveries GROUP BY source ORDER BY source",
            )?
            .query_map([], |r| WebhookSourceActivity::from_row(r))?
            .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub(crate) fn job_insert_keyed(
        &self,
        p: JobInsertKeyedParams,
    ) -> impl Future<Output = Result<JobInsertedKeyed, StoreError>> + Send + 'static {
        self.write(move |c| insert_keyed(c, &p))
    }
}
