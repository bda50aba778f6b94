//! The AI usage part of the configuration: `[usage]` (the time zone of
//! budget periods, how long a reservation holds, what a reservation does
//! when the store cannot be reached, retention, and the price table as
//! `[[usage.prices]]`) and one `[budgets.NAME]` table per budget.
//!
//! A price is a [`PriceSpec`] and a budget a [`BudgetSpec`], validated by
//! the same functions the API uses, each problem named by its key.

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_core::cron::Timezone;
use rampart_core::id::BudgetName;
use rampart_usage::{Budget, BudgetSpec, PriceSpec, PriceTable};
use toml::Value;

use crate::check::Check;
use crate::keys::{Kind, Resolved, child, key_list, kind_of};

/// The keys of `[usage]`.
pub(crate) const USAGE_KEYS: &[(&str, Kind)] = &[
    ("timezone", Kind::Text),
    ("reservation_ttl", Kind::Text),
    ("on_store_error", Kind::Text),
    ("retention", Kind::Text),
    ("failure_rate", Kind::Float),
    ("failure_min_calls", Kind::Int),
    ("failure_window", Kind::Text),
    ("prices", Kind::Table),
];

/// The keys of a `[budgets.NAME]` table.
pub(crate) const BUDGET_KEYS: &[(&str, Kind)] = &[
    ("scope", Kind::Text),
    ("match", Kind::Text),
    ("amount_usd", Kind::Float),
    ("period", Kind::Text),
    ("thresholds", Kind::Table),
    ("enforce", Kind::Bool),
];

/// The keys of a `[[usage.prices]]` entry.
const PRICE_KEYS: &[(&str, Kind)] = &[
    ("model", Kind::Text),
    ("effective_from", Kind::Text),
    ("input", Kind::Float),
    ("output", Kind::Float),
    ("cached_input", Kind::Float),
    ("cache_write", Kind::Float),
];

/// AI usage settings, prices and configured budgets.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageConfig {
    /// The zone budget periods are counted in (`timezone`).
    pub timezone: Timezone,
    /// How long an unsettled reservation holds before it is released (`reservation_ttl`).
    pub reservation_ttl: Duration,
    /// Whether a reservation is allowed when the store cannot be reached
    /// (`on_store_error = "allow"`); refused by default ("deny").
    pub allow_on_store_error: bool,
    /// Usage rows are deleted this long after their call (`retention`).
    pub retention: Duration,
    /// The `usage_failure_rate` rule: fire above this share of a model's
    /// calls failing within `failure_window` (`failure_rate`, default 0.2).
    pub failure_rate: f64,
    /// Fewest calls of a model within the window before its failure rate
    /// can fire (`failure_min_calls`, default 20): one failure of two calls
    /// is no outage.
    pub failure_min_calls: u64,
    /// The window the failure rate is counted over (`failure_window`, default 15m).
    pub failure_window: Duration,
    /// The price table (`[[usage.prices]]`).
    pub prices: PriceTable,
    /// The configured budgets (`[budgets.NAME]`).
    pub budgets: BTreeMap<BudgetName, Budget>,
}

impl Default for UsageConfig {
    fn default() -> Self {
        UsageConfig {
            timezone: Timezone::UTC,
            reservation_ttl: Duration::from_secs(600),
            allow_on_store_error: false,
            retention: Duration::from_secs(90 * 24 * 3600),
            failure_rate: 0.2,
            failure_min_calls: 20,
            failure_window: Duration::from_secs(15 * 60),
            prices: PriceTable::default(),
            budgets: BTreeMap::new(),
        }
    }
}

/// Resolves the key segments after `usage` (environment and flags).
pub(crate) fn resolve_usage_key(segments: &[&str]) -> Resolved {
    match segments {
        [key] => {
            let key = key.to_ascii_lowercase();
            match kind_of(USAGE_KEYS, &key) {
                Some(Kind::Table) => Err(format!("`usage.{key}` is set in the configuration file")),
                Some(kind) => Ok((vec!["usage".into(), key], kind)),
                None => Err(format!("`usage.{key}` is not a setting; usage keys are {}", key_list(USAGE_KEYS))),
            }
        }
        _ => Err("`usage` takes one key (`usage.timezone`)".into()),
    }
}

