-- Alerts, their silences and the outbox of their notifications, shared by
-- every node. Times are Unix milliseconds; `details` is JSON text the
-- server writes and reads.
CREATE TABLE alerts (
    id               BIGSERIAL        PRIMARY KEY,
    rule             TEXT             COLLATE "C" NOT NULL,
    subject          TEXT             COLLATE "C" NOT NULL,
    state            TEXT             NOT NULL,
    value            DOUBLE PRECISION NOT NULL,
    threshold        DOUBLE PRECISION NOT NULL,
    details          TEXT             NOT NULL,
    started_at       BIGINT           NOT NULL,
    last_notified_at BIGINT           NOT NULL,
    resolved_at      BIGINT,
    acked_at         BIGINT,
    acked_by         TEXT
);
-- At most one firing alert per rule and subject: the claim of a firing
-- notice, so two nodes deciding to fire the same alert start it once.
CREATE UNIQUE INDEX alerts_firing ON alerts (rule, subject) WHERE state = 'firing';
CREATE INDEX alerts_state ON alerts (state, id);

-- Silences: while `ends_at` is ahead, matching alerts notify nobody. A
-- NULL rule or subject matches every rule or subject.
CREATE TABLE alert_silences (
    id         BIGSERIAL PRIMARY KEY,
    rule       TEXT,
    subject    TEXT COLLATE "C",
    ends_at    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT   NOT NULL,
    reason     TEXT   NOT NULL
);

-- One row per notice and channel, written in the transaction that claimed
-- the notice; every node's delivery loop claims due rows (SKIP LOCKED), and
-- a failed send comes back at `next_attempt_at`.
CREATE TABLE alert_notifications (
    id              BIGSERIAL        PRIMARY KEY,
    alert_id        BIGINT           NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    kind            TEXT             NOT NULL,
    channel         TEXT             NOT NULL,
    value           DOUBLE PRECISION NOT NULL,
    details         TEXT             NOT NULL,
    created_at      BIGINT           NOT NULL,
    attempts        INTEGER          NOT NULL DEFAULT 0,
    next_attempt_at BIGINT           NOT NULL,
    done            BOOLEAN          NOT NULL DEFAULT false,
    delivered_at    BIGINT,
    failed_at       BIGINT,
    last_error      TEXT
);
CREATE INDEX alert_notifications_due ON alert_notifications (next_attempt_at, id) WHERE NOT done;
-- Dead jobs by the time they died, for the dead-letter rule.
CREATE INDEX jobs_dead_finished ON jobs (finished_at) WHERE state = 'dead';
