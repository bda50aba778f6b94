//! Budgets: how much AI calls may cost per period, for whom, and what
//! happens near and past the limit.
//!
//! A budget has a scope (`global`, or one of `tenant`, `user`, `feature`,
//! `model`), optionally narrowed to one value of it (`match = "acme"`);
//! without `match` every value of the scope gets a budget of its own (each
//! tenant its own $50 a day). Its period (`day`, `week`, `month`) is a
//! window key computed from a call's time in the configured time zone
//! ([`Period::window`]): a new period is simply a new key, so nothing has
//! to reset anything, late or not at all. Each budget counts, per subject
//! and window, what was spent and what is held by unsettled reservations;
//! an `enforce`d budget refuses a reservation that would take spent +
//! reserved past its limit, a soft one only alerts.

use chrono::{Datelike, Days, Months, NaiveDate, NaiveTime};
use rampart_core::cron::Timezone;
use rampart_core::id::BudgetName;
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};

use crate::money::Micros;

rampart_core::named_enum! {
    /// Which calls a budget counts.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub enum Scope {
        /// Every call.
        #[default]
        Global = "global",
        /// Calls of a tenant (each, or the one matched).
        Tenant = "tenant",
        /// Calls of a user.
        User = "user",
        /// Calls of a feature.
        Feature = "feature",
        /// Calls of a model.
        Model = "model",
    }
    parse_error: String = |s| format!("`{}` is not a scope; use global, tenant, user, feature or model", s.chars().take(64).collect::<String>());
}

rampart_core::named_enum! {
    /// The window a budget's amount applies to.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub enum Period {
        /// A calendar day.
        Day = "day",
        /// An ISO week, Monday to Sunday.
        Week = "week",
        /// A calendar month.
        #[default]
        Month = "month",
    }
    parse_error: String = |s| format!("`{}` is not a period; use day, week or month", s.chars().take(64).collect::<String>());
}

/// A threshold, in percent of the limit.
pub type Threshold = u32;

/// The thresholds alerted on when a budget's spec names none.
pub const DEFAULT_THRESHOLDS: [Threshold; 3] = [50, 80, 100];

/// A budget as config (`[budgets.NAME]`) and the API (`PUT /v1/budgets/{name}`) write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    /// `global` (the default), `tenant`, `user`, `feature` or `model`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "tenant")]
    pub scope: Option<String>,
    /// Only this value of the scope; every value its own budget when left out.
    #[serde(default, rename = "match")]
    #[schema(min_length = 1, max_length = 200)]
    pub matches: Option<String>,
    /// The limit per period, in US dollars.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub amount_usd: f64,
    /// `day`, `week` or `month` (the default).
    #[serde(default)]
    #[schema(example = "day")]
    pub period: Option<String>,
    /// Percentages of the limit alerted on, once each per period (default 50, 80, 100).
    #[serde(default)]
    #[schema(max_items = 10)]
    pub thresholds: Option<Vec<u32>>,
    /// Whether reservations past the limit are refused (default true).
    #[serde(default)]
    pub enforce: Option<bool>,
}

/// A budget, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// Its name.
    pub name: BudgetName,
    /// Which calls it counts.
    pub scope: Scope,
    /// The one value of the scope it counts, if narrowed.
    pub matches: Option<String>,
    /// The limit per period.
    pub limit: Micros,
    /// The period.
    pub period: Period,
    /// Alert thresholds in percent, ascending, without repeats.
    pub thresholds: Vec<Threshold>,
    /// Whether it refuses reservations past the limit.
    pub enforce: bool,
}

/// What a call is about: the keys budgets are scoped by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallKeys {
    /// The tenant (organisation) it is for.
    pub tenant: Option<String>,
    /// The user it is for.
    pub user: Option<String>,
    /// The app's feature that made it.
    pub feature: Option<String>,
    /// The model called.
    pub model: Option<String>,
}

