//! `rampart chaos` against the real binary: a local server with a fast retry
//! policy passes every scenario (the crashed worker a real `rampart work`
//! killed with SIGKILL, the server itself killed and started again, a
//! throw-away node's database cut when PostgreSQL is there, a failing push
//! target), and so does a two-node PostgreSQL cluster; a retry policy other
//! than the one the server applies, a key the server refuses, and a server
//! whose jobs a stuck worker holds for ever, fail with exit 1; Ctrl-C in
//! the middle of a scenario leaves no process, directory, job or queue
//! behind.

use rampart_chaos::ChaosReport;
use rampart_chaos::restart::{PID_FILE, is_running};
use rampart_store::postgres::testing::TestDatabase;

use crate::cluster::Cluster;
use crate::harness::{Cli, Process, TestServer, eventually, send_signal};

const FAST: &str = "[queue_defaults.backoff]\ninitial = \"200ms\"\n\n[monitoring]\ninterval = \"1s\"\n";

fn result<'a>(report: &'a ChaosReport, name: &str) -> (&'a str, &'a str) {
    report
        .scenarios
        .iter()
        .find(|r| r.scenario == name)
        .map_or(("missing", ""), |r| (r.result.as_str(), r.detail.as_str()))
}

/// Runs `rampart chaos --json ARGS…` and reads its report. Up to seven
/// scenarios, three of them starting servers of their own: on a busy 2-core
/// machine that takes more than the minute a single command gets.
async fn chaos(cli: &Cli, args: &[&str]) -> (ChaosReport, Option<i32>) {
    let args: Vec<&str> = ["chaos", "--json"].iter().chain(args).copied().collect();
    let run = cli.run_within(&args, std::time::Duration::from_secs(300)).await;
    let report = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    (report, run.code)
}

/// The server `restart` started again in place of the one the harness
/// started: killed at the end of the test, as the harness kills its own.
struct Restarted(u32);

impl Restarted {
    fn of(server: &TestServer) -> Restarted {
        let text = std::fs::read_to_string(server.data_dir().join(PID_FILE)).expect("the restarted server's pid file");
        Restarted(text.lines().next().and_then(|pid| pid.parse().ok()).expect("a pid"))
    }
}

impl Drop for Restarted {
    fn drop(&mut self) {
        send_signal("KILL", &self.0.to_string());
    }
}

/// Every scenario ran and passed, bar `store_cut` when there is no PostgreSQL.
fn assert_all_pass(report: &ChaosReport, with_store: bool) {
    assert!(report.ok, "{report:#?}");
    let total = if with_store { 7 } else { 6 };
    assert_eq!((report.passed, report.total, report.verdict.as_str()), (total, total, "production-ready"));
    let (_, crash) = result(report, "worker_crash");
    assert!(crash.starts_with("10/10 recovered (100%) after SIGKILL of a `rampart work`"), "{crash}");
    assert!(crash.contains("lease expiry to re-lease"), "{crash}");
    let (_, retry) = result(report, "retry_policy");
    assert!(retry.contains("completed on attempt 3/3") && retry.contains("retry 2:"), "{retry}");
    let (_, restart) = result(report, "restart");
    assert!(restart.contains("5 available and 5 scheduled jobs kept their state"), "{restart}");
    let (_, push) = result(report, "push_target");
    assert!(push.contains("used no attempt while it was open") && push.contains("5/5 delivered"), "{push}");
    assert!(push.contains("attempts, each a request to the target"), "{push}");
    let (store, cut) = result(report, "store_cut");
    if with_store {
        assert!(cut.contains("readiness 503") && cut.contains("acknowledged jobs kept"), "{cut}");
    } else {
        assert_eq!(store, "skip", "{cut}");
    }
}

#[tokio::test]
async fn chaos_passes_a_local_server_and_fails_a_wrong_policy_or_key() {
    let server = TestServer::builder().config(FAST).start().await;
    let cli = server.cli();
    let db = TestDatabase::create("chaos_local").await;
    let mut args = vec!["--backoff-initial", "200ms", "--allow-restart"];
    if let Some(db) = &db {
        args.extend(["--store-url", db.url.as_str()]);
    }
    let (report, code) = chaos(&cli, &args).await;
    let _restarted = Restarted::of(&server);
    assert_all_pass(&report, db.is_some());
    assert_eq!(code, Some(0));
    // The throw-away queue is gone, with its jobs.
    let gone = server.client().queue(&report.queue).await.map(|q| q.counts);
    assert_eq!(gone.as_ref().map_err(|e| e.status_code()).err(), Some(Some(404)), "{gone:?}");

    // Without --allow-restart, `restart` is skipped and not counted.
    let (report, code) = chaos(&cli, &["--scenario", "restart", "--scenario", "monitoring"]).await;
    assert_eq!((report.passed, report.total, code), (1, 1, Some(0)), "{report:#?}");
    assert!(result(&report, "restart") == ("skip", result(&report, "restart").1), "{report:#?}");
    assert!(result(&report, "restart").1.contains("needs --allow-restart"), "{report:#?}");

    // The server retries after 200 ms, 400 ms: a policy of 3 s is not what it applies.
    let run = cli.run(&["chaos", "--scenario", "retry_policy", "--backoff-initial", "3s"]).await;
    run.expect_code(1);
    let line = run.stdout.lines().find(|l| l.starts_with("retry_policy")).unwrap_or_default();
    assert!(line.contains("FAIL") && line.contains("the policy allows"), "{}", run.stdout);
    assert!(run.stdout.contains("0/1 review"), "{}", run.stdout);
    assert!(run.stderr.contains("1 of 1 scenario failed"), "{}", run.stderr);

    // A refused key fails every scenario that needs one: 3 failing is "not ready".
    let (report, code) = chaos(
        &cli,
        &[
            "--api-key",
            "rk_wrong",
            "--scenario",
            "worker_crash",
            "--scenario",
            "retry_policy",
            "--scenario",
            "queue_metrics",
            "--scenario",
            "monitoring",
        ],
    )
    .await;
    assert_eq!(code, Some(1));
    assert_eq!((report.passed, report.verdict.as_str()), (0, "not ready"), "{report:#?}");
    assert_eq!(result(&report, "worker_crash").0, "fail");
}

