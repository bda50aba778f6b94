// Flows against a real server: a parent enqueued with children runs after
// them with their results in `job.children`; a dead child under `ignore`
// shows its error there.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { startServer } from './harness.mjs';

test('a parent runs after its children with their results', async (t) => {
  const server = await startServer(t);
  const rampart = server.client();
  const parent = await rampart.queue('report').add(
    { report: 1 },
    {
      children: [1, 2, 3].map((n) => ({ queue: 'shard', payload: { n } })),
      childrenTimeout: '1h',
    },
  );
  assert.equal(parent.state, 'waiting');
  assert.equal(parent.children.length, 3);
  server.worker(rampart, 'shard', async (job) => ({ doubled: job.payload.n * 2 }));
  let seen = null;
  server.worker(rampart, 'report', async (job) => {
    seen = job.children;
    return { total: job.children.reduce((sum, c) => sum + c.result.doubled, 0) };
  });
  const done = await rampart.jobs.waitForResult(parent.id, { timeoutMs: 15_000 });
  assert.equal(done.state, 'completed');
  assert.deepEqual(done.result, { total: 12 });
  assert.deepEqual(
    seen.map((c) => [c.queue, c.state]),
    [1, 2, 3].map(() => ['shard', 'completed']),
  );
  const shown = await rampart.jobs.get(parent.children[0].id);
  assert.equal(shown.parent_id, parent.id);
});

test('under ignore a dead child hands its error to the parent', async (t) => {
  const server = await startServer(t);
  const rampart = server.client();
  const parent = await rampart
    .queue('report')
    .add({}, { onChildDead: 'ignore', children: [{ queue: 'broken', payload: {}, maxAttempts: 1 }] });
  server.worker(rampart, 'broken', async () => {
    throw new Error('shard broke');
  });
  let seen = null;
  server.worker(rampart, 'report', async (job) => {
    seen = job.children;
    return {};
  });
  await rampart.jobs.waitForResult(parent.id, { timeoutMs: 15_000 });
  assert.equal(seen[0].state, 'dead');
  assert.equal(seen[0].error, 'shard broke');
});
