//! SQL of reported third-party connections on PostgreSQL.

use rampart_core::id::PlatformName;
use rampart_core::time::UnixMillis;

use super::Client;
use crate::error::StoreError;
use crate::integration::*;

const COLUMNS: &str = "platform, connection_id, status, last_synced_at, last_error, last_error_at, \
                       token_expires_at, reported_by, created_at, updated_at";

pub(super) async fn upsert(c: &mut Client, p: &IntegrationUpsertParams) -> Result<IntegrationRecord, StoreError> {
    let stmt = c
        .prepare_cached(&format!(
            "INSERT INTO integrations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
             ON CONFLICT (platform, connection_id) DO UPDATE SET
                 status = excluded.status,
                 last_synced_at = COALESCE(excluded.last_synced_at, integrations.last_synced_at),
                 last_error = COALESCE(excluded.last_error, integrations.last_error),
                 last_error_at = COALESCE(excluded.last_error_at, integrations.last_error_at),
                 token_expires_at = COALESCE(excluded.token_expires_at, integrations.token_expires_at),
                 reported_by = excluded.reported_by,
                 updated_at = excluded.updated_at
             RETURNING {COLUMNS}"
        ))
        .await?;
    let row = c
        .query_one(
            &stmt,
            &[
                &p.platform.as_str(),
                &p.connection_id.as_str(),
                &p.status.as_str(),
                &p.last_synced_at.map(|t| t.0),
                &p.last_error,
                &p.last_error_at.map(|t| t.0),
                &p.token_expires_at.map(|t| t.0),
                &p.reported_by,
                &p.now.0,
            ],
        )
        .await?;
    IntegrationRecord::from_row(&row)
}

pub(super) async fn summary(c: &mut Client) -> Result<Vec<IntegrationSummary>, StoreError> {
    let stmt = c
        .prepare_cached(
            "SELECT platform, COUNT(*),
                    COUNT(*) FILTER (WHERE status = 'connected'),
                    COUNT(*) FILTER (WHERE status = 'error'),
                    COUNT(*) FILTER (WHERE status = 'expired')
             FROM integrations GROUP BY platform ORDER BY platform",
        )
        .await?;
    c.query(&stmt, &[])
        .await?
        .iter()
        .map(|r| {
            let platform: String = r.try_get(0)?;
            let count = |i| r.try_get::<_, i64>(i).map(|n| u64::try_from(n).unwrap_or(0));
            Ok(IntegrationSummary {
                platform: PlatformName::new(&platform)
                    .map_err(|e| StoreError::Internal(format!("stored integration: {e}")))?,
                counts: IntegrationCounts {
                    total: count(1)?,
                    connected: count(2)?,
                    error: count(3)?,
                    expired: count(4)?,
                },
            })
        })
        .collect()
}

pub(super) async fn recent(c: &mut Client, per_platform: u32) -> Result<Vec<IntegrationRecord>, StoreError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM (
                 SELECT *, ROW_NUMBER() OVER (
                     PARTITION BY platform ORDER BY updated_at DESC, connection_id
                 ) AS n FROM integrations
             ) ranked WHERE n <= $1 ORDER BY platform, updated_at DESC, connection_id"
        ))
        .await?;
    c.query(&stmt, &[&i64::from(per_platform)]).await?.iter().map(IntegrationRecord::from_row).collect()
}

pub(super) async fn expiring(
    c: &mut Client,
    before: UnixMillis,
    limit: u32,
) -> Result<Vec<IntegrationRecord>, StoreError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM integrations
             WHERE token_expires_at > 0 AND token_expires_at <= $1
             ORDER BY token_expires_at, platform, connection_id LIMIT $2"
        ))
        .await?;
    c.query(&stmt, &[&before.0, &i64::from(limit)]).await?.iter().map(IntegrationRecord::from_row).collect()
}
