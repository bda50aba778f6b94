//! Parameters and records of alerts, silences and alert notifications.
//!
//! Every notice is claimed by a compare-and-set: [`crate::Store::alert_fire`]
//! inserts the firing alert only when none fires for its rule and subject
//! (a unique index), [`crate::Store::alert_remind`] moves `last_notified_at`
//! only from the value the caller saw, and [`crate::Store::alert_resolve`]
//! ends only a firing alert. The claim writes one outbox row per channel in
//! the same transaction, so of several nodes deciding the same thing, exactly
//! one queues the notice, and a crash after the commit loses nothing: a
//! delivery loop on any node claims due rows, sends them and settles them.

use std::time::Duration;

use crate::error::StoreError;

use rampart_core::alert::{AlertId, AlertRule, AlertState, NoticeKind, SilenceId};
use rampart_core::id::{JobId, QueueName};
use rampart_core::time::UnixMillis;

use crate::row::Row;

/// A stored alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    /// Its id.
    pub id: AlertId,
    /// The rule that fired.
    pub rule: AlertRule,
    /// What it fired about: a queue's name, or `store`.
    pub subject: String,
    /// Firing or resolved.
    pub state: AlertState,
    /// The figure at the last notice.
    pub value: f64,
    /// The threshold the figure was compared with.
    pub threshold: f64,
    /// JSON text the server attached at the last notice (dead jobs, …).
    pub details: String,
    /// When it started firing.
    pub started_at: UnixMillis,
    /// When its last notice (firing or reminder) was claimed.
    pub last_notified_at: UnixMillis,
    /// When it resolved.
    pub resolved_at: Option<UnixMillis>,
    /// When someone acknowledged it: no reminders after that.
    pub acked_at: Option<UnixMillis>,
    /// Who acknowledged it (the API key's name).
    pub acked_by: Option<String>,
}

/// Starts an alert, claiming its firing notice.
#[derive(Debug, Clone)]
pub struct AlertFireParams {
    /// The rule.
    pub rule: AlertRule,
    /// What it is about.
    pub subject: String,
    /// The figure.
    pub value: f64,
    /// The threshold.
    pub threshold: f64,
    /// JSON text.
    pub details: String,
    /// Channels to notify (none while silenced).
    pub channels: Vec<String>,
    /// Now.
    pub now: UnixMillis,
}

/// Claims a reminder of a firing alert.
#[derive(Debug, Clone)]
pub struct AlertRemindParams {
    /// The alert.
    pub id: AlertId,
    /// The `last_notified_at` the caller saw: the claim fails if another
    /// node moved it since.
    pub seen_notified_at: UnixMillis,
    /// The figure now.
    pub value: f64,
    /// JSON text.
    pub details: String,
    /// Channels to notify.
    pub channels: Vec<String>,
    /// Now.
    pub now: UnixMillis,
}

/// Resolves a firing alert, claiming its resolved notice.
#[derive(Debug, Clone)]
pub struct AlertResolveParams {
    /// The alert.
    pub id: AlertId,
    /// The figure now.
    pub value: f64,
    /// JSON text.
    pub details: String,
    /// Channels to notify.
    pub channels: Vec<String>,
    /// Now.
    pub now: UnixMillis,
}

/// A page of alerts, newest first.
#[derive(Debug, Clone)]
pub struct AlertListParams {
    /// Only alerts in this state.
    pub state: Option<AlertState>,
    /// Only alerts older than this one (the cursor).
    pub before: Option<AlertId>,
    /// At most this many.
    pub limit: u32,
}

/// A new silence.
#[derive(Debug, Clone)]
pub struct SilenceInsert {
    /// Only this rule; `None` for every rule.
    pub rule: Option<AlertRule>,
    /// Only this subject; `None` for every subject.
    pub subject: Option<String>,
    /// When it stops.
    pub ends_at: UnixMillis,
    /// Who made it (the API key's name).
    pub created_by: String,
    /// Why.
    pub reason: String,
    /// Now.
    pub now: UnixMillis,
}

/// A stored silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceRecord {
    /// Its id.
    pub id: SilenceId,
    /// The rule it matches; `None` matches every rule.
    pub rule: Option<AlertRule>,
    /// The subject it matches; `None` matches every subject.
    pub subject: Option<String>,
    /// When it stops.
    pub ends_at: UnixMillis,
    /// When it was made.
    pub created_at: UnixMillis,
    /// Who made it.
    pub created_by: String,
    /// Why.
    pub reason: String,
}

/// A notification claimed for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertNotification {
    /// The outbox row's id, stable across retries (a receiver may use it to
    /// drop duplicates).
    pub id: i64,
    /// The alert as it is now.
    pub alert: AlertRecord,
    /// What it announces.
    pub kind: NoticeKind,
    /// The channel to send it to, by name.
    pub channel: String,
    /// The figure when the notice was claimed.
    pub value: f64,
    /// The details when the notice was claimed.
    pub details: String,
    /// When the notice was claimed.
    pub created_at: UnixMillis,
    /// Delivery attempts so far, this one included.
    pub attempts: u32,
    /// What the channel answered for the alert's delivered firing notice on
    /// this channel (Slack's message `ts`): later notices reply under it.
    pub reply_to: Option<String>,
}

