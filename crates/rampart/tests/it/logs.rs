//! The real binary's log at its most verbose while requests carry keys and
//! create one: no key, and no `Authorization` header, in it.

use rampart_client::wire::{IntegrationReportRequest, KeyCreateRequest};
use rampart_core::auth::Role;

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
