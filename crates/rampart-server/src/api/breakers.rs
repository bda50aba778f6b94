//! Circuit-breaker routes: the shared breakers apps drive over HTTP
//! (acquire before a call, record after it), and every breaker to look at
//! and reset, this node's in-process ones included.
//!
//! An acquire answers `200` whether the call is allowed or not, as a
//! rate-limit check does. Acquire and record need a producer or worker key
//! (the rate-limit check's permission: the keys apps already hold), reads a
//! reader key, reset an admin key. A name registered by this node's own
//! services (`push:<host>`) is in-process only: it can be read and reset
//! here, but not acquired or recorded.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_client::endpoint::{BREAKERS_ACQUIRE, BREAKERS_GET, BREAKERS_LIST, BREAKERS_RECORD, BREAKERS_RESET};
use rampart_core::breaker::{Admission, BreakerMachine, BreakerPolicy, Outcome, Transition};
use rampart_core::duration::format_duration;
use rampart_core::id::BreakerName;
use rampart_store::{BreakerOp, BreakerRecord};

use super::extract::{Admin, Auth, Body, RateLimit, Read};
use super::route::Routes;
use super::{ApiError, AppState};
use crate::ratelimit::headers::ceil_secs;
use rampart_client::wire::*;

pub(super) fn router() -> Routes {
    Routes::new()
        .add(BREAKERS_LIST, breakers_list)
        .add(BREAKERS_GET, breakers_get)
        .add(BREAKERS_ACQUIRE, breakers_acquire)
        .add(BREAKERS_RECORD, breakers_record)
        .add(BREAKERS_RESET, breakers_reset)
}

fn breaker_name(raw: &str) -> Result<BreakerName, ApiError> {
    BreakerName::new(raw).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_BREAKER_NAME", e.to_string()))
}

fn not_found(name: &BreakerName) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "BREAKER_NOT_FOUND",
        format!("no breaker `{name}`: it was never acquired and has no [breakers.{name}] table"),
    )
}

fn local_only(name: &BreakerName) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "BREAKER_IS_LOCAL",
        format!("breaker `{name}` is this node's in-process breaker, driven by rampart itself; use another name"),
    )
}

async fn breakers_list(State(state): State<AppState>, _auth: Auth<Read>) -> Result<Json<BreakersResponse>, ApiError> {
    Ok(Json(BreakersResponse { breakers: breaker_views(&state).await? }))
}

/// Every breaker: the shared ones by name (configured ones not used yet
/// included), then this node's in-process ones. The admin diagnostics list
/// them too.
pub(super) async fn breaker_views(state: &AppState) -> Result<Vec<BreakerView>, ApiError> {
    let shared = &state.shared_breakers;
    let now = shared.now();
    let stored = shared.list().await?;
    let mut breakers: Vec<BreakerView> =
        stored.iter().map(|r| shared_view(r, shared.policy(r.name.as_str()), now)).collect();
    for name in shared.configured() {
        if !stored.iter().any(|r| &r.name == name) {
            breakers.push(unused_view(name, shared.policy(name.as_str())));
        }
    }
    breakers.sort_by(|a, b| a.name.cmp(&b.name));
    breakers.extend(state.breakers.list().iter().map(|(name, b)| local_view(name, &b.snapshot())));
    // Listed, a breaker shows transitions only when it has some (the
    // shared ones' are not read for the list); `GET` shows them always.
    for b in &mut breakers {
        if b.transitions.as_ref().is_some_and(Vec::is_empty) {
            b.transitions = None;
        }
    }
    Ok(breakers)
}

async fn breakers_get(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    Path(name): Path<String>,
) -> Result<Json<BreakerView>, ApiError> {
    let name = breaker_name(&name)?;
    if let Some(local) = state.breakers.get(name.as_str()) {
        return Ok(Json(local_view(&name, &local.snapshot())));
    }
    let shared = &state.shared_breakers;
    let policy = shared.policy(name.as_str());
    match shared.get(&name).await? {
        Some(record) => Ok(Json(shared_view(&record, policy, shared.now()))),
        None if shared.is_configured(name.as_str()) => Ok(Json(unused_view(&name, policy))),
        None => Err(not_found(&name)),
    }
}

async fn breakers_acquire(
    State(state): State<AppState>,
    _auth: Auth<RateLimit>,
    Path(name): Path<String>,
) -> Result<Json<BreakerAcquireResponse>, ApiError> {
    let name = breaker_name(&name)?;
    if state.breakers.get(name.as_str()).is_some() {
        return Err(local_only(&name));
    }
    let shared = &state.shared_breakers;
    let applied = shared.apply(&name, BreakerOp::Acquire).await?;
    let now = shared.now();
    let (allowed, probe, retry_after_s) = match applied.admission {
        Some(Admission::Allowed { probe }) => (true, probe, None),
        Some(Admission::Rejected { retry_after }) => (false, false, Some(ceil_secs(retry_after))),
        None => {
            tracing::error!(breaker = %name, "the store answered an acquire without a decision");
            return Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "the breaker gave no decision"));
        }
    };
    let state_now = applied.machine.state_at(shared.policy(name.as_str()), now);
    Ok(Json(BreakerAcquireResponse { allowed, state: state_now.to_string(), probe, retry_after_s }))
}

