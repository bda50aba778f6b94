-- Readiness's probe of whether the database takes writes after one was
-- refused (a full disk, a read-only file): a row of a few pages written and
-- deleted again in one transaction, so the table stays empty and the file
-- does not grow (the pages are reused by the next probe).
CREATE TABLE write_probes (
    node   TEXT    NOT NULL,
    at     INTEGER NOT NULL,
    filler BLOB    NOT NULL
);
