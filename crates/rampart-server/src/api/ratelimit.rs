//! Rate-limit routes: checks, the policies with their counters (and those
//! defined here, kept in the store for every node), and one key's state and
//! reset.
//!
//! A check answers `200` whether it was allowed or not: the caller asked a
//! question and got its answer; refusing its own client is the app's call.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use rampart_client::endpoint::{
    RATELIMIT_CHECK, RATELIMIT_KEY_GET, RATELIMIT_KEY_RESET, RATELIMIT_POLICIES, RATELIMIT_POLICY_DELETE,
    RATELIMIT_POLICY_GET, RATELIMIT_POLICY_PUT,
};

use super::extract::{Admin, Auth, Body, RateLimit, Read};
use super::route::Routes;
use super::{ApiError, AppState};
use crate::config::{LimitBackend, PolicySpec};
use crate::ratelimit::headers::{ceil_secs, headers};
use crate::ratelimit::{CheckInput, LimitError, LimitedPolicy, MAX_CHECKS, stored};
use rampart_client::wire::*;
use rampart_core::id::PolicyName;

pub(super) fn router() -> Routes {
    Routes::new()
        .add(RATELIMIT_CHECK, ratelimit_check)
        .add(RATELIMIT_POLICIES, ratelimit_policies)
        .add(RATELIMIT_POLICY_GET, ratelimit_policy_get)
        .add(RATELIMIT_POLICY_PUT, ratelimit_policy_put)
        .add(RATELIMIT_POLICY_DELETE, ratelimit_policy_delete)
        .add(RATELIMIT_KEY_GET, ratelimit_key_get)
        .add(RATELIMIT_KEY_RESET, ratelimit_key_reset)
}

async fn ratelimit_check(
    State(state): State<AppState>,
    _auth: Auth<RateLimit>,
    Body(req): Body<RateLimitCheckRequest>,
) -> Result<(HeaderMap, Json<RateLimitCheckResponse>), ApiError> {
    // Field prefixes for error messages, so a bad check is named by its index.
    let fields: Vec<String>;
    let inputs: Vec<CheckInput<'_>> = match (&req.checks, &req.policy, &req.key) {
        (Some(checks), None, None) if req.cost.is_none() => {
            if checks.is_empty() || checks.len() > MAX_CHECKS {
                return Err(ApiError::invalid(format!(
                    "invalid field `checks`: give 1 to {MAX_CHECKS} checks; it has {}",
                    checks.len()
                )));
            }
            fields = (0..checks.len()).map(|i| format!("checks[{i}].")).collect();
            checks
                .iter()
                .zip(&fields)
                .map(|(c, field)| CheckInput { field, policy: &c.policy, key: &c.key, cost: c.cost.unwrap_or(1) })
                .collect()
        }
        (Some(_), _, _) => {
            return Err(ApiError::invalid(
                "give either `policy`, `key` and `cost` for one check or `checks` for several, not both",
            ));
        }
        (None, Some(policy), Some(key)) => {
            vec![CheckInput { field: "", policy, key, cost: req.cost.unwrap_or(1) }]
        }
        (None, None, None) => {
            return Err(ApiError::invalid(
                "give `policy` and `key` for one check, or `checks` for several; this request has neither",
            ));
        }
        (None, None, Some(_)) => return Err(ApiError::invalid("missing field `policy`: a check names its policy")),
        (None, Some(_), None) => {
            return Err(ApiError::invalid("missing field `key`: a check names the key it counts against"));
        }
    };
    let verdict = state.limiter.check(&inputs).await?;
    let decision = verdict.decision;
    let body = RateLimitCheckResponse {
        allowed: decision.allowed,
        policy: verdict.policy.name.to_string(),
        limit: decision.limit,
        remaining: decision.remaining,
        reset_after_s: ceil_secs(decision.reset_after),
        retry_after_s: decision.retry_after.filter(|_| !decision.allowed).map(ceil_secs),
        fallback: verdict.fallback,
    };
    Ok((headers(&verdict, state.limiter.reset_format()), Json(body)))
}

async fn ratelimit_policies(
    State(state): State<AppState>,
    _auth: Auth<Read>,
) -> Result<Json<RateLimitPoliciesResponse>, ApiError> {
    let policies = state.limiter.policies().iter().map(|p| policy_view(p)).collect();
    let redis = state.limiter.redis().map(|redis| {
        let health = redis.health();
        RedisBackendView {
            status: if redis.is_up() { "up" } else { "down" }.to_string(),
            since: health.since,
            last_error: health.last_error,
            failures: redis.failures(),
        }
    });
    Ok(Json(RateLimitPoliciesResponse { policies, redis }))
}

