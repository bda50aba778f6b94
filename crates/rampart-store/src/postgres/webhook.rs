//! SQL of webhook intake on PostgreSQL: sources, the delivery log, event
//! ids and idempotency keys.
//!
//! An intake is one transaction. Its first statement takes the event id
//! (an upsert that only replaces an expired key), drawing the delivery's id
//! with it: concurrent deliveries of one event meet on the key's primary
//! key, the later waiting for the first to commit and then finding the key
//! live (READ COMMITTED re-checks the condition on the new row), so it
//! becomes a duplicate on every node. The job goes in through the job SQL
//! itself (ids, unique keys, `NOTIFY`). Settling and pruning claim rows
//! `FOR UPDATE SKIP LOCKED`, so every node may run them at once.

use deadpool_postgres::GenericClient;
use rampart_core::delivery::{DeliveryId, DeliveryStatus};
use rampart_core::id::{JobId, SourceName};
use rampart_core::time::UnixMillis;

use super::{Client, PgStore, jobs};
use crate::error::StoreError;
use crate::job::{JobInsertParams, JobInserted};
use crate::row::Row as _;
use crate::webhook::*;

const SOURCE_COLUMNS: &str = "name, spec, created_at, updated_at";
/// Rounds of inserting jobs whose unique key's live twin may finish meanwhile.
const UNIQUE_ROUNDS: usize = 3;

fn headers_json(headers: &[(String, String)]) -> Result<String, StoreError> {
    serde_json::to_string(headers).map_err(|e| StoreError::Internal(e.to_string()))
}

