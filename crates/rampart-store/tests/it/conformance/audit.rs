//! The dashboard's audit log: appended, read newest first in pages by id.

use rampart_store::*;

use super::{T0, at};

fn entry(actor: &str, action: &str, target: &str, n: i64) -> AuditInsert {
    AuditInsert {
        actor: actor.into(),
        action: action.into(),
        target: target.into(),
        detail: format!("step {n}"),
        now: at(n),
    }
}

pub async fn audit_log_is_appended_and_read_newest_first_in_pages(store: Store) {
    let empty = store.audit_list(AuditListParams { before: None, limit: 10 }).await.unwrap();
    assert!(empty.is_empty(), "a fresh store has an empty audit log");
    let mut ids = Vec::new();
    for n in 0..5 {
        let stored = store.audit_insert(entry("admin", "job.retry", &format!("job-{n}"), n)).await.unwrap();
        assert_eq!((stored.actor.as_str(), stored.action.as_str()), ("admin", "job.retry"));
        assert_eq!((stored.target, stored.detail, stored.at), (format!("job-{n}"), format!("step {n}"), at(n)));
        ids.push(stored.id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");

    let first = store.audit_list(AuditListParams { before: None, limit: 2 }).await.unwrap();
    let targets: Vec<&str> = first.iter().map(|a| a.target.as_str()).collect();
    assert_eq!(targets, ["job-4", "job-3"]);
    let next = store.audit_list(AuditListParams { before: Some(first[1].id), limit: 10 }).await.unwrap();
    let targets: Vec<&str> = next.iter().map(|a| a.target.as_str()).collect();
    assert_eq!(targets, ["job-2", "job-1", "job-0"]);
    assert_eq!(next[2].at, T0);

    // Free text is cleaned by the NUL rule; an actor with NUL is refused.
    let cleaned = store.audit_insert(entry("admin", "queue.pause", "a\0b", 9)).await.unwrap();
    assert_eq!(cleaned.target, "a\u{FFFD}b");
    let refused = store.audit_insert(entry("ad\0min", "queue.pause", "q", 9)).await;
    assert!(matches!(refused, Err(StoreError::Invalid(_))), "{refused:?}");
}
