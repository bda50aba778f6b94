//! AI usage and budgets as the server runs them: reports normalised,
//! priced and charged to every budget that applies; reservations held on
//! those budgets before a call; budgets from `[budgets.NAME]` and from the
//! API (kept in the store, reloaded like webhook sources).
//!
//! The arithmetic lives in `rampart-usage` (tokens, prices, money, period
//! windows) and the truth in the store (windows, reservations); this module
//! joins them: it computes each call's windows from the budgets and the
//! configured time zone, and hands the store one batch per report.

mod budgets;
mod watch;

pub use budgets::{BudgetEntry, BudgetError, Budgets};
pub use watch::{BudgetCrossing, EXHAUSTED_LISTED, ModelFailures, UsageSample, UsageStatus};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use rampart_client::wire::{ReserveRequest, UsageEvent};
use rampart_core::id::BudgetName;
use rampart_core::time::UnixMillis;
use rampart_store::{
    BudgetHold, BudgetReserveParams, BudgetWindowKey, StoreError, UsageInsertParams, UsageInserted, UsageRow,
};
use rampart_usage::{Budget, CallKeys, Micros, Tokens};

use crate::config::UsageConfig;
use crate::engine::Engine;

/// The longest text field of a report (model, provider, feature, tenant, user, ids).
pub const MAX_TEXT: usize = 200;
/// The most tokens of one kind in one call.
pub const MAX_TOKENS: u64 = 1_000_000_000_000;
/// The longest call: a day.
pub const MAX_DURATION_MS: u64 = 86_400_000;

/// Why a usage call failed.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// A field is wrong: its path and what is wrong.
    #[error("{field}: {message}")]
    Invalid {
        /// The field's path (`events[3].cached_input_tokens`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One event as stored, with what the answer reports of it.
#[derive(Debug, Clone)]
pub struct Reported {
    /// What the batch insert did.
    pub inserted: UsageInserted,
    /// Each event's cost and price version, in order.
    pub costs: Vec<(String, Micros, Option<String>)>,
}

/// What a reservation answered.
#[derive(Debug, Clone)]
pub struct Reservation {
    /// Its id, when held.
    pub id: Option<String>,
    /// Whether the call may go ahead.
    pub allowed: bool,
    /// The least room left among the budgets that apply.
    pub remaining: Option<Micros>,
    /// The estimate.
    pub estimate: Micros,
    /// When an unsettled hold is released.
    pub expires_at: Option<UnixMillis>,
    /// The enforced budget that refused it.
    pub refused_by: Option<BudgetName>,
}

/// The most (model, provider) pairs counted for `/metrics`; calls of
/// others count under the model `other`, so an app cannot grow the label
/// set without bound. Tenants and users are never labels.
pub const MAX_METRIC_MODELS: usize = 200;

/// This node's counts of reported calls of one model and provider.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UsageCounts {
    /// Calls that succeeded.
    pub succeeded: u64,
    /// Calls that failed.
    pub failed: u64,
    /// What they cost, in micro-dollars.
    pub cost: Micros,
}

/// AI usage and budgets. Cloning shares them.
#[derive(Clone)]
pub struct Usage {
    engine: Engine,
    config: Arc<UsageConfig>,
    budgets: Budgets,
    counts: Arc<Mutex<BTreeMap<(String, String), UsageCounts>>>,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> UsageError {
    UsageError::Invalid { field: field.into(), message: message.into() }
}

fn text(field: &str, name: &str, value: Option<&str>, required: bool) -> Result<(), UsageError> {
    match value {
        None if required => Err(invalid(format!("{field}{name}"), "is required")),
        Some(v) if (required && v.is_empty()) || v.len() > MAX_TEXT => {
            Err(invalid(format!("{field}{name}"), format!("must be 1 to {MAX_TEXT} characters")))
        }
        _ => Ok(()),
    }
}

fn tokens(field: &str, name: &str, n: Option<u64>) -> Result<u64, UsageError> {
    match n {
        Some(n) if n > MAX_TOKENS => Err(invalid(format!("{field}{name}"), format!("must be at most {MAX_TOKENS}"))),
        n => Ok(n.unwrap_or(0)),
    }
}

impl Usage {
    /// Usage over `engine`'s store with its settings and configured budgets.
    pub fn new(engine: Engine, config: UsageConfig) -> Usage {
        let budgets = Budgets::new(engine.clone(), config.budgets.clone());
        Usage { engine, config: Arc::new(config), budgets, counts: Arc::default() }
    }

