//! `rampart doctor` against the real binary: a fresh local server passes
//! (warnings only: no alert channel, no Sentry DSN, maybe a full disk), an admin key file
//! others can read fails it with exit 1, and a server
//! that does not answer is one failing row; on a two-node PostgreSQL
//! cluster the `nodes` check sees both nodes, clocks in time.

use rampart_client::wire::DoctorReport;

use crate::cluster::Cluster;
use crate::harness::{Cli, TestServer, eventually, unused_url};

fn row<'a>(report: &'a DoctorReport, name: &str) -> &'a str {
    report.checks.iter().find(|c| c.name == name).map_or("missing", |c| c.status.as_str())
}

#[tokio::test]
async fn doctor_passes_a_fresh_server_and_fails_a_readable_admin_key() {
    let server = TestServer::start().await;
    let cli = server.cli();
    // The loops must each have run once: right after start one may not have.
    let report: DoctorReport = eventually("every loop to have run", || async {
        let run = cli.run(&["doctor", "--json"]).await;
        let report: DoctorReport = serde_json::from_str(&run.stdout).ok()?;
        (run.code == Some(0)).then_some(report)
    })
    .await;
    assert!(report.ok, "{report:#?}");
    for check in [
        "server",
        "config",
        "ready",
        "store",
        "store.migrations",
        "nodes",
        "redis",
        "loops",
        "cron",
        "retention",
        "push.targets",
        "dead_letters",
        "admin_key.mode",
        "listener",
    ] {
        assert_eq!(row(&report, check), "pass", "{check}: {report:#?}");
    }
    assert_eq!(row(&report, "alerts.channels"), "warn");
    assert_eq!(row(&report, "sentry"), "warn");
    // The disk check reads this machine's disk, which may be nearly full.
    let disk = report.checks.iter().find(|c| c.name == "disk").expect("a disk check");
    assert!(disk.status != "fail" && disk.detail.contains("% free"), "{disk:?}");

    let run = cli.run(&["doctor", "--send-test"]).await;
    run.expect_code(0);
    let header = run.stdout.lines().next().unwrap_or_default();
    assert_eq!(header.split_whitespace().collect::<Vec<_>>(), ["CHECK", "STATUS", "DURATION", "DETAIL"]);
    assert!(run.stdout.lines().any(|l| l.starts_with("alerts.test") && l.contains("WARN")), "{}", run.stdout);

    // A key file others can read fails the whole report.
    use std::os::unix::fs::PermissionsExt as _;
    let key = server.data_dir().join("admin.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let run = cli.run(&["doctor"]).await;
    run.expect_code(1);
    let line = run.stdout.lines().find(|l| l.starts_with("admin_key.mode")).unwrap_or_default();
    assert!(line.contains("FAIL") && line.contains("0644"), "{}", run.stdout);
    assert!(run.stderr.contains("1 check failed"), "{}", run.stderr);
}

#[tokio::test]
async fn doctor_fails_when_the_server_does_not_answer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = unused_url();
    let run = Cli::new(&url, dir.path(), dir.path()).run(&["doctor"]).await;
    run.expect_code(1);
    let line = run.stdout.lines().find(|l| l.starts_with("server")).unwrap_or_default();
    assert!(line.contains("FAIL") && line.contains("cannot reach"), "{}", run.stdout);
}

#[tokio::test]
async fn doctor_sees_every_node_of_a_postgres_cluster() {
    let config = "[monitoring]\ninterval = \"1s\"\n";
    let Some(cluster) = Cluster::builder("doctor_nodes").config(config).start().await else { return };
    let cli = cluster.nodes[1].cli();
    let detail = eventually("both nodes to have reported", || async {
        let report: DoctorReport = serde_json::from_str(&cli.run(&["doctor", "--json"]).await.stdout).ok()?;
        let nodes = report.checks.into_iter().find(|c| c.name == "nodes")?;
        (nodes.status == "pass" && nodes.detail.starts_with("2 node(s) seen")).then_some(nodes.detail)
    })
    .await;
    assert!(detail.contains("clocks within 1s of the database's"), "{detail}");
}
