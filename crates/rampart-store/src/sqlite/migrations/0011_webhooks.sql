-- Webhook intake (issue 17). Times are Unix milliseconds.

-- Sources defined through the API (configured ones live in the config):
-- the spec's JSON, secrets included, as the server validated it.
CREATE TABLE webhook_sources (
    name       TEXT    PRIMARY KEY,
    spec       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per request to /in/{source}. A verified event's row follows its
-- job through a join when read (no write on the job's path); `status` is
-- what it was at insert (pending, duplicate, rejected) until settled from
-- the job before the job is pruned. Duplicates and rejections keep no body.
-- Ids grow with arrival and retention deletes the oldest first, so none is
-- reused: no AUTOINCREMENT bookkeeping on the hot path.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    source          TEXT    NOT NULL,
    tenant          TEXT,
    event_type      TEXT,
    event_id        TEXT,
    received_at     INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    reason          TEXT,
    duplicate_of    INTEGER,
    job_id          INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER,
    completed_at    INTEGER,
    last_error      TEXT,
    headers         TEXT    NOT NULL,
    body            BLOB,
    body_size       INTEGER NOT NULL,
    body_sha256     TEXT    NOT NULL
);
CREATE INDEX webhook_deliveries_source ON webhook_deliveries (source, id);
CREATE INDEX webhook_deliveries_tenant ON webhook_deliveries (tenant, id) WHERE tenant > '';
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);
CREATE INDEX webhook_deliveries_body ON webhook_deliveries (received_at) WHERE body IS NOT NULL;
CREATE INDEX webhook_deliveries_unsettled ON webhook_deliveries (id) WHERE status = 'pending';

-- The event ids taken per source, each until it expires (its source's
-- dedupe window after it arrived): a second delivery before then is a
-- duplicate, one after it is taken again (by design).
CREATE TABLE webhook_events (
    source      TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    delivery_id INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (source, event_id)
) WITHOUT ROWID;
CREATE INDEX webhook_events_expiry ON webhook_events (expires_at);

-- Idempotency-Key of POST /v1/queues/{queue}/jobs: the job a key made,
-- until it expires.
CREATE TABLE enqueue_keys (
    queue      TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    job_ids    TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue, key)
) WITHOUT ROWID;
CREATE INDEX enqueue_keys_expiry ON enqueue_keys (expires_at);