/// Resolves the key segments after `budgets`: a budget's name and one of its keys.
pub(crate) fn resolve_budget_key(segments: &[&str]) -> Resolved {
    match segments {
        [name, key] => {
            let key = key.to_ascii_lowercase();
            match kind_of(BUDGET_KEYS, &key) {
                Some(Kind::Table) => Err(format!("`budgets.{name}.{key}` is set in the configuration file")),
                Some(kind) => Ok((vec!["budgets".into(), (*name).to_string(), key], kind)),
                None => {
                    Err(format!("`budgets.{name}.{key}` is not a setting; budget keys are {}", key_list(BUDGET_KEYS)))
                }
            }
        }
        _ => Err("`budgets` takes a budget's name and key (`budgets.monthly.amount_usd`)".into()),
    }
}

/// Resolves a dotted flag key after `budgets.`: the key is taken from the end.
pub(crate) fn resolve_dotted_budget(rest: &str) -> Resolved {
    match rest.rsplit_once('.') {
        Some((name, key)) => resolve_budget_key(&[name, key]),
        None => resolve_budget_key(&[rest]),
    }
}

impl Check<'_> {
    /// The `[usage]` table over the defaults; the budgets are read by [`Check::budgets`].
    pub(crate) fn usage(
        &mut self,
        path: &[String],
        value: &Value,
        budgets: BTreeMap<BudgetName, Budget>,
    ) -> UsageConfig {
        let mut config = UsageConfig { budgets, ..UsageConfig::default() };
        let Some(table) = self.table(path, value, "a table of usage settings") else {
            return config;
        };
        for (key, value) in table {
            let p = child(path, key);
            match key.as_str() {
                "timezone" => config.timezone = self.timezone(&p, value).unwrap_or(config.timezone),
                "reservation_ttl" => {
                    config.reservation_ttl =
                        self.positive_duration(&p, value, "must be more than 0s").unwrap_or(config.reservation_ttl)
                }
                "retention" => {
                    config.retention =
                        self.positive_duration(&p, value, "must be more than 0s").unwrap_or(config.retention)
                }
                "on_store_error" => {
                    config.allow_on_store_error = self
                        .choice(&p, value, "store error policy", &[("deny", false), ("allow", true)])
                        .unwrap_or(config.allow_on_store_error)
                }
                "failure_rate" => config.failure_rate = self.float(&p, value, 0.0, 1.0).unwrap_or(config.failure_rate),
                "failure_min_calls" => {
                    config.failure_min_calls = self.int(&p, value, 1, 1 << 40).unwrap_or(config.failure_min_calls)
                }
                "failure_window" => {
                    config.failure_window =
                        self.positive_duration(&p, value, "must be more than 0s").unwrap_or(config.failure_window)
                }
                "prices" => config.prices = self.prices(&p, value),
                _ => self.unknown(&p, USAGE_KEYS),
            }
        }
        config
    }

    fn prices(&mut self, path: &[String], value: &Value) -> PriceTable {
        let Some(entries) = value.as_array() else {
            self.report(path, "expected an array of tables ([[usage.prices]])");
            return PriceTable::default();
        };
        let mut prices = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let p = child(path, &i.to_string());
            let Some(table) = self.table(&p, entry, "a price table") else { continue };
            if let Some(key) = table.keys().find(|k| kind_of(PRICE_KEYS, k).is_none()) {
                self.unknown(&child(&p, key), PRICE_KEYS);
                continue;
            }
            let spec: PriceSpec = match entry.clone().try_into() {
                Ok(spec) => spec,
                Err(e) => {
                    self.report(&p, e.message());
                    continue;
                }
            };
            match spec.validate() {
                Ok(price) => prices.push(price),
                Err((field, message)) => self.report(&child(&p, field), message),
            }
        }
        PriceTable::new(prices)
    }

    /// The `[budgets]` table: one validated budget per `[budgets.NAME]`.
    pub(crate) fn budgets(&mut self, path: &[String], value: &Value) -> BTreeMap<BudgetName, Budget> {
        let mut budgets = BTreeMap::new();
        let Some(table) = self.table(path, value, "a table of budgets ([budgets.NAME])") else {
            return budgets;
        };
        for (name, value) in table {
            let p = child(path, name);
            let name = match BudgetName::new(name) {
                Ok(n) => n,
                Err(e) => {
                    self.report(&p, e);
                    continue;
                }
            };
            let Some(t) = self.table(&p, value, "a budget's table") else { continue };
            if let Some(key) = t.keys().find(|k| kind_of(BUDGET_KEYS, k).is_none()) {
                self.unknown(&child(&p, key), BUDGET_KEYS);
                continue;
            }
            let mut value = value.clone();
            // `amount_usd = 50` is as good as `50.0`.
            if let Some(Value::Integer(n)) = value.get("amount_usd").cloned()
                && let Some(t) = value.as_table_mut()
            {
                t.insert("amount_usd".into(), Value::Float(n as f64));
            }
            let spec: BudgetSpec = match value.try_into() {
                Ok(spec) => spec,
                Err(e) => {
                    self.report(&p, e.message());
                    continue;
                }
            };
            match spec.validate(&name) {
                Ok(budget) => {
                    budgets.insert(name, budget);
                }
                Err(problems) => problems.into_iter().for_each(|(field, m)| self.report(&child(&p, field), m)),
            }
        }
        budgets
    }
}

