//! Records of the third-party connections apps report (`stripe`, `gmail`,
//! …): one row per platform and connection id, replaced field by field by
//! each report, and read back per platform for the admin diagnostics and by
//! the expiring-token alert.

use rampart_core::id::{ConnectionId, PlatformName};
use rampart_core::integration::IntegrationStatus;
use rampart_core::time::UnixMillis;

use crate::row::Row;

/// One report of a connection's state ([`crate::Store::integration_upsert`]).
///
/// A report sets the fields it carries; an optional field left `None` keeps
/// the stored value, so an app that reports a good sync does not wipe the
/// last error an operator wants to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationUpsertParams {
    /// The platform.
    pub platform: PlatformName,
    /// The app's id of the connection.
    pub connection_id: ConnectionId,
    /// How it stands.
    pub status: IntegrationStatus,
    /// When the app last synced through it.
    pub last_synced_at: Option<UnixMillis>,
    /// The last error the app saw on it.
    pub last_error: Option<String>,
    /// When that error happened.
    pub last_error_at: Option<UnixMillis>,
    /// When its access token expires.
    pub token_expires_at: Option<UnixMillis>,
    /// The name of the API key that reported it.
    pub reported_by: String,
    /// When the report arrived.
    pub now: UnixMillis,
}

/// A stored connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationRecord {
    /// The platform.
    pub platform: PlatformName,
    /// The app's id of the connection.
    pub connection_id: ConnectionId,
    /// How it stands, as last reported.
    pub status: IntegrationStatus,
    /// When the app last synced through it.
    pub last_synced_at: Option<UnixMillis>,
    /// The last error reported.
    pub last_error: Option<String>,
    /// When that error happened.
    pub last_error_at: Option<UnixMillis>,
    /// When its access token expires.
    pub token_expires_at: Option<UnixMillis>,
    /// The name of the API key that last reported it.
    pub reported_by: String,
    /// When it was first reported.
    pub created_at: UnixMillis,
    /// When it was last reported.
    pub updated_at: UnixMillis,
}

/// How many connections a platform has in each status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IntegrationCounts {
    /// Every connection.
    pub total: u64,
    /// Those `connected`.
    pub connected: u64,
    /// Those in `error`.
    pub error: u64,
    /// Those `expired`.
    pub expired: u64,
}

/// One platform's counts ([`crate::Store::integration_summary`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationSummary {
    /// The platform.
    pub platform: PlatformName,
    /// Its connections per status.
    pub counts: IntegrationCounts,
}

impl IntegrationRecord {
    /// The record of a row read with the columns `platform, connection_id,
    /// status, last_synced_at, last_error, last_error_at, token_expires_at,
    /// reported_by, created_at, updated_at`.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<IntegrationRecord, R::Error> {
        Ok(IntegrationRecord {
            platform: r.parsed(0, "integration platform")?,
            connection_id: r.parsed(1, "integration connection id")?,
            status: r.parsed(2, "integration status")?,
            last_synced_at: r.opt_time(3)?,
            last_error: r.opt_text(4)?,
            last_error_at: r.opt_time(5)?,
            token_expires_at: r.opt_time(6)?,
            reported_by: r.text(7)?,
            created_at: r.time(8)?,
            updated_at: r.time(9)?,
        })
    }
}
