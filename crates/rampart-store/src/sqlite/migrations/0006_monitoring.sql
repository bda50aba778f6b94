-- Running totals per queue, every node's together: each node adds what
-- changed once per monitoring interval (one upsert per queue, never one per
-- job), so a restart does not reset them. `day` is the UTC day (days since
-- the Unix epoch) that completed_today and dead_today count; run_ms is the
-- summed run time of the ended attempts. Times are Unix milliseconds.
CREATE TABLE queue_totals (
    queue           TEXT    PRIMARY KEY,
    attempts        INTEGER NOT NULL,
    completed       INTEGER NOT NULL,
    failed          INTEGER NOT NULL,
    retries         INTEGER NOT NULL,
    dead            INTEGER NOT NULL,
    stalled         INTEGER NOT NULL,
    timeouts        INTEGER NOT NULL,
    run_ms          INTEGER NOT NULL,
    day             INTEGER NOT NULL,
    completed_today INTEGER NOT NULL,
    dead_today      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) WITHOUT ROWID;
