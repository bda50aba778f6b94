//! What the CLI says when it cannot do its job: no server, a refused key,
//! a configuration with several problems; and `rampart ratelimit` end to end.

use crate::harness::{Cli, TestServer, unused_url};
use crate::server::{BAD_CONFIG, assert_one_line_per_problem};

#[tokio::test]
async fn without_a_server_the_cli_says_it_cannot_reach_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = unused_url();
    let run = Cli::new(&url, dir.path(), dir.path()).run(&["queues"]).await;
    run.expect_code(1);
    assert!(run.stderr.contains(&format!("cannot reach the rampart server at {url}")), "{}", run.stderr);
}

#[tokio::test]
async fn a_wrong_api_key_is_refused() {
    let server = TestServer::start().await;
    let run = server.cli().run(&["queues", "--api-key", "rk_not_a_real_key"]).await;
    run.expect_code(1);
    assert!(run.stderr.contains("refused the API key"), "{}", run.stderr);
}

#[tokio::test]
async fn config_check_reports_every_problem_on_its_own_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cli = Cli::new(&unused_url(), &dir.path().join("data"), dir.path());
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, BAD_CONFIG).expect("write the config");
    let run = cli.run(&["config", "check", "--config", bad.to_str().expect("UTF-8 path")]).await;
    run.expect_code(2);
    assert_one_line_per_problem(&run.stderr);
    assert!(!run.stdout.contains("configuration OK"), "{}", run.stdout);

    let good = dir.path().join("good.toml");
    let good_config = "[queues.email]\nconcurrency = 4\nlease = \"10s\"\n\
                       [ratelimit.policies.oauth]\nlimit = 10\nwindow = \"5m\"\n\
                       [breakers.payments]\ncooldown = \"1m\"\n\
                       [[cron]]\nname = \"nightly\"\nschedule = \"@daily\"\nqueue = \"email\"\n";
    std::fs::write(&good, good_config).expect("write the config");
    let run = cli.run(&["config", "check", "--config", good.to_str().expect("UTF-8 path")]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("configuration OK"), "{}", run.stdout);
    assert!(run.stdout.lines().any(|l| l.starts_with("rate limits") && l.ends_with("oauth")), "{}", run.stdout);
    assert!(run.stdout.lines().any(|l| l.starts_with("breakers") && l.ends_with("payments")), "{}", run.stdout);
    assert!(run.stdout.lines().any(|l| l.starts_with("cron") && l.ends_with("nightly")), "{}", run.stdout);
}

#[tokio::test]
async fn ratelimit_commands_define_check_show_and_reset() {
    let server = TestServer::start().await;
    let cli = server.cli();
    let put = cli.run(&["ratelimit", "put", "signup", "--limit", "2", "--window", "1m", "--algorithm", "fixed_window"]);
    let put = put.await;
    put.expect_code(0);
    assert!(put.stdout.lines().any(|l| l.split_whitespace().eq(["limit", "2", "per", "1m"])), "{}", put.stdout);
    for verdict in ["allowed", "allowed", "denied"] {
        let run = cli.run(&["ratelimit", "check", "signup", "203.0.113.9"]).await;
        run.expect_code(0);
        let first: Vec<&str> = run.stdout.lines().next().unwrap_or("").split_whitespace().collect();
        assert_eq!(first, ["verdict", verdict], "{}", run.stdout);
    }
    let list = cli.run(&["ratelimit"]).await;
    list.expect_code(0);
    let row: Vec<&str> =
        list.stdout.lines().find(|l| l.starts_with("signup")).unwrap_or("").split_whitespace().collect();
    assert_eq!(row, ["signup", "2/1m", "fixed_window", "ip", "memory", "api", "2", "1", "0"], "{}", list.stdout);
    let key: serde_json::Value = cli.json(&["ratelimit", "key", "signup", "203.0.113.9"]).await;
    assert_eq!((&key["remaining"], &key["fresh"]), (&serde_json::json!(0), &serde_json::json!(false)), "{key}");
    cli.run(&["ratelimit", "reset", "signup", "203.0.113.9"]).await.expect_code(0);
    let again: serde_json::Value = cli.json(&["ratelimit", "check", "signup", "203.0.113.9"]).await;
    assert_eq!(again["allowed"], true, "unblocked: {again}");

    let bad = cli.run(&["ratelimit", "put", "p", "--limit", "0", "--window", "1m"]).await;
    bad.expect_code(1);
    assert!(bad.stderr.contains("`limit`"), "{}", bad.stderr);
    cli.run(&["ratelimit", "delete", "signup"]).await.expect_code(0);
    let gone = cli.run(&["ratelimit", "show", "signup"]).await;
    gone.expect_code(1);
    assert!(gone.stderr.contains("no rate-limit policy is named `signup`"), "{}", gone.stderr);
}

