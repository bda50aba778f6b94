//! The shapes of AI usage and budget routes: `POST /v1/usage`,
//! `GET /v1/usage/summary`, `POST /v1/usage/reserve` and `/v1/budgets…`.
//! Money travels as US dollars (a JSON number); rampart keeps it in
//! integer micro-dollars.

use rampart_core::id::BudgetName;
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Deserializer, Serialize};

/// The most events one `POST /v1/usage` takes.
pub const MAX_USAGE_BATCH: usize = 1_000;

/// One model call, as the app reports it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageEvent {
    /// The app's id of the call: a second report of it changes nothing.
    #[serde(deserialize_with = "rampart_core::nul::key")]
    #[schema(min_length = 1, max_length = 200)]
    pub call_id: String,
    /// The model called.
    #[serde(deserialize_with = "rampart_core::nul::free")]
    #[schema(min_length = 1, max_length = 200)]
    pub model: String,
    /// The provider (`openai`, `anthropic`, …): decides how cached tokens are counted.
    #[serde(default, deserialize_with = "rampart_core::nul::free_opt", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub provider: Option<String>,
    /// Input tokens as the provider reports them.
    #[schema(maximum = 1_000_000_000_000_u64)]
    pub input_tokens: u64,
    /// Input tokens read from cache (inside `input_tokens` for OpenAI-style providers, beside it for Anthropic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 1_000_000_000_000_u64)]
    pub cached_input_tokens: Option<u64>,
    /// Input tokens written to cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 1_000_000_000_000_u64)]
    pub cache_write_tokens: Option<u64>,
    /// Output tokens, reasoning included.
    #[schema(maximum = 1_000_000_000_000_u64)]
    pub output_tokens: u64,
    /// The reasoning part of the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 1_000_000_000_000_u64)]
    pub reasoning_tokens: Option<u64>,
    /// What the call cost in USD; priced from the price table when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub cost_usd: Option<f64>,
    /// How long the call took.
    #[schema(maximum = 86_400_000_000_u64)]
    pub duration_ms: u64,
    /// Whether it succeeded.
    pub success: bool,
    /// The app's feature that made it.
    #[serde(default, deserialize_with = "rampart_core::nul::free_opt", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub feature: Option<String>,
    /// The tenant (organisation) it was for.
    #[serde(default, deserialize_with = "rampart_core::nul::free_opt", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub tenant: Option<String>,
    /// The user it was for.
    #[serde(default, deserialize_with = "rampart_core::nul::free_opt", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub user: Option<String>,
    /// The reservation it settles.
    #[serde(default, deserialize_with = "rampart_core::nul::key_opt", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub reservation_id: Option<String>,
    /// When the call was made (default: when reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<UnixMillis>,
}

/// A batch of events.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageBatch {
    /// 1 to 1,000 events.
    #[schema(min_items = 1, max_items = 1000)]
    pub events: Vec<UsageEvent>,
}

/// The body of `POST /v1/usage`: one event, or `{"events": [...]}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum UsageRequest {
    /// A batch.
    Batch(UsageBatch),
    /// One event.
    One(Box<UsageEvent>),
}

impl<'de> Deserialize<'de> for UsageRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let batch = value.as_object().is_some_and(|o| o.contains_key("events"));
        let parsed = if batch {
            serde_json::from_value(value).map(UsageRequest::Batch)
        } else {
            serde_json::from_value(value).map(|e| UsageRequest::One(Box::new(e)))
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

impl UsageRequest {
    /// The events, one or many.
    pub fn into_events(self) -> Vec<UsageEvent> {
        match self {
            UsageRequest::Batch(b) => b.events,
            UsageRequest::One(e) => vec![*e],
        }
    }
}

/// What became of one reported event.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageEventResult {
    /// Its call id.
    pub call_id: String,
    /// True when the call id was already reported: nothing changed.
    pub duplicate: bool,
    /// What it cost, in USD, as stored (for a duplicate, as this report would have).
    pub cost_usd: f64,
    /// The price used, when priced from the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_version: Option<String>,
}

/// The answer of `POST /v1/usage`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageResponse {
    /// Events stored now.
    pub accepted: u32,
    /// Events already stored before.
    pub duplicates: u32,
    /// Reservations the events settled.
    pub settled: u32,
    /// Each event's outcome, in order.
    pub events: Vec<UsageEventResult>,
}

