//! AI usage and budgets: the usage rows apps report, budgets kept through
//! the API, the windows each budget counts in, and reservations.
//!
//! The store is the only truth of what a budget has spent and holds: a
//! reservation takes its holds on every window in one transaction, all or
//! none, refused when an enforced window would go past its limit (on
//! SQLite on the writer thread; on PostgreSQL under each window row's lock,
//! taken in key order); a usage row settles its reservation in the
//! transaction that inserts it. Usage rows go in by batches, one
//! transaction each (a group-commit write on SQLite).

use std::collections::BTreeMap;

use rampart_core::cron::Timezone;
use rampart_core::id::BudgetName;
use rampart_core::time::UnixMillis;

use crate::Store;
use crate::error::StoreError;
use crate::nul;
use crate::row::Row;

/// One window a budget counts in: the budget, the subject (a tenant, a
/// user, … or `""` for a global budget) and the period's key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BudgetWindowKey {
    /// The budget.
    pub budget: BudgetName,
    /// Whom the window counts for.
    pub subject: String,
    /// The period's window key (`2026-12-07`, `2026-W50`, `2026-12`).
    pub period: String,
}

/// One reported model call, normalised and priced by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// The app's id of the call: a second report of it changes nothing.
    pub call_id: String,
    /// When the call was made.
    pub at: UnixMillis,
    /// The model called.
    pub model: String,
    /// The provider.
    pub provider: Option<String>,
    /// The app's feature.
    pub feature: Option<String>,
    /// The tenant.
    pub tenant: Option<String>,
    /// The user.
    pub user: Option<String>,
    /// Uncached input tokens.
    pub input_tokens: i64,
    /// Input tokens read from cache.
    pub cached_input_tokens: i64,
    /// Input tokens written to cache.
    pub cache_write_tokens: i64,
    /// Output tokens, reasoning included.
    pub output_tokens: i64,
    /// The reasoning part of the output.
    pub reasoning_tokens: i64,
    /// What it cost, in micro-dollars.
    pub cost_micros: i64,
    /// The price it was charged at, when priced from the table.
    pub price_version: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
    /// Whether it succeeded.
    pub success: bool,
    /// The reservation it settles.
    pub reservation_id: Option<String>,
    /// The windows its cost counts in (every budget that applies).
    pub charges: Vec<BudgetWindowKey>,
}

/// A batch of usage rows to insert.
#[derive(Debug, Clone)]
pub struct UsageInsertParams {
    /// The rows.
    pub rows: Vec<UsageRow>,
    /// When they arrive: the time settled reservations record.
    pub now: UnixMillis,
}

/// What a batch insert did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageInserted {
    /// Per row, in order: true when its call id was already stored (or
    /// earlier in the batch), so nothing changed.
    pub duplicate: Vec<bool>,
    /// How many reservations the batch settled.
    pub settled: u32,
    /// Every window the batch charged, as it stands after the batch.
    pub windows: Vec<BudgetWindowRecord>,
}

/// A window's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetWindowRecord {
    /// Which window.
    pub key: BudgetWindowKey,
    /// Settled spending, in micro-dollars.
    pub spent_micros: i64,
    /// Held by unsettled reservations, in micro-dollars.
    pub reserved_micros: i64,
    /// The highest threshold (percent) notified in this window; 0 for none.
    pub alerted: u32,
}

/// One hold a reservation takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetHold {
    /// The window.
    pub key: BudgetWindowKey,
    /// The budget's limit, in micro-dollars.
    pub limit_micros: i64,
    /// Whether the hold is refused past the limit.
    pub enforce: bool,
}

/// A reservation to take.
#[derive(Debug, Clone)]
pub struct BudgetReserveParams {
    /// Its id, made by the caller.
    pub id: String,
    /// The estimate held on each window, in micro-dollars.
    pub amount_micros: i64,
    /// Every window of every budget that applies.
    pub holds: Vec<BudgetHold>,
    /// When it is released if not settled.
    pub expires_at: UnixMillis,
    /// Now.
    pub now: UnixMillis,
}

/// What a reservation answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetReserved {
    /// Whether it was taken (on every window) or refused (on none).
    pub allowed: bool,
    /// The least room left (limit − spent − reserved) among the windows,
    /// after the hold when taken; `None` without windows.
    pub remaining_micros: Option<i64>,
    /// The enforced budget that refused it.
    pub refused_by: Option<BudgetName>,
}

