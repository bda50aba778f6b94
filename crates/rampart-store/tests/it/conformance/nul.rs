//! The NUL rule (`rampart_core::nul`) as every backend keeps it, run by the
//! `backend!` list of the conformance suite: names and keys holding U+0000
//! are refused as [`StoreError::Invalid`] naming the field, free text keeps
//! its meaning with U+FFFD in place of each NUL, and JSON text with `\u0000`
//! inside round-trips byte for byte. PostgreSQL refuses 0x00 in text, so
//! without the rule these would be internal errors there.

use rampart_core::alert::AlertRule;
use rampart_core::auth::Role;
use rampart_core::cron::Misfire;
use rampart_core::id::{ConnectionId, CronName, PlatformName};
use rampart_core::integration::IntegrationStatus;
use rampart_store::*;

use super::{T0, ack, at, get, insert, job, lease, lease_params, q};

/// True when `result` refused a NUL in the field `field`.
fn refused<T: std::fmt::Debug>(result: &Result<T, StoreError>, field: &str) -> bool {
    matches!(result, Err(StoreError::Invalid(m)) if m.contains(&format!("`{field}`")) && m.contains("NUL"))
}

pub async fn names_and_keys_with_nul_are_refused_naming_the_field(store: Store) {
    let mut keyed = job("nul");
    keyed.unique_key = Some("user\0-1".into());
    let inserted = store.job_insert_many(JobInsertParams { jobs: vec![job("nul"), keyed], now: T0 }).await;
    assert!(refused(&inserted, "unique_key"), "{inserted:?}");
    assert!(store.queue_counts().await.unwrap().is_empty(), "all or nothing: no job was inserted");

    let id = insert(&store, vec![job("nul")]).await[0].id;
    let mut by_nul = lease_params("nul", 1, T0);
    by_nul.worker = Some("worker\0".into());
    let leased = store.job_lease(by_nul).await;
    assert!(refused(&leased, "worker"), "{leased:?}");
    let held = lease(&store, "nul", 1, T0).await.remove(0);
    let beat = store
        .job_heartbeat(JobHeartbeatParams { id, lease_token: "\0".into(), lease: None, progress: None, now: at(1) })
        .await;
    assert!(refused(&beat, "lease_token"), "{beat:?}");
    // In a batch, an ack with such a token fails alone.
    let acks = vec![
        JobAck { id, lease_token: format!("{}\0", held.lease_token), outcome: AckOutcome::Complete { result: None } },
        JobAck { id, lease_token: held.lease_token.clone(), outcome: AckOutcome::Complete { result: None } },
    ];
    let out = store.job_ack_many(JobAckParams { acks, planner: super::planner(), now: at(2) }).await.unwrap();
    assert!(refused(&out[0], "lease_token"), "{:?}", out[0]);
    assert!(out[1].is_ok(), "{:?}", out[1]);
    let released = store
        .job_release_many(JobReleaseParams { releases: vec![JobRelease { id, lease_token: "a\0".into() }], now: at(3) })
        .await
        .unwrap();
    assert!(refused(&released[0], "lease_token"), "{:?}", released[0]);

    let key =
        ApiKeyInsert { name: "ci\0bot".into(), role: Role::Reader, hash: "h1".into(), prefix: "rk_1".into(), now: T0 };
    assert!(refused(&store.api_key_insert(key).await, "name"));
    assert!(refused(&store.api_key_find("h\0".into()).await, "hash"));
    assert!(refused(&store.api_key_revoke("ci\0bot".into(), T0).await, "key"));
    assert!(store.api_key_list().await.unwrap().is_empty());
}