impl BudgetSpec {
    /// Validates the spec into a budget named `name`; each problem names its field.
    pub fn validate(&self, name: &BudgetName) -> Result<Budget, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let scope = match self.scope.as_deref().map(str::parse::<Scope>).transpose() {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => {
                problems.push(("scope", e));
                Scope::Global
            }
        };
        let period = match self.period.as_deref().map(str::parse::<Period>).transpose() {
            Ok(p) => p.unwrap_or_default(),
            Err(e) => {
                problems.push(("period", e));
                Period::Month
            }
        };
        let limit = Micros::from_usd(self.amount_usd).unwrap_or_else(|e| {
            problems.push(("amount_usd", e.to_string()));
            Micros::ZERO
        });
        if let Some(m) = &self.matches {
            if scope == Scope::Global {
                problems.push(("match", "a global budget counts every call; give a scope to match a value of".into()));
            } else if m.is_empty() || m.len() > 200 {
                problems.push(("match", "must be 1 to 200 characters".into()));
            }
        }
        let mut thresholds = self.thresholds.clone().unwrap_or_else(|| DEFAULT_THRESHOLDS.to_vec());
        if thresholds.len() > 10 || thresholds.iter().any(|t| *t == 0 || *t > 1000) {
            problems.push(("thresholds", "at most 10 percentages, each from 1 to 1000".into()));
        }
        thresholds.sort_unstable();
        thresholds.dedup();
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Budget {
            name: name.clone(),
            scope,
            matches: self.matches.clone(),
            limit,
            period,
            thresholds,
            enforce: self.enforce.unwrap_or(true),
        })
    }
}

impl Budget {
    /// The subject this budget counts the call under, or `None` when it
    /// does not apply: `""` for a global budget, else the call's value of
    /// the scope.
    pub fn applies(&self, call: &CallKeys) -> Option<String> {
        let value = match self.scope {
            Scope::Global => return Some(String::new()),
            Scope::Tenant => call.tenant.as_ref(),
            Scope::User => call.user.as_ref(),
            Scope::Feature => call.feature.as_ref(),
            Scope::Model => call.model.as_ref(),
        }?;
        match &self.matches {
            Some(m) if m != value => None,
            _ => Some(value.clone()),
        }
    }

    /// The spec this budget was read from, for answers.
    pub fn spec(&self) -> BudgetSpec {
        BudgetSpec {
            scope: Some(self.scope.as_str().into()),
            matches: self.matches.clone(),
            amount_usd: self.limit.usd(),
            period: Some(self.period.as_str().into()),
            thresholds: Some(self.thresholds.clone()),
            enforce: Some(self.enforce),
        }
    }
}

impl Period {
    /// The key of the window `at` falls in, in `tz`: `2026-12-07` for a
    /// day, `2026-W50` for an ISO week, `2026-12` for a month.
    pub fn window(self, at: UnixMillis, tz: Timezone) -> String {
        let local = tz.local(at);
        match self {
            Period::Day => format!("{:04}-{:02}-{:02}", local.year(), local.month(), local.day()),
            Period::Week => {
                let week = local.iso_week();
                format!("{:04}-W{:02}", week.year(), week.week())
            }
            Period::Month => format!("{:04}-{:02}", local.year(), local.month()),
        }
    }

    /// The window `at` falls in, in `tz`, as instants: its first, and the
    /// first of the next.
    pub fn bounds(self, at: UnixMillis, tz: Timezone) -> (UnixMillis, UnixMillis) {
        let day = tz.local(at).date();
        let (start, next) = match self {
            Period::Day => (day, day + Days::new(1)),
            Period::Week => {
                let monday = day - Days::new(u64::from(day.weekday().num_days_from_monday()));
                (monday, monday + Days::new(7))
            }
            Period::Month => {
                let first = day.with_day(1).unwrap_or(day);
                (first, first + Months::new(1))
            }
        };
        let midnight = |d: NaiveDate| tz.instant(d.and_time(NaiveTime::MIN));
        (midnight(start), midnight(next))
    }
}

