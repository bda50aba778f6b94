//! SQL of shared circuit breakers on SQLite.
//!
//! [`load`] runs on a read connection for the step that changes nothing;
//! [`apply`] runs on the writer thread, inside its savepoint, so the
//! breaker's row, its transition and the pruning of old transitions commit
//! together, and no other write runs between its read and its write.

use rampart_core::breaker::BreakerMachine;
use rampart_core::id::BreakerName;
use rampart_core::time::UnixMillis;
use rusqlite::{Connection, OptionalExtension, params};

use crate::breaker::{
    BREAKER_TRANSITIONS_KEPT, BreakerApplied, BreakerApplyParams, BreakerRecord, BreakerTransitionRecord, decode,
    encode, state_from,
};
use crate::error::StoreError;

const COLUMNS: &str = "name, machine, created_at, updated_at";

/// The stored machine of `name`.
pub(super) fn load(c: &Connection, name: &BreakerName) -> Result<Option<BreakerMachine>, StoreError> {
    let text: Option<String> = c
        .prepare_cached("SELECT machine FROM breakers WHERE name = ?1")?
        .query_row([name.as_str()], |r| r.get(0))
        .optional()?;
    text.map(|t| decode(name.as_str(), &t)).transpose()
}

pub(super) fn apply(c: &Connection, p: &BreakerApplyParams) -> Result<BreakerApplied, StoreError> {
    let stored = load(c, &p.name)?;
    let mut machine = stored.clone().unwrap_or_else(|| BreakerMachine::new(p.now));
    let (admission, transition) = p.step(&mut machine);
    let state = machine.state().as_str();
    match &stored {
        None => {
            c.prepare_cached(
                "INSERT INTO breakers (name, state, machine, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            )?
            .execute(params![p.name.as_str(), state, encode(&machine)?, p.now.0])?;
        }
        Some(before) if *before != machine => {
            c.prepare_cached("UPDATE breakers SET state = ?2, machine = ?3, updated_at = ?4 WHERE name = ?1")?
                .execute(params![p.name.as_str(), state, encode(&machine)?, p.now.0])?;
        }
        Some(_) => {}
    }
    if let Some(t) = &transition {
        c.prepare_cached(
            "INSERT INTO breaker_transitions (name, at, from_state, to_state, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![p.name.as_str(), t.at.0, t.from.as_str(), t.to.as_str(), t.reason.to_string()])?;
        c.prepare_cached(
            "DELETE FROM breaker_transitions WHERE name = ?1 AND id <=
                 (SELECT id FROM breaker_transitions WHERE name = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        )?
        .execute(params![p.name.as_str(), BREAKER_TRANSITIONS_KEPT])?;
    }
    Ok(BreakerApplied { machine, admission, transition })
}

pub(super) fn get(c: &Connection, name: &BreakerName, transitions: u32) -> Result<Option<BreakerRecord>, StoreError> {
    let record = c
        .prepare_cached(&format!("SELECT {COLUMNS} FROM breakers WHERE name = ?1"))?
        .query_row([name.as_str()], |r| BreakerRecord::from_row(r))
        .optional()?;
    let Some(mut record) = record else { return Ok(None) };
    let rows = c
        .prepare_cached(
            "SELECT id, at, from_state, to_state, reason FROM breaker_transitions WHERE name = ?1
             ORDER BY id DESC LIMIT ?2",
        )?
        .query_map(params![name.as_str(), transitions], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get(4)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (id, at, from, to, reason) in rows.into_iter().rev() {
        record.transitions.push(BreakerTransitionRecord {
            id,
            at: UnixMillis(at),
            from: state_from(&from)?,
            to: state_from(&to)?,
            reason,
        });
    }
    Ok(Some(record))
}

pub(super) fn list(c: &Connection) -> Result<Vec<BreakerRecord>, StoreError> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM breakers ORDER BY name"))?
        .query_map([], |r| BreakerRecord::from_row(r))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::from)
}
