//! Records of rate-limit policies defined through the API.
//!
//! The store keeps each policy's spec as the JSON text it was given and does
//! not read it: the server owns what a spec means and validates it before a
//! put. Beside the policies the store keeps one revision number, changed in
//! the same transaction as every put and delete, so each node can poll it
//! cheaply and reload the policies only when it moved.

use rampart_core::id::PolicyName;
use rampart_core::time::UnixMillis;

use crate::row::Row;

/// A stored rate-limit policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitPolicyRecord {
    /// The policy's name, unique in the store.
    pub name: PolicyName,
    /// The policy as JSON text, byte for byte as it was put.
    pub spec: String,
    /// When the name was first put; a replace keeps it.
    pub created_at: UnixMillis,
    /// When the spec was last put.
    pub updated_at: UnixMillis,
}

impl RateLimitPolicyRecord {
    /// The record of a row read with the columns `name, spec, created_at,
    /// updated_at`.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<RateLimitPolicyRecord, R::Error> {
        Ok(RateLimitPolicyRecord {
            name: r.parsed(0, "policy name")?,
            spec: r.text(1)?,
            created_at: r.time(2)?,
            updated_at: r.time(3)?,
        })
    }
}
