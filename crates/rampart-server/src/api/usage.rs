//! AI usage routes: `POST /v1/usage` (reports, one or a batch),
//! `GET /v1/usage/summary`, `POST /v1/usage/reserve`, and budgets under
//! `/v1/budgets`. Reports and reservations need the producer's `report`
//! permission; budgets are read by any key and changed by an admin.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rampart_client::endpoint::{
    BUDGETS_DELETE, BUDGETS_GET, BUDGETS_LIST, BUDGETS_PUT, USAGE_REPORT, USAGE_RESERVE, USAGE_SUMMARY,
};
use rampart_client::wire::{
    BudgetView, BudgetWindowView, BudgetsResponse, MAX_USAGE_BATCH, ReserveRequest, ReserveResponse, UsageEventResult,
    UsageGroupView, UsageRequest, UsageResponse, UsageSummaryQuery, UsageSummaryResponse,
};
use rampart_core::id::BudgetName;
use rampart_core::time::UnixMillis;
use rampart_store::{UsageGroup, UsageSummaryParams};
use rampart_usage::{BudgetSpec, Micros};

use super::extract::{Admin, Auth, Body, Read, Report};
use super::route::Routes;
use super::{ApiError, AppState};
use crate::engine::EngineError;
use crate::usage::{BudgetEntry, BudgetError, UsageError};

/// The range a summary covers when `since` is left out.
const DEFAULT_RANGE_MS: i64 = 24 * 3600 * 1000;

pub(super) fn router() -> Routes {
    Routes::new()
        .add(USAGE_REPORT, usage_report)
        .add(USAGE_SUMMARY, usage_summary)
        .add(USAGE_RESERVE, usage_reserve)
        .add(BUDGETS_LIST, budgets_list)
        .add(BUDGETS_GET, budgets_get)
        .add(BUDGETS_PUT, budgets_put)
        .add(BUDGETS_DELETE, budgets_delete)
}

impl From<UsageError> for ApiError {
    fn from(e: UsageError) -> Self {
        match e {
            UsageError::Invalid { .. } => ApiError::new(StatusCode::BAD_REQUEST, "INVALID_USAGE", e.to_string()),
            UsageError::Store(s) => EngineError::from(s).into(),
        }
    }
}

impl From<BudgetError> for ApiError {
    fn from(e: BudgetError) -> Self {
        let message = e.to_string();
        match e {
            BudgetError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "BUDGET_NOT_FOUND", message),
            BudgetError::InConfig(_) => ApiError::new(StatusCode::CONFLICT, "BUDGET_IN_CONFIG", message),
            BudgetError::Invalid(_) => ApiError::new(StatusCode::BAD_REQUEST, "INVALID_BUDGET", message),
            BudgetError::Store(s) => EngineError::from(s).into(),
        }
    }
}

/// `POST /v1/usage`.
async fn usage_report(
    State(state): State<AppState>,
    _auth: Auth<Report>,
    Body(req): Body<UsageRequest>,
) -> Result<Json<UsageResponse>, ApiError> {
    let batch = matches!(req, UsageRequest::Batch(_));
    let events = req.into_events();
    if events.is_empty() || events.len() > MAX_USAGE_BATCH {
        return Err(ApiError::invalid(format!("events: give 1 to {MAX_USAGE_BATCH} events, got {}", events.len())));
    }
    let reported = state.usage.report(events, batch).await?;
    let duplicates = reported.inserted.duplicate.iter().filter(|d| **d).count() as u32;
    let events: Vec<UsageEventResult> = reported
        .costs
        .into_iter()
        .zip(&reported.inserted.duplicate)
        .map(|((call_id, cost, price_version), duplicate)| UsageEventResult {
            call_id,
            duplicate: *duplicate,
            cost_usd: cost.usd(),
            price_version,
        })
        .collect();
    Ok(Json(UsageResponse {
        accepted: events.len() as u32 - duplicates,
        duplicates,
        settled: reported.inserted.settled,
        events,
    }))
}

