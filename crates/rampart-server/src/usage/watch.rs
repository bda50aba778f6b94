//! What the alerter watches of AI usage, once per sample: the budget
//! windows of the current period that reached a threshold (each claimed
//! once per window and threshold across nodes by the store's
//! `budget_window_alert`, so a threshold notifies once per period), and
//! each model's failure rate over `usage.failure_window`.

use rampart_core::duration::format_duration;
use rampart_core::time::UnixMillis;
use rampart_store::{BudgetWindowRecord, StoreError, UsageGroup, UsageSummaryParams};
use rampart_usage::{Budget, Micros, Scope, Threshold};

use super::{BudgetError, Usage};
use crate::alert::{BudgetDetail, ModelCost, TOP_MODELS_LISTED, UsageFailureDetail};

/// A budget window that reached a threshold in this sample.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetCrossing {
    /// The alert's subject: the budget, whom the window counts for (when
    /// scoped) and the threshold, as `monthly/acme@80%`.
    pub subject: String,
    /// Spent over the limit, a fraction.
    pub spent: f64,
    /// The threshold reached, a fraction.
    pub threshold: f64,
    /// The window's figures for the notice.
    pub detail: BudgetDetail,
}

/// A model's reported calls over the failure window.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFailures {
    /// The model.
    pub model: String,
    /// Failed calls over calls; 0 below `usage.failure_min_calls` calls.
    pub rate: f64,
    /// `usage.failure_rate`.
    pub threshold: f64,
    /// The counts for the notice.
    pub detail: UsageFailureDetail,
}

/// What the alerter evaluates of AI usage in one sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageSample {
    /// Budget windows that reached a threshold, claimed by this node.
    pub budgets: Vec<BudgetCrossing>,
    /// Every model called within the failure window.
    pub models: Vec<ModelFailures>,
}

/// Windows named in [`UsageStatus::exhausted`], at most.
pub const EXHAUSTED_LISTED: usize = 20;

/// AI usage's part of system health and the diagnostics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageStatus {
    /// Calls reported in the last hour.
    pub calls: u64,
    /// Those that failed.
    pub failures: u64,
    /// What they cost.
    pub cost: Micros,
    /// Budgets, configured and stored.
    pub budgets: usize,
    /// `budget/subject` of the windows of the current period whose spent +
    /// reserved reached the limit (the first [`EXHAUSTED_LISTED`]).
    pub exhausted: Vec<String>,
}

impl Usage {
    /// The last hour's calls and the budgets' state at `now`.
    pub async fn status(&self, now: UnixMillis) -> Result<UsageStatus, StoreError> {
        let store = self.engine.store();
        let hour = UsageSummaryParams {
            group_by: None,
            since: UnixMillis(now.0.saturating_sub(3_600_000)),
            until: UnixMillis(now.0 + 1),
            timezone: self.config.timezone,
            only: None,
        };
        let total = store.usage_summary(hour).await?.into_iter().next().unwrap_or_default();
        let budgets = self.budgets.all().await.map_err(|e| match e {
            BudgetError::Store(s) => s,
            other => StoreError::Internal(other.to_string()),
        })?;
        let mut exhausted = Vec::new();
        for entry in &budgets {
            let b = &entry.budget;
            for w in store.budget_window_list(&b.name, &self.window(b, now)).await? {
                if exhausted.len() < EXHAUSTED_LISTED && w.spent_micros.saturating_add(w.reserved_micros) >= b.limit.0 {
                    exhausted.push(match w.key.subject.as_str() {
                        "" => b.name.to_string(),
                        s => format!("{}/{s}", b.name),
                    });
                }
            }
        }
        Ok(UsageStatus {
            calls: total.calls,
            failures: total.failures,
            cost: Micros(total.cost_micros),
            budgets: budgets.len(),
            exhausted,
        })
    }

    /// The budget crossings this node claimed at `now`, and each model's
    /// failure rate over the window ending at `now`.
    pub async fn sample(&self, now: UnixMillis) -> Result<UsageSample, StoreError> {
        Ok(UsageSample { budgets: self.crossings(now).await?, models: self.failures(now).await? })
    }

