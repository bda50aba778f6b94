//! Start-up of `rampart serve`: the admin key file it creates, and a bad
//! configuration that stops it before it starts.

use std::os::unix::fs::PermissionsExt as _;

use crate::harness::{Cli, TestServer, unused_url};

/// Three problems: an unknown key, a bad duration and a negative limit.
pub const BAD_CONFIG: &str = r#"
listne = "127.0.0.1:7433"

[queue_defaults]
lease = "soon"

[queues.email]
concurrency = -1
"#;

/// The keys [`BAD_CONFIG`] gets wrong, each to be named by one error line.
pub const BAD_KEYS: [&str; 3] = ["listne", "queue_defaults.lease", "queues.email.concurrency"];

/// Fails the test unless `stderr` holds exactly one `config error:` line per bad key.
pub fn assert_one_line_per_problem(stderr: &str) {
    let errors: Vec<&str> = stderr.lines().filter(|line| line.starts_with("config error: ")).collect();
    assert_eq!(errors.len(), BAD_KEYS.len(), "{stderr}");
    for key in BAD_KEYS {
        let naming = errors.iter().filter(|line| line.starts_with(&format!("config error: {key}:"))).count();
        assert_eq!(naming, 1, "one line must name `{key}`:\n{stderr}");
    }
}

#[tokio::test]
async fn the_first_start_creates_an_admin_key_only_its_owner_can_read() {
    let mut server = TestServer::start().await;
    let file = server.data_dir().join("admin.key");
    let mode = std::fs::metadata(&file).expect("admin.key exists").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "admin.key has mode {:o}", mode & 0o777);
    let key = std::fs::read_to_string(&file).expect("read admin.key");
    assert!(!key.trim().is_empty());
    // The CLI finds the key through RAMPART_DATA_DIR.
    server.cli().run(&["queues"]).await.expect_code(0);

    server.kill();
    server.restart().await;
    assert_eq!(std::fs::read_to_string(&file).expect("read admin.key"), key, "a restart keeps the key");
}

#[tokio::test]
async fn serve_refuses_a_bad_configuration_and_does_not_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, BAD_CONFIG).expect("write the config");
    let data_dir = dir.path().join("data");
    let config = config.to_str().expect("UTF-8 path");
    let data = data_dir.to_str().expect("UTF-8 path");

    let cli = Cli::new(&unused_url(), &data_dir, dir.path());
    let run = cli.run(&["serve", "--config", config, "--listen", "127.0.0.1:0", "--data-dir", data]).await;
    run.expect_code(2);
    assert_one_line_per_problem(&run.stderr);
    assert!(!run.stderr.contains("listening"), "{}", run.stderr);
    assert!(!data_dir.exists(), "a refused configuration must not create the data directory");
}
