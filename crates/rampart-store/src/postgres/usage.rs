//! SQL of AI usage and budgets on PostgreSQL.
//!
//! A batch of usage rows is one transaction: one statement inserts every
//! row (arrays through `unnest`, `ON CONFLICT (call_id) DO NOTHING`), and
//! only when rows name reservations or budgets, one statement settles the
//! reservations and one upserts every window touched, in key order. A
//! reservation takes each window's row lock in key order (the upsert's
//! conflict path locks the row and re-checks the limit on the latest
//! version under READ COMMITTED), so concurrent reservations on any node
//! serialise per window and never deadlock; a refusal rolls back every
//! hold taken before it. Reservations settle and expire under their own
//! row's lock, before any window's: the same order everywhere.

use std::collections::HashSet;

use deadpool_postgres::GenericClient;
use rampart_core::id::BudgetName;
use rampart_core::time::UnixMillis;

use super::{Client, PgStore};
use crate::error::StoreError;
use crate::usage::*;

const INSERT_SQL: &str = "INSERT INTO usage_events (call_id, at, model, provider, feature, tenant, user_name,
        input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost_micros,
        price_version, duration_ms, success, reservation_id)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::text[],
        $15::bigint[], $16::bool[], $17::text[])
    ON CONFLICT (call_id) DO NOTHING
    RETURNING call_id";

