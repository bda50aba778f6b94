-- The node registry: every node as it last reported itself, once per
-- monitoring interval, with its own clock and the database's at that
-- write (on SQLite one node, one clock: the same).
CREATE TABLE nodes (
    node       TEXT    PRIMARY KEY,
    started_at INTEGER NOT NULL,
    node_at    INTEGER NOT NULL,
    db_at      INTEGER NOT NULL
);
