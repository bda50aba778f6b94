//! The store contract for alerts, silences and alert notifications, run on
//! every backend through the `backend!` list in `conformance.rs`.

use std::sync::Arc;
use std::time::Duration;

use rampart_core::alert::{AlertId, AlertRule, AlertState, NoticeKind};
use rampart_core::id::QueueName;
use rampart_core::retry::{Backoff, RetryPlanner};
use rampart_core::time::UnixMillis;
use rampart_store::*;

const T0: UnixMillis = UnixMillis(1_800_000_000_000);
const CLAIM: Duration = Duration::from_secs(30);

fn at(ms: i64) -> UnixMillis {
    UnixMillis(T0.0 + ms)
}

fn channels(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn fire_params(rule: AlertRule, subject: &str, now: UnixMillis) -> AlertFireParams {
    AlertFireParams {
        rule,
        subject: subject.into(),
        value: 1500.0,
        threshold: 1000.0,
        details: "{}".into(),
        channels: channels(&["slack", "ops-webhook"]),
        now,
    }
}

fn remind_params(id: AlertId, seen: UnixMillis, now: UnixMillis) -> AlertRemindParams {
    AlertRemindParams {
        id,
        seen_notified_at: seen,
        value: 1600.0,
        details: "{}".into(),
        channels: channels(&["slack"]),
        now,
    }
}

fn resolve_params(id: AlertId, now: UnixMillis) -> AlertResolveParams {
    AlertResolveParams { id, value: 10.0, details: "{}".into(), channels: channels(&["slack"]), now }
}

async fn claim(store: &Store, now: UnixMillis) -> Vec<AlertNotification> {
    store.alert_notification_claim(AlertNotificationClaimParams { now, lease: CLAIM, limit: 100 }).await.unwrap()
}

async fn deliver_all(store: &Store, now: UnixMillis) -> Vec<(NoticeKind, String)> {
    let mut out = Vec::new();
    for n in claim(store, now).await {
        store.alert_notification_settle(n.id, NotificationOutcome::Delivered { remote_id: None }, now).await.unwrap();
        out.push((n.kind, n.channel));
    }
    out
}

pub async fn alert_notices_are_claimed_once_each_fire_remind_resolve(store: Store) {
    let fired = store.alert_fire(fire_params(AlertRule::QueueWaiting, "email", T0)).await.unwrap().expect("fires");
    assert_eq!((fired.state, fired.started_at, fired.last_notified_at), (AlertState::Firing, T0, T0));
    assert_eq!((fired.value, fired.threshold), (1500.0, 1000.0));
    // Already firing: a second fire writes nothing.
    assert!(store.alert_fire(fire_params(AlertRule::QueueWaiting, "email", at(1))).await.unwrap().is_none());
    // Another subject or rule is another alert.
    let other = store.alert_fire(fire_params(AlertRule::QueueWaiting, "sms", at(1))).await.unwrap().unwrap();
    assert_ne!(other.id, fired.id);
    let sent = deliver_all(&store, at(2)).await;
    assert_eq!(sent.len(), 4, "two alerts, two channels each: {sent:?}");
    assert!(sent.iter().all(|(k, _)| *k == NoticeKind::Firing));

    // A reminder claims only from the notice time it saw.
    assert!(!store.alert_remind(remind_params(fired.id, at(-5), at(10))).await.unwrap());
    assert!(store.alert_remind(remind_params(fired.id, T0, at(10))).await.unwrap());
    assert!(!store.alert_remind(remind_params(fired.id, T0, at(11))).await.unwrap(), "claimed already");
    let now = store.alert_get(fired.id).await.unwrap().unwrap();
    assert_eq!((now.last_notified_at, now.value), (at(10), 1600.0));
    assert_eq!(deliver_all(&store, at(12)).await, [(NoticeKind::Reminder, "slack".to_string())]);

    // Acknowledged: no more reminders, but it still resolves once.
    let acked = store.alert_ack(fired.id, "ops".into(), at(20)).await.unwrap().unwrap();
    assert_eq!((acked.acked_at, acked.acked_by.as_deref()), (Some(at(20)), Some("ops")));
    let again = store.alert_ack(fired.id, "someone-else".into(), at(21)).await.unwrap().unwrap();
    assert_eq!((again.acked_at, again.acked_by.as_deref()), (Some(at(20)), Some("ops")), "the first ack stays");
    assert!(!store.alert_remind(remind_params(fired.id, at(10), at(30))).await.unwrap());
    assert!(store.alert_resolve(resolve_params(fired.id, at(40))).await.unwrap());
    assert!(!store.alert_resolve(resolve_params(fired.id, at(41))).await.unwrap(), "resolved once");
    let resolved = store.alert_get(fired.id).await.unwrap().unwrap();
    assert_eq!((resolved.state, resolved.resolved_at, resolved.value), (AlertState::Resolved, Some(at(40)), 10.0));
    assert_eq!(deliver_all(&store, at(42)).await, [(NoticeKind::Resolved, "slack".to_string())]);
    assert!(store.alert_ack(AlertId(999_999), "ops".into(), at(50)).await.unwrap().is_none());

    // Once resolved, the rule may fire again: a new alert.
    let refired = store.alert_fire(fire_params(AlertRule::QueueWaiting, "email", at(60))).await.unwrap().unwrap();
    assert!(refired.id > other.id);
    // No channels (silenced): the alert is recorded, nothing is queued.
    let quiet = AlertFireParams { channels: vec![], ..fire_params(AlertRule::StoreLatency, "store", at(61)) };
    assert!(store.alert_fire(quiet).await.unwrap().is_some());
    assert_eq!(deliver_all(&store, at(62)).await.len(), 2, "only the refired alert's two notices");
}

pub async fn alerts_list_newest_first_by_state_in_pages(store: Store) {
    let mut ids = Vec::new();
    for (i, subject) in ["a", "b", "c", "d"].into_iter().enumerate() {
        let fired = store.alert_fire(fire_params(AlertRule::QueueStalled, subject, at(i as i64))).await.unwrap();
        ids.push(fired.unwrap().id);
    }
    assert!(store.alert_resolve(resolve_params(ids[1], at(10))).await.unwrap());
    let list = async |state: Option<AlertState>, before: Option<AlertId>, limit: u32| {
        let page = store.alert_list(AlertListParams { state, before, limit }).await.unwrap();
        page.into_iter().map(|a| a.subject).collect::<Vec<_>>()
    };
    assert_eq!(list(None, None, 10).await, ["d", "c", "b", "a"]);
    assert_eq!(list(Some(AlertState::Firing), None, 10).await, ["d", "c", "a"]);
    assert_eq!(list(Some(AlertState::Resolved), None, 10).await, ["b"]);
    assert_eq!(list(Some(AlertState::Firing), None, 2).await, ["d", "c"]);
    assert_eq!(list(Some(AlertState::Firing), Some(ids[2]), 2).await, ["a"]);
    assert!(store.alert_get(AlertId(999_999)).await.unwrap().is_none());
}

pub async fn concurrent_nodes_claim_each_notice_once(store: Store) {
    // Sixteen evaluators decide to fire the same alert at once: one wins.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.alert_fire(fire_params(AlertRule::DeadLetters, "billing", at(i))).await.unwrap()
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        winners.extend(t.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "exactly one fire is claimed");
    let id = winners[0].id;
    let seen = winners[0].last_notified_at;
    // Then all remind from the same notice time, and all resolve.
    let mut reminds = Vec::new();
    let mut resolves = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        reminds.push(tokio::spawn(async move { s.alert_remind(remind_params(id, seen, at(100))).await.unwrap() }));
    }
    for t in reminds {
        resolves.push(t.await.unwrap());
    }
    assert_eq!(resolves.iter().filter(|won| **won).count(), 1, "exactly one reminder is claimed");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move { s.alert_resolve(resolve_params(id, at(200))).await.unwrap() }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1, "exactly one resolve is claimed");

    // Four delivery loops claim the outbox at once, round after round: each
    // row goes to one, and a channel's rows of one alert go in order.
    let mut claimed = Vec::new();
    for (round, expected) in [(1, 2), (2, 1), (3, 1)] {
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move { claim(&s, at(300 * round)).await }));
        }
        let mut this_round = Vec::new();
        for t in tasks {
            this_round.extend(t.await.unwrap());
        }
        assert_eq!(this_round.len(), expected, "round {round}: {this_round:?}");
        for n in this_round {
            store
                .alert_notification_settle(n.id, NotificationOutcome::Delivered { remote_id: None }, at(300 * round))
                .await
                .unwrap();
            claimed.push((n.id, n.kind));
        }
    }
    let kinds: Vec<NoticeKind> = claimed.iter().map(|c| c.1).collect();
    assert_eq!(kinds[2..], [NoticeKind::Reminder, NoticeKind::Resolved], "fire ×2 channels, then reminder, resolve");
    claimed.sort_unstable_by_key(|c| c.0);
    claimed.dedup();
    assert_eq!(claimed.len(), 4, "no row claimed twice");
}