/// Claims due notifications.
#[derive(Debug, Clone)]
pub struct AlertNotificationClaimParams {
    /// Now.
    pub now: UnixMillis,
    /// How long a claim keeps other nodes off the row: after it the row is
    /// due again, so a node that died mid-send loses nothing.
    pub lease: Duration,
    /// At most this many.
    pub limit: u32,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// Sent.
    Delivered {
        /// What the channel answered that later notices refer to (Slack's
        /// message `ts`), if anything.
        remote_id: Option<String>,
    },
    /// Failed; due again at `at`.
    Retry {
        /// When to try again.
        at: UnixMillis,
        /// What went wrong.
        error: String,
    },
    /// Failed for the last time.
    GiveUp {
        /// What went wrong.
        error: String,
    },
}

/// A dead job, as the dead-letter alert lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadJobSummary {
    /// The job.
    pub id: JobId,
    /// Its queue.
    pub queue: QueueName,
    /// Attempts it used.
    pub attempts: u32,
    /// Its last error.
    pub last_error: Option<String>,
    /// When it died.
    pub died_at: UnixMillis,
}

/// Dead jobs that died in a window of time.
#[derive(Debug, Clone)]
pub struct JobDeadSinceParams {
    /// Died strictly after this.
    pub after: UnixMillis,
    /// Died at or before this.
    pub until: UnixMillis,
    /// At most this many listed per queue (all are counted).
    pub per_queue: u32,
}

/// What [`crate::Store::job_dead_since`] answers for one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadJobsOfQueue {
    /// The queue.
    pub queue: QueueName,
    /// How many died in the window.
    pub count: u64,
    /// The first few of them, oldest death first.
    pub first: Vec<DeadJobSummary>,
}

/// A dead job as read: queue, id, attempt, last error, when it died.
pub(crate) type DeadRow = (String, i64, i64, Option<String>, i64);

/// Groups dead jobs (oldest death first) by queue, counting all and keeping
/// the first `per_queue` of each.
pub(crate) fn group_dead(rows: Vec<DeadRow>, per_queue: u32) -> Result<Vec<DeadJobsOfQueue>, StoreError> {
    let mut out: Vec<DeadJobsOfQueue> = Vec::new();
    for (queue, id, attempt, last_error, died_at) in rows {
        let queue =
            QueueName::new(&queue).map_err(|e| StoreError::Internal(format!("stored queue name of job {id}: {e}")))?;
        let i = match out.iter().position(|g| g.queue == queue) {
            Some(i) => i,
            None => {
                out.push(DeadJobsOfQueue { queue: queue.clone(), count: 0, first: Vec::new() });
                out.len() - 1
            }
        };
        let group = &mut out[i];
        group.count += 1;
        if group.first.len() < per_queue as usize {
            group.first.push(DeadJobSummary {
                id: JobId(id),
                queue,
                attempts: u32::try_from(attempt).unwrap_or(0),
                last_error,
                died_at: UnixMillis(died_at),
            });
        }
    }
    out.sort_by(|a, b| a.queue.cmp(&b.queue));
    Ok(out)
}

// The alert calls of the store. Kept beside their types so the shared
// `lib.rs` only names this module. Like every store call, they apply the
// NUL rule (`crate::text`) to their arguments first.
impl crate::Store {
    /// Starts a firing alert and queues its firing notice for each channel,
    /// unless one already fires for the rule and subject: then `None`, and
    /// nothing is written. Of several nodes firing at once, one gets `Some`.
    pub async fn alert_fire(&self, mut params: AlertFireParams) -> Result<Option<AlertRecord>, StoreError> {
        crate::nul::key("subject", &params.subject)?;
        params.channels.iter().try_for_each(|c| crate::nul::key("channels", c))?;
        crate::nul::clean(&mut params.details);
        dispatch!(self, s => s.alert_fire(params))
    }

    /// Moves a firing, unacknowledged alert's `last_notified_at` to now and
    /// queues a reminder, only if it still holds `seen_notified_at`; false
    /// (nothing written) when another node reminded first or it changed.
    pub async fn alert_remind(&self, mut params: AlertRemindParams) -> Result<bool, StoreError> {
        params.channels.iter().try_for_each(|c| crate::nul::key("channels", c))?;
        crate::nul::clean(&mut params.details);
        dispatch!(self, s => s.alert_remind(params))
    }

    /// Resolves a firing alert and queues its resolved notice; false
    /// (nothing written) when it no longer fires.
    pub async fn alert_resolve(&self, mut params: AlertResolveParams) -> Result<bool, StoreError> {
        params.channels.iter().try_for_each(|c| crate::nul::key("channels", c))?;
        crate::nul::clean(&mut params.details);
        dispatch!(self, s => s.alert_resolve(params))
    }

