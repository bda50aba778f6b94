// Queues and jobs against a real server: enqueue, work, complete; bulk;
// unique keys; history; cancel and retry; dead letters; pause and resume;
// errors carrying code, status and request id.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BadRequestError, ConflictError, FatalError, NotFoundError, TimeoutError } from '../dist/index.js';
import { eventually, startServer } from './harness.mjs';

test('enqueue, work and complete: the result and the history are kept', async (t) => {
  const server = await startServer(t);
  const rampart = server.client();
  const queue = rampart.queue('email-send');
  const added = await queue.add({ to: 'a@b.c' }, { maxAttempts: 2, timeout: '30s', priority: 3 });
  assert.equal(added.state, 'available');
  assert.equal(added.duplicate, false);

  const completed = [];
  const worker = server.worker(rampart, 'email-send', async (job) => ({ sent: job.payload.to, attempt: job.attempt }), {
    concurrency: 4,
    closeOnSignals: [],
  });
  worker.on('completed', (job, result) => completed.push([job.id, result]));
  const job = await rampart.jobs.waitForResult(added.id, { timeoutMs: 10_000 });
  assert.equal(job.state, 'completed');
  assert.deepEqual(job.result, { sent: 'a@b.c', attempt: 1 });
  assert.equal(job.priority, 3);
  assert.equal(job.max_attempts, 2);
  assert.deepEqual(
    job.history.map((e) => e.to),
    ['available', 'active', 'completed'],
  );
  await eventually(() => completed.length === 1, { what: 'the completed event' });
  assert.deepEqual(completed[0], [added.id, { sent: 'a@b.c', attempt: 1 }]);
  assert.equal(worker.health().ok, true);
  assert.ok(worker.health().lastPollAt instanceof Date);
  await worker.close();
  assert.equal(worker.health().running, false);
});

test('a tenant goes with its job to the worker and listings; progress is kept on the job', async (t) => {
  const server = await startServer(t);
  const rampart = server.client();
  const queue = rampart.queue('sync');
  const acme = await queue.add({ n: 1 }, { tenant: 'acme' });
  const [globex] = await queue.addBulk([{ payload: { n: 2 }, tenant: 'globex' }]);
  const seen = [];
  const worker = server.worker(rampart, 'sync', async (job) => {
    seen.push([job.id, job.tenant]);
    await job.updateProgress({ done: job.payload.n });
    return null;
  });
  const done = await rampart.jobs.waitForResult(acme.id, { timeoutMs: 10_000 });
  await rampart.jobs.waitForResult(globex, { timeoutMs: 10_000 });
  await worker.close();
  assert.equal(done.tenant, 'acme');
  assert.deepEqual(done.progress, { done: 1 });
  assert.deepEqual(seen.sort(), [
    [acme.id, 'acme'],
    [globex, 'globex'],
  ]);
  const page = await queue.jobs({ tenant: 'globex' });
  assert.deepEqual(
    page.jobs.map((j) => j.id),
    [globex],
  );
});

test('addBulk, unique keys, delays, cancel and retry', async (t) => {
  const server = await startServer(t);
  const queue = server.client().queue('reports');
  const ids = await queue.addBulk([{ payload: { n: 1 } }, { payload: { n: 2 }, delay: '1h' }, { payload: { n: 3 } }]);
  assert.equal(ids.length, 3);
  const counts = await queue.counts();
  assert.equal(counts.available, 2);
  assert.equal(counts.scheduled, 1);

  const first = await queue.add({ n: 4 }, { uniqueKey: 'daily-2026-12-07' });
  const again = await queue.add({ n: 5 }, { uniqueKey: 'daily-2026-12-07' });
  assert.equal(again.id, first.id);
  assert.equal(again.duplicate, true);

  const cancelled = await queue.getJob(ids[1]).then((j) => server.client().jobs.cancel(j.id));
  assert.equal(cancelled.state, 'cancelled');
  const retried = await server.client().jobs.retry(ids[1]);
  assert.equal(retried.state, 'available');

  // An admin gives a held lease back, or fails the attempt, without its token.
  const stuck = server.client().queue('stuck');
  const held = await stuck.add({ n: 7 }, { maxAttempts: 1 });
  const lease = async () => {
    const answer = await server
      .client()
      .request('POST', '/v1/queues/{queue}/lease', { params: [stuck.name], body: { max: 1, worker: 'hung' } });
    assert.deepEqual(
      answer.body.jobs.map((j) => j.id),
      [held.id],
    );
  };
  await lease();
  assert.equal((await server.client().jobs.releaseLease(held.id)).state, 'available');
  assert.equal((await server.client().jobs.get(held.id)).attempt, 0, 'the released attempt is not counted');
  await lease();
  assert.equal((await server.client().jobs.failNow(held.id, 'stuck on a hung worker')).state, 'dead');
  const dead = await server.client().jobs.get(held.id);
  assert.match(dead.errors.at(-1).error, /stuck on a hung worker/);
  const runAt = new Date(Date.now() + 3_600_000);
  const later = await queue.add({ n: 6 }, { runAt });
  assert.equal(later.state, 'scheduled');
  const page = await queue.jobs({ state: 'scheduled' });
  assert.deepEqual(
    page.jobs.map((j) => j.id),
    [later.id],
  );
});