#[tokio::test]
async fn chaos_passes_a_two_node_postgres_cluster() {
    let Some(cluster) = Cluster::builder("chaos_cluster").config(FAST).start().await else { return };
    let node = &cluster.nodes[0];
    // store_cut and push_target start servers of their own, the same as in
    // the local test above.
    let scenarios = ["worker_crash", "retry_policy", "queue_metrics", "monitoring", "restart"];
    let mut args = vec!["--backoff-initial", "200ms", "--allow-restart"];
    for s in scenarios {
        args.extend(["--scenario", s]);
    }
    let (report, code) = chaos(&node.cli(), &args).await;
    let _restarted = Restarted::of(node);
    assert!(report.ok, "{report:#?}");
    assert_eq!((report.passed, report.total, report.verdict.as_str()), (5, 5, "production-ready"), "{report:#?}");
    let (_, crash) = result(&report, "worker_crash");
    assert!(crash.starts_with("10/10 recovered (100%) after SIGKILL of a `rampart work`"), "{crash}");
    let (_, restart) = result(&report, "restart");
    assert!(restart.contains("5 available and 5 scheduled jobs kept their state"), "{restart}");
    assert_eq!(code, Some(0));
    // The other node sees the throw-away queue gone too.
    let gone = cluster.nodes[1].client().queue(&report.queue).await.map(|q| q.counts);
    assert_eq!(gone.as_ref().map_err(|e| e.status_code()).err(), Some(Some(404)), "{gone:?}");
}

#[tokio::test]
async fn chaos_reports_a_server_whose_jobs_a_stuck_worker_holds() {
    let server = TestServer::builder().config(FAST).start().await;
    let cli = server.cli();
    // A worker that takes every job of the queue and never finishes one (it
    // keeps its leases alive): to the scenarios, the jobs are lost.
    let _stuck = cli.worker("chaos-stuck").name("stuck").concurrency(50).lease("30s").script("sleep 600").await;
    let scenarios = ["--scenario", "worker_crash", "--scenario", "retry_policy", "--scenario", "monitoring"];
    let mut args = vec!["--queue", "chaos-stuck", "--patience", "3s"];
    args.extend(scenarios);
    let (report, code) = chaos(&cli, &args).await;
    assert_eq!(code, Some(1));
    assert_eq!((report.passed, report.total, report.verdict.as_str()), (1, 3, "review"), "{report:#?}");
    let (crash, detail) = result(&report, "worker_crash");
    assert!(crash == "fail" && detail.contains("0/10 recovered"), "{detail}");
    assert_eq!(result(&report, "retry_policy").0, "fail");
    assert_eq!(result(&report, "monitoring").0, "pass");
}

/// Processes whose command line holds `needle`, but for this test's own.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else { continue };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) && pid != std::process::id() && is_running(pid) {
            found.push(format!("{pid}: {cmdline}"));
        }
    }
    found
}

/// Starts `rampart chaos --scenario NAME`, waits until a process whose
/// command line holds `marker(pid)` runs (what the scenario started), sends
/// SIGINT, and checks that nothing it started is left.
async fn interrupt(cli: &Cli, scenario: &str, marker: impl Fn(u32) -> String) -> Process {
    let mut chaos = cli.spawn(&["chaos", "--scenario", scenario, "--patience", "1m"]);
    let pid = chaos.id();
    let needle = marker(pid);
    eventually(&format!("`{scenario}` to start a process with `{needle}`"), || {
        std::future::ready((!processes_with(&needle).is_empty()).then_some(()))
    })
    .await;
    chaos.signal("INT");
    let status = chaos.wait_exit().await;
    assert_eq!(status.code(), Some(1), "an interrupted run fails: {}", chaos.stderr());
    eventually(&format!("every process with `{needle}` to end"), || {
        let left = processes_with(&needle);
        std::future::ready(left.is_empty().then_some(()))
    })
    .await;
    let scratch = rampart_chaos::local::scratch_prefix(pid);
    let dirs: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&scratch))
        .collect();
    assert!(dirs.is_empty(), "left behind: {dirs:?}");
    chaos
}

#[tokio::test]
async fn ctrl_c_mid_scenario_leaves_nothing_behind() {
    let server = TestServer::builder().config(FAST).start().await;
    let cli = server.cli();
    // Mid worker_crash: the `rampart work` process it started holds the jobs.
    interrupt(&cli, "worker_crash", |pid| format!("work chaos-{pid}-")).await;
    // Its throw-away queue was cleaned and deleted before it exited.
    let queues = server.client().queues().await.unwrap().queues;
    let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
    assert!(names.iter().all(|n| !n.starts_with("chaos-")), "the throw-away queue is left: {names:?}");
    // Mid push_target: its throw-away server and target are up.
    let chaos = interrupt(&cli, "push_target", rampart_chaos::local::scratch_prefix).await;
    assert!(chaos.stderr().contains("scenario failed"), "{}", chaos.stderr());
}