async fn breakers_record(
    State(state): State<AppState>,
    _auth: Auth<RateLimit>,
    Path(name): Path<String>,
    Body(req): Body<BreakerRecordRequest>,
) -> Result<Json<BreakerStepResponse>, ApiError> {
    let name = breaker_name(&name)?;
    let outcome: Outcome =
        req.outcome.parse().map_err(|e| ApiError::invalid(format!("invalid field `outcome`: {e}")))?;
    if state.breakers.get(name.as_str()).is_some() {
        return Err(local_only(&name));
    }
    let duration = Duration::from_millis(req.duration_ms.unwrap_or(0));
    let shared = &state.shared_breakers;
    let applied = shared.apply(&name, BreakerOp::Record { outcome, duration }).await?;
    let state_now = applied.machine.state_at(shared.policy(name.as_str()), shared.now());
    Ok(Json(BreakerStepResponse { state: state_now.to_string(), transition: applied.transition.map(transition_view) }))
}

/// Closes a breaker: this node's in-process one of that name if there is
/// one, else the shared one (which must have been used or configured).
async fn breakers_reset(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(name): Path<String>,
) -> Result<Json<BreakerStepResponse>, ApiError> {
    let name = breaker_name(&name)?;
    if let Some(local) = state.breakers.get(name.as_str()) {
        let transition = local.reset();
        if let Some(t) = &transition {
            tracing::info!(breaker = %name, from = %t.from, to = %t.to, "in-process breaker reset");
        }
        return Ok(Json(BreakerStepResponse {
            state: local.state().to_string(),
            transition: transition.map(transition_view),
        }));
    }
    let shared = &state.shared_breakers;
    if !shared.is_configured(name.as_str()) && shared.get(&name).await?.is_none() {
        return Err(not_found(&name));
    }
    let applied = shared.apply(&name, BreakerOp::Reset).await?;
    Ok(Json(BreakerStepResponse {
        state: applied.machine.state().to_string(),
        transition: applied.transition.map(transition_view),
    }))
}

fn policy_view(p: &BreakerPolicy) -> BreakerPolicyView {
    BreakerPolicyView {
        failure_threshold: p.failure_threshold,
        failure_rate: p.failure_rate.map(|r| r.threshold),
        window: p.failure_rate.map(|r| format_duration(r.window)),
        min_calls: p.failure_rate.map(|r| r.min_calls),
        cooldown: format_duration(p.cooldown),
        half_open_max: p.half_open_max,
        slow_call: p.slow_call.map(format_duration),
    }
}

fn transition_view(t: Transition) -> BreakerTransitionView {
    BreakerTransitionView { at: t.at, from: t.from.to_string(), to: t.to.to_string(), reason: t.reason.to_string() }
}

/// The view of a stored machine, as a caller would meet it at `now`.
fn machine_view(
    name: &BreakerName,
    scope: &str,
    m: &BreakerMachine,
    policy: &BreakerPolicy,
    now: rampart_core::time::UnixMillis,
) -> BreakerView {
    let window = m.window_counts(policy, now);
    let retry_after = m.retry_after(policy, now);
    BreakerView {
        name: name.to_string(),
        scope: scope.to_string(),
        state: m.state_at(policy, now).to_string(),
        since: Some(m.since()),
        retry_after_s: (!retry_after.is_zero()).then(|| ceil_secs(retry_after)),
        consecutive_failures: m.consecutive_failures(),
        window_calls: window.calls,
        window_failures: window.failures,
        probes_in_flight: m.probes_in_flight(now),
        policy: policy_view(policy),
        calls: None,
        transitions: Some(Vec::new()),
    }
}

fn shared_view(r: &BreakerRecord, policy: &BreakerPolicy, now: rampart_core::time::UnixMillis) -> BreakerView {
    let mut view = machine_view(&r.name, "shared", &r.machine, policy, now);
    view.transitions = Some(
        r.transitions
            .iter()
            .map(|t| BreakerTransitionView {
                at: t.at,
                from: t.from.to_string(),
                to: t.to.to_string(),
                reason: t.reason.clone(),
            })
            .collect(),
    );
    view
}

/// A configured breaker nobody has used yet: closed, nothing counted.
fn unused_view(name: &BreakerName, policy: &BreakerPolicy) -> BreakerView {
    let mut view = machine_view(name, "shared", &BreakerMachine::new(Default::default()), policy, Default::default());
    view.since = None;
    view
}

fn local_view(name: &BreakerName, s: &rampart_guard::BreakerSnapshot) -> BreakerView {
    BreakerView {
        name: name.to_string(),
        scope: "node".to_string(),
        state: s.state.to_string(),
        since: Some(s.since),
        retry_after_s: (!s.retry_after.is_zero()).then(|| ceil_secs(s.retry_after)),
        consecutive_failures: s.consecutive_failures,
        window_calls: s.window.calls,
        window_failures: s.window.failures,
        probes_in_flight: s.probes_in_flight,
        policy: policy_view(&s.policy),
        calls: Some(BreakerCallsView { successes: s.successes, failures: s.failures, rejections: s.rejections }),
        transitions: Some(s.transitions.iter().copied().map(transition_view).collect()),
    }
}
