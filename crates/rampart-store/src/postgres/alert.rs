//! SQL of alerts, silences and alert notifications on PostgreSQL.
//!
//! A notice is claimed by one statement that can succeed on one node only:
//! an insert the `alerts_firing` unique index lets through once, or an update
//! whose condition (still firing, `last_notified_at` as seen) a second node
//! re-checks after waiting on the first one's row lock and finds false. The
//! outbox rows are written in the same transaction; delivery loops claim
//! them with `FOR UPDATE SKIP LOCKED`, so two nodes never take the same row.

use deadpool_postgres::Transaction;
use rampart_core::alert::{AlertId, AlertRule, NoticeKind, SilenceId};
use rampart_core::time::UnixMillis;

use super::Client;
use crate::alert::*;
use crate::error::StoreError;

const ALERT_COLUMNS: &str = "id, rule, subject, state, value, threshold, details, started_at, last_notified_at, \
                             resolved_at, acked_at, acked_by";
const SILENCE_COLUMNS: &str = "id, rule, subject, ends_at, created_at, created_by, reason";

async fn queue_notices(
    tx: &Transaction<'_>,
    id: AlertId,
    kind: NoticeKind,
    channels: &[String],
    value: f64,
    details: &str,
    now: UnixMillis,
) -> Result<(), StoreError> {
    if channels.is_empty() {
        return Ok(());
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO alert_notifications (alert_id, kind, channel, value, details, created_at, next_attempt_at)
             SELECT $1, $2, channel, $4, $5, $6, $6 FROM unnest($3::text[]) AS channel",
        )
        .await?;
    tx.execute(&stmt, &[&id.0, &kind.as_str(), &channels, &value, &details, &now.0]).await?;
    Ok(())
}

pub(super) async fn fire(c: &mut Client, p: &AlertFireParams) -> Result<Option<AlertRecord>, StoreError> {
    let tx = c.transaction().await?;
    let stmt = tx
        .prepare_cached(&format!(
            "INSERT INTO alerts (rule, subject, state, value, threshold, details, started_at, last_notified_at)
             VALUES ($1, $2, 'firing', $3, $4, $5, $6, $6)
             ON CONFLICT DO NOTHING
             RETURNING {ALERT_COLUMNS}"
        ))
        .await?;
    let row =
        tx.query_opt(&stmt, &[&p.rule.as_str(), &p.subject, &p.value, &p.threshold, &p.details, &p.now.0]).await?;
    let inserted = row.as_ref().map(AlertRecord::from_row).transpose()?;
    if let Some(alert) = &inserted {
        queue_notices(&tx, alert.id, NoticeKind::Firing, &p.channels, p.value, &p.details, p.now).await?;
    }
    tx.commit().await?;
    Ok(inserted)
}

pub(super) async fn remind(c: &mut Client, p: &AlertRemindParams) -> Result<bool, StoreError> {
    let tx = c.transaction().await?;
    let stmt = tx
        .prepare_cached(
            "UPDATE alerts SET last_notified_at = $1, value = $2, details = $3
             WHERE id = $4 AND state = 'firing' AND last_notified_at = $5 AND acked_at IS NULL",
        )
        .await?;
    let n = tx.execute(&stmt, &[&p.now.0, &p.value, &p.details, &p.id.0, &p.seen_notified_at.0]).await?;
    if n == 1 {
        queue_notices(&tx, p.id, NoticeKind::Reminder, &p.channels, p.value, &p.details, p.now).await?;
    }
    tx.commit().await?;
    Ok(n == 1)
}

pub(super) async fn resolve(c: &mut Client, p: &AlertResolveParams) -> Result<bool, StoreError> {
    let tx = c.transaction().await?;
    let stmt = tx
        .prepare_cached(
            "UPDATE alerts SET state = 'resolved', resolved_at = $1, value = $2, details = $3
             WHERE id = $4 AND state = 'firing'",
        )
        .await?;
    let n = tx.execute(&stmt, &[&p.now.0, &p.value, &p.details, &p.id.0]).await?;
    if n == 1 {
        queue_notices(&tx, p.id, NoticeKind::Resolved, &p.channels, p.value, &p.details, p.now).await?;
    }
    tx.commit().await?;
    Ok(n == 1)
}

