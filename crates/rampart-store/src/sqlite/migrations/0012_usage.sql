-- AI usage and budgets (issue 18). Times are Unix milliseconds; money is
-- integer micro-dollars.

-- One row per reported model call, idempotent on the app's call id. Token
-- counts are normalised: the three input counts are disjoint.
CREATE TABLE usage_events (
    call_id             TEXT    PRIMARY KEY,
    at                  INTEGER NOT NULL,
    model               TEXT    NOT NULL,
    provider            TEXT,
    feature             TEXT,
    tenant              TEXT,
    user_name           TEXT,
    input_tokens        INTEGER NOT NULL,
    cached_input_tokens INTEGER NOT NULL,
    cache_write_tokens  INTEGER NOT NULL,
    output_tokens       INTEGER NOT NULL,
    reasoning_tokens    INTEGER NOT NULL,
    cost_micros         INTEGER NOT NULL,
    price_version       TEXT,
    duration_ms         INTEGER NOT NULL,
    success             INTEGER NOT NULL,
    reservation_id      TEXT
) WITHOUT ROWID;
CREATE INDEX usage_events_at ON usage_events (at);

-- Budgets defined through the API (configured ones live in the config).
CREATE TABLE budgets (
    name       TEXT    PRIMARY KEY,
    spec       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- What each budget counted per subject (a tenant, a user, … or '' for a
-- global budget) and period window key: settled spending and the holds of
-- unsettled reservations. `alerted` is the highest threshold (percent)
-- already notified in the window, so each is notified once per period.
CREATE TABLE budget_windows (
    budget          TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    period          TEXT    NOT NULL,
    spent_micros    INTEGER NOT NULL DEFAULT 0,
    reserved_micros INTEGER NOT NULL DEFAULT 0,
    alerted         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (budget, subject, period)
) WITHOUT ROWID;

-- Reservations: an estimate held on every window in `holds` (JSON
-- [[budget, subject, period], …]) until settled by a usage report, or
-- expired and released.
CREATE TABLE budget_reservations (
    id               TEXT    PRIMARY KEY,
    amount_micros    INTEGER NOT NULL,
    holds            TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    settled_at       INTEGER,
    cost_micros      INTEGER,
    overshoot_micros INTEGER
) WITHOUT ROWID;
CREATE INDEX budget_reservations_due ON budget_reservations (expires_at) WHERE state = 'held';
CREATE INDEX budget_reservations_created ON budget_reservations (created_at) WHERE state <> 'held';
