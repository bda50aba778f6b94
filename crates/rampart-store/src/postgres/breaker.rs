//! SQL of shared circuit breakers on PostgreSQL.
//!
//! A step first reads the row without a lock and runs the machine on a
//! copy: when nothing changes (an acquire on a closed breaker) that is the
//! answer, and no transaction is opened. Otherwise the step runs again in a
//! transaction on the row taken `FOR UPDATE` (inserted first when missing,
//! `ON CONFLICT DO NOTHING`, so two nodes creating it at once both end up
//! on the one row), which serialises the nodes' steps on one breaker; its
//! row, transition and the pruning of old transitions commit together.

use deadpool_postgres::GenericClient;
use rampart_core::breaker::BreakerMachine;
use rampart_core::id::BreakerName;
use rampart_core::time::UnixMillis;

use super::Client;
use crate::breaker::{
    BREAKER_TRANSITIONS_KEPT, BreakerApplied, BreakerApplyParams, BreakerRecord, BreakerTransitionRecord, decode,
    encode, state_from,
};
use crate::error::StoreError;

const COLUMNS: &str = "name, machine, created_at, updated_at";

async fn load(c: &impl GenericClient, name: &BreakerName, lock: bool) -> Result<Option<BreakerMachine>, StoreError> {
    let sql = if lock {
        "SELECT machine FROM breakers WHERE name = $1 FOR UPDATE"
    } else {
        "SELECT machine FROM breakers WHERE name = $1"
    };
    let stmt = c.prepare_cached(sql).await?;
    match c.query_opt(&stmt, &[&name.as_str()]).await? {
        Some(row) => Ok(Some(decode(name.as_str(), &row.try_get::<_, String>(0)?)?)),
        None => Ok(None),
    }
}

pub(super) async fn apply(c: &mut Client, p: &BreakerApplyParams) -> Result<BreakerApplied, StoreError> {
    if let Some(stored) = load(&*c, &p.name, false).await? {
        let mut machine = stored.clone();
        let (admission, transition) = p.step(&mut machine);
        if machine == stored {
            return Ok(BreakerApplied { machine, admission, transition });
        }
    }
    let tx = c.transaction().await?;
    let stored = match load(&tx, &p.name, true).await? {
        Some(m) => m,
        None => {
            let fresh = BreakerMachine::new(p.now);
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO breakers (name, state, machine, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
                     ON CONFLICT (name) DO NOTHING",
                )
                .await?;
            tx.execute(&stmt, &[&p.name.as_str(), &fresh.state().as_str(), &encode(&fresh)?, &p.now.0]).await?;
            load(&tx, &p.name, true)
                .await?
                .ok_or_else(|| StoreError::Internal(format!("breaker `{}` vanished as it was made", p.name)))?
        }
    };
    let mut machine = stored.clone();
    let (admission, transition) = p.step(&mut machine);
    if machine != stored {
        let stmt =
            tx.prepare_cached("UPDATE breakers SET state = $2, machine = $3, updated_at = $4 WHERE name = $1").await?;
        tx.execute(&stmt, &[&p.name.as_str(), &machine.state().as_str(), &encode(&machine)?, &p.now.0]).await?;
    }
    if let Some(t) = &transition {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO breaker_transitions (name, at, from_state, to_state, reason) VALUES ($1, $2, $3, $4, $5)",
            )
            .await?;
        let reason = t.reason.to_string();
        tx.execute(&stmt, &[&p.name.as_str(), &t.at.0, &t.from.as_str(), &t.to.as_str(), &reason]).await?;
        let stmt = tx
            .prepare_cached(
                "DELETE FROM breaker_transitions WHERE name = $1 AND id <=
                     (SELECT id FROM breaker_transitions WHERE name = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
            )
            .await?;
        tx.execute(&stmt, &[&p.name.as_str(), &i64::from(BREAKER_TRANSITIONS_KEPT)]).await?;
    }
    tx.commit().await?;
    Ok(BreakerApplied { machine, admission, transition })
}

pub(super) async fn get(
    c: &mut Client,
    name: &BreakerName,
    transitions: u32,
) -> Result<Option<BreakerRecord>, StoreError> {
    let stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM breakers WHERE name = $1")).await?;
    let Some(row) = c.query_opt(&stmt, &[&name.as_str()]).await? else { return Ok(None) };
    let mut record = BreakerRecord::from_row(&row)?;
    let stmt = c
        .prepare_cached(
            "SELECT id, at, from_state, to_state, reason FROM breaker_transitions WHERE name = $1
             ORDER BY id DESC LIMIT $2",
        )
        .await?;
    let rows = c.query(&stmt, &[&name.as_str(), &i64::from(transitions)]).await?;
    for r in rows.iter().rev() {
        record.transitions.push(BreakerTransitionRecord {
            id: r.try_get(0)?,
            at: UnixMillis(r.try_get(1)?),
            from: state_from(r.try_get(2)?)?,
            to: state_from(r.try_get(3)?)?,
            reason: r.try_get(4)?,
        });
    }
    Ok(Some(record))
}

pub(super) async fn list(c: &mut Client) -> Result<Vec<BreakerRecord>, StoreError> {
    let stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM breakers ORDER BY name")).await?;
    c.query(&stmt, &[]).await?.iter().map(BreakerRecord::from_row).collect()
}
