-- Readiness's probe of whether the database takes writes after one was
-- refused (a full disk, a standby): a row of a few pages (random bytes, so
-- TOAST cannot compress them away) written and deleted again in one
-- transaction by one node, so the table stays empty.
CREATE TABLE write_probes (
    node   TEXT   NOT NULL,
    at     BIGINT NOT NULL,
    filler BYTEA  NOT NULL
);
