//! `rampart work` running real shell commands against a real server: the
//! payload on stdin and the job's environment, retries with the stderr tail
//! as the error, exit 75 to the dead-letter queue and back, a worker killed
//! mid-job whose lease expires, a worker stopped with SIGTERM, a finished
//! command acknowledged across a server restart, and a NUL in stderr.

use serde_json::{Value, json};

use crate::harness::{TestServer, eventually, has_ended, parsed, send_signal};

/// Queues with fast retries, so that failures come back in milliseconds.
const CONFIG: &str = r#"
[queues.flaky]
max_attempts = 5
backoff = { initial = "50ms", factor = 1.0, max = "1s", jitter = 0.0 }

[queues.fragile]
max_attempts = 5
backoff = { initial = "50ms", factor = 1.0, max = "1s", jitter = 0.0 }

[queues.crashy]
max_attempts = 3
backoff = { initial = "50ms", factor = 1.0, max = "1s", jitter = 0.0 }
"#;

/// The lines of a file the scripts append to.
fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

#[tokio::test]
async fn a_shell_command_gets_the_payload_and_its_output_becomes_the_result() {
    let server = TestServer::start().await;
    let payload = json!({"to": "ada@example.com", "lines": [1, 2, 3], "note": "quotes \" and 'ticks'"});
    let id = server.enqueue("email", &payload.to_string()).await;
    let _worker = server
        .cli()
        .worker("email")
        .name("shell-1")
        .script(
            r#"cat > "stdin-$RAMPART_JOB_ID.json"
               echo "$RAMPART_JOB_ID $RAMPART_ATTEMPT $RAMPART_QUEUE" > "env-$RAMPART_JOB_ID.txt"
               echo '{"ok":true}'"#,
        )
        .await;

    server.job_in_state(&id, "completed").await;
    let job = server.job(&id).await;
    assert_eq!(job.attempt, 1);
    assert_eq!(job.worker.as_deref(), Some("shell-1"));
    assert_eq!(job.result.as_deref().map(parsed), Some(json!({"ok": true})));
    let stdin = std::fs::read_to_string(server.work_dir().join(format!("stdin-{id}.json"))).expect("stdin file");
    assert_eq!(serde_json::from_str::<Value>(&stdin).expect("stdin is JSON"), payload);
    let env = std::fs::read_to_string(server.work_dir().join(format!("env-{id}.txt"))).expect("env file");
    assert_eq!(env.trim(), format!("{id} 1 email"));
}