/// The thresholds a change of a window's total from `before` to `after`
/// crossed upward, against `limit`: those `t` with
/// `before < t% of limit <= after`.
pub fn crossed(thresholds: &[Threshold], limit: Micros, before: Micros, after: Micros) -> Vec<Threshold> {
    let level = |t: Threshold| i128::from(limit.0) * i128::from(t);
    let (before, after) = (i128::from(before.0) * 100, i128::from(after.0) * 100);
    thresholds.iter().copied().filter(|t| before < level(*t) && level(*t) <= after).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> BudgetName {
        BudgetName::new(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn spec(scope: Option<&str>, matches: Option<&str>) -> BudgetSpec {
        BudgetSpec {
            scope: scope.map(str::to_string),
            matches: matches.map(str::to_string),
            amount_usd: 50.0,
            period: Some("day".into()),
            thresholds: None,
            enforce: None,
        }
    }

    fn at(rfc: &str) -> UnixMillis {
        UnixMillis::parse_rfc3339(rfc).unwrap_or_default()
    }

    #[test]
    fn a_spec_reads_with_its_defaults() {
        let b = spec(None, None).validate(&name("all")).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(b.scope, Scope::Global);
        assert_eq!(b.limit, Micros(50_000_000));
        assert_eq!(b.thresholds, vec![50, 80, 100]);
        assert!(b.enforce);
        assert_eq!(b.spec().validate(&name("all")), Ok(b));
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        let bad = BudgetSpec {
            scope: Some("org".into()),
            matches: None,
            amount_usd: -1.0,
            period: Some("year".into()),
            thresholds: Some(vec![0]),
            enforce: None,
        };
        let fields: Vec<_> = bad.validate(&name("b")).unwrap_err().into_iter().map(|p| p.0).collect();
        assert_eq!(fields, ["scope", "period", "amount_usd", "thresholds"]);
        let global_match = spec(None, Some("acme")).validate(&name("b")).unwrap_err();
        assert_eq!(global_match[0].0, "match");
    }

    #[test]
    fn a_budget_applies_to_the_calls_of_its_scope() {
        let call = CallKeys {
            tenant: Some("acme".into()),
            user: None,
            feature: Some("chat".into()),
            model: Some("gpt-4o".into()),
        };
        let check = |scope: Option<&str>, matches: Option<&str>, expected: Option<&str>| {
            let b = spec(scope, matches).validate(&name("b")).unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!(b.applies(&call).as_deref(), expected, "{scope:?} {matches:?}");
        };
        check(None, None, Some(""));
        check(Some("tenant"), None, Some("acme"));
        check(Some("tenant"), Some("acme"), Some("acme"));
        check(Some("tenant"), Some("globex"), None);
        check(Some("user"), None, None);
        check(Some("feature"), None, Some("chat"));
        check(Some("model"), Some("gpt-4o"), Some("gpt-4o"));
    }

    #[test]
    fn periods_are_window_keys_in_the_time_zone() {
        let berlin: Timezone = "Europe/Berlin".parse().unwrap_or(Timezone::UTC);
        let t = at("2026-12-31T23:30:00Z");
        assert_eq!(Period::Day.window(t, Timezone::UTC), "2026-12-31");
        assert_eq!(Period::Day.window(t, berlin), "2027-01-01");
        assert_eq!(Period::Month.window(t, Timezone::UTC), "2026-12");
        assert_eq!(Period::Month.window(t, berlin), "2027-01");
        // 2026-12-31 is a Thursday of ISO week 53 of 2026.
        assert_eq!(Period::Week.window(t, Timezone::UTC), "2026-W53");
        assert_eq!(Period::Week.window(at("2027-01-04T00:00:00Z"), Timezone::UTC), "2027-W01");
        // Across the DST change the day is still one key.
        let ny: Timezone = "America/New_York".parse().unwrap_or(Timezone::UTC);
        assert_eq!(Period::Day.window(at("2026-03-08T04:59:00Z"), ny), "2026-03-07");
        assert_eq!(Period::Day.window(at("2026-03-08T05:00:00Z"), ny), "2026-03-08");
    }

    #[test]
    fn a_window_s_bounds_are_its_local_midnights() {
        let ny: Timezone = "America/New_York".parse().unwrap_or(Timezone::UTC);
        let t = at("2026-03-10T12:00:00Z");
        assert_eq!(Period::Day.bounds(t, ny), (at("2026-03-10T04:00:00Z"), at("2026-03-11T04:00:00Z")));
        // The week of Monday 9 March; DST began on Sunday the 8th.
        assert_eq!(Period::Week.bounds(t, ny), (at("2026-03-09T04:00:00Z"), at("2026-03-16T04:00:00Z")));
        // March began in winter time.
        assert_eq!(Period::Month.bounds(t, ny), (at("2026-03-01T05:00:00Z"), at("2026-04-01T04:00:00Z")));
        assert_eq!(Period::Month.bounds(t, Timezone::UTC), (at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z")));
    }

    #[test]
    fn thresholds_are_crossed_once_on_the_way_up() {
        let limit = Micros(100);
        assert_eq!(crossed(&[50, 80, 100], limit, Micros(0), Micros(49)), Vec::<u32>::new());
        assert_eq!(crossed(&[50, 80, 100], limit, Micros(0), Micros(50)), vec![50]);
        assert_eq!(crossed(&[50, 80, 100], limit, Micros(50), Micros(120)), vec![80, 100]);
        assert_eq!(crossed(&[50, 80, 100], limit, Micros(100), Micros(150)), Vec::<u32>::new());
    }
}
