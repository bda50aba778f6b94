//! SQL of alerts, silences and alert notifications on SQLite.
//!
//! Every write runs on the writer thread inside its savepoint, so a claimed
//! notice (the alert's compare-and-set) and its outbox rows commit together;
//! with one writer, no two claims ever interleave.

use rampart_core::alert::{AlertId, AlertRule, NoticeKind, SilenceId};
use rampart_core::time::UnixMillis;
use rusqlite::{Connection, OptionalExtension, params};

use crate::alert::*;
use crate::error::StoreError;

const ALERT_COLUMNS: &str = "id, rule, subject, state, value, threshold, details, started_at, last_notified_at, \
                             resolved_at, acked_at, acked_by";
const SILENCE_COLUMNS: &str = "id, rule, subject, ends_at, created_at, created_by, reason";

fn queue_notices(
    c: &Connection,
    id: AlertId,
    kind: NoticeKind,
    channels: &[String],
    value: f64,
    details: &str,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let mut stmt = c.prepare_cached(
        "INSERT INTO alert_notifications (alert_id, kind, channel, value, details, created_at, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?;
    for channel in channels {
        stmt.execute(params![id.0, kind.as_str(), channel, value, details, now.0])?;
    }
    Ok(())
}

pub(super) fn fire(c: &Connection, p: &AlertFireParams) -> Result<Option<AlertRecord>, StoreError> {
    let inserted = c
        .prepare_cached(&format!(
            "INSERT INTO alerts (rule, subject, state, value, threshold, details, started_at, last_notified_at)
             VALUES (?1, ?2, 'firing', ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT DO NOTHING
             RETURNING {ALERT_COLUMNS}"
        ))?
        .query_row(params![p.rule.as_str(), p.subject, p.value, p.threshold, p.details, p.now.0], |r| {
            AlertRecord::from_row(r)
        })
        .optional()?;
    if let Some(alert) = &inserted {
        queue_notices(c, alert.id, NoticeKind::Firing, &p.channels, p.value, &p.details, p.now)?;
    }
    Ok(inserted)
}

pub(super) fn remind(c: &Connection, p: &AlertRemindParams) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached(
            "UPDATE alerts SET last_notified_at = ?1, value = ?2, details = ?3
             WHERE id = ?4 AND state = 'firing' AND last_notified_at = ?5 AND acked_at IS NULL",
        )?
        .execute(params![p.now.0, p.value, p.details, p.id.0, p.seen_notified_at.0])?;
    if n == 1 {
        queue_notices(c, p.id, NoticeKind::Reminder, &p.channels, p.value, &p.details, p.now)?;
    }
    Ok(n == 1)
}

pub(super) fn resolve(c: &Connection, p: &AlertResolveParams) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached(
            "UPDATE alerts SET state = 'resolved', resolved_at = ?1, value = ?2, details = ?3
             WHERE id = ?4 AND state = 'firing'",
        )?
        .execute(params![p.now.0, p.value, p.details, p.id.0])?;
    if n == 1 {
        queue_notices(c, p.id, NoticeKind::Resolved, &p.channels, p.value, &p.details, p.now)?;
    }
    Ok(n == 1)
}

pub(super) fn get(c: &Connection, id: AlertId) -> Result<Option<AlertRecord>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"))?
        .query_row([id.0], |r| AlertRecord::from_row(r))
        .optional()?)
}

pub(super) fn list(c: &Connection, p: &AlertListParams) -> Result<Vec<AlertRecord>, StoreError> {
    let before = p.before.map_or(i64::MAX, |id| id.0);
    let rows = match p.state {
        Some(state) => c
            .prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE state = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
            ))?
            .query_map(params![state.as_str(), before, p.limit], |r| AlertRecord::from_row(r))?
            .collect::<Result<Vec<_>, _>>()?,
        None => c
            .prepare_cached(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id < ?1 ORDER BY id DESC LIMIT ?2"))?
            .query_map(params![before, p.limit], |r| AlertRecord::from_row(r))?
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(rows)
}