pub async fn failed_notifications_come_back_when_due_until_given_up(store: Store) {
    store.alert_fire(fire_params(AlertRule::QueueFailedRate, "email", T0)).await.unwrap().unwrap();
    let first = claim(&store, at(1)).await;
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|n| n.attempts == 1 && n.kind == NoticeKind::Firing && n.created_at == T0));
    assert_eq!(first[0].alert.subject, "email");
    // Claimed rows stay off other claims for the claim's lease.
    assert!(claim(&store, at(2)).await.is_empty());
    let (a, b) = (&first[0], &first[1]);
    let retry = NotificationOutcome::Retry { at: at(5_000), error: "503 from the receiver".into() };
    store.alert_notification_settle(a.id, retry, at(3)).await.unwrap();
    store.alert_notification_settle(b.id, NotificationOutcome::Delivered { remote_id: None }, at(3)).await.unwrap();
    assert!(claim(&store, at(4_999)).await.is_empty());
    let second = claim(&store, at(5_000)).await;
    assert_eq!(second.iter().map(|n| (n.id, n.attempts)).collect::<Vec<_>>(), [(a.id, 2)]);
    store
        .alert_notification_settle(a.id, NotificationOutcome::GiveUp { error: "still 503".into() }, at(5_001))
        .await
        .unwrap();
    assert!(claim(&store, at(10_000_000)).await.is_empty(), "given up and delivered rows never return");
    // A node that claimed and died: the row is due again after the lease.
    store.alert_fire(fire_params(AlertRule::QueueFailedRate, "sms", at(20_000))).await.unwrap().unwrap();
    assert_eq!(claim(&store, at(20_000)).await.len(), 2);
    assert!(claim(&store, at(20_000).plus(CLAIM - Duration::from_millis(1))).await.is_empty());
    let again = claim(&store, at(20_000).plus(CLAIM)).await;
    assert_eq!(again.iter().map(|n| n.attempts).collect::<Vec<_>>(), [2, 2]);
}