    /// The budgets, configured and stored.
    pub fn budgets(&self) -> &Budgets {
        &self.budgets
    }

    /// The settings.
    pub fn config(&self) -> &UsageConfig {
        &self.config
    }

    /// The window key of `budget`'s period at `at`.
    pub fn window(&self, budget: &Budget, at: UnixMillis) -> String {
        budget.period.window(at, self.config.timezone)
    }

    fn windows(&self, budgets: &[BudgetEntry], keys: &CallKeys, at: UnixMillis) -> Vec<(BudgetWindowKey, Arc<Budget>)> {
        budgets
            .iter()
            .filter_map(|entry| {
                let subject = entry.budget.applies(keys)?;
                let key = BudgetWindowKey {
                    budget: entry.budget.name.clone(),
                    subject,
                    period: self.window(&entry.budget, at),
                };
                Some((key, entry.budget.clone()))
            })
            .collect()
    }

    /// Checks, normalises, prices and stores a batch of reported calls in
    /// one store write; each call's cost counts in every budget that applies.
    pub async fn report(&self, events: Vec<UsageEvent>, batch: bool) -> Result<Reported, UsageError> {
        let now = self.engine.now();
        let budgets = self.budgets.all().await.map_err(|e| match e {
            BudgetError::Store(s) => UsageError::Store(s),
            other => invalid("budgets", other.to_string()),
        })?;
        let mut rows = Vec::with_capacity(events.len());
        let mut costs = Vec::with_capacity(events.len());
        for (i, e) in events.into_iter().enumerate() {
            let field = if batch { format!("events[{i}].") } else { String::new() };
            let row = self.row(&field, e, now, &budgets)?;
            costs.push((row.call_id.clone(), Micros(row.cost_micros), row.price_version.clone()));
            rows.push(row);
        }
        let labels: Vec<(String, String, bool, Micros)> = rows
            .iter()
            .map(|r| (r.model.clone(), r.provider.clone().unwrap_or_default(), r.success, Micros(r.cost_micros)))
            .collect();
        let inserted = self.engine.store().usage_insert_many(UsageInsertParams { rows, now }).await?;
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for ((model, provider, success, cost), duplicate) in labels.into_iter().zip(&inserted.duplicate) {
            if *duplicate {
                continue;
            }
            let mut key = (model, provider);
            if !counts.contains_key(&key) && counts.len() >= MAX_METRIC_MODELS {
                key = ("other".into(), String::new());
            }
            let c = counts.entry(key).or_default();
            if success {
                c.succeeded += 1;
            } else {
                c.failed += 1;
            }
            c.cost = c.cost.plus(cost);
        }
        drop(counts);
        Ok(Reported { inserted, costs })
    }

    /// This node's counts of reported calls by model and provider, for `/metrics`.
    pub fn counts(&self) -> Vec<((String, String), UsageCounts)> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    fn row(
        &self,
        field: &str,
        e: UsageEvent,
        now: UnixMillis,
        budgets: &[BudgetEntry],
    ) -> Result<UsageRow, UsageError> {
        text(field, "call_id", Some(&e.call_id), true)?;
        text(field, "model", Some(&e.model), true)?;
        for (name, value) in [
            ("provider", &e.provider),
            ("feature", &e.feature),
            ("tenant", &e.tenant),
            ("user", &e.user),
            ("reservation_id", &e.reservation_id),
        ] {
            text(field, name, value.as_deref(), false)?;
        }
        if e.duration_ms > MAX_DURATION_MS {
            return Err(invalid(format!("{field}duration_ms"), format!("must be at most {MAX_DURATION_MS} (a day)")));
        }
        let normalised = Tokens::normalise(
            e.provider.as_deref(),
            tokens(field, "input_tokens", Some(e.input_tokens))?,
            tokens(field, "cached_input_tokens", e.cached_input_tokens)?,
            tokens(field, "cache_write_tokens", e.cache_write_tokens)?,
            tokens(field, "output_tokens", Some(e.output_tokens))?,
            tokens(field, "reasoning_tokens", e.reasoning_tokens)?,
        )
        .map_err(|t| invalid(format!("{field}{}", t.field), t.message))?;
        let at = e.at.unwrap_or(now);
        let (cost, price_version) = match e.cost_usd {
            Some(usd) => (Micros::from_usd(usd).map_err(|m| invalid(format!("{field}cost_usd"), m.to_string()))?, None),
            None => match self.config.prices.cost(&e.model, at, &normalised) {
                Some(priced) => (priced.cost, Some(priced.version)),
                None => (Micros::ZERO, None),
            },
        };
        let keys = CallKeys {
            tenant: e.tenant.clone(),
            user: e.user.clone(),
            feature: e.feature.clone(),
            model: Some(e.model.clone()),
        };
        let charges = self.windows(budgets, &keys, at).into_iter().map(|(k, _)| k).collect();
        let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Ok(UsageRow {
            call_id: e.call_id,
            at,
            model: e.model,
            provider: e.provider,
            feature: e.feature,
            tenant: e.tenant,
            user: e.user,
            input_tokens: signed(normalised.input),
            cached_input_tokens: signed(normalised.cached_input),
            cache_write_tokens: signed(normalised.cache_write),
            output_tokens: signed(normalised.output),
            reasoning_tokens: signed(normalised.reasoning),
            cost_micros: cost.0,
            price_version,
            duration_ms: signed(e.duration_ms),
            success: e.success,
            reservation_id: e.reservation_id,
            charges,
        })
    }

