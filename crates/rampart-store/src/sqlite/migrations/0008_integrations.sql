-- Third-party connections apps report (PUT /v1/integrations/{platform}/
-- connections/{id}): one row per platform and connection id. Times are Unix
-- milliseconds; names compare bytewise (SQLite's BINARY collation).
CREATE TABLE integrations (
    platform         TEXT    NOT NULL,
    connection_id    TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    last_synced_at   INTEGER,
    last_error       TEXT,
    last_error_at    INTEGER,
    token_expires_at INTEGER,
    reported_by      TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (platform, connection_id)
) WITHOUT ROWID;

-- The most recent connections of each platform.
CREATE INDEX integrations_recent ON integrations (platform, updated_at);
-- Tokens about to expire, for the diagnostics and the alert; only rows that
-- have an expiry (`> 0`, the form the queries repeat).
CREATE INDEX integrations_token_expiry ON integrations (token_expires_at) WHERE token_expires_at > 0;
