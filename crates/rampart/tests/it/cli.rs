//! What the CLI says when it cannot do its job: no server, a refused key,
//! a configuration with several problems.

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
                       [ratelimit.policies.oauth]\nlimit = 10\nwindow = \"5m\"\n";
    std::fs::write(&good, good_config).expect("write the config");
    let run = cli.run(&["config", "check", "--config", good.to_str().expect("UTF-8 path")]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("configuration OK"), "{}", run.stdout);
    assert!(run.stdout.lines().any(|l| l.starts_with("rate limits") && l.ends_with("oauth")), "{}", run.stdout);
}
