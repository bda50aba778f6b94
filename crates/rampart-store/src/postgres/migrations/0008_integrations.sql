-- Third-party connections apps report (PUT /v1/integrations/{platform}/
-- connections/{id}): one row per platform and connection id. Times are Unix
-- milliseconds; names compare bytewise (COLLATE "C"), as queue names do.
CREATE TABLE integrations (
    platform         TEXT    COLLATE "C" NOT NULL,
    connection_id    TEXT    COLLATE "C" NOT NULL,
    status           TEXT    NOT NULL,
    last_synced_at   BIGINT,
    last_error       TEXT,
    last_error_at    BIGINT,
    token_expires_at BIGINT,
    reported_by      TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    PRIMARY KEY (platform, connection_id)
);

-- The most recent connections of each platform.
CREATE INDEX integrations_recent ON integrations (platform, updated_at);
-- Tokens about to expire, for the diagnostics and the alert; only rows that
-- have an expiry.
CREATE INDEX integrations_token_expiry ON integrations (token_expires_at) WHERE token_expires_at > 0;
