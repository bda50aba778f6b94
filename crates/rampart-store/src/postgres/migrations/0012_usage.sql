-- AI usage and budgets (issue 18). Times are Unix milliseconds; money is
-- integer micro-dollars; names compare bytewise (COLLATE "C").

-- One row per reported model call, idempotent on the app's call id. Token
-- counts are normalised: the three input counts are disjoint.
CREATE TABLE usage_events (
    call_id             TEXT    COLLATE "C" PRIMARY KEY,
    at                  BIGINT  NOT NULL,
    model               TEXT    COLLATE "C" NOT NULL,
    provider            TEXT    COLLATE "C",
    feature             TEXT    COLLATE "C",
    tenant              TEXT    COLLATE "C",
    user_name           TEXT    COLLATE "C",
    input_tokens        BIGINT  NOT NULL,
    cached_input_tokens BIGINT  NOT NULL,
    cache_write_tokens  BIGINT  NOT NULL,
    output_tokens       BIGINT  NOT NULL,
    reasoning_tokens    BIGINT  NOT NULL,
    cost_micros         BIGINT  NOT NULL,
    price_version       TEXT,
    duration_ms         BIGINT  NOT NULL,
    success             BOOLEAN NOT NULL,
    reservation_id      TEXT    COLLATE "C"
);
CREATE INDEX usage_events_at ON usage_events (at);

-- Budgets defined through the API (configured ones live in the config).
CREATE TABLE budgets (
    name       TEXT   COLLATE "C" PRIMARY KEY,
    spec       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- What each budget counted per subject (a tenant, a user, … or '' for a
-- global budget) and period window key: settled spending and the holds of
-- unsettled reservations. `alerted` is the highest threshold (percent)
-- already notified in the window, so each is notified once per period.
CREATE TABLE budget_windows (
    budget          TEXT    COLLATE "C" NOT NULL,
    subject         TEXT    COLLATE "C" NOT NULL,
    period          TEXT    COLLATE "C" NOT NULL,
    spent_micros    BIGINT  NOT NULL DEFAULT 0,
    reserved_micros BIGINT  NOT NULL DEFAULT 0,
    alerted         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (budget, subject, period)
);

-- Reservations: an estimate held on every window in `holds` (JSON
-- [[budget, subject, period], …]) until settled by a usage report, or
-- expired and released.
CREATE TABLE budget_reservations (
    id               TEXT   COLLATE "C" PRIMARY KEY,
    amount_micros    BIGINT NOT NULL,
    holds            TEXT   NOT NULL,
    state            TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    settled_at       BIGINT,
    cost_micros      BIGINT,
    overshoot_micros BIGINT
);
CREATE INDEX budget_reservations_due ON budget_reservations (expires_at) WHERE state = 'held';
CREATE INDEX budget_reservations_created ON budget_reservations (created_at) WHERE state <> 'held';