/// A reservation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetReservationRecord {
    /// Its id.
    pub id: String,
    /// The estimate held.
    pub amount_micros: i64,
    /// `held`, `settled` or `expired`.
    pub state: String,
    /// When it was taken.
    pub created_at: UnixMillis,
    /// When it is released if not settled.
    pub expires_at: UnixMillis,
    /// When it was settled or expired.
    pub settled_at: Option<UnixMillis>,
    /// The real cost it was settled at.
    pub cost_micros: Option<i64>,
    /// By how much the real cost went past the estimate.
    pub overshoot_micros: Option<i64>,
}

/// A budget kept through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetRecord {
    /// Its name.
    pub name: BudgetName,
    /// The spec's JSON as the server validated it.
    pub spec: String,
    /// When first put.
    pub created_at: UnixMillis,
    /// When last put.
    pub updated_at: UnixMillis,
}

rampart_core::named_enum! {
    /// What a usage summary groups by.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum UsageGroup {
        /// The model.
        Model = "model",
        /// The feature.
        Feature = "feature",
        /// The tenant.
        Tenant = "tenant",
        /// The user.
        User = "user",
        /// The calendar day of the call in the summary's time zone.
        Day = "day",
    }
    parse_error: String = |s| format!("`{}` is not a grouping; use model, feature, tenant, user or day", s.chars().take(64).collect::<String>());
}

/// A usage summary to read.
#[derive(Debug, Clone)]
pub struct UsageSummaryParams {
    /// The grouping; one total without.
    pub group_by: Option<UsageGroup>,
    /// Calls at or after this time.
    pub since: UnixMillis,
    /// Calls before this time.
    pub until: UnixMillis,
    /// The zone whose calendar days `group_by = day` counts.
    pub timezone: Timezone,
    /// Only the calls whose value of this grouping is this one.
    pub only: Option<(UsageGroup, String)>,
}

/// One group's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageSummaryRecord {
    /// The group's value (`None` for calls without one, and for the total).
    pub key: Option<String>,
    /// Calls.
    pub calls: u64,
    /// Failed calls.
    pub failures: u64,
    /// Uncached input tokens.
    pub input_tokens: i64,
    /// Cache reads.
    pub cached_input_tokens: i64,
    /// Cache writes.
    pub cache_write_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Reasoning tokens.
    pub reasoning_tokens: i64,
    /// Cost in micro-dollars.
    pub cost_micros: i64,
    /// Median duration (nearest rank).
    pub p50_ms: i64,
    /// 95th percentile duration (nearest rank).
    pub p95_ms: i64,
}

/// What one retention step deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsagePruned {
    /// Usage rows.
    pub events: u64,
    /// Settled and expired reservations.
    pub reservations: u64,
}

/// The columns [`UsageSummaryRecord::from_row`] reads, over the CTE `e`.
pub(crate) const SUMMARY_COLUMNS: &str = "k, COUNT(*), CAST(SUM(CASE WHEN success THEN 0 ELSE 1 END) AS BIGINT),
    CAST(SUM(input_tokens) AS BIGINT), CAST(SUM(cached_input_tokens) AS BIGINT),
    CAST(SUM(cache_write_tokens) AS BIGINT), CAST(SUM(output_tokens) AS BIGINT),
    CAST(SUM(reasoning_tokens) AS BIGINT), CAST(SUM(cost_micros) AS BIGINT),
    MAX(CASE WHEN rn = (n * 50 + 99) / 100 THEN duration_ms END),
    MAX(CASE WHEN rn = (n * 95 + 99) / 100 THEN duration_ms END)";

/// The columns of a reservation row.
pub(crate) const RESERVATION_COLUMNS: &str =
    "id, amount_micros, state, created_at, expires_at, settled_at, cost_micros, overshoot_micros";

/// The columns of a window row.
pub(crate) const WINDOW_COLUMNS: &str = "budget, subject, period, spent_micros, reserved_micros, alerted";

impl UsageSummaryRecord {
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<UsageSummaryRecord, R::Error> {
        Ok(UsageSummaryRecord {
            key: r.opt_text(0)?,
            calls: r.counter(1)?,
            failures: r.counter(2)?,
            input_tokens: r.opt_int(3)?.unwrap_or(0),
            cached_input_tokens: r.opt_int(4)?.unwrap_or(0),
            cache_write_tokens: r.opt_int(5)?.unwrap_or(0),
            output_tokens: r.opt_int(6)?.unwrap_or(0),
            reasoning_tokens: r.opt_int(7)?.unwrap_or(0),
            cost_micros: r.opt_int(8)?.unwrap_or(0),
            p50_ms: r.opt_int(9)?.unwrap_or(0),
            p95_ms: r.opt_int(10)?.unwrap_or(0),
        })
    }
}

