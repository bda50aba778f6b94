//! The shapes of the circuit-breaker routes (`/v1/breakers/…`).

use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// A circuit breaker as `GET /v1/breakers` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BreakerView {
    /// Its name.
    pub name: String,
    /// `shared`: kept in the store, the same on every node (driven over
    /// HTTP); `node`: in this node's memory only (driven by rampart itself,
    /// e.g. `push:<host>` for push delivery).
    pub scope: String,
    /// `closed`, `open` or `half_open`, as a caller would meet it now.
    pub state: String,
    /// When the state began, RFC 3339; `null` for a configured breaker not
    /// used yet.
    pub since: Option<UnixMillis>,
    /// When not admitting calls, seconds until it may, rounded up.
    pub retry_after_s: Option<u64>,
    /// Failures in a row while closed.
    pub consecutive_failures: u32,
    /// Calls counted in the failure-rate window (0 without the rule).
    pub window_calls: u32,
    /// Of which failed.
    pub window_failures: u32,
    /// Half-open probes admitted and not yet recorded.
    pub probes_in_flight: u32,
    /// The policy this node applies to it.
    pub policy: BreakerPolicyView,
    /// Node breakers: successes, failures and rejections since start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<BreakerCallsView>,
    /// The latest transitions, oldest first: always in `GET
    /// /v1/breakers/{name}` (empty when there were none); in the list only a
    /// node breaker's, when it has some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transitions: Option<Vec<BreakerTransitionView>>,
}

/// A breaker's policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BreakerPolicyView {
    /// Failures in a row that open it.
    pub failure_threshold: u32,
    /// The failed fraction of recent calls that opens it; `null` without the rule.
    pub failure_rate: Option<f64>,
    /// How far back calls count for the rate (`"60s"`); `null` without the rule.
    pub window: Option<String>,
    /// Fewest calls before the rate counts; `null` without the rule.
    pub min_calls: Option<u32>,
    /// How long it stays open (`"30s"`).
    pub cooldown: String,
    /// Probes admitted at once while half-open.
    pub half_open_max: u32,
    /// Successes slower than this count as failures (`"2s"`); `null` without the rule.
    pub slow_call: Option<String>,
}

/// What an in-process breaker has counted since the node started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BreakerCallsView {
    /// Successes recorded.
    pub successes: u64,
    /// Failures recorded.
    pub failures: u64,
    /// Calls refused.
    pub rejections: u64,
}

/// A change of a breaker's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BreakerTransitionView {
    /// When, RFC 3339.
    pub at: UnixMillis,
    /// The state before.
    pub from: String,
    /// The state after.
    pub to: String,
    /// Why (`5 consecutive failures`).
    pub reason: String,
}

/// `GET /v1/breakers`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BreakersResponse {
    /// Shared breakers (used, or configured), then this node's, each by name.
    pub breakers: Vec<BreakerView>,
}

/// The answer to `POST /v1/breakers/{name}/acquire` (`200` either way).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BreakerAcquireResponse {
    /// Whether to make the call; record its outcome afterwards.
    pub allowed: bool,
    /// The breaker's state after the acquire.
    pub state: String,
    /// Whether the call is a half-open probe whose outcome decides the state.
    pub probe: bool,
    /// When refused, seconds until a call may be admitted, rounded up;
    /// `null` when allowed.
    pub retry_after_s: Option<u64>,
}

/// `POST /v1/breakers/{name}/record`: how an admitted call ended.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerRecordRequest {
    /// `success` or `failure`.
    #[schema(pattern = r"^(success|failure)$")]
    pub outcome: String,
    /// How long the call took, in milliseconds (default 0); a success
    /// slower than the policy's `slow_call` counts as a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 18446744073709551615_u64)]
    pub duration_ms: Option<u64>,
}

/// The answer to a record or a reset.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BreakerStepResponse {
    /// The breaker's state after the step.
    pub state: String,
    /// The transition the step caused; `null` when the state stayed.
    pub transition: Option<BreakerTransitionView>,
}
