//! Step functions against the real binary: a durable sleep is a row with a
//! due time, so it survives a SIGKILL of the server in between.

use std::time::Duration;

use rampart_client::wire::{LeaseRequest, StepRecordRequest, StepSleepRequest};
use rampart_core::duration::HumanDuration;
use rampart_core::job::JobState;
use serde_json::value::RawValue;

use crate::harness::{TestServer, eventually};

#[tokio::test]
async fn a_sleep_of_two_seconds_survives_a_sigkill_of_the_server() {
    let mut server = TestServer::start().await;
    let id = server.enqueue("sleepers", r#"{"photo":1}"#).await;
    let lease = LeaseRequest { max: Some(1), ..LeaseRequest::default() };
    let job = server.client().lease("sleepers", &lease).await.expect("lease").jobs.remove(0);
    let record = StepRecordRequest {
        lease_token: job.lease_token.clone(),
        result: RawValue::from_string(r#"{"labels":2}"#.into()).unwrap(),
    };
    server.client().step_record(&id, "analyze", &record).await.expect("step");
    let sleep = StepSleepRequest {
        lease_token: job.lease_token,
        until: None,
        duration: Some(HumanDuration(Duration::from_secs(2))),
    };
    let slept = server.client().step_sleep(&id, "nap", &sleep).await.expect("sleep");
    assert_eq!(slept.state, JobState::Scheduled);

    server.kill();
    server.restart().await;

    // The restarted server's promoter wakes it; the lease carries both steps.
    let woken = eventually("the sleeping job to wake after the restart", || async {
        let jobs = server.client().lease("sleepers", &lease).await.expect("lease").jobs;
        jobs.into_iter().next()
    })
    .await;
    assert_eq!(woken.id.to_string(), id);
    assert_eq!(woken.attempt, 1, "the sleep counted no attempt");
    assert_eq!(woken.step_order, ["analyze", "nap"]);
    assert_eq!(woken.steps["analyze"].get(), r#"{"labels":2}"#);
    let job = server.job(&id).await;
    assert!(job.history.iter().any(|e| e.reason == "sleeping" && e.step.as_deref() == Some("nap")));
}
