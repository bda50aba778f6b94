-- Queue start rates (issue 20): one window per queue, rate key and group.

-- A group's current window: it opened at `window_start` with the first
-- lease after the previous one ended and has given out `started` leases.
-- `rate_key` is '' for a rate over the whole queue (`grp` '' too) or the
-- key's name (`tenant`: `grp` is the tenant, '' for jobs without one).
-- A lease deletes its queue's ended windows before it counts, so the table
-- holds about one row per group that started a job within a window.
CREATE TABLE queue_rates (
    queue TEXT NOT NULL,
    rate_key TEXT NOT NULL,
    grp TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    started INTEGER NOT NULL,
    PRIMARY KEY (queue, rate_key, grp)
) WITHOUT ROWID;
