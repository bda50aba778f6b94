//! Records of API keys. The store keeps a key's hash, never the key.

use rampart_core::auth::Role;
use rampart_core::time::UnixMillis;

use crate::row::Row;

/// A key to store.
#[derive(Debug, Clone)]
pub struct ApiKeyInsert {
    /// A name for people (unique among unrevoked keys).
    pub name: String,
    /// What the key may do.
    pub role: Role,
    /// SHA-256 of the key, hex.
    pub hash: String,
    /// The first characters of the key, to recognise it in listings.
    pub prefix: String,
    /// Creation time.
    pub now: UnixMillis,
}

/// A stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The key's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The first characters of the key.
    pub prefix: String,
    /// When it was created.
    pub created_at: UnixMillis,
    /// When it was revoked, if it was.
    pub revoked_at: Option<UnixMillis>,
}

impl ApiKeyRecord {
    /// The record of a row read with the columns `id, name, role, prefix,
    /// created_at, revoked_at`.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<ApiKeyRecord, R::Error> {
        Ok(ApiKeyRecord {
            id: r.int(0)?,
            name: r.text(1)?,
            role: r.parsed(2, "key role")?,
            prefix: r.text(3)?,
            created_at: r.time(4)?,
            revoked_at: r.opt_time(5)?,
        })
    }
}