#[tokio::test]
async fn a_command_that_fails_twice_is_retried_and_completes_on_attempt_three() {
    let server = TestServer::builder().config(CONFIG).start().await;
    let id = server.enqueue("flaky", r#"{"n": 1}"#).await;
    let _worker = server
        .cli()
        .worker("flaky")
        .script(
            r#"echo "$RAMPART_ATTEMPT" >> attempts.log
               if [ "$RAMPART_ATTEMPT" -lt 3 ]; then
                   echo "upstream refused attempt $RAMPART_ATTEMPT" >&2
                   exit 3
               fi
               echo "{\"attempt\": $RAMPART_ATTEMPT}""#,
        )
        .await;

    server.job_in_state(&id, "completed").await;
    let job = server.job(&id).await;
    assert_eq!(job.attempt, 3);
    assert_eq!(job.result.as_deref().map(parsed), Some(json!({"attempt": 3})));
    assert_eq!(lines(&server.work_dir().join("attempts.log")), ["1", "2", "3"]);

    let failures: Vec<_> = job.history.iter().filter(|event| event.reason == "error").collect();
    assert_eq!(failures.len(), 2, "{:#?}", job.history);
    for (event, attempt) in failures.iter().zip(1..) {
        assert_eq!(event.attempt, attempt);
        let error = event.error.as_deref().unwrap_or_default();
        assert!(error.contains("exit 3"), "{error}");
        assert!(error.contains(&format!("upstream refused attempt {attempt}")), "{error}");
    }
    assert_eq!(job.errors.len(), 2, "{:#?}", job.errors);
    assert!(job.errors[1].error.contains("upstream refused attempt 2"), "{:#?}", job.errors);
}

#[tokio::test]
async fn exit_75_is_dead_at_once_and_a_dlq_retry_runs_it_again() {
    let server = TestServer::builder().config(CONFIG).start().await;
    let id = server.enqueue("fragile", r#"{"invoice": 7}"#).await;
    let _worker = server
        .cli()
        .worker("fragile")
        .script(
            r#"echo run >> runs.log
               if [ -e fixed ]; then echo '{"fixed": true}'; exit 0; fi
               echo "invoice 7 is malformed" >&2
               exit 75"#,
        )
        .await;

    let dead = server.job_in_state(&id, "dead").await;
    assert_eq!((dead.attempt, dead.max_attempts), (1, 5), "a non-retryable failure uses one attempt");
    let error = dead.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("exit 75") && error.contains("invoice 7 is malformed"), "{error}");

    let cli = server.cli();
    let listed: Value = cli.json(&["dlq", "list", "fragile"]).await;
    let ids: Vec<&str> = listed["jobs"].as_array().expect("jobs").iter().filter_map(|j| j["id"].as_str()).collect();
    assert_eq!(ids, [id.as_str()]);

    std::fs::write(server.work_dir().join("fixed"), "").expect("write the fix");
    let retried = cli.run(&["dlq", "retry", "fragile"]).await;
    retried.expect_code(0);
    assert!(retried.stdout.contains("retried 1 dead job"), "{}", retried.stdout);

    let job = server.job_in_state(&id, "completed").await;
    assert_eq!(job.result.as_deref().map(parsed), Some(json!({"fixed": true})));
    assert_eq!(lines(&server.work_dir().join("runs.log")).len(), 2);
    let listed: Value = cli.json(&["dlq", "list", "fragile"]).await;
    assert_eq!(listed["jobs"], json!([]));
}

#[tokio::test]
async fn a_job_of_a_killed_worker_is_released_when_its_lease_expires() {
    let server = TestServer::builder().config(CONFIG).start().await;
    let id = server.enqueue("crashy", "{}").await;
    // The first attempt blocks for good; the second one succeeds.
    let script = r#"if [ "$RAMPART_ATTEMPT" = 1 ]; then echo $$ > blocked.pid; exec sleep 600; fi
                    echo "{\"attempt\": $RAMPART_ATTEMPT}""#;
    let mut first = server.cli().worker("crashy").name("first").lease("1s").script(script).await;
    let pid_file = server.work_dir().join("blocked.pid");
    let blocked: u32 = eventually("the first attempt to start", || {
        let pid = std::fs::read_to_string(&pid_file).ok().and_then(|text| text.trim().parse().ok());
        std::future::ready(pid)
    })
    .await;

    // A crash of the worker's machine: SIGKILL the worker and the command it
    // started (each command runs in a process group of its own).
    first.kill();
    send_signal("KILL", &format!("-{blocked}"));
    eventually("the blocked command to end with its worker", || std::future::ready(has_ended(blocked).then_some(())))
        .await;

    let _second = server.cli().worker("crashy").name("second").script(script).await;
    let job = server.job_in_state(&id, "completed").await;
    assert_eq!(job.attempt, 2);
    assert_eq!(job.result.as_deref().map(parsed), Some(json!({"attempt": 2})));
    let expired = job.history.iter().find(|event| event.reason == "lease_expired");
    let expired = expired.unwrap_or_else(|| panic!("no lease_expired in {:#?}", job.history));
    assert_eq!((expired.from.map(|s| s.as_str()), expired.attempt), (Some("active"), 1), "{expired:#?}");
    let done = job.history.last().expect("history");
    assert_eq!((done.to.as_str(), done.worker.as_deref()), ("completed", Some("second")), "{done:#?}");
}

#[tokio::test]
async fn sigterm_stops_leasing_and_lets_the_running_command_finish() {
    let server = TestServer::start().await;
    let running = server.enqueue("reports", r#"{"report": "q3"}"#).await;
    let mut worker = server
        .cli()
        .worker("reports")
        // One slot, taken by the running job: a lease after the SIGTERM could only come from a worker that did
        // not stop leasing.
        .concurrency(1)
        .grace("60s")
        .script(
            r#"touch "started-$RAMPART_JOB_ID"
               while [ ! -e release ]; do sleep 0.02; done
               echo '{"finished": true}'"#,
        )
        .await;
    let started = server.work_dir().join(format!("started-{running}"));
    eventually("the command to start", || std::future::ready(started.exists().then_some(()))).await;

    worker.signal("TERM");
    worker.wait_for_stderr("no new leases").await;
    let late = server.enqueue("reports", r#"{"report": "q4"}"#).await;
    assert!(worker.is_running(), "the worker must wait for its running command");

    std::fs::write(server.work_dir().join("release"), "").expect("release the command");
    let status = worker.wait_exit().await;
    assert_eq!(status.code(), Some(0), "{status:?}");

    let job = server.job(&running).await;
    assert_eq!(job.state.as_str(), "completed");
    assert_eq!(job.result.as_deref().map(parsed), Some(json!({"finished": true})));
    let late = server.job(&late).await;
    assert_eq!((late.state.as_str(), late.attempt), ("available", 0), "{:#?}", late.history);
    assert!(!server.work_dir().join(format!("started-{}", late.id)).exists(), "the late job must not have run");
}

#[tokio::test]
async fn a_timed_out_command_is_stopped_with_the_processes_it_started() {
    let server = TestServer::start().await;
    let enqueued: Value =
        server.cli().json(&["enqueue", "slow", "--payload", "{}", "--timeout", "1s", "--max-attempts", "1"]).await;
    let id = enqueued["id"].as_str().expect("id").to_string();
    let _worker = server.cli().worker("slow").script("sleep 600 & echo $! > child.pid; wait").await;

    let job = server.job_in_state(&id, "dead").await;
    assert_eq!(job.errors.first().map(|e| e.reason.as_str()), Some("timeout"), "{:#?}", job.errors);
    let pid: u32 = std::fs::read_to_string(server.work_dir().join("child.pid"))
        .expect("the command wrote its child's pid")
        .trim()
        .parse()
        .expect("a pid");
    eventually("the timed-out command's child to be stopped", || std::future::ready(has_ended(pid).then_some(())))
        .await;
}

#[tokio::test]
async fn a_command_finished_while_the_server_restarts_is_completed_once_on_attempt_1() {
    let mut server = TestServer::start().await;
    let id = server.enqueue("restart", r#"{"n": 1}"#).await;
    let mut worker = server
        .cli()
        .worker("restart")
        .script(
            r#"echo "$RAMPART_ATTEMPT" >> runs.txt
               while [ ! -e release ]; do sleep 0.02; done
               touch finished
               echo '{"done": true}'"#,
        )
        .await;
    let runs = server.work_dir().join("runs.txt");
    eventually("the command to start", || std::future::ready((!lines(&runs).is_empty()).then_some(()))).await;

    // The server stops (SIGTERM, a deploy) while the command runs, and the
    // command finishes while no server answers.
    server.signal("TERM");
    let status = server.wait_exit().await;
    assert_eq!(status.code(), Some(0), "{status:?}");
    std::fs::write(server.work_dir().join("release"), "").expect("release the command");
    let finished = server.work_dir().join("finished");
    eventually("the command to finish", || std::future::ready(finished.exists().then_some(()))).await;
    // The outage is the behaviour under test: longer than the ~3 s workers
    // used to retry an ack for, far shorter than the 30 s lease.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    server.restart_on_the_same_address().await;

    let job = server.job_in_state(&id, "completed").await;
    assert_eq!(job.attempt, 1, "{:#?}", job.history);
    assert_eq!(job.result.as_deref().map(parsed), Some(json!({"done": true})));
    assert_eq!(lines(&runs), ["1"], "the command ran once");
    assert!(worker.is_running());
    assert!(!worker.stderr().contains("will be retried"), "{}", worker.stderr());
}

#[tokio::test]
async fn a_command_whose_stderr_holds_nul_fails_its_job_with_the_error_kept() {
    // PostgreSQL is where a NUL in the error used to answer 500 (without it
    // the test runs on SQLite).
    let db = rampart_store::postgres::testing::TestDatabase::create("worker NUL stderr").await;
    let mut builder = TestServer::builder().config("[queues.binary]\nmax_attempts = 1\n");
    if let Some(db) = &db {
        builder = builder.env("DATABASE_URL", &db.url);
    }
    let server = builder.start().await;
    let id = server.enqueue("binary", "{}").await;
    let worker = server.cli().worker("binary").script(r#"printf 'bad\000bytes' >&2; exit 1"#).await;
    let job = server.job_in_state(&id, "dead").await;
    assert_eq!(job.last_error.as_deref(), Some("exit 1: bad\u{FFFD}bytes"), "{:#?}", job.history);
    assert!(!worker.stderr().contains("could not acknowledge"), "{}", worker.stderr());
}

#[tokio::test]
async fn the_quick_start_example_command_completes_a_job() {
    let server = TestServer::start().await;
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/send-email.sh");
    let id = server.enqueue("email-send", r#"{"to":"a@b.c"}"#).await;
    let _worker = server.cli().worker("email-send").command(&[example]).await;
    let job = server.job_in_state(&id, "completed").await;
    assert_eq!(job.result.as_deref().map(parsed), Some(json!({"sent": true, "job": id})));
}

#[tokio::test]
async fn a_worker_whose_command_cannot_run_refuses_to_start() {
    let server = TestServer::start().await;
    let id = server.enqueue("email-send", r#"{"to":"a@b.c"}"#).await;
    let missing = server.cli().run(&["work", "email-send", "--", "./send-email.sh"]).await;
    missing.expect_code(2);
    assert!(missing.stderr.contains("cannot run `./send-email.sh`: there is no such file"), "{}", missing.stderr);
    let unknown = server.cli().run(&["work", "email-send", "--", "no-such-command-here"]).await;
    unknown.expect_code(2);
    assert!(unknown.stderr.contains("no executable of that name is on PATH"), "{}", unknown.stderr);
    // Nothing was leased: the job kept its attempts.
    let job = server.job(&id).await;
    assert_eq!((job.state.as_str(), job.attempt), ("available", 0));
}
