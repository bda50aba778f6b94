-- Shared circuit breakers, one row each, updated under the row's lock by
-- whichever node runs a step. `machine` is the state machine as compact
-- JSON (rampart_core::breaker::BreakerMachine); `state` repeats its state
-- for people reading the table. Times are Unix milliseconds; names compare
-- bytewise (COLLATE "C"), as queue names do.
CREATE TABLE breakers (
    name       TEXT   COLLATE "C" PRIMARY KEY,
    state      TEXT   NOT NULL,
    machine    TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Every change of a breaker's state, with when and why, written in the
-- transaction that changed it; the latest few per breaker are kept.
CREATE TABLE breaker_transitions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT   COLLATE "C" NOT NULL,
    at         BIGINT NOT NULL,
    from_state TEXT   NOT NULL,
    to_state   TEXT   NOT NULL,
    reason     TEXT   NOT NULL
);
CREATE INDEX breaker_transitions_by_name ON breaker_transitions (name, id);
