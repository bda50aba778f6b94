// The worker against a real server: retries to dead, a lease lost after
// expiry (a handler hogging the event loop), graceful close releasing what
// is left, never leasing more than free slots, listeners that throw, and
// the lease/heartbeat rule.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { spawn } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';

import { FatalError, LeaseLostError, Rampart, RampartError, Worker, WorkerClosingError } from '../dist/index.js';
import { eventually, gate, startServer } from './harness.mjs';

// Retries 100 ms apart instead of the default 1 s, so retries to dead take a moment.
const FAST_RETRIES = '[queue_defaults.backoff]\ninitial = "100ms"\njitter = 0.0\n';
/** Every expired lease counts its attempt (no stall is spared), for the tests of lost leases. */
const NO_STALLS = `[queue_defaults]\nmax_stalls = 0\n${FAST_RETRIES}`;

test('a failing job is retried with its attempts, then dead', async (t) => {
  const server = await startServer(t, { config: FAST_RETRIES });
  const rampart = server.client();
  const { id } = await rampart.queue('flaky').add({}, { maxAttempts: 3 });
  const attempts = [];
  const worker = server.worker(rampart, 'flaky', async (job) => {
    attempts.push(job.attempt);
    throw new Error(`upstream said no (attempt ${job.attempt})`);
  });
  const job = await rampart.jobs.waitForResult(id, { timeoutMs: 15_000 });
  assert.equal(job.state, 'dead');
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.deepEqual(
    job.errors.map((e) => [e.attempt, e.error]),
    [1, 2, 3].map((n) => [n, `upstream said no (attempt ${n})`]),
  );
});

test('a lease lost while the handler hogged the event loop: its result is dropped, the job is retried once', async (t) => {
  const server = await startServer(t, { config: NO_STALLS });
  const rampart = server.client();
  const { id } = await rampart.queue('hog').add({}, { maxAttempts: 2 });
  const lost = [];
  const warnings = [];
  const ran = [];
  const worker = server.worker(
    rampart,
    'hog',
    async (job) => {
      ran.push(job.attempt);
      if (job.attempt === 1) {
        // Blocks the event loop well past the 1 s lease (the reaper takes about a second more): no heartbeat can go out.
        const until = Date.now() + 4_000;
        while (Date.now() < until);
        return { attempt: 1 };
      }
      return { attempt: job.attempt };
    },
    { lease: '1s' },
  );
  worker.on('lost', (job) => lost.push(job.id));
  worker.on('warning', (message) => warnings.push(message));
  const job = await rampart.jobs.waitForResult(id, { timeoutMs: 15_000 });
  assert.equal(job.state, 'completed');
  assert.deepEqual(job.result, { attempt: 2 }, "the first attempt's result was dropped");
  assert.deepEqual(ran, [1, 2], 'each attempt ran once on this worker');
  assert.deepEqual(
    job.errors.map((e) => e.reason),
    ['lease_expired'],
  );
  await eventually(() => lost.length === 1, { what: 'the lost event' });
  assert.deepEqual(lost, [id]);
  assert.ok(
    warnings.some((w) => /event loop was blocked/.test(w)),
    `a lag warning, got ${warnings}`,
  );
});

