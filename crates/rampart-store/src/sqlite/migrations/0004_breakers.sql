-- Shared circuit breakers. `machine` is the state machine as compact JSON
-- (rampart_core::breaker::BreakerMachine); `state` repeats its state for
-- people reading the table. Times are Unix milliseconds; names compare
-- bytewise (SQLite's BINARY collation).
CREATE TABLE breakers (
    name       TEXT    PRIMARY KEY,
    state      TEXT    NOT NULL,
    machine    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Every change of a breaker's state, with when and why; the latest few per
-- breaker are kept.
CREATE TABLE breaker_transitions (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    from_state TEXT    NOT NULL,
    to_state   TEXT    NOT NULL,
    reason     TEXT    NOT NULL
);
CREATE INDEX breaker_transitions_by_name ON breaker_transitions (name, id);
