//! SQL of reported third-party connections on SQLite.

use rampart_core::id::PlatformName;
use rampart_core::time::UnixMillis;
use rusqlite::types::Type;
use rusqlite::{Connection, params};

use crate::error::StoreError;
use crate::integration::*;

const COLUMNS: &str = "platform, connection_id, status, last_synced_at, last_error, last_error_at, \
                       token_expires_at, reported_by, created_at, updated_at";

fn conversion(i: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e))
}

pub(super) fn upsert(c: &Connection, p: &IntegrationUpsertParams) -> Result<IntegrationRecord, StoreError> {
    Ok(c.prepare_cached(&format!(
        "INSERT INTO integrations ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
         ON CONFLICT (platform, connection_id) DO UPDATE SET
             status = excluded.status,
             last_synced_at = COALESCE(excluded.last_synced_at, integrations.last_synced_at),
             last_error = COALESCE(excluded.last_error, integrations.last_error),
             last_error_at = COALESCE(excluded.last_error_at, integrations.last_error_at),
             token_expires_at = COALESCE(excluded.token_expires_at, integrations.token_expires_at),
             reported_by = excluded.reported_by,
             updated_at = excluded.updated_at
         RETURNING {COLUMNS}"
    ))?
    .query_row(
        params![
            p.platform.as_str(),
            p.connection_id.as_str(),
            p.status.as_str(),
            p.last_synced_at.map(|t| t.0),
            p.last_error,
            p.last_error_at.map(|t| t.0),
            p.token_expires_at.map(|t| t.0),
            p.reported_by,
            p.now.0,
        ],
        |r| IntegrationRecord::from_row(r),
    )?)
}

pub(super) fn summary(c: &Connection) -> Result<Vec<IntegrationSummary>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT platform, COUNT(*),
                SUM(status = 'connected'), SUM(status = 'error'), SUM(status = 'expired')
         FROM integrations GROUP BY platform ORDER BY platform",
    )?;
    let rows = stmt.query_map([], |r| {
        let platform: String = r.get(0)?;
        let count = |i| r.get::<_, i64>(i).map(|n| u64::try_from(n).unwrap_or(0));
        Ok(IntegrationSummary {
            platform: PlatformName::new(&platform).map_err(|e| conversion(0, e))?,
            counts: IntegrationCounts { total: count(1)?, connected: count(2)?, error: count(3)?, expired: count(4)? },
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn recent(c: &Connection, per_platform: u32) -> Result<Vec<IntegrationRecord>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM (
             SELECT *, ROW_NUMBER() OVER (
                 PARTITION BY platform ORDER BY updated_at DESC, connection_id
             ) AS n FROM integrations
         ) WHERE n <= ?1 ORDER BY platform, updated_at DESC, connection_id"
    ))?
    .query_map([per_platform], |r| IntegrationRecord::from_row(r))?
    .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn expiring(c: &Connection, before: UnixMillis, limit: u32) -> Result<Vec<IntegrationRecord>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM integrations
         WHERE token_expires_at > 0 AND token_expires_at <= ?1
         ORDER BY token_expires_at, platform, connection_id LIMIT ?2"
    ))?
    .query_map(params![before.0, limit], |r| IntegrationRecord::from_row(r))?
    .collect::<Result<Vec<_>, _>>()?)
}
