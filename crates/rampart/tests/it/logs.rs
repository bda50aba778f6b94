//! The real binary's log at its most verbose while requests carry keys and
//! create one: no key, and no `Authorization` header, in it.

use rampart_client::wire::{IntegrationReportRequest, KeyCreateRequest};
use rampart_core::auth::Role;

use rampart_store::postgres::testing::TestDatabase;

use crate::harness::TestServer;

#[tokio::test]
async fn a_trace_level_json_log_holds_no_key() {
    let mut server = TestServer::builder().env("RAMPART_LOG", "trace").start().await;
    server.enqueue("email-send", r#"{"n":1}"#).await;
    let created = server
        .client()
        .key_create(&KeyCreateRequest { name: "app".into(), role: Role::Producer })
        .await
        .expect("a key");
    let report = IntegrationReportRequest {
        status: "error".into(),
        last_error: Some("rejected whsec_NotForLogs with Bearer sk_live_abc".into()),
        ..IntegrationReportRequest::default()
    };
    server.client().integration_report("stripe", "acct_1", &report).await.expect("reported");
    server.cli().run(&["queues"]).await.expect_code(0);
    server.wait_for_stderr("/v1/integrations/stripe/connections/acct_1").await;
    let log = server.stderr();
    assert!(log.contains("request_id="), "lines with the request id: {log}");
    for secret in [server.api_key(), created.key.as_str(), "whsec_NotForLogs", "sk_live_abc"] {
        assert!(!log.contains(secret), "{secret} reached the log:\n{log}");
    }
    assert!(!log.to_ascii_lowercase().contains("bearer"), "an Authorization header reached the log:\n{log}");
}

/// `RAMPART_LOG=debug` on PostgreSQL: rampart's own debug lines, but not the
/// driver's, which print every statement with its parameters (a payload's
/// personal data, a generated push secret). Named, the driver logs again,
/// its statements' parameters still left out.
#[tokio::test]
async fn debug_logging_on_postgresql_prints_no_statement_parameters() {
    for (filter, driver_logs) in [("debug", false), ("debug,tokio_postgres=debug", true)] {
        let Some(db) = TestDatabase::create("debug logs on PostgreSQL").await else { return };
        let mut server = TestServer::builder()
            .env("DATABASE_URL", &db.url)
            .env("RAMPART_POSTGRES__POOL_SIZE", "2")
            .env("RAMPART_LOG", filter)
            .start()
            .await;
        let marker = "jane.doe.4417@example.com";
        server.enqueue("signups", &format!(r#"{{"email":"{marker}"}}"#)).await;
        // Stopped, its log is complete.
        server.signal("TERM");
        server.wait_for_stderr("rampart stopped").await;
        let log = server.stderr();
        assert!(!log.contains(marker), "RAMPART_LOG={filter}: a statement parameter reached the log:\n{log}");
        assert_eq!(log.contains("tokio_postgres"), driver_logs, "RAMPART_LOG={filter}: driver lines:\n{log}");
        assert!(log.contains(" DEBUG "), "RAMPART_LOG={filter}: rampart's own debug lines:\n{log}");
    }
}