impl BudgetReservationRecord {
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<BudgetReservationRecord, R::Error> {
        Ok(BudgetReservationRecord {
            id: r.text(0)?,
            amount_micros: r.int(1)?,
            state: r.text(2)?,
            created_at: r.time(3)?,
            expires_at: r.time(4)?,
            settled_at: r.opt_int(5)?.map(UnixMillis),
            cost_micros: r.opt_int(6)?,
            overshoot_micros: r.opt_int(7)?,
        })
    }
}

impl BudgetWindowRecord {
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<BudgetWindowRecord, R::Error> {
        Ok(BudgetWindowRecord {
            key: BudgetWindowKey { budget: r.parsed(0, "budget name")?, subject: r.text(1)?, period: r.text(2)? },
            spent_micros: r.int(3)?,
            reserved_micros: r.int(4)?,
            alerted: r.count(5)?,
        })
    }
}

impl BudgetRecord {
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<BudgetRecord, R::Error> {
        Ok(BudgetRecord {
            name: r.parsed(0, "budget name")?,
            spec: r.text(1)?,
            created_at: r.time(2)?,
            updated_at: r.time(3)?,
        })
    }
}

/// The SQL expression of a summary's group key on the CTE's source rows;
/// `day` makes the calendar day of the column `at` in a zone given as an
/// SQL literal (an IANA name, which holds no quote).
pub(crate) fn group_column(group: Option<UsageGroup>, day: fn(&str) -> String, tz: Timezone) -> String {
    match group {
        None => "NULL".into(),
        Some(UsageGroup::Model) => "model".into(),
        Some(UsageGroup::Feature) => "feature".into(),
        Some(UsageGroup::Tenant) => "tenant".into(),
        Some(UsageGroup::User) => "user_name".into(),
        Some(UsageGroup::Day) => day(&format!("'{}'", tz.name())),
    }
}

/// A reservation's holds as stored: JSON `[[budget, subject, period], …]`.
pub(crate) fn holds_json(keys: &[BudgetWindowKey]) -> Result<String, StoreError> {
    let triples: Vec<[&str; 3]> = keys.iter().map(|k| [k.budget.as_str(), &k.subject, &k.period]).collect();
    serde_json::to_string(&triples).map_err(|e| StoreError::Internal(e.to_string()))
}

/// A reservation's holds read back.
pub(crate) fn holds_parse(text: &str) -> Result<Vec<BudgetWindowKey>, StoreError> {
    let triples: Vec<[String; 3]> =
        serde_json::from_str(text).map_err(|e| StoreError::Internal(format!("a reservation's holds: {e}")))?;
    triples
        .into_iter()
        .map(|[budget, subject, period]| {
            let budget = BudgetName::new(&budget).map_err(|e| StoreError::Internal(e.to_string()))?;
            Ok(BudgetWindowKey { budget, subject, period })
        })
        .collect()
}

/// The changes a batch makes to its windows, in key order (the order
/// every transaction locks them in): spent added, reserved released.
#[derive(Debug, Default)]
pub(crate) struct WindowDeltas(pub(crate) BTreeMap<BudgetWindowKey, (i64, i64)>);

impl WindowDeltas {
    pub(crate) fn spend(&mut self, key: &BudgetWindowKey, micros: i64) {
        let d = self.0.entry(key.clone()).or_default();
        d.0 = d.0.saturating_add(micros);
    }

    pub(crate) fn release(&mut self, key: &BudgetWindowKey, micros: i64) {
        let d = self.0.entry(key.clone()).or_default();
        d.1 = d.1.saturating_sub(micros);
    }
}

/// The least room left among windows: limit − spent − reserved.
pub(crate) fn room(limit: i64, spent: i64, reserved: i64) -> i64 {
    limit.saturating_sub(spent).saturating_sub(reserved)
}

impl Store {
    /// Inserts a batch of usage rows in one transaction, each at most once
    /// by its call id (a repeat, in the store or earlier in the batch,
    /// changes nothing). A new row adds its cost to its windows and settles
    /// the reservation it names if that is still held: its holds are
    /// released and its real cost and any overshoot recorded (a failed call
    /// releases the same way, at what it cost).
    pub async fn usage_insert_many(&self, mut params: UsageInsertParams) -> Result<UsageInserted, StoreError> {
        for r in &mut params.rows {
            nul::key("call_id", &r.call_id)?;
            nul::key_opt("reservation_id", r.reservation_id.as_deref())?;
            nul::clean(&mut r.model);
            nul::clean_opt(&mut r.provider);
            nul::clean_opt(&mut r.feature);
            nul::clean_opt(&mut r.tenant);
            nul::clean_opt(&mut r.user);
            r.charges.iter_mut().for_each(|k| nul::clean(&mut k.subject));
        }
        dispatch!(self, s => s.usage_insert_many(params))
    }

