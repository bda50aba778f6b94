//! The store contract for webhook intake (sources, the intake transaction,
//! the delivery log following its jobs, retention) and idempotency keys,
//! run on every backend through the `backend!` list in `conformance.rs`.

use std::sync::Arc;
use std::time::Duration;

use rampart_core::delivery::{DeliveryId, DeliveryStatus};
use rampart_core::id::{QueueName, SourceName};
use rampart_core::job::JobState;
use rampart_core::retry::{Backoff, RetryPlanner};
use rampart_core::time::UnixMillis;
use rampart_store::*;

const T0: UnixMillis = UnixMillis(1_800_000_000_000);
const WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

fn at(ms: i64) -> UnixMillis {
    UnixMillis(T0.0 + ms)
}

fn source(s: &str) -> SourceName {
    SourceName::new(s).unwrap()
}

struct Planner;

impl RetryPlanner for Planner {
    fn backoff(&self, _queue: &str) -> Backoff {
        Backoff::default()
    }
}

fn intake_params(src: &str, event_id: &str, now: UnixMillis) -> WebhookIntakeParams {
    WebhookIntakeParams {
        source: source(src),
        event_id: event_id.into(),
        expires_at: now.plus(WINDOW),
        event_type: Some("invoice.paid".into()),
        tenant: Some("org_1".into()),
        headers: vec![("user-agent".into(), "Stripe/1.0".into()), ("stripe-signature".into(), "***".into())],
        body: br#"{"id":"evt"}"#.to_vec(),
        body_sha256: "ab".repeat(32),
        job: NewJob {
            queue: QueueName::new("hooks").unwrap(),
            payload: format!(r#"{{"event_id":"{event_id}"}}"#),
            run_at: now,
            priority: 0,
            max_attempts: 2,
            timeout: None,
            unique_key: None,
            tenant: None,
        },
        now,
    }
}

fn accepted(taken: WebhookIntaken) -> (DeliveryId, JobInserted) {
    match taken {
        WebhookIntaken::Accepted { delivery, job } => (delivery, job),
        other => panic!("expected a new event, got {other:?}"),
    }
}

async fn status(store: &Store, id: DeliveryId) -> DeliveryStatus {
    store.webhook_delivery_get(id).await.unwrap().unwrap().0.status
}

pub async fn webhook_sources_are_put_replaced_listed_and_deleted(store: Store) {
    let a = store.webhook_source_put(&source("stripe"), r#"{"scheme":"stripe"}"#, at(0)).await.unwrap();
    assert_eq!((a.created_at, a.updated_at), (at(0), at(0)));
    store.webhook_source_put(&source("github"), r#"{"scheme":"github"}"#, at(1)).await.unwrap();
    let b = store.webhook_source_put(&source("stripe"), r#"{"scheme":"stripe","queue":"q"}"#, at(2)).await.unwrap();
    assert_eq!((b.created_at, b.updated_at, b.spec.as_str()), (at(0), at(2), r#"{"scheme":"stripe","queue":"q"}"#));
    let names: Vec<String> =
        store.webhook_source_list().await.unwrap().into_iter().map(|r| r.name.to_string()).collect();
    assert_eq!(names, ["github", "stripe"]);
    assert!(store.webhook_source_delete(&source("github")).await.unwrap());
    assert!(!store.webhook_source_delete(&source("github")).await.unwrap());
    assert_eq!(store.webhook_source_list().await.unwrap().len(), 1);
}

pub async fn webhook_intake_takes_an_event_once_within_its_window(store: Store) {
    let (first, job) = accepted(store.webhook_intake(intake_params("stripe", "evt_1", at(0))).await.unwrap());
    assert!(!job.duplicate);
    assert_eq!(job.state, JobState::Available);
    let stored = store.job_get(job.id).await.unwrap().unwrap();
    assert_eq!(stored.payload, r#"{"event_id":"evt_1"}"#);
    // A redelivery: logged as a duplicate of the first, nothing enqueued.
    match store.webhook_intake(intake_params("stripe", "evt_1", at(1_000))).await.unwrap() {
        WebhookIntaken::Duplicate { delivery, original, status, job: original_job } => {
            assert_ne!(delivery, first);
            assert_eq!((original, status, original_job), (first, DeliveryStatus::Pending, Some(job.id)));
            let (dup, body) = store.webhook_delivery_get(delivery).await.unwrap().unwrap();
            assert_eq!(
                (dup.status, dup.duplicate_of, dup.job_id, body),
                (DeliveryStatus::Duplicate, Some(first), None, None)
            );
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
    // The same id at another source is another event.
    accepted(store.webhook_intake(intake_params("github", "evt_1", at(2_000))).await.unwrap());
    let counts = store.queue_counts().await.unwrap();
    assert_eq!(counts.iter().map(|c| c.get(JobState::Available)).sum::<u64>(), 2);
    // After the window the id is taken again, by design.
    let later = at(WINDOW.as_millis() as i64);
    let (again, _) = accepted(store.webhook_intake(intake_params("stripe", "evt_1", later)).await.unwrap());
    assert!(again > first);
}

pub async fn webhook_intake_of_one_event_from_many_callers_takes_it_once(store: Store) {
    let calls = (0..50).map(|i| store.webhook_intake(intake_params("stripe", "evt_race", at(i))));
    let answers = futures_join_all(calls).await;
    let new = answers.iter().filter(|a| matches!(a, Ok(WebhookIntaken::Accepted { .. }))).count();
    let dups = answers.iter().filter(|a| matches!(a, Ok(WebhookIntaken::Duplicate { .. }))).count();
    assert_eq!((new, dups), (1, 49), "{answers:?}");
    let jobs = store.queue_counts().await.unwrap().iter().map(|c| c.get(JobState::Available)).sum::<u64>();
    assert_eq!(jobs, 1);
}

/// Runs futures at once (spawned, so a multi-threaded runtime runs them in parallel).
async fn futures_join_all<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

pub async fn webhook_deliveries_follow_their_jobs_and_list_with_filters(store: Store) {
    let (d1, j1) = accepted(store.webhook_intake(intake_params("stripe", "evt_a", at(0))).await.unwrap());
    let mut other = intake_params("github", "gh_1", at(10));
    other.tenant = Some("org_2".into());
    other.event_type = Some("push".into());
    let (d2, _) = accepted(store.webhook_intake(other).await.unwrap());
    let rejected = store
        .webhook_reject(WebhookRejectParams {
            source: source("stripe"),
            reason: "SIGNATURE_INVALID: the signature does not match".into(),
            headers: vec![("stripe-signature".into(), "***".into())],
            body_size: 12,
            body_sha256: "cd".repeat(32),
            now: at(20),
        })
        .await
        .unwrap();
    assert_eq!(status(&store, d1).await, DeliveryStatus::Pending);
    // Leased: processing; failed with a retry ahead: failed; completed.
    let leased = store
        .job_lease(JobLeaseParams {
            queue: QueueName::new("hooks").unwrap(),
            max: 1,
            lease: Duration::from_secs(30),
            worker: None,
            concurrency: None,
            rate: None,
            now: at(100),
        })
        .await
        .unwrap()
        .jobs;
    assert_eq!(leased[0].id, j1.id);
    assert_eq!(status(&store, d1).await, DeliveryStatus::Processing);
    let planner: Arc<dyn RetryPlanner> = Arc::new(Planner);
    let fail = JobAck {
        id: j1.id,
        lease_token: leased[0].lease_token.clone(),
        outcome: AckOutcome::Fail { error: "boom".into(), retryable: true, retry_at: None },
    };
    store.job_ack_many(JobAckParams { acks: vec![fail], planner: planner.clone(), now: at(200) }).await.unwrap();
    let (record, body) = store.webhook_delivery_get(d1).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.attempts, record.last_error.as_deref()),
        (DeliveryStatus::Failed, 1, Some("boom"))
    );
    assert_eq!(record.last_attempt_at, Some(at(100)));
    assert_eq!(body.as_deref(), Some(&br#"{"id":"evt"}"#[..]));
    assert_eq!(record.headers[1], ("stripe-signature".to_string(), "***".to_string()));
    assert!(record.body_kept);
    // Listing: newest first, each filter alone, and the cursor.
    let list = |p: WebhookDeliveryListParams| {
        let store = store.clone();
        async move {
            store
                .webhook_delivery_list(WebhookDeliveryListParams { limit: 10, ..p })
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(Default::default()).await, [rejected, d2, d1]);
    assert_eq!(
        list(WebhookDeliveryListParams { source: Some(source("stripe")), ..Default::default() }).await,
        [rejected, d1]
    );
    assert_eq!(list(WebhookDeliveryListParams { tenant: Some("org_2".into()), ..Default::default() }).await, [d2]);
    assert_eq!(list(WebhookDeliveryListParams { event_type: Some("push".into()), ..Default::default() }).await, [d2]);
    assert_eq!(
        list(WebhookDeliveryListParams { status: Some(DeliveryStatus::Failed), ..Default::default() }).await,
        [d1]
    );
    assert_eq!(
        list(WebhookDeliveryListParams { status: Some(DeliveryStatus::Rejected), ..Default::default() }).await,
        [rejected]
    );
    assert_eq!(list(WebhookDeliveryListParams { since: Some(at(10)), ..Default::default() }).await, [rejected, d2]);
    assert_eq!(list(WebhookDeliveryListParams { before: Some(d2), ..Default::default() }).await, [d1]);
    let (r, body) = store.webhook_delivery_get(rejected).await.unwrap().unwrap();
    assert_eq!((r.status, r.body_size, body, r.body_kept), (DeliveryStatus::Rejected, 12, None, false));
    assert!(r.reason.unwrap().starts_with("SIGNATURE_INVALID"));
    // Its last attempt dies: dead_letter, settled into the row.
    store.job_promote_due(at(10_000), 10).await.unwrap();
    let leased = store
        .job_lease(JobLeaseParams {
            queue: QueueName::new("hooks").unwrap(),
            max: 2,
            lease: Duration::from_secs(30),
            worker: None,
            concurrency: None,
            rate: None,
            now: at(10_000),
        })
        .await
        .unwrap()
        .jobs;
    let mine = leased.iter().find(|l| l.id == j1.id).unwrap();
    let fail = JobAck {
        id: j1.id,
        lease_token: mine.lease_token.clone(),
        outcome: AckOutcome::Fail { error: "again".into(), retryable: true, retry_at: None },
    };
    store.job_ack_many(JobAckParams { acks: vec![fail], planner, now: at(10_100) }).await.unwrap();
    assert_eq!(status(&store, d1).await, DeliveryStatus::DeadLetter);
    assert_eq!(store.webhook_delivery_settle(100).await.unwrap(), 1);
    assert_eq!(store.webhook_delivery_settle(100).await.unwrap(), 0);
    // Replayed: the job lives again and the row follows it.
    store.job_retry(j1.id, at(20_000)).await.unwrap();
    store.webhook_delivery_reopen(d1).await.unwrap();
    assert_eq!(status(&store, d1).await, DeliveryStatus::Pending);
    let activity = store.webhook_source_activity().await.unwrap();
    let stripe = activity.iter().find(|a| a.source.as_str() == "stripe").unwrap();
    assert_eq!(
        (stripe.last_received_at, stripe.last_event_at, stripe.last_rejected_at),
        (Some(at(20)), Some(at(0)), Some(at(20)))
    );
}

pub async fn webhook_retention_prunes_keys_bodies_and_deliveries_in_bounded_batches(store: Store) {
    for i in 0..5 {
        accepted(store.webhook_intake(intake_params("stripe", &format!("evt_{i}"), at(i))).await.unwrap());
    }
    let (done, job) = accepted(store.webhook_intake(intake_params("stripe", "evt_done", at(10))).await.unwrap());
    store.job_cancel(job.id, at(11)).await.unwrap();
    let window_end = at(WINDOW.as_millis() as i64 + 3);
    let step = |limit| WebhookPruneParams { bodies_before: at(2), deliveries_before: at(1), limit, now: window_end };
    // Keys expired by `now` (evt_0..evt_3), bodies before at(2), deliveries before at(1): two at a time.
    assert_eq!(store.webhook_prune(step(2)).await.unwrap(), WebhookPruned { keys: 2, bodies: 2, deliveries: 1 });
    assert_eq!(store.webhook_prune(step(2)).await.unwrap(), WebhookPruned { keys: 2, bodies: 0, deliveries: 0 });
    assert_eq!(store.webhook_prune(step(2)).await.unwrap(), WebhookPruned::default());
    let kept =
        store.webhook_delivery_list(WebhookDeliveryListParams { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(kept.len(), 5);
    assert!(!kept.iter().find(|d| d.received_at == at(1)).unwrap().body_kept);
    assert!(kept.iter().find(|d| d.received_at == at(2)).unwrap().body_kept);
    // An expired key lets its event in again; a live one does not.
    accepted(store.webhook_intake(intake_params("stripe", "evt_0", window_end)).await.unwrap());
    assert!(matches!(
        store.webhook_intake(intake_params("stripe", "evt_4", window_end)).await.unwrap(),
        WebhookIntaken::Duplicate { .. }
    ));
    // A settled delivery keeps its outcome once its job is gone.
    assert_eq!(store.webhook_delivery_settle(100).await.unwrap(), 1);
    assert_eq!(status(&store, done).await, DeliveryStatus::Cancelled);
}

pub async fn idempotency_keys_answer_the_same_jobs_within_their_window(store: Store) {
    let params = |key: &str, now: UnixMillis| JobInsertKeyedParams {
        queue: QueueName::new("mail").unwrap(),
        key: key.into(),
        expires_at: now.plus(Duration::from_secs(60)),
        jobs: vec![intake_params("x", "e", now).job, intake_params("x", "f", now).job],
        now,
    };
    let first = store.job_insert_keyed(params("k1", at(0))).await.unwrap();
    assert!(!first.replayed && first.jobs.iter().all(|j| !j.duplicate));
    let again = store.job_insert_keyed(params("k1", at(1_000))).await.unwrap();
    assert!(again.replayed);
    assert_eq!(
        again.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        first.jobs.iter().map(|j| j.id).collect::<Vec<_>>()
    );
    assert!(again.jobs.iter().all(|j| j.duplicate && j.state == JobState::Available));
    let other = store.job_insert_keyed(params("k2", at(1_000))).await.unwrap();
    assert!(!other.replayed);
    let expired = store.job_insert_keyed(params("k1", at(60_000))).await.unwrap();
    assert!(!expired.replayed);
    let calls = (0..20).map(|i| store.job_insert_keyed(params("race", at(i))));
    let answers = futures_join_all(calls).await;
    assert_eq!(answers.iter().filter(|a| matches!(a, Ok(k) if !k.replayed)).count(), 1, "{answers:?}");
}

/// Two nodes on one PostgreSQL database, 50 deliveries of one event split
/// between them at once: one event, one job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_take_one_event_once_between_them() {
    let Some(db) = postgres::testing::TestDatabase::create("webhook nodes").await else { return };
    let config = postgres::PgConfig { pool_size: 8, ..postgres::PgConfig::new(db.url.clone()) };
    let a = Store::open_postgres(config.clone()).await.unwrap();
    let b = Store::open_postgres(config).await.unwrap();
    let calls =
        (0..50).map(|i| if i % 2 == 0 { &a } else { &b }.webhook_intake(intake_params("stripe", "evt_nodes", at(i))));
    let answers = futures_join_all(calls).await;
    let new = answers.iter().filter(|x| matches!(x, Ok(WebhookIntaken::Accepted { .. }))).count();
    assert_eq!(new, 1, "{answers:?}");
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    assert_eq!(a.queue_counts().await.unwrap().iter().map(|c| c.get(JobState::Available)).sum::<u64>(), 1);
}
