-- Queue start rates (issue 20): one window per queue, rate key and group.

-- A group's current window: it opened at `window_start` with the first
-- lease after the previous one ended and has given out `started` leases.
-- `rate_key` is '' for a rate over the whole queue (`grp` '' too) or the
-- key's name (`tenant`: `grp` is the tenant, '' for jobs without one).
-- A lease deletes its queue's ended windows before it counts, so the table
-- holds about one row per group that started a job within a window.
CREATE TABLE queue_rates (
    queue TEXT COLLATE "C" NOT NULL,
    rate_key TEXT COLLATE "C" NOT NULL,
    grp TEXT COLLATE "C" NOT NULL,
    window_start BIGINT NOT NULL,
    started BIGINT NOT NULL,
    PRIMARY KEY (queue, rate_key, grp)
);
