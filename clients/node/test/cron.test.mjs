// Cron schedules through the client: create, list, trigger, pause, resume,
// runs and delete.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BadRequestError, NotFoundError } from '../dist/index.js';
import { startServer } from './harness.mjs';

test('cron schedules: create, list, trigger, pause, resume, runs, delete', async (t) => {
  const server = await startServer(t);
  const rampart = server.client();
  const created = await rampart.cron.create('nightly-report', {
    schedule: '0 3 * * *',
    queue: 'reports',
    payload: { kind: 'nightly' },
    timezone: 'Europe/Paris',
    description: 'the nightly report',
  });
  assert.equal(created.source, 'api');
  assert.equal(created.timezone, 'Europe/Paris');
  assert.ok(created.next_run_at);

  const names = (await rampart.cron.list()).map((c) => c.name);
  assert.ok(names.includes('nightly-report') && names.includes('rampart.retention'), `${names}`);

  const run = await rampart.cron.trigger('nightly-report');
  assert.equal(run.trigger, 'manual');
  const job = await rampart.jobs.get(run.job_id);
  assert.equal(job.queue, 'reports');
  assert.deepEqual(job.payload, { kind: 'nightly' });

  assert.equal((await rampart.cron.pause('nightly-report')).paused, true);
  assert.equal((await rampart.cron.get('nightly-report')).paused, true);
  assert.equal((await rampart.cron.resume('nightly-report')).paused, false);

  const runs = await rampart.cron.runs('nightly-report', { limit: 10 });
  assert.deepEqual(
    runs.runs.map((r) => r.job_id),
    [run.job_id],
  );

  await assert.rejects(rampart.cron.create('bad', { schedule: 'every day', queue: 'q' }), BadRequestError);
  await rampart.cron.delete('nightly-report');
  await assert.rejects(rampart.cron.get('nightly-report'), NotFoundError);
});
