-- Cron schedules and their runs, shared by every node. Times are Unix
-- milliseconds; names compare bytewise (COLLATE "C"). `next_run_at` is the
-- tick that fires next (NULL: never again); firing compares and sets it in
-- the transaction that inserts the job, so of several nodes one fires a tick.
CREATE TABLE cron_schedules (
    name        TEXT    COLLATE "C" PRIMARY KEY,
    schedule    TEXT    NOT NULL,
    timezone    TEXT    NOT NULL,
    queue       TEXT    COLLATE "C" NOT NULL,
    payload     TEXT    NOT NULL,
    description TEXT    NOT NULL,
    misfire     TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    paused      BOOLEAN NOT NULL DEFAULT false,
    next_run_at BIGINT,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- One row per run; its outcome is copied from its job until it settles.
-- A schedule deleted keeps its runs until retention removes them.
CREATE TABLE cron_runs (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT    COLLATE "C" NOT NULL,
    scheduled_at BIGINT  NOT NULL,
    enqueued_at  BIGINT  NOT NULL,
    job_id       BIGINT,
    trigger      TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    started_at   BIGINT,
    finished_at  BIGINT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    result       TEXT
);
-- Paging a schedule's history, newest first, and its last run.
CREATE INDEX cron_runs_name ON cron_runs (name, id);
-- Runs whose job has not settled, looked at every scheduler tick.
CREATE INDEX cron_runs_unsettled ON cron_runs (job_id)
    WHERE job_id IS NOT NULL AND status NOT IN ('completed', 'dead', 'cancelled');
-- Retention.
CREATE INDEX cron_runs_enqueued ON cron_runs (enqueued_at);