pub(super) async fn get(c: &mut Client, id: AlertId) -> Result<Option<AlertRecord>, StoreError> {
    let stmt = c.prepare_cached(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1")).await?;
    c.query_opt(&stmt, &[&id.0]).await?.as_ref().map(AlertRecord::from_row).transpose()
}

pub(super) async fn list(c: &mut Client, p: &AlertListParams) -> Result<Vec<AlertRecord>, StoreError> {
    let before = p.before.map_or(i64::MAX, |id| id.0);
    let limit = i64::from(p.limit);
    let rows = match p.state {
        Some(state) => {
            let stmt = c
                .prepare_cached(&format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE state = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
                ))
                .await?;
            c.query(&stmt, &[&state.as_str(), &before, &limit]).await?
        }
        None => {
            let stmt = c
                .prepare_cached(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id < $1 ORDER BY id DESC LIMIT $2"))
                .await?;
            c.query(&stmt, &[&before, &limit]).await?
        }
    };
    rows.iter().map(AlertRecord::from_row).collect()
}

pub(super) async fn ack(
    c: &mut Client,
    id: AlertId,
    by: &str,
    now: UnixMillis,
) -> Result<Option<AlertRecord>, StoreError> {
    // A second ack keeps the first one's time and name.
    let stmt =
        c.prepare_cached("UPDATE alerts SET acked_at = $1, acked_by = $2 WHERE id = $3 AND acked_at IS NULL").await?;
    c.execute(&stmt, &[&now.0, &by, &id.0]).await?;
    get(c, id).await
}

pub(super) async fn silence_insert(c: &mut Client, s: &SilenceInsert) -> Result<SilenceRecord, StoreError> {
    let stmt = c
        .prepare_cached(&format!(
            "INSERT INTO alert_silences (rule, subject, ends_at, created_at, created_by, reason)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {SILENCE_COLUMNS}"
        ))
        .await?;
    let rule = s.rule.map(AlertRule::as_str);
    SilenceRecord::from_row(
        &c.query_one(&stmt, &[&rule, &s.subject, &s.ends_at.0, &s.now.0, &s.created_by, &s.reason]).await?,
    )
}

pub(super) async fn silence_list(c: &mut Client, now: UnixMillis) -> Result<Vec<SilenceRecord>, StoreError> {
    let stmt = c
        .prepare_cached(&format!("SELECT {SILENCE_COLUMNS} FROM alert_silences WHERE ends_at > $1 ORDER BY id"))
        .await?;
    c.query(&stmt, &[&now.0]).await?.iter().map(SilenceRecord::from_row).collect()
}

pub(super) async fn silence_delete(c: &mut Client, id: SilenceId) -> Result<bool, StoreError> {
    let stmt = c.prepare_cached("DELETE FROM alert_silences WHERE id = $1").await?;
    Ok(c.execute(&stmt, &[&id.0]).await? > 0)
}

pub(super) async fn notification_claim(
    c: &mut Client,
    p: &AlertNotificationClaimParams,
) -> Result<Vec<AlertNotification>, StoreError> {
    let until = p.now.plus(p.lease);
    let stmt = c
        .prepare_cached(&format!(
            "WITH claimed AS (
                 UPDATE alert_notifications SET attempts = attempts + 1, next_attempt_at = $1
                 WHERE id IN (SELECT n.id FROM alert_notifications n WHERE NOT n.done AND n.next_attempt_at <= $2
                                AND NOT EXISTS (SELECT 1 FROM alert_notifications e
                                                WHERE e.alert_id = n.alert_id AND e.channel = n.channel
                                                  AND e.id < n.id AND NOT e.done)
                              ORDER BY n.next_attempt_at, n.id LIMIT $3 FOR UPDATE OF n SKIP LOCKED)
                 RETURNING id, alert_id, kind, channel, value, details, created_at, attempts
             )
             SELECT claimed.id, claimed.kind, claimed.channel, claimed.value, claimed.details,
                    claimed.created_at, claimed.attempts,
                    (SELECT f.remote_id FROM alert_notifications f
                     WHERE f.alert_id = claimed.alert_id AND f.channel = claimed.channel
                       AND f.kind = 'firing' AND f.remote_id IS NOT NULL ORDER BY f.id LIMIT 1),
                    {}
             FROM claimed JOIN alerts a ON a.id = claimed.alert_id
             ORDER BY claimed.id",
            ALERT_COLUMNS.split(", ").map(|col| format!("a.{}", col.trim())).collect::<Vec<_>>().join(", ")
        ))
        .await?;
    let rows = c.query(&stmt, &[&until.0, &p.now.0, &i64::from(p.limit)]).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let kind: String = r.try_get(1)?;
        let attempts: i32 = r.try_get(6)?;
        let alert = AlertRecord::from_row_at(&r, 8)?;
        out.push(AlertNotification {
            id: r.try_get(0)?,
            alert,
            kind: kind.parse().map_err(StoreError::Internal)?,
            channel: r.try_get(2)?,
            value: r.try_get(3)?,
            details: r.try_get(4)?,
            created_at: UnixMillis(r.try_get(5)?),
            attempts: u32::try_from(attempts).unwrap_or(0),
            reply_to: r.try_get(7)?,
        });
    }
    Ok(out)
}

