//! The shapes of the API-key routes (`/v1/keys`).

use rampart_core::auth::Role;
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// `POST /v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyCreateRequest {
    /// A name for people, unique among live keys.
    #[serde(deserialize_with = "rampart_core::nul::key")]
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\u0000]*\S[^\u0000]*$")]
    pub name: String,
    /// admin, producer, worker or reader.
    pub role: Role,
}

/// A key as listings show it (never the key itself).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyView {
    /// The key's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The key's first characters.
    pub prefix: String,
    /// Created at.
    pub created_at: UnixMillis,
    /// Revoked at.
    pub revoked_at: Option<UnixMillis>,
}

/// The answer to `POST /v1/keys`: the only time the key is shown.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyCreatedResponse {
    /// The secret key; store it now.
    pub key: String,
    /// What was stored.
    #[serde(flatten)]
    pub info: KeyView,
}

/// `GET /v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeysResponse {
    /// Every key, revoked ones included.
    pub keys: Vec<KeyView>,
}