async fn insert_rows(c: &mut Client, p: &UsageInsertParams) -> Result<UsageInserted, StoreError> {
    let rows = &p.rows;
    let col = |f: fn(&UsageRow) -> Option<&str>| rows.iter().map(f).collect::<Vec<_>>();
    let int = |f: fn(&UsageRow) -> i64| rows.iter().map(f).collect::<Vec<_>>();
    let call_ids = col(|r| Some(&r.call_id));
    let at = int(|r| r.at.0);
    let model = col(|r| Some(&r.model));
    let provider = col(|r| r.provider.as_deref());
    let feature = col(|r| r.feature.as_deref());
    let tenant = col(|r| r.tenant.as_deref());
    let user = col(|r| r.user.as_deref());
    let input = int(|r| r.input_tokens);
    let cached = int(|r| r.cached_input_tokens);
    let writes = int(|r| r.cache_write_tokens);
    let output = int(|r| r.output_tokens);
    let reasoning = int(|r| r.reasoning_tokens);
    let cost = int(|r| r.cost_micros);
    let version = col(|r| r.price_version.as_deref());
    let duration = int(|r| r.duration_ms);
    let success: Vec<bool> = rows.iter().map(|r| r.success).collect();
    let reservation = col(|r| r.reservation_id.as_deref());
    let tx = c.transaction().await?;
    let stmt = tx.prepare_cached(INSERT_SQL).await?;
    let inserted: HashSet<String> = tx
        .query(
            &stmt,
            &[
                &call_ids,
                &at,
                &model,
                &provider,
                &feature,
                &tenant,
                &user,
                &input,
                &cached,
                &writes,
                &output,
                &reasoning,
                &cost,
                &version,
                &duration,
                &success,
                &reservation,
            ],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut out = UsageInserted::default();
    let mut seen = HashSet::new();
    let mut deltas = WindowDeltas::default();
    let mut settling: Vec<(&str, i64)> = Vec::new();
    for r in rows {
        let new = inserted.contains(&r.call_id) && seen.insert(r.call_id.as_str());
        out.duplicate.push(!new);
        if !new {
            continue;
        }
        r.charges.iter().for_each(|k| deltas.spend(k, r.cost_micros));
        if let Some(id) = &r.reservation_id
            && !settling.iter().any(|(s, _)| s == id)
        {
            settling.push((id, r.cost_micros));
        }
    }
    if !settling.is_empty() {
        settling.sort_unstable();
        let (ids, costs): (Vec<&str>, Vec<i64>) = settling.into_iter().unzip();
        let stmt = tx
            .prepare_cached(
                "UPDATE budget_reservations r SET state = 'settled', settled_at = $3, cost_micros = s.cost,
                     overshoot_micros = GREATEST(s.cost - r.amount_micros, 0)
                 FROM unnest($1::text[], $2::bigint[]) AS s(id, cost)
                 WHERE r.id = s.id AND r.state = 'held'
                 RETURNING r.amount_micros, r.holds",
            )
            .await?;
        for row in tx.query(&stmt, &[&ids, &costs, &p.now.0]).await? {
            out.settled += 1;
            let amount: i64 = row.try_get(0)?;
            holds_parse(&row.try_get::<_, String>(1)?)?.iter().for_each(|k| deltas.release(k, amount));
        }
    }
    out.windows = apply(&tx, &deltas).await?;
    tx.commit().await?;
    Ok(out)
}

async fn apply(tx: &impl GenericClient, deltas: &WindowDeltas) -> Result<Vec<BudgetWindowRecord>, StoreError> {
    if deltas.0.is_empty() {
        return Ok(Vec::new());
    }
    let budgets: Vec<&str> = deltas.0.keys().map(|k| k.budget.as_str()).collect();
    let subjects: Vec<&str> = deltas.0.keys().map(|k| k.subject.as_str()).collect();
    let periods: Vec<&str> = deltas.0.keys().map(|k| k.period.as_str()).collect();
    let spent: Vec<i64> = deltas.0.values().map(|d| d.0).collect();
    let reserved: Vec<i64> = deltas.0.values().map(|d| d.1).collect();
    // A release (a negative change of `reserved`) only meets a window its
    // hold made, so only the update path ever sees one; it never goes below 0.
    let stmt = tx
        .prepare_cached(&format!(
            "INSERT INTO budget_windows AS w (budget, subject, period, spent_micros, reserved_micros)
             SELECT budget, subject, period, spent, reserved
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
                  WITH ORDINALITY AS d(budget, subject, period, spent, reserved, ord)
             ORDER BY ord
             ON CONFLICT (budget, subject, period) DO UPDATE SET
                 spent_micros = w.spent_micros + excluded.spent_micros,
                 reserved_micros = GREATEST(w.reserved_micros + excluded.reserved_micros, 0)
             RETURNING {WINDOW_COLUMNS}"
        ))
        .await?;
    let rows = tx.query(&stmt, &[&budgets, &subjects, &periods, &spent, &reserved]).await?;
    rows.iter().map(BudgetWindowRecord::from_row).collect()
}

async fn reserve(c: &mut Client, p: &BudgetReserveParams) -> Result<BudgetReserved, StoreError> {
    let mut holds = p.holds.clone();
    holds.sort_by(|a, b| a.key.cmp(&b.key));
    holds.dedup_by(|a, b| a.key == b.key);
    let tx = c.transaction().await?;
    let take = tx
        .prepare_cached(
            "INSERT INTO budget_windows AS w (budget, subject, period, reserved_micros)
             SELECT $1::text, $2::text, $3::text, $4::bigint WHERE NOT $6::bool OR $4::bigint <= $5::bigint
             ON CONFLICT (budget, subject, period) DO UPDATE
                 SET reserved_micros = w.reserved_micros + excluded.reserved_micros
                 WHERE NOT $6::bool OR w.spent_micros + w.reserved_micros + excluded.reserved_micros <= $5::bigint
             RETURNING spent_micros, reserved_micros",
        )
        .await?;
    let mut least: Option<i64> = None;
    for h in &holds {
        let k = &h.key;
        let taken = tx
            .query_opt(
                &take,
                &[&k.budget.as_str(), &k.subject, &k.period, &p.amount_micros, &h.limit_micros, &h.enforce],
            )
            .await?;
        let Some(row) = taken else {
            // Refused: read every window's room as it stands without our holds.
            tx.rollback().await?;
            let least = rooms(c, &holds).await?;
            return Ok(BudgetReserved { allowed: false, remaining_micros: least, refused_by: Some(k.budget.clone()) });
        };
        let left = room(h.limit_micros, row.try_get(0)?, row.try_get(1)?);
        least = Some(least.map_or(left, |l| l.min(left)));
    }
    let keys: Vec<BudgetWindowKey> = holds.into_iter().map(|h| h.key).collect();
    tx.execute(
        "INSERT INTO budget_reservations (id, amount_micros, holds, state, created_at, expires_at)
         VALUES ($1, $2, $3, 'held', $4, $5)",
        &[&p.id, &p.amount_micros, &holds_json(&keys)?, &p.now.0, &p.expires_at.0],
    )
    .await?;
    tx.commit().await?;
    Ok(BudgetReserved { allowed: true, remaining_micros: least, refused_by: None })
}

async fn rooms(c: &mut Client, holds: &[BudgetHold]) -> Result<Option<i64>, StoreError> {
    let mut least: Option<i64> = None;
    for h in holds {
        let k = &h.key;
        let row = c
            .query_opt(
                "SELECT spent_micros, reserved_micros FROM budget_windows
                 WHERE budget = $1 AND subject = $2 AND period = $3",
                &[&k.budget.as_str(), &k.subject, &k.period],
            )
            .await?;
        let (spent, reserved) = match row {
            Some(r) => (r.try_get(0)?, r.try_get(1)?),
            None => (0, 0),
        };
        let left = room(h.limit_micros, spent, reserved);
        least = Some(least.map_or(left, |l| l.min(left)));
    }
    Ok(least)
}

async fn expire(c: &mut Client, now: UnixMillis, limit: u32) -> Result<u64, StoreError> {
    let tx = c.transaction().await?;
    let rows = tx
        .query(
            "UPDATE budget_reservations SET state = 'expired', settled_at = $1
             WHERE id IN (SELECT id FROM budget_reservations WHERE state = 'held' AND expires_at <= $1
                          ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING amount_micros, holds",
            &[&now.0, &i64::from(limit)],
        )
        .await?;
    let mut deltas = WindowDeltas::default();
    for row in &rows {
        let amount: i64 = row.try_get(0)?;
        holds_parse(&row.try_get::<_, String>(1)?)?.iter().for_each(|k| deltas.release(k, amount));
    }
    apply(&tx, &deltas).await?;
    tx.commit().await?;
    Ok(rows.len() as u64)
}

impl PgStore {
    pub(crate) async fn usage_insert_many(&self, p: UsageInsertParams) -> Result<UsageInserted, StoreError> {
        self.call(async |c| insert_rows(c, &p).await).await
    }

    pub(crate) async fn usage_summary(&self, p: UsageSummaryParams) -> Result<Vec<UsageSummaryRecord>, StoreError> {
        let day = |tz: &str| format!("to_char(to_timestamp(at / 1000.0) AT TIME ZONE {tz}, 'YYYY-MM-DD')");
        let key = group_column(p.group_by, day, p.timezone);
        let only = group_column(p.only.as_ref().map(|o| o.0), day, p.timezone);
        let partition = if p.group_by.is_some() { format!("PARTITION BY {key}") } else { String::new() };
        let key = if p.group_by.is_some() { format!("({key})::text") } else { "CAST(NULL AS TEXT)".into() };
        let sql = format!(
            "WITH e AS (
                 SELECT {key} AS k, success, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
                     reasoning_tokens, cost_micros, duration_ms,
                     ROW_NUMBER() OVER ({partition} ORDER BY duration_ms) AS rn,
                     COUNT(*) OVER ({partition}) AS n
                 FROM usage_events WHERE at >= $1 AND at < $2 AND ($3::text IS NULL OR ({only})::text = $3))
             SELECT {SUMMARY_COLUMNS} FROM e GROUP BY k ORDER BY k"
        );
        let value = p.only.map(|o| o.1);
        self.call(async |c| {
            let rows = c.query(&sql, &[&p.since.0, &p.until.0, &value]).await?;
            rows.iter().map(UsageSummaryRecord::from_row).collect()
        })
        .await
    }

    pub(crate) async fn usage_prune(&self, before: UnixMillis, limit: u32) -> Result<UsagePruned, StoreError> {
        let limit = i64::from(limit);
        self.call(async |c| {
            let events = c
                .execute(
                    "DELETE FROM usage_events WHERE call_id IN (SELECT call_id FROM usage_events WHERE at < $1
                         ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)",
                    &[&before.0, &limit],
                )
                .await?;
            let reservations = c
                .execute(
                    "DELETE FROM budget_reservations WHERE id IN (SELECT id FROM budget_reservations
                         WHERE state <> 'held' AND created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                    &[&before.0, &limit],
                )
                .await?;
            Ok(UsagePruned { events, reservations })
        })
        .await
    }

    pub(crate) async fn budget_put(
        &self,
        name: &BudgetName,
        spec: &str,
        now: UnixMillis,
    ) -> Result<BudgetRecord, StoreError> {
        self.call(async |c| {
            let row = c
                .query_one(
                    "INSERT INTO budgets (name, spec, created_at, updated_at) VALUES ($1, $2, $3, $3)
                     ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at
                     RETURNING name, spec, created_at, updated_at",
                    &[&name.as_str(), &spec, &now.0],
                )
                .await?;
            BudgetRecord::from_row(&row)
        })
        .await
    }

    pub(crate) async fn budget_delete(&self, name: &BudgetName) -> Result<bool, StoreError> {
        self.call(async |c| Ok(c.execute("DELETE FROM budgets WHERE name = $1", &[&name.as_str()]).await? > 0)).await
    }

    pub(crate) async fn budget_list(&self) -> Result<Vec<BudgetRecord>, StoreError> {
        self.call(async |c| {
            let rows = c.query("SELECT name, spec, created_at, updated_at FROM budgets ORDER BY name", &[]).await?;
            rows.iter().map(BudgetRecord::from_row).collect()
        })
        .await
    }

    pub(crate) async fn budget_window_list(
        &self,
        budget: &BudgetName,
        period: &str,
    ) -> Result<Vec<BudgetWindowRecord>, StoreError> {
        self.call(async |c| {
            let rows = c
                .query(
                    &format!(
                        "SELECT {WINDOW_COLUMNS} FROM budget_windows WHERE budget = $1 AND period = $2 ORDER BY subject"
                    ),
                    &[&budget.as_str(), &period],
                )
                .await?;
            rows.iter().map(BudgetWindowRecord::from_row).collect()
        })
        .await
    }

    pub(crate) async fn budget_window_alert(&self, key: &BudgetWindowKey, percent: u32) -> Result<bool, StoreError> {
        let percent = i32::try_from(percent).unwrap_or(i32::MAX);
        self.call(async |c| {
            Ok(c.execute(
                "UPDATE budget_windows SET alerted = $4
                 WHERE budget = $1 AND subject = $2 AND period = $3 AND alerted < $4",
                &[&key.budget.as_str(), &key.subject, &key.period, &percent],
            )
            .await?
                > 0)
        })
        .await
    }

    pub(crate) async fn budget_reserve(&self, p: BudgetReserveParams) -> Result<BudgetReserved, StoreError> {
        self.call(async |c| reserve(c, &p).await).await
    }

    pub(crate) async fn budget_reservation_get(&self, id: &str) -> Result<Option<BudgetReservationRecord>, StoreError> {
        self.call(async |c| {
            let row = c
                .query_opt(&format!("SELECT {RESERVATION_COLUMNS} FROM budget_reservations WHERE id = $1"), &[&id])
                .await?;
            row.map(|r| BudgetReservationRecord::from_row(&r)).transpose()
        })
        .await
    }

    pub(crate) async fn budget_reservation_expire(&self, now: UnixMillis, limit: u32) -> Result<u64, StoreError> {
        self.call(async |c| expire(c, now, limit).await).await
    }
}