pub(super) fn ack(c: &Connection, id: AlertId, by: &str, now: UnixMillis) -> Result<Option<AlertRecord>, StoreError> {
    // A second ack keeps the first one's time and name.
    c.prepare_cached("UPDATE alerts SET acked_at = ?1, acked_by = ?2 WHERE id = ?3 AND acked_at IS NULL")?
        .execute(params![now.0, by, id.0])?;
    get(c, id)
}

pub(super) fn silence_insert(c: &Connection, s: &SilenceInsert) -> Result<SilenceRecord, StoreError> {
    Ok(c.prepare_cached(&format!(
        "INSERT INTO alert_silences (rule, subject, ends_at, created_at, created_by, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {SILENCE_COLUMNS}"
    ))?
    .query_row(
        params![s.rule.map(AlertRule::as_str), s.subject, s.ends_at.0, s.now.0, s.created_by, s.reason],
        |r| SilenceRecord::from_row(r),
    )?)
}

pub(super) fn silence_list(c: &Connection, now: UnixMillis) -> Result<Vec<SilenceRecord>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {SILENCE_COLUMNS} FROM alert_silences WHERE ends_at > ?1 ORDER BY id"))?
        .query_map([now.0], |r| SilenceRecord::from_row(r))?
        .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn silence_delete(c: &Connection, id: SilenceId) -> Result<bool, StoreError> {
    Ok(c.prepare_cached("DELETE FROM alert_silences WHERE id = ?1")?.execute([id.0])? > 0)
}

