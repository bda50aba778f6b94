//! `rampart env check` and `rampart env example` on real files: a good
//! dotenv file passes, a bad one exits 2 listing every problem without a
//! secret's value, and the example a schema writes reads back.

use crate::harness::{Cli, unused_url};

const SCHEMA: &str = r#"
[vars.NODE_ENV]
kind = "enum"
one_of = ["development", "production"]
default = "development"

[vars.DATABASE_URL]
required = true
kind = "url"
schemes = ["postgres"]
example = "postgres://app@localhost:5432/app"

[vars.STRIPE_SECRET_KEY]
kind = "secret"
required_if = "NODE_ENV=production"
pattern = "sk_(test|live)_[A-Za-z0-9]+"
example = "sk_test_replaceme"
"#;

#[tokio::test]
async fn env_check_lists_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cli = Cli::new(&unused_url(), &dir.path().join("data"), dir.path());
    let path = |name: &str| dir.path().join(name).to_str().expect("UTF-8 path").to_string();
    std::fs::write(path("env.toml"), SCHEMA).expect("write the schema");

    std::fs::write(
        path("good.env"),
        "NODE_ENV=production\nDATABASE_URL=postgres://db/app\nSTRIPE_SECRET_KEY=sk_live_abc\n",
    )
    .expect("write");
    let run = cli.run(&["env", "check", "--schema", &path("env.toml"), "--env-file", &path("good.env")]).await;
    run.expect_code(0);
    assert!(run.stdout.starts_with("ok: 3 variables checked"), "{}", run.stdout);

    std::fs::write(path("bad.env"), "NODE_ENV=production\nSTRIPE_SECRET_KEY=pk_live_TOPSECRET\nEXTRA=1\n")
        .expect("write");
    let run = cli.run(&["env", "check", "--schema", &path("env.toml"), "--env-file", &path("bad.env")]).await;
    run.expect_code(2);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "a header and one line per problem:\n{}", run.stdout);
    assert!(lines[1].starts_with("DATABASE_URL") && lines[1].contains("missing"), "{}", run.stdout);
    assert!(lines[2].starts_with("STRIPE_SECRET_KEY") && lines[2].contains("pattern"), "{}", run.stdout);
    assert!(!run.stdout.contains("TOPSECRET") && !run.stderr.contains("TOPSECRET"), "{run:?}");
    assert!(run.stderr.contains("2 problems in") && run.stderr.contains("not in the schema: EXTRA"), "{}", run.stderr);

    let run = cli.run(&["env", "check", "--json", "--schema", &path("env.toml"), "--env-file", &path("bad.env")]).await;
    run.expect_code(2);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(report["ok"], false);
    assert_eq!(report["problems"].as_array().map(Vec::len), Some(2), "{report}");

    std::fs::write(path("broken.toml"), "[vars.A]\nkind = \"number\"\n").expect("write");
    let run = cli.run(&["env", "check", "--schema", &path("broken.toml")]).await;
    run.expect_code(2);
    assert!(run.stderr.contains("vars.A.kind: must be one of"), "{}", run.stderr);
}

#[tokio::test]
async fn env_example_writes_a_file_that_reads_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cli = Cli::new(&unused_url(), &dir.path().join("data"), dir.path());
    let path = |name: &str| dir.path().join(name).to_str().expect("UTF-8 path").to_string();
    std::fs::write(path("env.toml"), SCHEMA).expect("write the schema");
    cli.run(&["env", "example", "--schema", &path("env.toml"), "--output", &path(".env.example")]).await.expect_code(0);
    let example = std::fs::read_to_string(path(".env.example")).expect("the example was written");
    assert!(example.contains("\nDATABASE_URL=postgres://app@localhost:5432/app\n"), "{example}");
    let run = cli.run(&["env", "check", "--schema", &path("env.toml"), "--env-file", &path(".env.example")]).await;
    run.expect_code(0);
}