#[tokio::test]
async fn openapi_prints_the_document_the_server_serves() {
    let server = TestServer::start().await;
    let run = server.cli().run(&["openapi"]).await;
    run.expect_code(0);
    let printed: serde_json::Value = serde_json::from_str(&run.stdout).expect("the document is JSON");
    let served: serde_json::Value = reqwest::get(format!("{}/openapi.json", server.url()))
        .await
        .expect("GET /openapi.json")
        .json()
        .await
        .expect("the served document is JSON");
    assert_eq!(printed, served);
    assert_eq!(printed["openapi"], "3.1.0");
    assert!(printed["paths"]["/v1/queues/{queue}/jobs"]["post"]["requestBody"].is_object());
}

#[tokio::test]
async fn login_saves_a_key_that_every_later_command_finds() {
    let server = TestServer::start().await;
    let elsewhere = tempfile::tempdir().expect("temp dir");
    // Run from a directory with no data dir beside it, as a user away from the server.
    let cli = Cli::new(server.url(), &elsewhere.path().join("no-data"), elsewhere.path());
    let before = cli.run(&["queues"]).await;
    before.expect_code(1);
    assert!(before.stderr.contains("run `rampart login`"), "{}", before.stderr);

    let refused = cli.run(&["login", "--api-key", "rk_not_a_real_key"]).await;
    refused.expect_code(1);
    assert!(refused.stderr.contains("the key was not saved"), "{}", refused.stderr);
    cli.run(&["queues"]).await.expect_code(1);

    let key_file = server.data_dir().join("admin.key");
    let login = cli.run(&["login", "--key-file", key_file.to_str().expect("UTF-8 path")]).await;
    login.expect_code(0);
    assert!(login.stdout.contains("saved the key"), "{}", login.stdout);
    cli.run(&["queues"]).await.expect_code(0);

    cli.run(&["logout"]).await.expect_code(0);
    cli.run(&["queues"]).await.expect_code(1);
}

#[tokio::test]
async fn jobs_release_lease_and_fail_now_act_on_a_job_stuck_active() {
    let server = TestServer::start().await;
    let first = server.enqueue("stuck", "{}").await;
    let second = server.enqueue("stuck", "{}").await;
    let lease = rampart_client::wire::LeaseRequest { max: Some(2), ..Default::default() };
    server.client().lease("stuck", &lease).await.expect("lease");

    let released = server.cli().json::<serde_json::Value>(&["jobs", "release-lease", &first]).await;
    assert_eq!(released["state"], "available", "{released}");
    let run = server.cli().run(&["jobs", "fail-now", &second, "--error", "hung on a socket"]).await;
    run.expect_code(0);
    let job = server.job(&second).await;
    assert_eq!(job.last_error.as_deref(), Some("failed by an operator (admin): hung on a socket"));
    let again = server.cli().run(&["jobs", "release-lease", &first]).await;
    again.expect_code(1);
    assert!(again.stderr.contains("only an active job has a lease"), "{}", again.stderr);
}