async fn intake(c: &mut Client, node: &str, p: &WebhookIntakeParams) -> Result<WebhookIntaken, StoreError> {
    let headers = headers_json(&p.headers)?;
    let size = i64::try_from(p.body.len()).unwrap_or(i64::MAX);
    let tx = c.transaction().await?;
    let take = tx
        .prepare_cached(
            "INSERT INTO webhook_events AS e (source, event_id, delivery_id, expires_at)
             VALUES ($1, $2, nextval(pg_get_serial_sequence('webhook_deliveries', 'id')), $3)
             ON CONFLICT (source, event_id) DO UPDATE
                 SET delivery_id = excluded.delivery_id, expires_at = excluded.expires_at
                 WHERE e.expires_at <= $4
             RETURNING delivery_id",
        )
        .await?;
    let won = tx.query_opt(&take, &[&p.source.as_str(), &p.event_id, &p.expires_at.0, &p.now.0]).await?;
    let Some(won) = won else {
        let original: i64 = tx
            .query_one(
                "SELECT delivery_id FROM webhook_events WHERE source = $1 AND event_id = $2",
                &[&p.source.as_str(), &p.event_id],
            )
            .await?
            .try_get(0)?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO webhook_deliveries (source, tenant, event_type, event_id, received_at, status,
                     duplicate_of, headers, body_size, body_sha256)
                 VALUES ($1, $2, $3, $4, $5, 'duplicate', $6, $7, $8, $9)
                 RETURNING id",
            )
            .await?;
        let delivery: i64 = tx
            .query_one(
                &insert,
                &[
                    &p.source.as_str(),
                    &p.tenant,
                    &p.event_type,
                    &p.event_id,
                    &p.now.0,
                    &original,
                    &headers,
                    &size,
                    &p.body_sha256,
                ],
            )
            .await?
            .try_get(0)?;
        let (status, job) = status_of(&tx, DeliveryId(original)).await?;
        tx.commit().await?;
        return Ok(WebhookIntaken::Duplicate {
            delivery: DeliveryId(delivery),
            original: DeliveryId(original),
            status,
            job,
        });
    };
    let delivery: i64 = won.try_get(0)?;
    let job = insert_jobs(&tx, node, &JobInsertParams { jobs: vec![p.job.clone()], now: p.now })
        .await?
        .pop()
        .ok_or_else(|| StoreError::Internal("the job insert answered nothing".into()))?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO webhook_deliveries (id, source, tenant, event_type, event_id, received_at, status, job_id,
                 headers, body, body_size, body_sha256)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $10, $11)",
        )
        .await?;
    tx.execute(
        &insert,
        &[
            &delivery,
            &p.source.as_str(),
            &p.tenant,
            &p.event_type,
            &p.event_id,
            &p.now.0,
            &job.id.0,
            &headers,
            &p.body,
            &size,
            &p.body_sha256,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(WebhookIntaken::Accepted { delivery: DeliveryId(delivery), job })
}

/// Inserts jobs inside the caller's transaction, resolving unique-key twins.
async fn insert_jobs(c: &impl GenericClient, node: &str, p: &JobInsertParams) -> Result<Vec<JobInserted>, StoreError> {
    let mut out: Vec<Option<JobInserted>> = vec![None; p.jobs.len()];
    let mut pending: Vec<usize> = (0..p.jobs.len()).collect();
    for _ in 0..UNIQUE_ROUNDS {
        pending = jobs::insert_round(c, node, p, &pending, &mut out).await?;
        if pending.is_empty() {
            return Ok(out.into_iter().flatten().collect());
        }
    }
    Err(StoreError::Conflict("a live job with the same unique_key kept finishing during the insert; try again".into()))
}

async fn status_of(c: &impl GenericClient, id: DeliveryId) -> Result<(DeliveryStatus, Option<JobId>), StoreError> {
    let sql = format!("SELECT {DELIVERY_STATUS}, d.job_id FROM {DELIVERY_FROM} WHERE d.id = $1");
    match c.query_opt(&sql, &[&id.0]).await? {
        Some(r) => Ok((r.parsed(0, "delivery status")?, r.opt_int(1)?.map(JobId))),
        // The original may have been pruned while its event id is still taken.
        None => Ok((DeliveryStatus::Completed, None)),
    }
}

async fn insert_keyed(c: &mut Client, node: &str, p: &JobInsertKeyedParams) -> Result<JobInsertedKeyed, StoreError> {
    let tx = c.transaction().await?;
    let take = tx
        .prepare_cached(
            "INSERT INTO enqueue_keys AS k (queue, key, job_ids, expires_at) VALUES ($1, $2, '[]', $3)
             ON CONFLICT (queue, key) DO UPDATE SET job_ids = '[]', expires_at = excluded.expires_at
                 WHERE k.expires_at <= $4
             RETURNING 1",
        )
        .await?;
    let won = tx.query_opt(&take, &[&p.queue.as_str(), &p.key, &p.expires_at.0, &p.now.0]).await?.is_some();
    if !won {
        let ids: String = tx
            .query_one("SELECT job_ids FROM enqueue_keys WHERE queue = $1 AND key = $2", &[&p.queue.as_str(), &p.key])
            .await?
            .try_get(0)?;
        let ids: Vec<i64> = serde_json::from_str(&ids).map_err(|e| StoreError::Internal(e.to_string()))?;
        let rows = tx.query("SELECT id, state FROM jobs WHERE id = ANY($1)", &[&ids]).await?;
        let mut jobs = Vec::with_capacity(ids.len());
        for id in ids {
            let row = rows.iter().find(|r| r.try_get::<_, i64>(0).ok() == Some(id));
            // A job pruned since keeps its id; completed is what pruning leaves.
            let state = match row {
                Some(r) => jobs::state_of(r, 1)?,
                None => rampart_core::job::JobState::Completed,
            };
            jobs.push(JobInserted { id: JobId(id), state, duplicate: true });
        }
        tx.commit().await?;
        return Ok(JobInsertedKeyed { jobs, replayed: true });
    }
    let jobs = insert_jobs(&tx, node, &JobInsertParams { jobs: p.jobs.clone(), now: p.now }).await?;
    let ids: Vec<i64> = jobs.iter().map(|j| j.id.0).collect();
    let ids = serde_json::to_string(&ids).map_err(|e| StoreError::Internal(e.to_string()))?;
    tx.execute(
        "UPDATE enqueue_keys SET job_ids = $3 WHERE queue = $1 AND key = $2",
        &[&p.queue.as_str(), &p.key, &ids],
    )
    .await?;
    tx.commit().await?;
    Ok(JobInsertedKeyed { jobs, replayed: false })
}

async fn prune(c: &mut Client, p: &WebhookPruneParams) -> Result<WebhookPruned, StoreError> {
    let limit = i64::from(p.limit);
    let events = c
        .execute(
            "DELETE FROM webhook_events WHERE (source, event_id) IN (
                 SELECT source, event_id FROM webhook_events WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2
                 FOR UPDATE SKIP LOCKED)",
            &[&p.now.0, &limit],
        )
        .await?;
    let keys = c
        .execute(
            "DELETE FROM enqueue_keys WHERE (queue, key) IN (
                 SELECT queue, key FROM enqueue_keys WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2
                 FOR UPDATE SKIP LOCKED)",
            &[&p.now.0, &limit],
        )
        .await?;
    let bodies = c
        .execute(
            "UPDATE webhook_deliveries SET body = NULL WHERE id IN (
                 SELECT id FROM webhook_deliveries WHERE body IS NOT NULL AND received_at < $1
                 ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[&p.bodies_before.0, &limit],
        )
        .await?;
    let deliveries = c
        .execute(
            "DELETE FROM webhook_deliveries WHERE id IN (
                 SELECT id FROM webhook_deliveries WHERE received_at < $1 ORDER BY received_at LIMIT $2
                 FOR UPDATE SKIP LOCKED)",
            &[&p.deliveries_before.0, &limit],
        )
        .await?;
    Ok(WebhookPruned { keys: events + keys, bodies, deliveries })
}

