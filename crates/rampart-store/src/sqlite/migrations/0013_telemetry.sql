-- Cache telemetry and error events apps report (issue 18). Times are Unix
-- milliseconds.

-- Every cache that reported, with its latest snapshot (its size and
-- counters since it started; NULL until a report carries one).
CREATE TABLE cache_snapshots (
    name         TEXT    PRIMARY KEY,
    size         INTEGER,
    max_size     INTEGER,
    loads        INTEGER,
    hits         INTEGER,
    misses       INTEGER,
    avg_load_ms  REAL,
    memory_bytes INTEGER,
    reported_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- What each cache counted per interval (`bucket`: the interval's start),
-- every report of the interval added in.
CREATE TABLE cache_intervals (
    name            TEXT    NOT NULL,
    bucket          INTEGER NOT NULL,
    loads           INTEGER NOT NULL,
    hits            INTEGER NOT NULL,
    misses          INTEGER NOT NULL,
    evicted_lru     INTEGER NOT NULL,
    evicted_timeout INTEGER NOT NULL,
    evicted_manual  INTEGER NOT NULL,
    PRIMARY KEY (name, bucket)
) WITHOUT ROWID;
CREATE INDEX cache_intervals_bucket ON cache_intervals (bucket);

-- The latest evictions of each cache: each report trims its cache's to the
-- newest 1,000, retention drops older ones.
CREATE TABLE cache_evictions (
    id       INTEGER PRIMARY KEY,
    name     TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    key      TEXT,
    user_ref TEXT,
    reason   TEXT    NOT NULL,
    idle_ms  REAL
);
CREATE INDEX cache_evictions_name ON cache_evictions (name, id);
CREATE INDEX cache_evictions_at ON cache_evictions (at);

-- Error events, scrubbed before they arrive here.
CREATE TABLE error_events (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    level       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    tenant      TEXT,
    tags        TEXT    NOT NULL
);
CREATE INDEX error_events_at ON error_events (at);
CREATE INDEX error_events_kind ON error_events (kind, id);

-- Error events counted per kind, fingerprint and interval.
CREATE TABLE error_counts (
    kind        TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    bucket      INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (kind, fingerprint, bucket)
) WITHOUT ROWID;
CREATE INDEX error_counts_bucket ON error_counts (bucket);
