-- Alerts, their silences and the outbox of their notifications. Times are
-- Unix milliseconds; `details` is JSON text the server writes and reads.
CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    rule             TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    value            REAL    NOT NULL,
    threshold        REAL    NOT NULL,
    details          TEXT    NOT NULL,
    started_at       INTEGER NOT NULL,
    last_notified_at INTEGER NOT NULL,
    resolved_at      INTEGER,
    acked_at         INTEGER,
    acked_by         TEXT
);
-- At most one firing alert per rule and subject: the claim of a firing
-- notice, so two nodes deciding to fire the same alert start it once.
CREATE UNIQUE INDEX alerts_firing ON alerts (rule, subject) WHERE state = 'firing';
CREATE INDEX alerts_state ON alerts (state, id);

-- Silences: while `ends_at` is ahead, matching alerts notify nobody. A
-- NULL rule or subject matches every rule or subject.
CREATE TABLE alert_silences (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    rule       TEXT,
    subject    TEXT,
    ends_at    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    reason     TEXT    NOT NULL
);

-- One row per notice and channel, written in the transaction that claimed
-- the notice; a delivery loop claims due rows, and a failed send comes back
-- at `next_attempt_at`. `done` is 1 once delivered or given up.
CREATE TABLE alert_notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id        INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    value           REAL    NOT NULL,
    details         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    done            INTEGER NOT NULL DEFAULT 0,
    delivered_at    INTEGER,
    failed_at       INTEGER,
    last_error      TEXT
);
CREATE INDEX alert_notifications_due ON alert_notifications (next_attempt_at, id) WHERE done = 0;
-- Dead jobs by the time they died, for the dead-letter rule.
CREATE INDEX jobs_dead_finished ON jobs (finished_at) WHERE state = 'dead';