    /// Holds the call's estimate on every budget that applies, all or
    /// none. Without an estimate, prices `input_tokens` and `max_tokens`
    /// from the price table. When the store cannot be reached the answer
    /// follows `usage.on_store_error`.
    pub async fn reserve(&self, req: ReserveRequest) -> Result<Reservation, UsageError> {
        for (name, value) in
            [("tenant", &req.tenant), ("user", &req.user), ("feature", &req.feature), ("model", &req.model)]
        {
            text("", name, value.as_deref(), false)?;
        }
        // Within bounds whether or not they price the call.
        tokens("", "input_tokens", req.input_tokens)?;
        tokens("", "max_tokens", req.max_tokens)?;
        let now = self.engine.now();
        let estimate = match (req.estimated_cost_usd, &req.model, req.input_tokens, req.max_tokens) {
            (Some(usd), ..) => Micros::from_usd(usd).map_err(|e| invalid("estimated_cost_usd", e.to_string()))?,
            (None, Some(model), input, Some(max_tokens)) => {
                let t = Tokens {
                    input: tokens("", "input_tokens", input)?,
                    output: tokens("", "max_tokens", Some(max_tokens))?,
                    ..Tokens::default()
                };
                self.config.prices.cost(model, now, &t).map(|p| p.cost).ok_or_else(|| {
                    invalid(
                        "estimated_cost_usd",
                        format!("no price of `{model}` is configured ([[usage.prices]]); give estimated_cost_usd"),
                    )
                })?
            }
            _ => {
                return Err(invalid(
                    "estimated_cost_usd",
                    "is required, unless model and max_tokens (and input_tokens) are given to price the call",
                ));
            }
        };
        let keys = CallKeys { tenant: req.tenant, user: req.user, feature: req.feature, model: req.model };
        let outcome = self.hold(&keys, estimate, now).await;
        match outcome {
            Err(UsageError::Store(StoreError::Unavailable(m))) if self.config.allow_on_store_error => {
                tracing::warn!(error = %m, "the store cannot be reached: a reservation is allowed (usage.on_store_error = \"allow\")");
                Ok(Reservation {
                    id: None,
                    allowed: true,
                    remaining: None,
                    estimate,
                    expires_at: None,
                    refused_by: None,
                })
            }
            other => other,
        }
    }

    async fn hold(&self, keys: &CallKeys, estimate: Micros, now: UnixMillis) -> Result<Reservation, UsageError> {
        let budgets = self.budgets.all().await.map_err(|e| match e {
            BudgetError::Store(s) => UsageError::Store(s),
            other => invalid("budgets", other.to_string()),
        })?;
        let holds = self
            .windows(&budgets, keys, now)
            .into_iter()
            .map(|(key, b)| BudgetHold { key, limit_micros: b.limit.0, enforce: b.enforce })
            .collect();
        let id = format!("res_{:032x}", rand::random::<u128>());
        let expires_at = now.plus(self.config.reservation_ttl);
        let params = BudgetReserveParams { id: id.clone(), amount_micros: estimate.0, holds, expires_at, now };
        let got = self.engine.store().budget_reserve(params).await?;
        Ok(Reservation {
            id: got.allowed.then_some(id),
            allowed: got.allowed,
            remaining: got.remaining_micros.map(Micros),
            estimate,
            expires_at: got.allowed.then_some(expires_at),
            refused_by: got.refused_by,
        })
    }
}