pub async fn free_text_with_nul_is_kept_with_the_replacement_character(store: Store) {
    // A worker's failure: a command whose stderr held a NUL.
    let id = insert(&store, vec![job("nul")]).await[0].id;
    let held = lease(&store, "nul", 1, T0).await.remove(0);
    let error = "exit status 1: \0\0binary garbage\0".to_string();
    let failed = ack(&store, id, &held.lease_token, AckOutcome::Fail { error, retryable: true, retry_at: None }, at(5))
        .await
        .unwrap();
    assert_eq!(failed.state, rampart_core::job::JobState::Scheduled);
    let kept = "exit status 1: \u{FFFD}\u{FFFD}binary garbage\u{FFFD}";
    let got = get(&store, id).await;
    assert_eq!(got.last_error.as_deref(), Some(kept));
    assert_eq!(got.history.iter().find(|e| e.reason == "error").and_then(|e| e.error.as_deref()), Some(kept));

    let mut report = IntegrationUpsertParams {
        platform: PlatformName::new("stripe").unwrap(),
        connection_id: ConnectionId::new("acct_1").unwrap(),
        status: IntegrationStatus::Error,
        last_synced_at: None,
        last_error: Some("token\0revoked".into()),
        last_error_at: Some(T0),
        token_expires_at: None,
        reported_by: "app".into(),
        now: T0,
    };
    assert_eq!(
        store.integration_upsert(report.clone()).await.unwrap().last_error.as_deref(),
        Some("token\u{FFFD}revoked")
    );
    report.reported_by = "app\0".into();
    assert!(refused(&store.integration_upsert(report).await, "reported_by"));

    let silence = SilenceInsert {
        rule: Some(AlertRule::QueueWaiting),
        subject: Some("email".into()),
        ends_at: at(60_000),
        created_by: "ops".into(),
        reason: "deploy\0 window".into(),
        now: T0,
    };
    assert_eq!(store.silence_insert(silence.clone()).await.unwrap().reason, "deploy\u{FFFD} window");
    let bad_subject = SilenceInsert { subject: Some("em\0ail".into()), ..silence };
    assert!(refused(&store.silence_insert(bad_subject).await, "subject"));

    let name = CronName::new("nul-cron").unwrap();
    let schedule = CronSchedulePut {
        name: name.clone(),
        schedule: "@daily".into(),
        timezone: "UTC".into(),
        queue: q("nul"),
        payload: "{}".into(),
        description: "nightly\0 report".into(),
        tenant: None,
        max_attempts: None,
        misfire: Misfire::Skip,
        source: CronSource::Api,
        next_run_at: Some(at(86_400_000)),
    };
    let put = store.cron_put(CronPutParams { schedule, now: T0 }).await.unwrap();
    assert_eq!(put.description, "nightly\u{FFFD} report");
    let fired = store
        .cron_fire(CronFireParams {
            name,
            advance: None,
            run: Some(CronRunNew { scheduled_at: T0, trigger: CronTrigger::Manual, job: None }),
            now: T0,
        })
        .await
        .unwrap()
        .and_then(|f| f.run)
        .expect("a run of built-in work");
    let finish = CronRunFinishParams {
        id: fired.id,
        status: rampart_core::job::JobState::Dead,
        started_at: T0,
        error: Some("disk\0 full".into()),
        result: None,
        now: at(10),
    };
    assert!(store.cron_run_finish(finish).await.unwrap());
    let runs = store.cron_run_last().await.unwrap();
    assert_eq!(runs[0].error.as_deref(), Some("disk\u{FFFD} full"));
}

pub async fn json_with_escaped_nul_round_trips(store: Store) {
    let payload = r#"{"s":"a\u0000b","nested":["\u0000",{"k\u0000":1}]}"#;
    let mut j = job("json-nul");
    j.payload = payload.into();
    let id = insert(&store, vec![j]).await[0].id;
    let held = lease(&store, "json-nul", 1, T0).await.remove(0);
    assert_eq!(held.payload, payload, "as leased");
    let result = r#"{"out":"\u0000"}"#;
    ack(&store, id, &held.lease_token, AckOutcome::Complete { result: Some(result.into()) }, at(1)).await.unwrap();
    let got = get(&store, id).await;
    assert_eq!((got.payload.as_str(), got.result.as_deref()), (payload, Some(result)), "as read back");
}