impl PgStore {
    pub(crate) async fn webhook_source_put(
        &self,
        name: &SourceName,
        spec: &str,
        now: UnixMillis,
    ) -> Result<WebhookSourceRecord, StoreError> {
        let sql = format!(
            "INSERT INTO webhook_sources ({SOURCE_COLUMNS}) VALUES ($1, $2, $3, $3)
             ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at
             RETURNING {SOURCE_COLUMNS}"
        );
        self.call(async |c| {
            let row = c.query_one(&sql, &[&name.as_str(), &spec, &now.0]).await?;
            WebhookSourceRecord::from_row(&row)
        })
        .await
    }

    pub(crate) async fn webhook_source_delete(&self, name: &SourceName) -> Result<bool, StoreError> {
        self.call(async |c| Ok(c.execute("DELETE FROM webhook_sources WHERE name = $1", &[&name.as_str()]).await? > 0))
            .await
    }

    pub(crate) async fn webhook_source_list(&self) -> Result<Vec<WebhookSourceRecord>, StoreError> {
        let sql = format!("SELECT {SOURCE_COLUMNS} FROM webhook_sources ORDER BY name");
        self.call(async |c| c.query(&sql, &[]).await?.iter().map(WebhookSourceRecord::from_row).collect()).await
    }

    pub(crate) async fn webhook_intake(&self, p: WebhookIntakeParams) -> Result<WebhookIntaken, StoreError> {
        let node = &self.inner.node;
        self.call(async |c| intake(c, node, &p).await).await
    }

    pub(crate) async fn webhook_reject(&self, p: WebhookRejectParams) -> Result<DeliveryId, StoreError> {
        let headers = headers_json(&p.headers)?;
        let size = i64::try_from(p.body_size).unwrap_or(i64::MAX);
        self.call(async |c| {
            let row = c
                .query_one(
                    "INSERT INTO webhook_deliveries (source, received_at, status, reason, headers, body_size, body_sha256)
                     VALUES ($1, $2, 'rejected', $3, $4, $5, $6) RETURNING id",
                    &[&p.source.as_str(), &p.now.0, &p.reason, &headers, &size, &p.body_sha256],
                )
                .await?;
            Ok(DeliveryId(row.try_get(0)?))
        })
        .await
    }