async fn ratelimit_policy_get(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    Path(name): Path<String>,
) -> Result<Json<RateLimitPolicyView>, ApiError> {
    Ok(Json(policy_view(&*state.limiter.policy(&name)?)))
}

/// Defines or replaces a policy in the store; every node has it within a
/// second (`PolicySyncer`), this one at once.
async fn ratelimit_policy_put(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(name): Path<String>,
    Body(req): Body<RateLimitPolicyPut>,
) -> Result<Json<RateLimitPolicyView>, ApiError> {
    let name = PolicyName::new(&name).map_err(|e| ApiError::invalid(e.to_string()))?;
    if state.limiter.is_configured(name.as_str()) {
        return Err(configured(&name));
    }
    let spec = PolicySpec {
        limit: req.limit,
        window: req.window,
        algorithm: req.algorithm,
        burst: req.burst,
        key: req.key,
        backend: req.backend,
        on_backend_error: req.on_backend_error,
        deny_body: req.deny_body,
    };
    let policy = spec.validate().map_err(|problems| {
        let named = problems.iter().map(|p| format!("invalid field `{}`: {}", p.field, p.message));
        ApiError::invalid(named.collect::<Vec<_>>().join("; "))
    })?;
    if policy.backend == Some(LimitBackend::Redis) && state.limiter.redis().is_none() {
        return Err(ApiError::invalid(
            "invalid field `backend`: \"redis\" needs the server to have a Redis (redis_url or REDIS_URL); use \"memory\"",
        ));
    }
    let store = state.engine.store();
    let kept = serde_json::to_string(&spec).map_err(|e| ApiError::invalid(format!("invalid policy: {e}")))?;
    store.ratelimit_policy_put(&name, &kept, state.engine.now()).await?;
    stored::reload(store, &state.limiter).await?;
    Ok(Json(policy_view(&*state.limiter.policy(name.as_str())?)))
}

/// Deletes a policy defined through the API. Its keys' counts are not
/// wiped: they expire with their windows (a policy put again under the same
/// name and window before then finds them).
async fn ratelimit_policy_delete(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let name = PolicyName::new(&name).map_err(|e| ApiError::invalid(e.to_string()))?;
    if state.limiter.is_configured(name.as_str()) {
        return Err(configured(&name));
    }
    let store = state.engine.store();
    if !store.ratelimit_policy_delete(&name).await? {
        if state.limiter.is_preset(name.as_str()) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "POLICY_IS_PRESET",
                format!(
                    "policy `{name}` is a preset; PUT replaces it, and [ratelimit.presets] enabled = false in the \
                     configuration removes every preset"
                ),
            ));
        }
        return Err(LimitError::PolicyNotFound(name.to_string()).into());
    }
    stored::reload(store, &state.limiter).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn configured(name: &PolicyName) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "POLICY_IN_CONFIG",
        format!("policy `{name}` is defined in the configuration; change it there, or use another name here"),
    )
}

fn policy_view(p: &LimitedPolicy) -> RateLimitPolicyView {
    let policy = p.policy();
    RateLimitPolicyView {
        name: p.name.to_string(),
        limit: policy.limit(),
        window: rampart_core::duration::format_duration(policy.window()),
        algorithm: policy.algorithm().to_string(),
        burst: (policy.algorithm() == rampart_limit::policy::Algorithm::Gcra).then_some(policy.burst()),
        key: p.config.key.to_string(),
        backend: p.backend.as_str().to_string(),
        source: p.source.as_str().to_string(),
        on_backend_error: p.config.on_backend_error.as_str().to_string(),
        deny_body: p.config.deny_body.as_str().to_string(),
        allowed: p.allowed(),
        denied: p.denied(),
        fallbacks: p.fallbacks(),
    }
}

async fn ratelimit_key_get(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    Path((name, key)): Path<(String, String)>,
) -> Result<Json<RateLimitKeyView>, ApiError> {
    rampart_core::nul::check_key("key", &key)?;
    let (policy, key_state) = state.limiter.peek(&name, &key).await?;
    let decision = key_state.decision;
    Ok(Json(RateLimitKeyView {
        policy: policy.name.to_string(),
        key,
        limit: decision.limit,
        remaining: decision.remaining,
        reset_after_s: ceil_secs(decision.reset_after),
        fresh: key_state.fresh,
    }))
}

async fn ratelimit_key_reset(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path((name, key)): Path<(String, String)>,
) -> Result<Json<RateLimitResetResponse>, ApiError> {
    rampart_core::nul::check_key("key", &key)?;
    Ok(Json(RateLimitResetResponse { reset: state.limiter.reset(&name, &key).await? }))
}