pub async fn silences_are_listed_until_they_end_and_deleted_by_id(store: Store) {
    let everything = SilenceInsert {
        rule: None,
        subject: None,
        ends_at: at(1_000),
        created_by: "ops".into(),
        reason: "maintenance".into(),
        now: T0,
    };
    let one = SilenceInsert {
        rule: Some(AlertRule::QueueWaiting),
        subject: Some("email".into()),
        ends_at: at(5_000),
        ..everything.clone()
    };
    let a = store.silence_insert(everything).await.unwrap();
    let b = store.silence_insert(one).await.unwrap();
    assert_eq!((a.rule, a.subject.as_deref(), a.ends_at, a.created_at), (None, None, at(1_000), T0));
    assert_eq!((b.rule, b.subject.as_deref()), (Some(AlertRule::QueueWaiting), Some("email")));
    assert_eq!((b.created_by.as_str(), b.reason.as_str()), ("ops", "maintenance"));
    let ids = async |now| store.silence_list(now).await.unwrap().into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(at(999)).await, [a.id, b.id]);
    assert_eq!(ids(at(1_000)).await, [b.id], "a silence has ended at its end time");
    assert!(store.silence_delete(b.id).await.unwrap());
    assert!(!store.silence_delete(b.id).await.unwrap());
    assert!(ids(T0).await == [a.id]);
}

struct Planner;

impl RetryPlanner for Planner {
    fn backoff(&self, _queue: &str) -> Backoff {
        Backoff::default()
    }
}

/// Makes a job of `queue` go dead at `when`, with `error`.
async fn kill(store: &Store, queue: &str, when: UnixMillis, error: &str) -> rampart_core::id::JobId {
    let job = NewJob {
        queue: QueueName::new(queue).unwrap(),
        payload: "{}".into(),
        run_at: T0,
        priority: 0,
        max_attempts: 1,
        timeout: None,
        unique_key: None,
        tenant: None,
    };
    let id = store.job_insert_many(JobInsertParams { jobs: vec![job], now: T0 }).await.unwrap()[0].id;
    let lease = JobLeaseParams {
        queue: QueueName::new(queue).unwrap(),
        max: 1,
        lease: CLAIM,
        worker: None,
        concurrency: None,
        rate: None,
        now: when,
    };
    let leased = store.job_lease(lease).await.unwrap().jobs;
    let ack = JobAck {
        id,
        lease_token: leased[0].lease_token.clone(),
        outcome: AckOutcome::Fail { error: error.into(), retryable: true, retry_at: None },
    };
    let acked = store.job_ack_many(JobAckParams { acks: vec![ack], planner: Arc::new(Planner), now: when }).await;
    assert_eq!(acked.unwrap()[0].as_ref().unwrap().state, rampart_core::job::JobState::Dead);
    id
}