pub(super) async fn notification_settle(
    c: &mut Client,
    id: i64,
    outcome: &NotificationOutcome,
    now: UnixMillis,
) -> Result<(), StoreError> {
    match outcome {
        NotificationOutcome::Delivered { remote_id } => {
            let stmt = c
                .prepare_cached(
                    "UPDATE alert_notifications SET done = true, delivered_at = $1, remote_id = $2 WHERE id = $3",
                )
                .await?;
            c.execute(&stmt, &[&now.0, remote_id, &id]).await?;
        }
        NotificationOutcome::Retry { at, error } => {
            let stmt = c
                .prepare_cached("UPDATE alert_notifications SET next_attempt_at = $1, last_error = $2 WHERE id = $3")
                .await?;
            c.execute(&stmt, &[&at.0, error, &id]).await?;
        }
        NotificationOutcome::GiveUp { error } => {
            let stmt = c
                .prepare_cached(
                    "UPDATE alert_notifications SET done = true, failed_at = $1, last_error = $2 WHERE id = $3",
                )
                .await?;
            c.execute(&stmt, &[&now.0, error, &id]).await?;
        }
    }
    Ok(())
}

pub(super) async fn job_dead_since(c: &mut Client, p: &JobDeadSinceParams) -> Result<Vec<DeadJobsOfQueue>, StoreError> {
    let stmt = c
        .prepare_cached(
            "SELECT queue, id, attempt, last_error, finished_at FROM jobs
             WHERE state = 'dead' AND finished_at > $1 AND finished_at <= $2
             ORDER BY finished_at, id",
        )
        .await?;
    let rows = c.query(&stmt, &[&p.after.0, &p.until.0]).await?;
    let rows = rows
        .iter()
        .map(|r| {
            let attempt: i32 = r.try_get(2)?;
            Ok((r.try_get(0)?, r.try_get(1)?, i64::from(attempt), r.try_get(3)?, r.try_get(4)?))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    crate::alert::group_dead(rows, p.per_queue)
}

// The alert calls of the PostgreSQL store, beside their SQL.
impl super::PgStore {
    pub(crate) async fn alert_fire(&self, p: AlertFireParams) -> Result<Option<AlertRecord>, StoreError> {
        self.call(async |c| fire(c, &p).await).await
    }

    pub(crate) async fn alert_remind(&self, p: AlertRemindParams) -> Result<bool, StoreError> {
        self.call(async |c| remind(c, &p).await).await
    }

    pub(crate) async fn alert_resolve(&self, p: AlertResolveParams) -> Result<bool, StoreError> {
        self.call(async |c| resolve(c, &p).await).await
    }

    pub(crate) async fn alert_get(&self, id: AlertId) -> Result<Option<AlertRecord>, StoreError> {
        self.call(async |c| get(c, id).await).await
    }

    pub(crate) async fn alert_list(&self, p: AlertListParams) -> Result<Vec<AlertRecord>, StoreError> {
        self.call(async |c| list(c, &p).await).await
    }

    pub(crate) async fn alert_ack(
        &self,
        id: AlertId,
        by: String,
        now: UnixMillis,
    ) -> Result<Option<AlertRecord>, StoreError> {
        self.call(async |c| ack(c, id, &by, now).await).await
    }

    pub(crate) async fn silence_insert(&self, s: SilenceInsert) -> Result<SilenceRecord, StoreError> {
        self.call(async |c| silence_insert(c, &s).await).await
    }

    pub(crate) async fn silence_list(&self, now: UnixMillis) -> Result<Vec<SilenceRecord>, StoreError> {
        self.call(async |c| silence_list(c, now).await).await
    }

    pub(crate) async fn silence_delete(&self, id: SilenceId) -> Result<bool, StoreError> {
        self.call(async |c| silence_delete(c, id).await).await
    }

    pub(crate) async fn alert_notification_claim(
        &self,
        p: AlertNotificationClaimParams,
    ) -> Result<Vec<AlertNotification>, StoreError> {
        self.call(async |c| notification_claim(c, &p).await).await
    }

    pub(crate) async fn alert_notification_settle(
        &self,
        id: i64,
        outcome: NotificationOutcome,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        self.call(async |c| notification_settle(c, id, &outcome, now).await).await
    }

    pub(crate) async fn job_dead_since(&self, p: JobDeadSinceParams) -> Result<Vec<DeadJobsOfQueue>, StoreError> {
        self.call(async |c| job_dead_since(c, &p).await).await
    }
}
