// A bounded soak: RAMPART_SOAK_S seconds (default 60) of enqueueing and
// working against a real server, with the heap measured after a full GC
// every few seconds: after warm-up it must stay flat, and the pool must
// stay within its size. Every job enqueued completes exactly once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';

import { eventually, startServer } from './harness.mjs';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const SECONDS = Number(process.env.RAMPART_SOAK_S ?? 60);
/** Heap growth allowed between the first and the last third of the run, after warm-up. */
const MAX_GROWTH_MB = 8;

function heapMb() {
  gc();
  return process.memoryUsage().heapUsed / 1e6;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test(
  `a ${SECONDS}s soak of enqueue and work keeps memory flat and completes every job once`,
  { timeout: (SECONDS + 120) * 1000 },
  async (t) => {
    const server = await startServer(t);
    const rampart = server.client();
    const queue = rampart.queue('soak');
    // Counters only: a per-job record would be the test's own growing heap.
    let runs = 0;
    let failures = 0;
    const worker = server.worker(
      rampart,
      'soak',
      async (job) => {
        runs++;
        // A little real work: some jobs wait, some fail once.
        if (job.payload.n % 10 === 0) await new Promise((r) => setTimeout(r, 5));
        if (job.payload.n % 97 === 0 && job.attempt === 1) {
          failures++;
          throw new Error('a transient failure');
        }
        return { n: job.payload.n };
      },
      { concurrency: 20 },
    );
    const errors = [];
    worker.on('error', (e) => errors.push(e));

    const samples = [];
    const started = Date.now();
    const end = started + SECONDS * 1000;
    let enqueued = 0;
    let nextSample = started;
    while (Date.now() < end) {
      const backlog = enqueued - runs;
      if (backlog < 2_000) {
        const ids = await queue.addBulk(Array.from({ length: 200 }, (_, i) => ({ payload: { n: enqueued + i } })));
        enqueued += ids.length;
      } else {
        await new Promise((r) => setTimeout(r, 20));
      }
      if (Date.now() >= nextSample) {
        samples.push(heapMb());
        nextSample += 2_000;
      }
    }
    await eventually(async () => (await queue.counts()).completed === enqueued, {
      timeoutMs: 60_000,
      what: 'every job to complete',
    });

    const counts = await queue.counts();
    assert.equal(counts.dead, 0);
    assert.equal(counts.active, 0);
    assert.equal(runs, enqueued + failures, 'each job ran once, and once more after a failure');
    assert.equal((await queue.info()).totals.retries, failures);
    assert.deepEqual(errors, []);
    const sockets = Object.values(rampart.transport.agent.sockets).flat().length;
    assert.ok(sockets <= rampart.transport.agent.maxSockets, `${sockets} sockets in use`);

    // Warm-up is the first quarter; compare the next third with the last.
    const steady = samples.slice(Math.floor(samples.length / 4));
    const third = Math.max(1, Math.floor(steady.length / 3));
    const first = median(steady.slice(0, third));
    const last = median(steady.slice(-third));
    const rate = Math.round(enqueued / SECONDS);
    t.diagnostic(`${enqueued} jobs (${rate}/s), heap ${first.toFixed(1)} MB -> ${last.toFixed(1)} MB`);
    assert.ok(last - first < MAX_GROWTH_MB, `heap grew from ${first.toFixed(1)} MB to ${last.toFixed(1)} MB`);
  },
);
