//! The shapes of the rate-limit routes (`/v1/ratelimit/…`).

use rampart_core::nul;
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// `POST /v1/ratelimit/check`: one check (`policy`, `key`, `cost`) or
/// several (`checks`), exactly one of the two forms.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitCheckRequest {
    /// The policy's name (one check).
    #[serde(default, deserialize_with = "nul::key_opt", skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}|\.[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,126}|\.\.[A-Za-z0-9_.:-]{1,126})$"
    )]
    pub policy: Option<String>,
    /// The key counted against, e.g. a user id or an IP (one check).
    #[serde(default, deserialize_with = "nul::key_opt", skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 256, pattern = r"^[^\u0000]*$")]
    pub key: Option<String>,
    /// What the check costs, at least 1 (default 1; one check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 18446744073709551615_u64)]
    pub cost: Option<u64>,
    /// 1 to 16 checks, allowed only if all allow (several checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, max_items = 16)]
    pub checks: Option<Vec<RateLimitCheck>>,
}

/// One check of a multi-check request.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitCheck {
    /// The policy's name.
    #[serde(deserialize_with = "nul::key")]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}|\.[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,126}|\.\.[A-Za-z0-9_.:-]{1,126})$"
    )]
    pub policy: String,
    /// The key counted against.
    #[serde(deserialize_with = "nul::key")]
    #[schema(min_length = 1, max_length = 256, pattern = r"^[^\u0000]*$")]
    pub key: String,
    /// What the check costs, at least 1 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 18446744073709551615_u64)]
    pub cost: Option<u64>,
}

/// The answer to a check, allowed or not (both are `200`: the app decides).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RateLimitCheckResponse {
    /// Whether the check was admitted and counted.
    pub allowed: bool,
    /// The policy that decided: the first that denied, or when all allowed
    /// the one with the least remaining.
    pub policy: String,
    /// That policy's limit.
    pub limit: u64,
    /// What it could still admit now.
    pub remaining: u64,
    /// Seconds until its counters reset, rounded up.
    pub reset_after_s: u64,
    /// When denied, seconds until the same check would be admitted, rounded
    /// up; `null` when allowed.
    pub retry_after_s: Option<u64>,
    /// Whether a policy's `on_backend_error` decided because its backend
    /// (Redis) failed or was being skipped after a failure.
    #[serde(default)]
    pub fallback: bool,
}

/// A rate-limit policy as `GET /v1/ratelimit/policies` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RateLimitPolicyView {
    /// Its name.
    pub name: String,
    /// What a key may do per window.
    pub limit: u64,
    /// The window (`"5m"`).
    pub window: String,
    /// `sliding_window`, `fixed_window` or `gcra`.
    pub algorithm: String,
    /// The burst, for `gcra`; `null` for the others.
    pub burst: Option<u64>,
    /// How the gate derives the key: `ip`, `api_key` or `header:NAME`.
    pub key: String,
    /// Where the counters live (`memory` or `redis`).
    pub backend: String,
    /// Where the policy was defined: `config`, `api` (kept in the store) or `preset`.
    pub source: String,
    /// What a check does when the backend fails.
    pub on_backend_error: String,
    /// The body of a `429` from the gate or the tower layer: `rampart` or `compat`.
    pub deny_body: String,
    /// Checks allowed since start (each policy of an allowed multi-check counts one).
    pub allowed: u64,
    /// Checks denied since start (a denied multi-check counts for the policy that denied).
    pub denied: u64,
    /// Checks decided by `on_backend_error` since start, because Redis failed.
    pub fallbacks: u64,
}

/// `GET /v1/ratelimit/policies`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RateLimitPoliciesResponse {
    /// Every policy, by name.
    pub policies: Vec<RateLimitPolicyView>,
    /// The Redis backend's state; `null` when no `redis_url` is set.
    pub redis: Option<RedisBackendView>,
}

/// How the limiter's Redis backend is doing.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RedisBackendView {
    /// `up` (checks count in Redis) or `down` (checks follow each policy's
    /// `on_backend_error` while it is probed).
    pub status: String,
    /// Since when, RFC 3339; `null` before the first attempt.
    pub since: Option<UnixMillis>,
    /// Why it is down.
    pub last_error: Option<String>,
    /// Calls that failed since start.
    pub failures: u64,
}

/// `PUT /v1/ratelimit/policies/{name}`: a policy kept in the store, seen by
/// every node; the keys of `[ratelimit.policies.NAME]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitPolicyPut {
    /// What a key may do per window (required).
    #[schema(minimum = 1, maximum = 18446744073709551615_u64)]
    pub limit: Option<u64>,
    /// The window, a duration such as `"5m"` (required).
    pub window: Option<String>,
    /// `sliding_window` (default), `fixed_window` or `gcra`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(sliding_window|fixed_window|gcra)$")]
    pub algorithm: Option<String>,
    /// With `gcra`: how many may come at once (default `limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 18446744073709551615_u64)]
    pub burst: Option<u64>,
    /// How the gate derives the key: `ip` (default), `api_key` or `header:NAME`.
    #[serde(default, deserialize_with = "nul::key_opt", skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `memory` or `redis` (default: `redis` when the server has a Redis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(memory|redis)$")]
    pub backend: Option<String>,
    /// `local` (default), `allow` or `deny`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(local|allow|deny)$")]
    pub on_backend_error: Option<String>,
    /// The body of a `429` from the gate or the tower layer: `rampart`
    /// (default: `{"error": {"code", "message"}, "retry_after_s"}`) or
    /// `compat` (`{"error", "code", "retryAfter", "retryAfterSeconds"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(rampart|compat)$")]
    pub deny_body: Option<String>,
}

/// `GET /v1/ratelimit/policies/{name}/keys/{key}`: a key's state, nothing counted.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RateLimitKeyView {
    /// The policy.
    pub policy: String,
    /// The key.
    pub key: String,
    /// The policy's limit.
    pub limit: u64,
    /// What the key could still be admitted now.
    pub remaining: u64,
    /// Seconds until its counters reset, rounded up.
    pub reset_after_s: u64,
    /// Whether the key has no state that matters (it decides as new).
    pub fresh: bool,
}

/// The answer to `DELETE /v1/ratelimit/policies/{name}/keys/{key}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RateLimitResetResponse {
    /// Whether the key had a state to forget.
    pub reset: bool,
}
