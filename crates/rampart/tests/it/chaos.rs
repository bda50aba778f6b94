//! `rampart chaos` against the real binary: a local server with a fast retry
//! policy passes every scenario (the crashed worker a real `rampart work`
//! killed with SIGKILL); a retry policy other than the one the
//! server applies, and a key the server refuses, fail with exit 1.

use rampart_chaos::ChaosReport;

use crate::harness::TestServer;

const FAST: &str = "[queue_defaults.backoff]\ninitial = \"200ms\"\n\n[monitoring]\ninterval = \"1s\"\n";

fn result<'a>(report: &'a ChaosReport, name: &str) -> (&'a str, &'a str) {
    report
        .scenarios
        .iter()
        .find(|r| r.scenario == name)
        .map_or(("missing", ""), |r| (r.result.as_str(), r.detail.as_str()))
}

#[tokio::test]
async fn chaos_passes_a_local_server_and_fails_a_wrong_policy_or_key() {
    let server = TestServer::builder().config(FAST).start().await;
    let cli = server.cli();
    let run = cli.run(&["chaos", "--json", "--backoff-initial", "200ms"]).await;
    let report: ChaosReport = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    assert!(report.ok, "{report:#?}");
    assert_eq!((report.passed, report.total, report.verdict.as_str()), (4, 4, "production-ready"));
    run.expect_code(0);
    let (_, crash) = result(&report, "worker_crash");
    assert!(crash.starts_with("10/10 recovered (100%) after SIGKILL of a `rampart work`"), "{crash}");
    assert!(crash.contains("lease expiry to re-lease"), "{crash}");
    let (_, retry) = result(&report, "retry_policy");
    assert!(retry.contains("completed on attempt 3/3") && retry.contains("retry 2:"), "{retry}");
    // Nothing is left behind in the throw-away queue.
    let queue = server.client().queue(&report.queue).await.unwrap();
    assert_eq!((queue.counts.available, queue.counts.scheduled, queue.counts.active, queue.counts.dead), (0, 0, 0, 0));

    // The server retries after 200 ms, 400 ms: a policy of 3 s is not what it applies.
    let run = cli.run(&["chaos", "--scenario", "retry_policy", "--backoff-initial", "3s"]).await;
    run.expect_code(1);
    let line = run.stdout.lines().find(|l| l.starts_with("retry_policy")).unwrap_or_default();
    assert!(line.contains("FAIL") && line.contains("the policy allows"), "{}", run.stdout);
    assert!(run.stdout.contains("0/1 review"), "{}", run.stdout);
    assert!(run.stderr.contains("1 of 1 scenario failed"), "{}", run.stderr);

    // A refused key fails every scenario that needs one: 3 failing is "not ready".
    let run = cli.run(&["chaos", "--json", "--api-key", "rk_wrong"]).await;
    run.expect_code(1);
    let report: ChaosReport = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((report.passed, report.verdict.as_str()), (0, "not ready"), "{report:#?}");
    assert_eq!(result(&report, "worker_crash").0, "fail");
}