/// The query of `GET /v1/usage/summary`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageSummaryQuery {
    /// `model`, `feature`, `tenant`, `user` or `day` (a calendar day in `usage.timezone`); one total when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(pattern = r"^(model|feature|tenant|user|day)$")]
    pub group_by: Option<String>,
    /// Calls at or after this time (RFC 3339; default: 24 hours before `until`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<String>,
    /// Calls before this time (RFC 3339; default: up to and including now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<String>,
}

/// One group's totals.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageGroupView {
    /// The group's value; `null` for calls without one, and for the total.
    pub key: Option<String>,
    /// Calls.
    pub calls: u64,
    /// Failed calls.
    pub failures: u64,
    /// Uncached input tokens.
    pub input_tokens: i64,
    /// Input tokens read from cache.
    pub cached_input_tokens: i64,
    /// Input tokens written to cache.
    pub cache_write_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Reasoning tokens (part of the output).
    pub reasoning_tokens: i64,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Median duration.
    pub p50_ms: i64,
    /// 95th percentile duration.
    pub p95_ms: i64,
}

/// The answer of `GET /v1/usage/summary`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageSummaryResponse {
    /// The start of the range.
    pub since: UnixMillis,
    /// The end of the range (not included).
    pub until: UnixMillis,
    /// The grouping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    /// The time zone whose calendar days `group_by=day` counts (`usage.timezone`).
    #[serde(default)]
    pub timezone: String,
    /// Each group, by key.
    pub groups: Vec<UsageGroupView>,
}

/// The body of `POST /v1/usage/reserve`: what the call is about, and its estimate.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveRequest {
    /// The tenant it is for.
    #[serde(default, deserialize_with = "rampart_core::nul::free_opt", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub tenant: Option<String>,
    /// The user it is for.
    #[serde(default, deserialize_with = "rampart_core::nul::free_opt", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub user: Option<String>,
    /// The feature making it.
    #[serde(default, deserialize_with = "rampart_core::nul::free_opt", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub feature: Option<String>,
    /// The model it calls.
    #[serde(default, deserialize_with = "rampart_core::nul::free_opt", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub model: Option<String>,
    /// The estimate to hold, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub estimated_cost_usd: Option<f64>,
    /// Without an estimate: the input tokens, priced with `max_tokens` from the price table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 1_000_000_000_000_u64)]
    pub input_tokens: Option<u64>,
    /// Without an estimate: the most output tokens the call may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 1_000_000_000_000_u64)]
    pub max_tokens: Option<u64>,
}

/// The answer of `POST /v1/usage/reserve`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReserveResponse {
    /// The reservation to name in the call's usage report; `null` when refused.
    pub reservation_id: Option<String>,
    /// Whether the call may go ahead.
    pub allowed: bool,
    /// The least room left (USD) among the budgets that apply, after this hold; `null` when none applies.
    pub remaining: Option<f64>,
    /// The estimate held, in USD.
    pub estimated_cost_usd: f64,
    /// When the hold is released if not settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<UnixMillis>,
    /// The enforced budget that refused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_by: Option<BudgetName>,
}

/// One subject's window of a budget in its current period.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BudgetWindowView {
    /// Whom it counts for (a tenant, user, feature or model; `""` for a global budget).
    pub subject: String,
    /// Settled spending, USD.
    pub spent_usd: f64,
    /// Held by unsettled reservations, USD.
    pub reserved_usd: f64,
    /// What is left: limit − spent − reserved, USD.
    pub remaining_usd: f64,
}

/// A budget with its current period's figures.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BudgetView {
    /// Its name.
    pub name: BudgetName,
    /// `config` (`[budgets.NAME]`) or `api`.
    pub origin: String,
    /// `global`, `tenant`, `user`, `feature` or `model`.
    pub scope: String,
    /// The one value of the scope it counts, if narrowed.
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
    /// The limit per period, USD.
    pub amount_usd: f64,
    /// `day`, `week` or `month`.
    pub period: String,
    /// The current period's window key (`2026-12-07`, `2026-W50`, `2026-12`).
    pub window: String,
    /// Alert thresholds, percent.
    pub thresholds: Vec<u32>,
    /// Whether reservations past the limit are refused.
    pub enforce: bool,
    /// Every subject counted in the current period.
    pub windows: Vec<BudgetWindowView>,
}

/// `GET /v1/budgets`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BudgetsResponse {
    /// Every budget, by name.
    pub budgets: Vec<BudgetView>,
}