    pub(crate) async fn webhook_delivery_list(
        &self,
        p: WebhookDeliveryListParams,
    ) -> Result<Vec<WebhookDeliveryRecord>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM}
             WHERE ($1::text IS NULL OR d.source = $1) AND ($2::text IS NULL OR d.tenant = $2)
               AND ($3::text IS NULL OR ({DELIVERY_STATUS}) = $3) AND ($4::text IS NULL OR d.event_type = $4)
               AND ($5::bigint IS NULL OR d.received_at >= $5) AND d.id < $6
             ORDER BY d.id DESC LIMIT $7"
        );
        let source = p.source.as_ref().map(SourceName::as_str);
        let status = p.status.map(|s| s.as_str());
        let since = p.since.map(|t| t.0);
        let before = p.before.map_or(i64::MAX, |d| d.0);
        let limit = i64::from(p.limit);
        self.call(async |c| {
            c.query(&sql, &[&source, &p.tenant, &status, &p.event_type, &since, &before, &limit])
                .await?
                .iter()
                .map(WebhookDeliveryRecord::from_row)
                .collect()
        })
        .await
    }

    pub(crate) async fn webhook_delivery_get(
        &self,
        id: DeliveryId,
    ) -> Result<Option<WebhookDeliveryWithBody>, StoreError> {
        let sql = format!("SELECT {DELIVERY_COLUMNS}, d.body FROM {DELIVERY_FROM} WHERE d.id = $1");
        self.call(async |c| match c.query_opt(&sql, &[&id.0]).await? {
            Some(r) => Ok(Some((WebhookDeliveryRecord::from_row(&r)?, r.try_get::<_, Option<Vec<u8>>>(18)?))),
            None => Ok(None),
        })
        .await
    }

    pub(crate) async fn webhook_delivery_settle(&self, limit: u32) -> Result<u64, StoreError> {
        self.call(async |c| {
            Ok(c.execute(
                "WITH due AS (
                     SELECT d.id, j.state, j.attempt, j.started_at, j.finished_at, j.last_error
                     FROM webhook_deliveries d JOIN jobs j ON j.id = d.job_id
                     WHERE d.status = 'pending' AND j.state IN ('completed', 'dead', 'cancelled')
                     ORDER BY d.id LIMIT $1
                     FOR UPDATE OF d SKIP LOCKED
                 )
                 UPDATE webhook_deliveries SET
                     status = CASE due.state WHEN 'completed' THEN 'completed' WHEN 'dead' THEN 'dead_letter'
                                             ELSE 'cancelled' END,
                     attempts = due.attempt, last_attempt_at = due.started_at,
                     completed_at = CASE WHEN due.state = 'completed' THEN due.finished_at END,
                     last_error = due.last_error
                 FROM due WHERE webhook_deliveries.id = due.id",
                &[&i64::from(limit)],
            )
            .await?)
        })
        .await
    }

    pub(crate) async fn webhook_delivery_reopen(&self, id: DeliveryId) -> Result<(), StoreError> {
        self.call(async |c| {
            c.execute(
                "UPDATE webhook_deliveries SET status = 'pending' WHERE id = $1 AND job_id IS NOT NULL",
                &[&id.0],
            )
            .await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn webhook_prune(&self, p: WebhookPruneParams) -> Result<WebhookPruned, StoreError> {
        self.call(async |c| prune(c, &p).await).await
    }

    pub(crate) async fn webhook_source_activity(&self) -> Result<Vec<WebhookSourceActivity>, StoreError> {
        self.call(async |c| {
            c.query(
                "SELECT source, MAX(received_at),
                        MAX(CASE WHEN status <> 'rejected' AND status <> 'duplicate' THEN received_at END),
                        MAX(CASE WHEN status = 'rejected' THEN received_at END)
                 FROM webhook_deliveries GROUP BY source ORDER BY source",
                &[],
            )
            .await?
            .iter()
            .map(WebhookSourceActivity::from_row)
            .collect()
        })
        .await
    }

    pub(crate) async fn job_insert_keyed(&self, p: JobInsertKeyedParams) -> Result<JobInsertedKeyed, StoreError> {
        let node = &self.inner.node;
        self.call(async |c| insert_keyed(c, node, &p).await).await
    }
}
