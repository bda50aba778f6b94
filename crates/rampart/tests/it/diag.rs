//! `rampart diag` against the real binary: an app reports its connections
//! with a producer key through the typed client, and an operator reads the
//! diagnostics as tables and as JSON.

use rampart_client::client::Client;
use rampart_client::wire::{
    BackgroundJobsDiagnostics, IntegrationReportRequest, IntegrationsDiagnostics, KeyCreateRequest,
};
use rampart_core::auth::Role;
use rampart_core::time::UnixMillis;

use crate::harness::TestServer;

#[tokio::test]
async fn diag_shows_the_loops_and_the_integrations_an_app_reported() {
    let server = TestServer::start().await;
    server.enqueue("email-send", r#"{"to":"x"}"#).await;
    let producer = server
        .client()
        .key_create(&KeyCreateRequest { name: "billing-app".into(), role: Role::Producer })
        .await
        .expect("a producer key");
    let app = Client::new(server.url(), Some(producer.key)).unwrap();
    let report = IntegrationReportRequest {
        status: "error".into(),
        last_error: Some("invalid_grant".into()),
        token_expires_at: Some(UnixMillis::parse_rfc3339("2000-01-01T00:00:00Z").unwrap()),
        ..IntegrationReportRequest::default()
    };
    let stored = app.integration_report("gmail", "acct-1", &report).await.expect("a producer may report");
    assert_eq!(stored.reported_by, "billing-app");
    assert!(app.diagnostics_integrations().await.is_err(), "the diagnostics are for admins");

    let cli = server.cli();
    let jobs: BackgroundJobsDiagnostics = cli.json(&["diag", "background-jobs"]).await;
    assert_eq!(jobs.store.status, "up");
    assert_eq!(jobs.queues[0].name.as_str(), "email-send");
    let loops: Vec<&str> = jobs.loops.iter().map(|l| l.name.as_str()).collect();
    assert!(jobs.cron.iter().any(|c| c.name == "rampart.retention"), "the built-in schedule is listed");
    for name in ["policy_syncer", "promoter", "pruner", "reaper", "sampler", "scheduler", "sweeper"] {
        assert!(loops.contains(&name), "{name} missing from {loops:?}");
    }
    let table = cli.run(&["diag"]).await;
    table.expect_code(0);
    assert!(table.stdout.contains("LOOP") && table.stdout.contains("reaper"), "{}", table.stdout);

    let integrations: IntegrationsDiagnostics = cli.json(&["diag", "integrations"]).await;
    assert_eq!((integrations.platforms[0].platform.as_str(), integrations.platforms[0].error), ("gmail", 1));
    assert_eq!(integrations.expiring[0].id, "acct-1", "an expired token is listed");
    let table = cli.run(&["diag", "integrations"]).await;
    table.expect_code(0);
    assert!(table.stdout.contains("invalid_grant") && table.stdout.contains("tokens expiring within 7d"));
}