#[cfg(test)]
mod tests {
    use rampart_usage::{Micros, Period, Scope};

    use crate::Config;
    use crate::testing;

    fn load(file: &str, env: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        testing::load(Some(file), env, &[]).map_err(|e| e.0)
    }

    #[test]
    fn usage_prices_and_budgets_read_from_the_file_and_the_environment() {
        let config = load(
            r#"
            [usage]
            timezone = "Europe/Berlin"
            failure_window = "5m"
            [[usage.prices]]
            model = "gpt-4o"
            input = 2.5
            output = 10
            cached_input = 1.25
            [[usage.prices]]
            model = "claude-*"
            effective_from = "2025-01-01T00:00:00Z"
            input = 3.0
            output = 15.0
            [budgets.acme-daily]
            scope = "tenant"
            match = "acme"
            amount_usd = 50
            period = "day"
            [budgets.all]
            amount_usd = 1000.5
            enforce = false
            "#,
            &[
                ("RAMPART_USAGE__RESERVATION_TTL", "5m"),
                ("RAMPART_BUDGETS__all__PERIOD", "week"),
                ("RAMPART_USAGE__FAILURE_RATE", "0.5"),
            ],
        )
        .unwrap();
        let u = &config.usage;
        assert_eq!(u.timezone.name(), "Europe/Berlin");
        assert_eq!(u.reservation_ttl.as_secs(), 300);
        assert_eq!(u.retention.as_secs(), 90 * 24 * 3600);
        assert!(!u.allow_on_store_error);
        assert_eq!((u.failure_rate, u.failure_min_calls, u.failure_window.as_secs()), (0.5, 20, 300));
        assert!(u.prices.find("gpt-4o", rampart_core::time::UnixMillis(0)).is_some());
        let acme = &u.budgets[&rampart_core::id::BudgetName::new("acme-daily").unwrap()];
        assert_eq!(
            (acme.scope, acme.limit, acme.period, acme.enforce),
            (Scope::Tenant, Micros(50_000_000), Period::Day, true)
        );
        let all = &u.budgets[&rampart_core::id::BudgetName::new("all").unwrap()];
        assert_eq!((all.period, all.enforce, all.limit), (Period::Week, false, Micros(1_000_500_000)));
    }

    #[test]
    fn every_problem_names_its_key() {
        let errors = load(
            r#"
            [usage]
            on_store_error = "maybe"
            failure_rate = 1.5
            [[usage.prices]]
            model = "m"
            input = -1.0
            output = 1.0
            [budgets.bad]
            scope = "org"
            amount_usd = 5
            colour = "red"
            [budgets.worse]
            scope = "planet"
            amount_usd = 5
            "#,
            &[],
        )
        .unwrap_err();
        let text = errors.join("\n");
        assert!(text.contains("usage.on_store_error"), "{text}");
        assert!(text.contains("usage.failure_rate"), "{text}");
        assert!(text.contains("usage.prices.0.input"), "{text}");
        assert!(text.contains("budgets.bad.colour"), "{text}");
        assert!(text.contains("budgets.worse.scope"), "{text}");
    }

    #[test]
    fn the_default_file_documents_every_key() {
        let text = crate::DEFAULT_TOML;
        for (key, _) in super::USAGE_KEYS.iter().chain(super::BUDGET_KEYS).chain(super::PRICE_KEYS) {
            assert!(text.contains(&format!("{key} =")) || text.contains(&format!("# {key} =")), "`{key}` undocumented");
        }
    }
}