    /// Totals of the usage rows in `[since, until)`, per group (by key);
    /// without a grouping, one total (of zeros when there was no call).
    pub async fn usage_summary(&self, mut params: UsageSummaryParams) -> Result<Vec<UsageSummaryRecord>, StoreError> {
        if let Some((_, value)) = &mut params.only {
            nul::clean(value);
        }
        let total = params.group_by.is_none();
        let mut groups = dispatch!(self, s => s.usage_summary(params))?;
        if total && groups.is_empty() {
            groups.push(UsageSummaryRecord::default());
        }
        Ok(groups)
    }

    /// One bounded retention step: deletes up to `limit` usage rows made
    /// before `before`, and as many settled or expired reservations.
    pub async fn usage_prune(&self, before: UnixMillis, limit: u32) -> Result<UsagePruned, StoreError> {
        dispatch!(self, s => s.usage_prune(before, limit))
    }

    /// Stores a budget's spec under `name`, replacing the one there (a
    /// replace keeps `created_at`). The caller validates the spec.
    pub async fn budget_put(&self, name: &BudgetName, spec: &str, now: UnixMillis) -> Result<BudgetRecord, StoreError> {
        let spec = rampart_core::nul::clean(spec);
        match self {
            Store::Sqlite(s) => s.budget_put(name.clone(), spec.into_owned(), now).await,
            Store::Postgres(s) => s.budget_put(name, &spec, now).await,
        }
    }

    /// Deletes a budget kept in the store; false when there was none. Its
    /// windows stay, so a budget put again finds what it had counted.
    pub async fn budget_delete(&self, name: &BudgetName) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.budget_delete(name.clone()).await,
            Store::Postgres(s) => s.budget_delete(name).await,
        }
    }

    /// Every budget kept in the store, in bytewise name order.
    pub async fn budget_list(&self) -> Result<Vec<BudgetRecord>, StoreError> {
        dispatch!(self, s => s.budget_list())
    }

    /// Every window of `budget` in the period `period`, by subject.
    pub async fn budget_window_list(
        &self,
        budget: &BudgetName,
        period: &str,
    ) -> Result<Vec<BudgetWindowRecord>, StoreError> {
        nul::key("period", period)?;
        match self {
            Store::Sqlite(s) => s.budget_window_list(budget.clone(), period.to_string()).await,
            Store::Postgres(s) => s.budget_window_list(budget, period).await,
        }
    }

    /// Claims the notice of threshold `percent` in a window: true once per
    /// window and threshold across nodes (a lower threshold is then never
    /// claimed again in that window).
    pub async fn budget_window_alert(&self, key: &BudgetWindowKey, percent: u32) -> Result<bool, StoreError> {
        nul::key("subject", &key.subject)?;
        match self {
            Store::Sqlite(s) => s.budget_window_alert(key.clone(), percent).await,
            Store::Postgres(s) => s.budget_window_alert(key, percent).await,
        }
    }

    /// Holds `amount_micros` on every window in `holds` in one transaction,
    /// all or none: refused, holding nothing, when an enforced window's
    /// spent + reserved would go past its limit. Concurrent reservations,
    /// from any node, never take a window past an enforced limit.
    pub async fn budget_reserve(&self, mut params: BudgetReserveParams) -> Result<BudgetReserved, StoreError> {
        nul::key("reservation_id", &params.id)?;
        params.holds.iter_mut().for_each(|h| nul::clean(&mut h.key.subject));
        dispatch!(self, s => s.budget_reserve(params))
    }

    /// A reservation by id.
    pub async fn budget_reservation_get(&self, id: &str) -> Result<Option<BudgetReservationRecord>, StoreError> {
        nul::key("reservation_id", id)?;
        match self {
            Store::Sqlite(s) => s.budget_reservation_get(id.to_string()).await,
            Store::Postgres(s) => s.budget_reservation_get(id).await,
        }
    }

    /// Releases up to `limit` held reservations whose time ran out by
    /// `now`, marking them `expired`; answers how many.
    pub async fn budget_reservation_expire(&self, now: UnixMillis, limit: u32) -> Result<u64, StoreError> {
        dispatch!(self, s => s.budget_reservation_expire(now, limit))
    }
}