    async fn crossings(&self, now: UnixMillis) -> Result<Vec<BudgetCrossing>, StoreError> {
        let budgets = self.budgets.all().await.map_err(|e| match e {
            BudgetError::Store(s) => s,
            other => StoreError::Internal(other.to_string()),
        })?;
        let store = self.engine.store();
        let mut out = Vec::new();
        for entry in budgets {
            let b = &entry.budget;
            let period = self.window(b, now);
            for w in store.budget_window_list(&b.name, &period).await? {
                let Some(threshold) = reached(b, &w) else { continue };
                // Another node (or an earlier sample) may have notified it.
                if !store.budget_window_alert(&w.key, threshold).await? {
                    continue;
                }
                let top_models = self.top_models(b, &w, now).await?;
                let subject = match w.key.subject.as_str() {
                    "" => format!("{}@{threshold}%", b.name),
                    s => format!("{}/{s}@{threshold}%", b.name),
                };
                let limit = b.limit.0.max(1) as f64;
                out.push(BudgetCrossing {
                    subject,
                    spent: w.spent_micros as f64 / limit,
                    threshold: f64::from(threshold) / 100.0,
                    detail: BudgetDetail {
                        name: b.name.to_string(),
                        scope: b.scope.as_str().to_string(),
                        subject: Some(w.key.subject.clone()).filter(|s| !s.is_empty()),
                        period: period.clone(),
                        timezone: self.config.timezone.name().to_string(),
                        spent_micros: w.spent_micros,
                        reserved_micros: w.reserved_micros,
                        limit_micros: b.limit.0,
                        enforce: b.enforce,
                        top_models,
                    },
                });
            }
        }
        Ok(out)
    }

    /// The models that cost the most in `w`'s window, most first.
    async fn top_models(
        &self,
        b: &Budget,
        w: &BudgetWindowRecord,
        now: UnixMillis,
    ) -> Result<Vec<ModelCost>, StoreError> {
        let tz = self.config.timezone;
        let subject = w.key.subject.clone();
        let only = match b.scope {
            Scope::Global => None,
            Scope::Tenant => Some((UsageGroup::Tenant, subject)),
            Scope::User => Some((UsageGroup::User, subject)),
            Scope::Feature => Some((UsageGroup::Feature, subject)),
            Scope::Model => Some((UsageGroup::Model, subject)),
        };
        let (since, _) = b.period.bounds(now, tz);
        let params = UsageSummaryParams {
            group_by: Some(UsageGroup::Model),
            since,
            until: UnixMillis(now.0 + 1),
            timezone: tz,
            only,
        };
        let mut groups = self.engine.store().usage_summary(params).await?;
        groups.sort_by_key(|g| std::cmp::Reverse(g.cost_micros));
        Ok(groups
            .into_iter()
            .filter_map(|g| Some(ModelCost { model: g.key?, calls: g.calls, cost_micros: g.cost_micros }))
            .take(TOP_MODELS_LISTED)
            .collect())
    }

    async fn failures(&self, now: UnixMillis) -> Result<Vec<ModelFailures>, StoreError> {
        let c = &self.config;
        let since = UnixMillis(now.0.saturating_sub(i64::try_from(c.failure_window.as_millis()).unwrap_or(i64::MAX)));
        let params = UsageSummaryParams {
            group_by: Some(UsageGroup::Model),
            since,
            until: UnixMillis(now.0 + 1),
            timezone: c.timezone,
            only: None,
        };
        let groups = self.engine.store().usage_summary(params).await?;
        let window = format_duration(c.failure_window);
        Ok(groups
            .into_iter()
            .filter_map(|g| {
                // Too few calls to tell: counts as clear.
                let rate = if g.calls >= c.failure_min_calls { g.failures as f64 / g.calls.max(1) as f64 } else { 0.0 };
                Some(ModelFailures {
                    model: g.key?,
                    rate,
                    threshold: c.failure_rate,
                    detail: UsageFailureDetail { calls: g.calls, failures: g.failures, window: window.clone() },
                })
            })
            .collect())
    }
}

/// The highest threshold of `b` that `w`'s spending reached and that was
/// not notified in it yet.
fn reached(b: &Budget, w: &BudgetWindowRecord) -> Option<Threshold> {
    let spent = i128::from(w.spent_micros) * 100;
    b.thresholds
        .iter()
        .copied()
        .filter(|t| *t > w.alerted && w.spent_micros > 0 && i128::from(b.limit.0) * i128::from(*t) <= spent)
        .max()
}

#[cfg(test)]
mod tests {
    use rampart_core::id::BudgetName;
    use rampart_store::BudgetWindowKey;
    use rampart_usage::BudgetSpec;

    use super::*;

    #[test]
    fn the_highest_threshold_reached_and_not_yet_notified_is_the_one() {
        let name = BudgetName::new("b").unwrap_or_else(|e| panic!("{e}"));
        let spec =
            BudgetSpec { scope: None, matches: None, amount_usd: 1.0, period: None, thresholds: None, enforce: None };
        let b = spec.validate(&name).unwrap_or_else(|e| panic!("{e:?}"));
        let check = |spent: i64, alerted: u32, expected: Option<u32>| {
            let key = BudgetWindowKey { budget: name.clone(), subject: String::new(), period: "2026-12".into() };
            let w = BudgetWindowRecord { key, spent_micros: spent, reserved_micros: 0, alerted };
            assert_eq!(reached(&b, &w), expected, "{spent} {alerted}");
        };
        check(0, 0, None);
        check(499_999, 0, None);
        check(500_000, 0, Some(50));
        check(850_000, 0, Some(80));
        check(850_000, 80, None);
        check(1_200_000, 80, Some(100));
        check(1_200_000, 100, None);
    }
}
