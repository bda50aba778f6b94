-- Running totals per queue, every node's together: each node adds what
-- changed once per monitoring interval (one upsert per queue, never one per
-- job), so a restart does not reset them. `day` is the UTC day (days since
-- the Unix epoch) that completed_today and dead_today count; run_ms is the
-- summed run time of the ended attempts. Times are Unix milliseconds.
CREATE TABLE queue_totals (
    queue           TEXT    COLLATE "C" PRIMARY KEY,
    attempts        BIGINT  NOT NULL,
    completed       BIGINT  NOT NULL,
    failed          BIGINT  NOT NULL,
    retries         BIGINT  NOT NULL,
    dead            BIGINT  NOT NULL,
    stalled         BIGINT  NOT NULL,
    timeouts        BIGINT  NOT NULL,
    run_ms          BIGINT  NOT NULL,
    day             BIGINT  NOT NULL,
    completed_today BIGINT  NOT NULL,
    dead_today      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
