//! `rampart cron` end to end: a schedule from the configuration fires every
//! second in a real server, and the CLI lists it, shows it and its runs,
//! pauses it (which a restart keeps), triggers and resumes it.

use rampart_client::wire::{CronListResponse, CronRunsResponse};

use crate::harness::{TestServer, eventually};

/// A schedule firing every second, with a description and a payload.
const EVERY_SECOND: &str = r#"
[[cron]]
name = "tick"
schedule = "* * * * * *"
queue = "ticks"
payload = { from = "cron" }
description = "fires every second"
"#;

#[tokio::test]
async fn cron_commands_list_show_run_pause_trigger_and_resume() {
    let mut server = TestServer::builder().config(EVERY_SECOND).start().await;
    let cli = server.cli();
    eventually("two runs of `tick`", || async {
        let runs: CronRunsResponse = cli.json(&["cron", "runs", "tick"]).await;
        (runs.runs.len() >= 2).then_some(())
    })
    .await;
    let list = cli.run(&["cron", "list"]).await;
    list.expect_code(0);
    let row: Vec<&str> =
        list.stdout.lines().find(|l| l.starts_with("tick ")).unwrap_or("").split_whitespace().collect();
    assert_eq!(&row[..5], ["tick", "*", "*", "*", "*"], "{}", list.stdout);
    assert!(row.contains(&"ticks") && row.contains(&"config"), "{}", list.stdout);
    let builtin = list.stdout.lines().find(|l| l.starts_with("rampart.retention")).unwrap_or("");
    assert!(builtin.contains("builtin") && builtin.contains("*/10"), "{}", list.stdout);

    let show = cli.run(&["cron", "show", "tick"]).await;
    show.expect_code(0);
    for expected in [r#"{"from":"cron"}"#, "fires every second", "* * * * * * (UTC)"] {
        assert!(show.stdout.contains(expected), "no `{expected}` in:\n{}", show.stdout);
    }
    let runs = cli.run(&["cron", "runs", "tick", "--limit", "2"]).await;
    runs.expect_code(0);
    let lines: Vec<&str> = runs.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two runs:\n{}", runs.stdout);
    assert!(
        lines[0].starts_with("ID") && lines[1].contains("schedule") && lines[1].contains("available"),
        "{}",
        runs.stdout
    );

    let paused = cli.run(&["cron", "pause", "tick"]).await;
    paused.expect_code(0);
    assert!(paused.stdout.contains("`tick` paused"), "{}", paused.stdout);
    let listed: CronListResponse = cli.json(&["cron", "list"]).await;
    let tick = listed.schedules.iter().find(|s| s.name == "tick").expect("tick is listed");
    assert!(tick.paused);
    // A restart stores the configured schedule again, unchanged: it stays paused.
    server.kill();
    server.restart().await;
    let cli = server.cli();
    let table = cli.run(&["cron", "list"]).await;
    let row = table.stdout.lines().find(|l| l.starts_with("tick ")).unwrap_or("");
    assert!(row.contains(" paused "), "the next run column says paused: {}", table.stdout);

    let trigger = cli.run(&["cron", "trigger", "tick"]).await;
    trigger.expect_code(0);
    assert!(
        trigger.stdout.contains("`tick` triggered: run") && trigger.stdout.contains("enqueued job"),
        "{}",
        trigger.stdout
    );
    let runs: CronRunsResponse = cli.json(&["cron", "runs", "tick", "--limit", "1"]).await;
    assert_eq!(runs.runs[0].trigger, "manual");

    let resumed = cli.run(&["cron", "resume", "tick"]).await;
    resumed.expect_code(0);
    assert!(resumed.stdout.contains("`tick` resumed; next run 20"), "{}", resumed.stdout);
    eventually("a scheduled run after resuming", || async {
        let runs: CronRunsResponse = cli.json(&["cron", "runs", "tick", "--limit", "1"]).await;
        (runs.runs[0].trigger == "schedule").then_some(())
    })
    .await;

    let missing = cli.run(&["cron", "runs", "nope"]).await;
    missing.expect_code(1);
    assert!(missing.stderr.contains("CRON_NOT_FOUND"), "{}", missing.stderr);
}
