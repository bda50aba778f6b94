-- The node registry: every node as it last reported itself, once per
-- monitoring interval, with its own clock and the database's at that
-- write, so the doctor can tell a node gone quiet and a clock that drifts.
CREATE TABLE nodes (
    node       TEXT   PRIMARY KEY,
    started_at BIGINT NOT NULL,
    node_at    BIGINT NOT NULL,
    db_at      BIGINT NOT NULL
);