test('close lets running handlers finish within the grace, then aborts and releases the rest', async (t) => {
  const server = await startServer(t);
  const rampart = server.client();
  const queue = rampart.queue('close');
  const quick = await queue.add({ kind: 'quick' });
  const slow = await queue.add({ kind: 'slow' });
  const release = gate();
  const aborted = [];
  const started = new Set();
  const worker = server.worker(
    rampart,
    'close',
    async (job) => {
      started.add(job.payload.kind);
      if (job.payload.kind === 'quick') {
        await release.promise;
        return { done: true };
      }
      // Works until the worker gives the job up.
      await new Promise((resolve) => job.signal.addEventListener('abort', resolve));
      aborted.push(job.signal.reason);
      return { done: 'too late' };
    },
    { concurrency: 2 },
  );
  await eventually(() => started.size === 2, { what: 'both handlers to start' });
  const closing = worker.close({ graceMs: 500 });
  release.open();
  await closing;

  const done = await rampart.jobs.get(quick.id);
  assert.equal(done.state, 'completed');
  assert.deepEqual(done.result, { done: true });
  const given = await rampart.jobs.get(slow.id);
  assert.equal(given.state, 'available', 'released, ready for another worker');
  assert.equal(given.attempt, 0, 'a release does not use an attempt');
  assert.ok(given.history.some((e) => e.reason === 'released'));
  assert.equal(aborted.length, 1);
  assert.ok(aborted[0] instanceof WorkerClosingError);

  // An idle worker's long-poll cut by close leases nothing behind its back.
  const idle = server.worker(rampart, 'idle', async () => 'ok');
  const seen = async () => (await (await fetch(`${server.url}/health/ready`)).json()).components.workers;
  await eventually(async () => (await seen()).seen_last_minute === 1, { what: 'the long-poll to reach the server' });
  await idle.close();
  const { id } = await rampart.queue('idle').add({});
  const next = server.worker(rampart, 'idle', async () => 'ok');
  const job = await rampart.jobs.waitForResult(id, { timeoutMs: 5_000 });
  assert.equal(job.attempt, 1);
});

test('the worker never leases more jobs than it has free slots', async (t) => {
  const server = await startServer(t);
  const rampart = server.client();
  const queue = rampart.queue('slots');
  await queue.addBulk(Array.from({ length: 6 }, (_, n) => ({ payload: { n } })));
  const release = gate();
  let running = 0;
  const worker = server.worker(
    rampart,
    'slots',
    async () => {
      running++;
      await release.promise;
    },
    { concurrency: 2 },
  );
  await eventually(() => running === 2, { what: 'two handlers running' });
  // A second worker proves the queue still has the other four to give.
  const other = [];
  const second = server.worker(rampart, 'slots', async (job) => void other.push(job.id));
  await eventually(() => other.length === 4, { what: 'the second worker to take the other four' });
  assert.equal(running, 2);
  release.open();
  await eventually(async () => (await queue.counts()).completed === 6, { what: 'every job completed' });
});

test('a listener that throws neither stops the worker nor loses jobs', async (t) => {
  const server = await startServer(t);
  const rampart = server.client();
  const queue = rampart.queue('listeners');
  const errors = [];
  const worker = server.worker(rampart, 'listeners', async (job) => job.payload, { concurrency: 3 });
  worker.on('completed', () => {
    throw new Error('a bug in the app');
  });
  worker.on('error', (e) => errors.push(e.message));
  const ids = await queue.addBulk([1, 2, 3, 4, 5].map((n) => ({ payload: n })));
  for (const id of ids) assert.equal((await rampart.jobs.waitForResult(id)).state, 'completed');
  await eventually(() => errors.length === 5, { what: "every listener's error reported" });
  assert.ok(errors.every((m) => m === 'a bug in the app'));
  assert.equal(worker.health().ok, true);
});

test('the lease must be at least three heartbeat intervals; FatalError and LeaseLostError are exported', () => {
  const client = { transport: { agent: { maxSockets: 1 } } };
  assert.throws(
    () => new Worker(client, 'q', async () => {}, { lease: '3s', heartbeatIntervalMs: 2_000, autorun: false }),
    RampartError,
  );
  assert.ok(new Worker(client, 'q', async () => {}, { lease: '3s', autorun: false }));
  assert.ok(new FatalError('x') instanceof RampartError);
  assert.ok(LeaseLostError.prototype instanceof RampartError);
});

test('the watchdog restarts a poll that hangs, and health() reports it', async (t) => {
  // A server that accepts connections and never answers.
  const sockets = [];
  const silent = createNetServer((socket) => sockets.push(socket));
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  t.after(() => {
    sockets.forEach((s) => s.destroy());
    silent.close();
  });
  const rampart = new Rampart({ url: `http://127.0.0.1:${silent.address().port}`, apiKey: 'k' });
  t.after(() => rampart.close());
  const errors = [];
  const worker = new Worker(rampart, 'hangs', async () => {}, { closeOnSignals: [], watchdogMs: 300 });
  worker.on('error', (e) => errors.push(e.message));
  await eventually(() => errors.some((m) => /no successful poll of hangs for 300 ms/.test(m)), {
    what: 'the watchdog',
  });
  const health = worker.health();
  assert.equal(health.ok, false);
  assert.equal(health.lastPollAt, null);
  await eventually(() => sockets.length >= 2, { what: 'the poll to be made again on a new connection' });
  await worker.close({ graceMs: 0 });
});