test('dead letters: list, retry, purge; pause and resume', async (t) => {
  const server = await startServer(t);
  const rampart = server.client();
  const queue = rampart.queue('imports');
  const { id } = await queue.add({ file: 'x.csv' });
  const failed = [];
  const worker = server.worker(rampart, 'imports', async () => {
    throw new FatalError('x.csv is not a CSV file');
  });
  worker.on('failed', (job, error, state) => failed.push([job.id, error.message, state]));
  const dead = await rampart.jobs.waitForResult(id, { timeoutMs: 10_000 });
  assert.equal(dead.state, 'dead');
  assert.equal(dead.attempt, 1, 'a FatalError is not retried');
  assert.match(dead.last_error, /FatalError: x.csv is not a CSV file/);
  await eventually(() => failed.length === 1, { what: 'the failed event' });
  assert.deepEqual(failed[0], [id, 'x.csv is not a CSV file', 'dead']);
  await worker.close();

  assert.deepEqual(
    (await queue.dead()).jobs.map((j) => j.id),
    [id],
  );
  assert.equal(await queue.retryDead(), 1);
  assert.equal((await rampart.jobs.get(id)).state, 'available');

  await queue.pause();
  assert.equal((await queue.info()).paused, true);
  await queue.resume();
  assert.equal((await queue.info()).paused, false);

  await rampart.jobs.cancel(id);
  assert.equal((await queue.dead()).jobs.length, 0);
  assert.equal(await queue.purgeDead(), 0);

  // Every job finished: the queue goes, with them.
  assert.equal(await queue.delete(), 1);
  await assert.rejects(queue.info(), (e) => e instanceof NotFoundError && e.code === 'QUEUE_NOT_FOUND');
});

test('a queue holding unfinished jobs is not deleted', async (t) => {
  const server = await startServer(t);
  const queue = server.client().queue('busy');
  await queue.add({});
  await assert.rejects(queue.delete(), (e) => {
    assert.ok(e instanceof ConflictError);
    assert.equal(e.code, 'QUEUE_NOT_EMPTY');
    assert.match(e.message, /1 available/);
    return true;
  });
  assert.equal((await queue.counts()).available, 1);
});

test('errors carry the code, the status and the request id', async (t) => {
  const server = await startServer(t);
  const rampart = server.client();
  await assert.rejects(rampart.jobs.get('999999'), (e) => {
    assert.ok(e instanceof NotFoundError);
    assert.equal(e.status, 404);
    assert.equal(e.code, 'JOB_NOT_FOUND');
    assert.ok(e.requestId, 'the x-request-id of the answer');
    return true;
  });
  await assert.rejects(rampart.queue('q').add({}, { delay: 'soon' }), (e) => {
    assert.ok(e instanceof BadRequestError);
    assert.equal(e.code, 'INVALID_REQUEST');
    assert.match(e.message, /delay/);
    return true;
  });
  const { id } = await rampart.queue('q').add({}, { delay: '1h' });
  await assert.rejects(rampart.jobs.waitForResult(id, { timeoutMs: 200 }), TimeoutError);
});
