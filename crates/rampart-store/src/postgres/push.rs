//! SQL of push queues' signing secrets on PostgreSQL.

use rampart_core::id::QueueName;
use rampart_core::time::UnixMillis;

use super::Client;
use crate::error::StoreError;

/// Stores `candidate` unless the queue has a secret, and answers the one kept.
/// One statement: of nodes inserting at once, the first commit wins and the
/// others' conflict clause reads its secret.
pub(super) async fn secret_ensure(
    c: &mut Client,
    queue: &QueueName,
    candidate: &str,
    now: UnixMillis,
) -> Result<String, StoreError> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO push_secrets (queue, secret, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (queue) DO UPDATE SET secret = push_secrets.secret
             RETURNING secret",
        )
        .await?;
    Ok(c.query_one(&stmt, &[&queue.as_str(), &candidate, &now.0]).await?.try_get(0)?)
}