/// `GET /v1/usage/summary`.
async fn usage_summary(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    query: Result<Query<UsageSummaryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UsageSummaryResponse>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid(format!("invalid query: {}", e.body_text())))?;
    let invalid = |field: &str, e: String| ApiError::invalid(format!("invalid parameter `{field}`: {e}"));
    let group_by =
        q.group_by.as_deref().map(str::parse::<UsageGroup>).transpose().map_err(|e| invalid("group_by", e))?;
    let time = |field: &str, v: &Option<String>| {
        v.as_deref().map(UnixMillis::parse_rfc3339).transpose().map_err(|e| invalid(field, e))
    };
    // Without `until`, up to and including now.
    let until = time("until", &q.until)?.unwrap_or_else(|| UnixMillis(state.engine.now().0 + 1));
    let since = time("since", &q.since)?.unwrap_or(UnixMillis(until.0.saturating_sub(DEFAULT_RANGE_MS)));
    if since > until {
        return Err(invalid("since", "must not be after `until`".into()));
    }
    let timezone = state.usage.config().timezone;
    let params = UsageSummaryParams { group_by, since, until, timezone, only: None };
    let groups = state.engine.store().usage_summary(params).await.map_err(EngineError::from)?;
    Ok(Json(UsageSummaryResponse {
        since,
        until,
        group_by: group_by.map(|g| g.as_str().to_string()),
        timezone: timezone.name().to_string(),
        groups: groups
            .into_iter()
            .map(|g| UsageGroupView {
                key: g.key,
                calls: g.calls,
                failures: g.failures,
                input_tokens: g.input_tokens,
                cached_input_tokens: g.cached_input_tokens,
                cache_write_tokens: g.cache_write_tokens,
                output_tokens: g.output_tokens,
                reasoning_tokens: g.reasoning_tokens,
                cost_usd: Micros(g.cost_micros).usd(),
                p50_ms: g.p50_ms,
                p95_ms: g.p95_ms,
            })
            .collect(),
    }))
}

/// `POST /v1/usage/reserve`.
async fn usage_reserve(
    State(state): State<AppState>,
    _auth: Auth<Report>,
    Body(req): Body<ReserveRequest>,
) -> Result<Json<ReserveResponse>, ApiError> {
    let r = state.usage.reserve(req).await?;
    Ok(Json(ReserveResponse {
        reservation_id: r.id,
        allowed: r.allowed,
        remaining: r.remaining.map(Micros::usd),
        estimated_cost_usd: r.estimate.usd(),
        expires_at: r.expires_at,
        refused_by: r.refused_by,
    }))
}

fn budget_name(raw: &str) -> Result<BudgetName, ApiError> {
    BudgetName::new(raw).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_BUDGET_NAME", e.to_string()))
}

async fn budget_view(state: &AppState, entry: BudgetEntry) -> Result<BudgetView, ApiError> {
    let b = &entry.budget;
    let window = state.usage.window(b, state.engine.now());
    let rows = state.engine.store().budget_window_list(&b.name, &window).await.map_err(EngineError::from)?;
    let windows = rows
        .into_iter()
        .map(|w| BudgetWindowView {
            subject: w.key.subject,
            spent_usd: Micros(w.spent_micros).usd(),
            reserved_usd: Micros(w.reserved_micros).usd(),
            remaining_usd: b.limit.minus(Micros(w.spent_micros)).minus(Micros(w.reserved_micros)).usd(),
        })
        .collect();
    Ok(BudgetView {
        name: b.name.clone(),
        origin: entry.origin.into(),
        scope: b.scope.as_str().into(),
        matches: b.matches.clone(),
        amount_usd: b.limit.usd(),
        period: b.period.as_str().into(),
        window,
        thresholds: b.thresholds.clone(),
        enforce: b.enforce,
        windows,
    })
}

async fn budgets_list(State(state): State<AppState>, _auth: Auth<Read>) -> Result<Json<BudgetsResponse>, ApiError> {
    let mut budgets = Vec::new();
    for entry in state.usage.budgets().all().await? {
        budgets.push(budget_view(&state, entry).await?);
    }
    Ok(Json(BudgetsResponse { budgets }))
}

async fn budgets_get(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    Path(name): Path<String>,
) -> Result<Json<BudgetView>, ApiError> {
    let entry = state.usage.budgets().get(&budget_name(&name)?).await?;
    Ok(Json(budget_view(&state, entry).await?))
}

/// Defines or replaces a budget kept in the store; every node takes it
/// within `usage::budgets::RELOAD_AFTER`.
async fn budgets_put(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(name): Path<String>,
    Body(spec): Body<BudgetSpec>,
) -> Result<Json<BudgetView>, ApiError> {
    let entry = state.usage.budgets().put(&budget_name(&name)?, &spec).await?;
    Ok(Json(budget_view(&state, entry).await?))
}

async fn budgets_delete(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.usage.budgets().delete(&budget_name(&name)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
