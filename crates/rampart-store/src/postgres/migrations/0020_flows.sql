-- Parent/child flows (issue 21).

-- A child names its parent; a parent (a job enqueued with `children`,
-- possibly none) counts its direct children not yet ended in
-- `pending_children` (NULL for a job that is no parent), says what a dead,
-- cancelled or purged child does to it in `on_child_dead` ('fail' or
-- 'ignore') and may have to see its children done by `flow_timeout_at`.
-- Every terminal transition of a child updates its parent in the same
-- transaction; the promoter sweeps `flow_timeout_at` of waiting parents.
ALTER TABLE jobs ADD COLUMN parent_id BIGINT;
ALTER TABLE jobs ADD COLUMN pending_children INTEGER;
ALTER TABLE jobs ADD COLUMN on_child_dead TEXT;
ALTER TABLE jobs ADD COLUMN flow_timeout_at BIGINT;

CREATE INDEX jobs_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX jobs_flow_timeout ON jobs (flow_timeout_at) WHERE state = 'waiting' AND flow_timeout_at IS NOT NULL;
