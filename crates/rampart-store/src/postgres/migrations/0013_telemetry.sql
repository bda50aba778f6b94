-- Cache telemetry and error events apps report (issue 18). Times are Unix
-- milliseconds; names compare bytewise (COLLATE "C").

-- Every cache that reported, with its latest snapshot (its size and
-- counters since it started; NULL until a report carries one).
CREATE TABLE cache_snapshots (
    name         TEXT    COLLATE "C" PRIMARY KEY,
    size         BIGINT,
    max_size     BIGINT,
    loads        BIGINT,
    hits         BIGINT,
    misses       BIGINT,
    avg_load_ms  DOUBLE PRECISION,
    memory_bytes BIGINT,
    reported_at  BIGINT  NOT NULL
);

-- What each cache counted per interval (`bucket`: the interval's start),
-- every report of the interval added in.
CREATE TABLE cache_intervals (
    name            TEXT    COLLATE "C" NOT NULL,
    bucket          BIGINT  NOT NULL,
    loads           BIGINT  NOT NULL,
    hits            BIGINT  NOT NULL,
    misses          BIGINT  NOT NULL,
    evicted_lru     BIGINT  NOT NULL,
    evicted_timeout BIGINT  NOT NULL,
    evicted_manual  BIGINT  NOT NULL,
    PRIMARY KEY (name, bucket)
);
CREATE INDEX cache_intervals_bucket ON cache_intervals (bucket);

-- The latest evictions of each cache: each report trims its cache's to the
-- newest 1,000, retention drops older ones.
CREATE TABLE cache_evictions (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name     TEXT    COLLATE "C" NOT NULL,
    at       BIGINT  NOT NULL,
    key      TEXT,
    user_ref TEXT,
    reason   TEXT    NOT NULL,
    idle_ms  DOUBLE PRECISION
);
CREATE INDEX cache_evictions_name ON cache_evictions (name, id);
CREATE INDEX cache_evictions_at ON cache_evictions (at);

-- Error events, scrubbed before they arrive here.
CREATE TABLE error_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT  NOT NULL,
    level       TEXT    NOT NULL,
    kind        TEXT    COLLATE "C" NOT NULL,
    message     TEXT    NOT NULL,
    fingerprint TEXT    COLLATE "C" NOT NULL,
    tenant      TEXT,
    tags        TEXT    NOT NULL
);
CREATE INDEX error_events_at ON error_events (at);
CREATE INDEX error_events_kind ON error_events (kind, id);

-- Error events counted per kind, fingerprint and interval.
CREATE TABLE error_counts (
    kind        TEXT    COLLATE "C" NOT NULL,
    fingerprint TEXT    COLLATE "C" NOT NULL,
    bucket      BIGINT  NOT NULL,
    count       BIGINT  NOT NULL,
    PRIMARY KEY (kind, fingerprint, bucket)
);
CREATE INDEX error_counts_bucket ON error_counts (bucket);
