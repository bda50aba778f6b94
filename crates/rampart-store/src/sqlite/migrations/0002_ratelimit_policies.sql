-- Rate-limit policies defined through the API. The spec is JSON text the
-- server validates and the store keeps byte for byte; times are Unix
-- milliseconds. Names compare bytewise (SQLite's BINARY collation).
CREATE TABLE ratelimit_policies (
    name       TEXT    PRIMARY KEY,
    spec       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- One row, bumped in the transaction of every put and delete of a policy:
-- a node polls it and reloads the policies only when it changed.
CREATE TABLE ratelimit_policy_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
);
INSERT INTO ratelimit_policy_revision (id, revision) VALUES (1, 0);