pub(super) fn notification_claim(
    c: &Connection,
    p: &AlertNotificationClaimParams,
) -> Result<Vec<AlertNotification>, StoreError> {
    let until = p.now.plus(p.lease);
    // The claimed rows, read before their alerts are.
    struct Claimed {
        id: i64,
        alert_id: i64,
        kind: String,
        channel: String,
        value: f64,
        details: String,
        created_at: i64,
        attempts: i64,
        reply_to: Option<String>,
    }
    let claimed: Vec<Claimed> = c
        .prepare_cached(
            "UPDATE alert_notifications SET attempts = attempts + 1, next_attempt_at = ?1
             WHERE id IN (SELECT n.id FROM alert_notifications n WHERE n.done = 0 AND n.next_attempt_at <= ?2
                            AND NOT EXISTS (SELECT 1 FROM alert_notifications e
                                            WHERE e.alert_id = n.alert_id AND e.channel = n.channel
                                              AND e.id < n.id AND e.done = 0)
                          ORDER BY n.next_attempt_at, n.id LIMIT ?3)
             RETURNING id, alert_id, kind, channel, value, details, created_at, attempts,
                       (SELECT f.remote_id FROM alert_notifications f
                        WHERE f.alert_id = alert_notifications.alert_id
                          AND f.channel = alert_notifications.channel
                          AND f.kind = 'firing' AND f.remote_id > '' ORDER BY f.id LIMIT 1)",
        )?
        .query_map(params![until.0, p.now.0, p.limit], |r| {
            Ok(Claimed {
                id: r.get(0)?,
                alert_id: r.get(1)?,
                kind: r.get(2)?,
                channel: r.get(3)?,
                value: r.get(4)?,
                details: r.get(5)?,
                created_at: r.get(6)?,
                attempts: r.get(7)?,
                reply_to: r.get(8)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(claimed.len());
    for Claimed { id, alert_id, kind, channel, value, details, created_at, attempts, reply_to } in claimed {
        let alert = get(c, AlertId(alert_id))?
            .ok_or_else(|| StoreError::Internal(format!("notification {id} names alert {alert_id}, which is gone")))?;
        out.push(AlertNotification {
            id,
            alert,
            kind: kind.parse().map_err(StoreError::Internal)?,
            channel,
            value,
            details,
            created_at: UnixMillis(created_at),
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            reply_to,
        });
    }
    out.sort_by_key(|n| n.id);
    Ok(out)
}

pub(super) fn notification_settle(
    c: &Connection,
    id: i64,
    outcome: &NotificationOutcome,
    now: UnixMillis,
) -> Result<(), StoreError> {
    match outcome {
        NotificationOutcome::Delivered { remote_id } => c
            .prepare_cached("UPDATE alert_notifications SET done = 1, delivered_at = ?1, remote_id = ?2 WHERE id = ?3")?
            .execute(params![now.0, remote_id, id])?,
        NotificationOutcome::Retry { at, error } => c
            .prepare_cached("UPDATE alert_notifications SET next_attempt_at = ?1, last_error = ?2 WHERE id = ?3")?
            .execute(params![at.0, error, id])?,
        NotificationOutcome::GiveUp { error } => c
            .prepare_cached("UPDATE alert_notifications SET done = 1, failed_at = ?1, last_error = ?2 WHERE id = ?3")?
            .execute(params![now.0, error, id])?,
    };
    Ok(())
}

pub(super) fn job_dead_since(c: &Connection, p: &JobDeadSinceParams) -> Result<Vec<DeadJobsOfQueue>, StoreError> {
    let rows: Vec<crate::alert::DeadRow> = c
        .prepare_cached(
            "SELECT queue, id, attempt, last_error, finished_at FROM jobs
             WHERE state = 'dead' AND finished_at > ?1 AND finished_at <= ?2
             ORDER BY finished_at, id",
        )?
        .query_map(params![p.after.0, p.until.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<Result<_, _>>()?;
    crate::alert::group_dead(rows, p.per_queue)
}

// The alert calls of the SQLite store, beside their SQL.
impl super::SqliteStore {
    pub(crate) async fn alert_fire(&self, p: AlertFireParams) -> Result<Option<AlertRecord>, StoreError> {
        self.write(move |c| fire(c, &p)).await
    }

    pub(crate) async fn alert_remind(&self, p: AlertRemindParams) -> Result<bool, StoreError> {
        self.write(move |c| remind(c, &p)).await
    }

    pub(crate) async fn alert_resolve(&self, p: AlertResolveParams) -> Result<bool, StoreError> {
        self.write(move |c| resolve(c, &p)).await
    }

    pub(crate) async fn alert_get(&self, id: AlertId) -> Result<Option<AlertRecord>, StoreError> {
        self.read(move |c| get(c, id)).await
    }

    pub(crate) async fn alert_list(&self, p: AlertListParams) -> Result<Vec<AlertRecord>, StoreError> {
        self.read(move |c| list(c, &p)).await
    }

    pub(crate) async fn alert_ack(
        &self,
        id: AlertId,
        by: String,
        now: UnixMillis,
    ) -> Result<Option<AlertRecord>, StoreError> {
        self.write(move |c| ack(c, id, &by, now)).await
    }

    pub(crate) async fn silence_insert(&self, s: SilenceInsert) -> Result<SilenceRecord, StoreError> {
        self.write(move |c| silence_insert(c, &s)).await
    }

    pub(crate) async fn silence_list(&self, now: UnixMillis) -> Result<Vec<SilenceRecord>, StoreError> {
        self.read(move |c| silence_list(c, now)).await
    }

    pub(crate) async fn silence_delete(&self, id: SilenceId) -> Result<bool, StoreError> {
        self.write(move |c| silence_delete(c, id)).await
    }

    pub(crate) async fn alert_notification_claim(
        &self,
        p: AlertNotificationClaimParams,
    ) -> Result<Vec<AlertNotification>, StoreError> {
        self.write(move |c| notification_claim(c, &p)).await
    }

    pub(crate) async fn alert_notification_settle(
        &self,
        id: i64,
        outcome: NotificationOutcome,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        self.write(move |c| notification_settle(c, id, &outcome, now)).await
    }

    pub(crate) async fn job_dead_since(&self, p: JobDeadSinceParams) -> Result<Vec<DeadJobsOfQueue>, StoreError> {
        self.read(move |c| job_dead_since(c, &p)).await
    }
}