    /// One alert.
    pub async fn alert_get(&self, id: AlertId) -> Result<Option<AlertRecord>, StoreError> {
        dispatch!(self, s => s.alert_get(id))
    }

    /// A page of alerts, newest first.
    pub async fn alert_list(&self, params: AlertListParams) -> Result<Vec<AlertRecord>, StoreError> {
        dispatch!(self, s => s.alert_list(params))
    }

    /// Acknowledges an alert (a second ack keeps the first); answers the
    /// alert, `None` when there is no such alert.
    pub async fn alert_ack(&self, id: AlertId, by: String, now: UnixMillis) -> Result<Option<AlertRecord>, StoreError> {
        crate::nul::key("by", &by)?;
        dispatch!(self, s => s.alert_ack(id, by, now))
    }

    /// Stores a silence.
    pub async fn silence_insert(&self, mut silence: SilenceInsert) -> Result<SilenceRecord, StoreError> {
        crate::nul::key_opt("subject", silence.subject.as_deref())?;
        crate::nul::key("created_by", &silence.created_by)?;
        crate::nul::clean(&mut silence.reason);
        dispatch!(self, s => s.silence_insert(silence))
    }

    /// The silences that have not ended at `now`, oldest first.
    pub async fn silence_list(&self, now: UnixMillis) -> Result<Vec<SilenceRecord>, StoreError> {
        dispatch!(self, s => s.silence_list(now))
    }

    /// Deletes a silence; false when there was none.
    pub async fn silence_delete(&self, id: SilenceId) -> Result<bool, StoreError> {
        dispatch!(self, s => s.silence_delete(id))
    }

    /// Claims up to `limit` due notifications, oldest first: each counts an
    /// attempt and stays off every other claim for `lease`. A notification
    /// waits until every earlier one of its alert and channel is done
    /// (delivered or given up), so a channel gets an alert's notices in
    /// order; each carries the `remote_id` its alert's firing notice was
    /// delivered with on that channel.
    pub async fn alert_notification_claim(
        &self,
        params: AlertNotificationClaimParams,
    ) -> Result<Vec<AlertNotification>, StoreError> {
        dispatch!(self, s => s.alert_notification_claim(params))
    }

    /// Records how a claimed notification's delivery ended.
    pub async fn alert_notification_settle(
        &self,
        id: i64,
        outcome: NotificationOutcome,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        let outcome = match outcome {
            NotificationOutcome::Retry { at, mut error } => {
                crate::nul::clean(&mut error);
                NotificationOutcome::Retry { at, error }
            }
            NotificationOutcome::GiveUp { mut error } => {
                crate::nul::clean(&mut error);
                NotificationOutcome::GiveUp { error }
            }
            NotificationOutcome::Delivered { remote_id } => {
                crate::nul::key_opt("remote_id", remote_id.as_deref())?;
                NotificationOutcome::Delivered { remote_id }
            }
        };
        dispatch!(self, s => s.alert_notification_settle(id, outcome, now))
    }

    /// Jobs that went dead in `(after, until]`, counted per queue with the
    /// first few of each, queues in name order.
    pub async fn job_dead_since(&self, params: JobDeadSinceParams) -> Result<Vec<DeadJobsOfQueue>, StoreError> {
        dispatch!(self, s => s.job_dead_since(params))
    }
}

impl AlertRecord {
    /// The record of a row whose columns from `at` on are `id, rule,
    /// subject, state, value, threshold, details, started_at,
    /// last_notified_at, resolved_at, acked_at, acked_by` (`at` is 0 but in
    /// a joined row).
    pub(crate) fn from_row_at<R: Row>(r: &R, at: usize) -> Result<AlertRecord, R::Error> {
        Ok(AlertRecord {
            id: AlertId(r.int(at)?),
            rule: r.parsed(at + 1, "alert rule")?,
            subject: r.text(at + 2)?,
            state: r.parsed(at + 3, "alert state")?,
            value: r.float(at + 4)?,
            threshold: r.float(at + 5)?,
            details: r.text(at + 6)?,
            started_at: r.time(at + 7)?,
            last_notified_at: r.time(at + 8)?,
            resolved_at: r.opt_time(at + 9)?,
            acked_at: r.opt_time(at + 10)?,
            acked_by: r.opt_text(at + 11)?,
        })
    }

    /// The record of a row read with the alert columns alone.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<AlertRecord, R::Error> {
        AlertRecord::from_row_at(r, 0)
    }
}

impl SilenceRecord {
    /// The record of a row read with the columns `id, rule, subject,
    /// ends_at, created_at, created_by, reason`.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<SilenceRecord, R::Error> {
        Ok(SilenceRecord {
            id: SilenceId(r.int(0)?),
            rule: r.opt_parsed(1, "silence rule")?,
            subject: r.opt_text(2)?,
            ends_at: r.time(3)?,
            created_at: r.time(4)?,
            created_by: r.text(5)?,
            reason: r.text(6)?,
        })
    }
}
