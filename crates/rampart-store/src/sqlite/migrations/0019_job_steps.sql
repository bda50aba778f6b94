-- Steps of step-function jobs (issue 21). A job's recorded steps live on its
-- row as one JSON array, [{"name", "result", "at", "attempt"}], in the order
-- they were reached (an array: the order is part of the contract), so every
-- path that deletes a job drops its steps with it and a lease reads them with
-- the row. Text, kept byte for byte like the payload and the result; only
-- step-function jobs have it (NULL otherwise).
ALTER TABLE jobs ADD COLUMN steps TEXT;

-- The step a `step` or `sleeping` event of the history recorded.
ALTER TABLE job_events ADD COLUMN step TEXT;

-- A job parked `waiting` for an event (POST …/steps/{step}/wait): one row per
-- job, written in the transaction that parks it, with its timeout, so no
-- wait exists without one. Removed in the transaction that wakes the job
-- (the event, the promoter's timeout sweep, a cancel). `match_value` is the
-- canonical JSON text of the value the event's `match_path` must hold.
CREATE TABLE job_waits (
    job_id      INTEGER PRIMARY KEY,
    step        TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    match_path  TEXT,
    match_value TEXT,
    timeout_at  INTEGER NOT NULL
);
CREATE INDEX job_waits_event ON job_waits (event, match_value);
CREATE INDEX job_waits_timeout ON job_waits (timeout_at);

-- Events sent with POST /v1/events/{name}, kept for the lookback window so a
-- wait registered just after its event still matches; idempotent on
-- `event_id` when the sender gives one.
CREATE TABLE events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    name     TEXT    NOT NULL,
    event_id TEXT,
    payload  TEXT    NOT NULL,
    at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_id ON events (name, event_id) WHERE event_id > '';
CREATE INDEX events_name_at ON events (name, at);
