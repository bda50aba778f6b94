-- The signing secret of each push queue whose configuration gives none:
-- made once by the first node that needs it and kept, so every node and
-- every restart signs with the same key.
CREATE TABLE push_secrets (
    queue      TEXT    PRIMARY KEY,
    secret     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
