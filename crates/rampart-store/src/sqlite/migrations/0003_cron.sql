-- Cron schedules and their runs. Times are Unix milliseconds; names compare
-- bytewise. `next_run_at` is the tick that fires next (NULL: never again);
-- firing compares and sets it, so a tick fires once.
CREATE TABLE cron_schedules (
    name        TEXT    PRIMARY KEY,
    schedule    TEXT    NOT NULL,
    timezone    TEXT    NOT NULL,
    queue       TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    description TEXT    NOT NULL,
    misfire     TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    paused      INTEGER NOT NULL DEFAULT 0,
    next_run_at INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per run; its outcome is copied from its job until it settles.
-- A schedule deleted keeps its runs until retention removes them.
CREATE TABLE cron_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    scheduled_at INTEGER NOT NULL,
    enqueued_at  INTEGER NOT NULL,
    job_id       INTEGER,
    trigger      TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    result       TEXT
);
-- Paging a schedule's history, newest first, and its last run.
CREATE INDEX cron_runs_name ON cron_runs (name, id);
-- Runs whose job has not settled, looked at every scheduler tick.
CREATE INDEX cron_runs_unsettled ON cron_runs (job_id)
    WHERE job_id > 0 AND status <> 'completed' AND status <> 'dead' AND status <> 'cancelled';
-- Retention.
CREATE INDEX cron_runs_enqueued ON cron_runs (enqueued_at);