test('SIGTERM closes every worker gracefully: running jobs complete, then the process exits', async (t) => {
  const server = await startServer(t);
  const rampart = server.client();
  const quick = await rampart.queue('term').add({ ms: 200 });
  const slow = await rampart.queue('term-slow').add({ ms: 800 });
  const script = `
    import { Rampart, Worker } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
    const rampart = new Rampart({ url: process.argv[1], apiKey: process.argv[2] });
    const handler = async (job) => {
      console.log('started');
      await new Promise((r) => setTimeout(r, job.payload.ms));
      return { finished: job.payload.ms };
    };
    new Worker(rampart, 'term', handler);
    new Worker(rampart, 'term-slow', handler);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, server.url, server.key], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let out = '';
  await new Promise((resolve) => child.stdout.on('data', (d) => (out += d).split('started').length === 3 && resolve()));
  child.kill('SIGTERM');
  assert.deepEqual(await exited, { code: null, signal: 'SIGTERM' });
  for (const [{ id }, ms] of [
    [quick, 200],
    [slow, 800],
  ]) {
    const job = await rampart.jobs.get(id);
    assert.equal(job.state, 'completed');
    assert.deepEqual(job.result, { finished: ms });
  }
});

test('a four-step job whose third step fails twice runs steps one and two once', async (t) => {
  const server = await startServer(t, { config: FAST_RETRIES });
  const rampart = server.client();
  const { id } = await rampart.queue('photos').add({ album: 7 }, { maxAttempts: 5 });
  const runs = [0, 0, 0, 0];
  server.worker(rampart, 'photos', async (job) => {
    const labels = await job.step.run('analyze photos', () => (runs[0]++, ['cat']));
    const scope = await job.step.run('generate scope', () => (runs[1]++, `${labels.length} labels`));
    const saved = await job.step.run('save', () => {
      runs[2]++;
      if (runs[2] <= 2) throw new Error('the database is away');
      return 42;
    });
    const score = await job.step.run('update score', () => (runs[3]++, 0.9));
    return { scope, saved, score, key: job.step.idempotencyKey('save') };
  });
  const job = await rampart.jobs.waitForResult(id, { timeoutMs: 20_000 });
  assert.equal(job.state, 'completed');
  assert.deepEqual(runs, [1, 1, 3, 1]);
  assert.deepEqual(job.result, { scope: '1 labels', saved: 42, score: 0.9, key: `${id}:save:1` });
  assert.deepEqual(
    job.steps.map((s) => s.name),
    ['analyze photos', 'generate scope', 'save', 'update score'],
  );
});

test('a handler sleeps and waits for an event, then resumes with its payload', async (t) => {
  const server = await startServer(t);
  const rampart = server.client();
  const { id } = await rampart.queue('orders').add({});
  let charged = 0;
  server.worker(rampart, 'orders', async (job) => {
    await job.step.run('charge', () => (charged++, null));
    await job.step.sleep('cool down', '1s');
    return await job.step.waitForEvent('shipped', {
      event: 'order.shipped',
      match: { path: 'order', value: 'o-1' },
      timeout: '1h',
    });
  });
  await eventually(async () => (await rampart.jobs.get(id)).state === 'waiting', {
    what: 'the job waiting for its event',
  });
  await rampart.request('POST', '/v1/events/{name}', {
    params: ['order.shipped'],
    body: { payload: { order: 'o-1' } },
  });
  const job = await rampart.jobs.waitForResult(id, { timeoutMs: 20_000 });
  assert.equal(job.state, 'completed');
  assert.deepEqual(job.result, { order: 'o-1' });
  assert.equal(charged, 1);
  assert.equal(job.attempt, 1);
});