pub async fn dead_jobs_are_found_by_the_window_they_died_in(store: Store) {
    let first = kill(&store, "email", at(100), "SMTP 550").await;
    let second = kill(&store, "email", at(200), "SMTP 421").await;
    let third = kill(&store, "email", at(300), "timeout").await;
    let other = kill(&store, "billing", at(250), "card declined").await;
    let window =
        async |after, until| store.job_dead_since(JobDeadSinceParams { after, until, per_queue: 2 }).await.unwrap();
    let all = window(T0, at(300)).await;
    assert_eq!(all.iter().map(|g| (g.queue.as_str(), g.count)).collect::<Vec<_>>(), [("billing", 1), ("email", 3)]);
    let email = &all[1];
    assert_eq!(email.first.iter().map(|j| j.id).collect::<Vec<_>>(), [first, second], "the first two, by death");
    assert_eq!(email.first[0].attempts, 1);
    assert_eq!(email.first[0].last_error.as_deref(), Some("SMTP 550"));
    assert_eq!(email.first[0].died_at, at(100));
    assert_eq!(all[0].first[0].id, other);
    // The window is (after, until]: consecutive windows see each death once.
    let later = window(at(200), at(300)).await;
    assert_eq!(later.iter().map(|g| (g.queue.as_str(), g.count)).collect::<Vec<_>>(), [("billing", 1), ("email", 1)]);
    assert_eq!(later[1].first[0].id, third);
    assert!(window(at(300), at(1_000)).await.is_empty());
}

pub async fn an_alerts_notices_go_out_in_order_per_channel_and_reply_to_the_firing_one(store: Store) {
    let fired = store.alert_fire(fire_params(AlertRule::QueueWaiting, "email", T0)).await.unwrap().unwrap();
    let firing = claim(&store, at(1)).await;
    assert_eq!(firing.len(), 2);
    assert!(firing.iter().all(|n| n.reply_to.is_none()), "nothing to reply to yet");
    let (slack, hook) = if firing[0].channel == "slack" { (&firing[0], &firing[1]) } else { (&firing[1], &firing[0]) };
    // Slack's firing notice fails; the webhook's is delivered.
    let retry = NotificationOutcome::Retry { at: at(1_000), error: "HTTP 500".into() };
    store.alert_notification_settle(slack.id, retry, at(2)).await.unwrap();
    store.alert_notification_settle(hook.id, NotificationOutcome::Delivered { remote_id: None }, at(2)).await.unwrap();
    let both = AlertResolveParams { channels: channels(&["slack", "ops-webhook"]), ..resolve_params(fired.id, at(3)) };
    assert!(store.alert_resolve(both).await.unwrap());
    // The resolved notice goes to the webhook at once, but waits on Slack
    // until the firing notice there is done, even when due before it.
    let due = claim(&store, at(4)).await;
    assert_eq!(
        due.iter().map(|n| (n.kind, n.channel.as_str())).collect::<Vec<_>>(),
        [(NoticeKind::Resolved, "ops-webhook")]
    );
    assert_eq!(due[0].reply_to, None, "the webhook's firing notice left no remote id");
    store
        .alert_notification_settle(due[0].id, NotificationOutcome::Delivered { remote_id: None }, at(4))
        .await
        .unwrap();
    let again = claim(&store, at(1_000)).await;
    assert_eq!(again.iter().map(|n| (n.id, n.kind)).collect::<Vec<_>>(), [(slack.id, NoticeKind::Firing)]);
    let ts = Some("1800000000.000100".to_string());
    store
        .alert_notification_settle(slack.id, NotificationOutcome::Delivered { remote_id: ts.clone() }, at(1_001))
        .await
        .unwrap();
    let resolved = claim(&store, at(1_002)).await;
    assert_eq!(resolved.len(), 1);
    assert_eq!((resolved[0].kind, resolved[0].channel.as_str()), (NoticeKind::Resolved, "slack"));
    assert_eq!(resolved[0].reply_to, ts, "the firing notice's ts, for the thread");
    // A notice given up no longer holds the later ones back.
    let second = store.alert_fire(fire_params(AlertRule::QueueWaiting, "email", at(2_000))).await.unwrap().unwrap();
    for n in claim(&store, at(2_001)).await {
        let outcome = NotificationOutcome::GiveUp { error: "invalid_auth".into() };
        store.alert_notification_settle(n.id, outcome, at(2_002)).await.unwrap();
    }
    assert!(store.alert_resolve(resolve_params(second.id, at(2_003))).await.unwrap());
    let last = claim(&store, at(2_004)).await;
    assert_eq!(last.len(), 1, "resolve_params notifies slack only");
    assert_eq!((last[0].kind, last[0].reply_to.as_deref()), (NoticeKind::Resolved, None));
}
