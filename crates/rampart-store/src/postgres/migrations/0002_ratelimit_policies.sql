-- Rate-limit policies defined through the API, shared by every node. The
-- spec is JSON text the server validates and the store keeps byte for byte;
-- times are Unix milliseconds. Names compare bytewise (COLLATE "C"), as
-- queue names do.
CREATE TABLE ratelimit_policies (
    name       TEXT   COLLATE "C" PRIMARY KEY,
    spec       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row, bumped in the transaction of every put and delete of a policy:
-- each node polls it and reloads the policies only when it changed. Its row
-- lock also orders concurrent puts and deletes, so the number never repeats.
CREATE TABLE ratelimit_policy_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT  NOT NULL
);
INSERT INTO ratelimit_policy_revision (id, revision) VALUES (1, 0);
