//! Stopping gracefully: a SIGTERM lets in-flight requests finish within
//! `shutdown_grace` and exits 0, a second signal exits at once, and a worker
//! whose command outlives its grace gives the job back without an attempt
//! counted.

use std::io::Write;
use std::net::TcpStream;

use crate::harness::{TestServer, eventually};

/// Logs each request as it starts (tower-http's `started processing
/// request`, at debug), so a test can wait until the server holds one.
const REQUEST_LOGS: &str = "info,tower_http=debug";

/// Opens a connection and sends a request whose body never completes, and
/// waits until the server has started on it: the request then stays in
/// flight until the server gives up on it.
async fn request_in_flight(server: &mut TestServer) -> TcpStream {
    let addr = server.url().trim_start_matches("http://");
    let mut tcp = TcpStream::connect(addr).expect("connect to the server");
    let head = format!(
        "POST /v1/queues/slow/jobs HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"payload\":",
        server.api_key()
    );
    tcp.write_all(head.as_bytes()).expect("send the start of a request");
    server.wait_for_stderr("path=/v1/queues/slow/jobs").await;
    tcp
}

#[tokio::test]
async fn sigterm_lets_a_request_in_flight_run_until_the_grace_ends_then_exits_0() {
    let mut server =
        TestServer::builder().config("shutdown_grace = \"2s\"").env("RAMPART_LOG", REQUEST_LOGS).start().await;
    let kept = server.enqueue("kept", "{}").await;
    let _in_flight = request_in_flight(&mut server).await;

    server.signal("TERM");
    server.wait_for_stderr("shutting down").await;
    assert!(server.is_running(), "the server must wait for the request in flight");
    server.wait_for_stderr("grace period is over").await;
    let status = server.wait_exit().await;
    assert_eq!(status.code(), Some(0), "{status:?}");

    server.restart().await;
    assert_eq!(server.job(&kept).await.state.as_str(), "available");
}

#[tokio::test]
async fn a_second_signal_stops_the_server_at_once() {
    let mut server =
        TestServer::builder().config("shutdown_grace = \"10m\"").env("RAMPART_LOG", REQUEST_LOGS).start().await;
    let _in_flight = request_in_flight(&mut server).await;

    server.signal("TERM");
    server.wait_for_stderr("shutting down").await;
    assert!(server.is_running(), "the server must wait for the request in flight");
    server.signal("INT");
    let status = server.wait_exit().await;
    assert_eq!(status.code(), Some(130), "{status:?}");
}

#[tokio::test]
async fn a_worker_whose_command_outlives_the_grace_gives_the_job_back_without_an_attempt() {
    let server = TestServer::start().await;
    let id = server.enqueue("reports", r#"{"report": "q3"}"#).await;
    let mut worker = server
        .cli()
        .worker("reports")
        .grace("1s")
        .script(
            r#"touch "started-$RAMPART_JOB_ID"
               sleep 600"#,
        )
        .await;
    let started = server.work_dir().join(format!("started-{id}"));
    eventually("the command to start", || std::future::ready(started.exists().then_some(()))).await;

    worker.signal("TERM");
    let status = worker.wait_exit().await;
    assert_eq!(status.code(), Some(0), "{status:?}");
    let job = server.job(&id).await;
    assert_eq!((job.state.as_str(), job.attempt), ("available", 0), "{:#?}", job.history);
    let reasons: Vec<&str> = job.history.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons, ["enqueued", "leased", "released"]);
    assert!(job.errors.is_empty(), "a released attempt is not a failure: {:#?}", job.errors);
}
