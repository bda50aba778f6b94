// The worker survives a server killed with SIGKILL mid-job and started
// again on the same data directory: the job completes once, and the poll
// loop comes back by itself.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { eventually, gate, startServer } from './harness.mjs';

test('a worker survives a server restart mid-job, and the job completes once', async (t) => {
  const server = await startServer(t);
  const rampart = server.client();
  const queue = rampart.queue('restart');
  const { id } = await queue.add({ step: 'during' });
  const release = gate();
  const runs = [];
  const errors = [];
  const worker = server.worker(
    rampart,
    'restart',
    async (job) => {
      runs.push(job.id);
      if (job.payload.step === 'during') await release.promise;
      return { step: job.payload.step };
    },
    { concurrency: 2, waitMs: 1_000 },
  );
  worker.on('error', (e) => errors.push(e));
  await eventually(() => runs.length === 1, { what: 'the handler to start' });

  // The handler finishes while the server is down: its ack is retried until it is back.
  await server.kill();
  release.open();
  await eventually(() => errors.some((e) => /\/v1\/acks/.test(e.message)), { what: 'a failed ack' });
  assert.equal(worker.health().pendingAcks, 1);
  await server.restart();

  const job = await rampart.jobs.waitForResult(id, { timeoutMs: 20_000 });
  assert.equal(job.state, 'completed');
  assert.deepEqual(job.result, { step: 'during' });
  assert.equal(job.attempt, 1);
  assert.equal(job.history.filter((e) => e.to === 'completed').length, 1);
  assert.ok(errors.length > 0, 'the outage was reported as error events');

  // The poll loop is back: a job enqueued after the restart is worked.
  const after = await queue.add({ step: 'after' });
  assert.equal((await rampart.jobs.waitForResult(after.id, { timeoutMs: 20_000 })).state, 'completed');
  assert.deepEqual(runs, [id, after.id], 'each job ran once');
  assert.equal(worker.health().ok, true);
  assert.equal(worker.health().lastError, null);
});
