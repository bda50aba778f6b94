-- Jobs. Times are Unix milliseconds. The payload and result are JSON text.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    queue            TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    priority         INTEGER NOT NULL DEFAULT 0,
    run_at           INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    timeout_ms       INTEGER,
    unique_key       TEXT,
    payload          TEXT    NOT NULL,
    lease_token      TEXT,
    lease_ms         INTEGER,
    lease_expires_at INTEGER,
    timeout_at       INTEGER,
    started_at       INTEGER,
    finished_at      INTEGER,
    worker           TEXT,
    last_error       TEXT,
    result           TEXT
);

-- Leasing: the next available job of a queue in priority, then run_at order.
CREATE INDEX jobs_available ON jobs (queue, priority DESC, run_at, id) WHERE state = 'available';
-- Promotion of delayed and retrying jobs.
CREATE INDEX jobs_scheduled ON jobs (run_at) WHERE state = 'scheduled';
-- Reaping of expired leases and timed-out attempts.
CREATE INDEX jobs_lease_expiry ON jobs (lease_expires_at) WHERE state = 'active';
CREATE INDEX jobs_timeout ON jobs (timeout_at) WHERE state = 'active' AND timeout_at > 0;
-- At most one live job per queue and unique key (keys are never empty).
--
-- How partial-index conditions are written matters on the hot path:
-- - `<>` rather than IN: SQLite evaluates them on every state change, and an
--   IN list costs an ephemeral table each time (it doubled a lease's cost);
-- - `> ''` / `> 0` rather than IS NOT NULL: connections run with the query
--   planner stability guarantee (no plan depends on a bound value), so
--   `unique_key = ?` cannot prove `unique_key IS NOT NULL`.
-- Queries repeat a condition word for word to use its index.
CREATE UNIQUE INDEX jobs_unique_live ON jobs (queue, unique_key)
    WHERE unique_key > '' AND state <> 'completed' AND state <> 'dead' AND state <> 'cancelled';
-- Counts and listings of the states off the hot path (available and active
-- are counted through their own indexes), so leasing never touches it.
CREATE INDEX jobs_queue_state ON jobs (queue, state, id) WHERE state <> 'available' AND state <> 'active';

-- Every transition after creation (creation itself is derived from the job row).
CREATE TABLE job_events (
    id         INTEGER PRIMARY KEY,
    job_id     INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    from_state TEXT,
    to_state   TEXT    NOT NULL,
    attempt    INTEGER NOT NULL,
    worker     TEXT,
    reason     TEXT    NOT NULL,
    error      TEXT
);
CREATE INDEX job_events_job ON job_events (job_id, id);

CREATE TABLE queues (
    name       TEXT PRIMARY KEY,
    paused     INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    prefix     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;
