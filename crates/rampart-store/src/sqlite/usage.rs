//! SQL of AI usage and budgets on SQLite. Every write runs on the writer
//! thread inside its savepoint, so a batch of usage rows with the
//! reservations it settles, or a reservation's holds, commit whole or not
//! at all in the group commit; the writer runs one write at a time, so a
//! reservation's check of every window and its holds see no other write
//! in between.

use rampart_core::id::BudgetName;
use rampart_core::time::UnixMillis;
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use crate::error::StoreError;
use crate::usage::*;

fn insert_rows(c: &Connection, p: &UsageInsertParams) -> Result<UsageInserted, StoreError> {
    let mut insert = c.prepare_cached(
        "INSERT INTO usage_events (call_id, at, model, provider, feature, tenant, user_name, input_tokens,
             cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost_micros, price_version,
             duration_ms, success, reservation_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT (call_id) DO NOTHING",
    )?;
    let mut settle = c.prepare_cached(
        "UPDATE budget_reservations SET state = 'settled', settled_at = ?2, cost_micros = ?3,
             overshoot_micros = MAX(?3 - amount_micros, 0)
         WHERE id = ?1 AND state = 'held'
         RETURNING amount_micros, holds",
    )?;
    let mut out = UsageInserted::default();
    let mut deltas = WindowDeltas::default();
    for r in &p.rows {
        let n = insert.execute(params![
            r.call_id,
            r.at.0,
            r.model,
            r.provider,
            r.feature,
            r.tenant,
            r.user,
            r.input_tokens,
            r.cached_input_tokens,
            r.cache_write_tokens,
            r.output_tokens,
            r.reasoning_tokens,
            r.cost_micros,
            r.price_version,
            r.duration_ms,
            r.success,
            r.reservation_id,
        ])?;
        out.duplicate.push(n == 0);
        if n == 0 {
            continue;
        }
        r.charges.iter().for_each(|k| deltas.spend(k, r.cost_micros));
        if let Some(id) = &r.reservation_id {
            let held: Option<(i64, String)> = settle
                .query_row(params![id, p.now.0, r.cost_micros], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            if let Some((amount, holds)) = held {
                out.settled += 1;
                holds_parse(&holds)?.iter().for_each(|k| deltas.release(k, amount));
            }
        }
    }
    out.windows = apply(c, &deltas)?;
    Ok(out)
}

fn apply(c: &Connection, deltas: &WindowDeltas) -> Result<Vec<BudgetWindowRecord>, StoreError> {
    let mut upsert = c.prepare_cached(&format!(
        "INSERT INTO budget_windows (budget, subject, period, spent_micros, reserved_micros)
         VALUES (?1, ?2, ?3, ?4, MAX(?5, 0))
         ON CONFLICT (budget, subject, period) DO UPDATE SET
             spent_micros = spent_micros + excluded.spent_micros,
             reserved_micros = MAX(reserved_micros + ?5, 0)
         RETURNING {WINDOW_COLUMNS}"
    ))?;
    let mut windows = Vec::with_capacity(deltas.0.len());
    for (k, (spent, reserved)) in &deltas.0 {
        windows.push(upsert.query_row(params![k.budget.as_str(), k.subject, k.period, spent, reserved], |r| {
            BudgetWindowRecord::from_row(r)
        })?);
    }
    Ok(windows)
}

fn window(c: &Connection, k: &BudgetWindowKey) -> Result<(i64, i64), StoreError> {
    Ok(c.prepare_cached(
        "SELECT spent_micros, reserved_micros FROM budget_windows WHERE budget = ?1 AND subject = ?2 AND period = ?3",
    )?
    .query_row(params![k.budget.as_str(), k.subject, k.period], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()?
    .unwrap_or((0, 0)))
}

fn reserve(c: &Connection, p: &BudgetReserveParams) -> Result<BudgetReserved, StoreError> {
    let mut holds = p.holds.clone();
    holds.sort_by(|a, b| a.key.cmp(&b.key));
    holds.dedup_by(|a, b| a.key == b.key);
    let mut least: Option<i64> = None;
    for h in &holds {
        let (spent, reserved) = window(c, &h.key)?;
        let left = room(h.limit_micros, spent, reserved);
        if h.enforce && left < p.amount_micros {
            let least = holds
                .iter()
                .map(|h| window(c, &h.key).map(|(s, r)| room(h.limit_micros, s, r)))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .min();
            return Ok(BudgetReserved {
                allowed: false,
                remaining_micros: least,
                refused_by: Some(h.key.budget.clone()),
            });
        }
        least = Some(least.map_or(left - p.amount_micros, |l: i64| l.min(left - p.amount_micros)));
    }
    let mut upsert = c.prepare_cached(
        "INSERT INTO budget_windows (budget, subject, period, reserved_micros) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (budget, subject, period) DO UPDATE SET reserved_micros = reserved_micros + excluded.reserved_micros",
    )?;
    for h in &holds {
        upsert.execute(params![h.key.budget.as_str(), h.key.subject, h.key.period, p.amount_micros])?;
    }
    let keys: Vec<BudgetWindowKey> = holds.into_iter().map(|h| h.key).collect();
    c.prepare_cached(
        "INSERT INTO budget_reservations (id, amount_micros, holds, state, created_at, expires_at)
         VALUES (?1, ?2, ?3, 'held', ?4, ?5)",
    )?
    .execute(params![p.id, p.amount_micros, holds_json(&keys)?, p.now.0, p.expires_at.0])?;
    Ok(BudgetReserved { allowed: true, remaining_micros: least, refused_by: None })
}

fn expire(c: &Connection, now: UnixMillis, limit: u32) -> Result<u64, StoreError> {
    let due: Vec<(String, i64, String)> = c
        .prepare_cached(
            "SELECT id, amount_micros, holds FROM budget_reservations
             WHERE state = 'held' AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2",
        )?
        .query_map(params![now.0, limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut mark =
        c.prepare_cached("UPDATE budget_reservations SET state = 'expired', settled_at = ?2 WHERE id = ?1")?;
    let mut deltas = WindowDeltas::default();
    for (id, amount, holds) in &due {
        mark.execute(params![id, now.0])?;
        holds_parse(holds)?.iter().for_each(|k| deltas.release(k, *amount));
    }
    apply(c, &deltas)?;
    Ok(due.len() as u64)
}

fn prune(c: &Connection, before: UnixMillis, limit: u32) -> Result<UsagePruned, StoreError> {
    let events = c
        .prepare_cached(
            "DELETE FROM usage_events WHERE call_id IN
                 (SELECT call_id FROM usage_events WHERE at < ?1 ORDER BY at LIMIT ?2)",
        )?
        .execute(params![before.0, limit])?;
    let reservations = c
        .prepare_cached(
            "DELETE FROM budget_reservations WHERE id IN
                 (SELECT id FROM budget_reservations WHERE state <> 'held' AND created_at < ?1 LIMIT ?2)",
        )?
        .execute(params![before.0, limit])?;
    Ok(UsagePruned { events: events as u64, reservations: reservations as u64 })
}

impl SqliteStore {
    pub(crate) async fn usage_insert_many(&self, p: UsageInsertParams) -> Result<UsageInserted, StoreError> {
        self.write(move |c| insert_rows(c, &p)).await
    }

    pub(crate) async fn usage_summary(&self, p: UsageSummaryParams) -> Result<Vec<UsageSummaryRecord>, StoreError> {
        // `rampart_local_day` is registered on every connection (`super::tune`).
        let day = |tz: &str| format!("rampart_local_day(at, {tz})");
        let key = group_column(p.group_by, day, p.timezone);
        let only = group_column(p.only.as_ref().map(|o| o.0), day, p.timezone);
        let partition = if p.group_by.is_some() { format!("PARTITION BY {key}") } else { String::new() };
        let key = if p.group_by.is_some() { key } else { "CAST(NULL AS TEXT)".into() };
        let sql = format!(
            "WITH e AS (
                 SELECT {key} AS k, success, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
                     reasoning_tokens, cost_micros, duration_ms,
                     ROW_NUMBER() OVER ({partition} ORDER BY duration_ms) AS rn,
                     COUNT(*) OVER ({partition}) AS n
                 FROM usage_events WHERE at >= ?1 AND at < ?2 AND (?3 IS NULL OR {only} = ?3))
             SELECT {SUMMARY_COLUMNS} FROM e GROUP BY k ORDER BY k"
        );
        let value = p.only.map(|o| o.1);
        self.read(move |c| {
            Ok(c.prepare(&sql)?
                .query_map(params![p.since.0, p.until.0, value], |r| UsageSummaryRecord::from_row(r))?
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub(crate) async fn usage_prune(&self, before: UnixMillis, limit: u32) -> Result<UsagePruned, StoreError> {
        self.write(move |c| prune(c, before, limit)).await
    }

    pub(crate) async fn budget_put(
        &self,
        name: BudgetName,
        spec: String,
        now: UnixMillis,
    ) -> Result<BudgetRecord, StoreError> {
        self.write(move |c| {
            Ok(c.prepare_cached(
                "INSERT INTO budgets (name, spec, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at
                 RETURNING name, spec, created_at, updated_at",
            )?
            .query_row(params![name.as_str(), spec, now.0], |r| BudgetRecord::from_row(r))?)
        })
        .await
    }

    pub(crate) async fn budget_delete(&self, name: BudgetName) -> Result<bool, StoreError> {
        self.write(move |c| Ok(c.prepare_cached("DELETE FROM budgets WHERE name = ?1")?.execute([name.as_str()])? > 0))
            .await
    }

    pub(crate) async fn budget_list(&self) -> Result<Vec<BudgetRecord>, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT name, spec, created_at, updated_at FROM budgets ORDER BY name")?
                .query_map([], |r| BudgetRecord::from_row(r))?
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub(crate) async fn budget_window_list(
        &self,
        budget: BudgetName,
        period: String,
    ) -> Result<Vec<BudgetWindowRecord>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {WINDOW_COLUMNS} FROM budget_windows WHERE budget = ?1 AND period = ?2 ORDER BY subject"
            ))?
            .query_map(params![budget.as_str(), period], |r| BudgetWindowRecord::from_row(r))?
            .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub(crate) async fn budget_window_alert(&self, key: BudgetWindowKey, percent: u32) -> Result<bool, StoreError> {
        self.write(move |c| {
            Ok(c.prepare_cached(
                "UPDATE budget_windows SET alerted = ?4 WHERE budget = ?1 AND subject = ?2 AND period = ?3 AND alerted < ?4",
            )?
            .execute(params![key.budget.as_str(), key.subject, key.period, percent])?
                > 0)
        })
        .await
    }

    pub(crate) async fn budget_reserve(&self, p: BudgetReserveParams) -> Result<BudgetReserved, StoreError> {
        self.write(move |c| reserve(c, &p)).await
    }

    pub(crate) async fn budget_reservation_get(
        &self,
        id: String,
    ) -> Result<Option<BudgetReservationRecord>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(&format!("SELECT {RESERVATION_COLUMNS} FROM budget_reservations WHERE id = ?1"))?
                .query_row([id], |r| BudgetReservationRecord::from_row(r))
                .optional()?)
        })
        .await
    }

    pub(crate) async fn budget_reservation_expire(&self, now: UnixMillis, limit: u32) -> Result<u64, StoreError> {
        self.write(move |c| expire(c, now, limit)).await
    }
}
