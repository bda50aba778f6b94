-- The dashboard's audit log: every action taken from it, who, what and
-- when. Only appended to; read newest first by id. Times are Unix
-- milliseconds.
CREATE TABLE ui_audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    detail TEXT    NOT NULL
);
