// Drains N no-op jobs with the Worker (concurrency C) against a server:
// RAMPART_URL + RAMPART_API_KEY when set, else a release `rampart serve`
// started here on a fresh data directory (RAMPART_BIN, else
// ../../target/release/rampart). Prints one JSON line.
//
//   cargo build --release -p rampart && (cd clients/node && npm run build)
//   node clients/node/bench/drain.mjs [--jobs 50000] [--concurrency 50]

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { Rampart, Worker } from '../dist/index.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '50000' },
    concurrency: { type: 'string', default: '50' },
    queue: { type: 'string', default: `bench-${process.pid}` },
  },
});
const jobs = Number(values.jobs);
const concurrency = Number(values.concurrency);

let server;
let url = process.env.RAMPART_URL;
let apiKey = process.env.RAMPART_API_KEY;
if (!url) {
  process.env.RAMPART_BIN ??= resolve(import.meta.dirname, '../../../target/release/rampart');
  const { Server } = await import('../test/harness.mjs');
  server = await new Server().start();
  ({ url, key: apiKey } = server);
}
const rampart = new Rampart({ url, apiKey });
const queue = rampart.queue(values.queue);

for (let at = 0; at < jobs; at += 5_000) {
  await queue.addBulk(Array.from({ length: Math.min(5_000, jobs - at) }, () => ({ payload: {} })));
}

let completed = 0;
const started = performance.now();
const cpuBefore = process.cpuUsage();
await new Promise((done) => {
  const worker = new Worker(rampart, values.queue, async () => {}, { concurrency, closeOnSignals: [] });
  worker.on('completed', () => {
    if (++completed === jobs) void worker.close().then(done);
  });
});
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const counts = await queue.counts();
console.log(
  JSON.stringify({
    client: '@rampart/client',
    jobs,
    concurrency,
    seconds: Number(seconds.toFixed(3)),
    jobs_per_s: Math.round(jobs / seconds),
    client_cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
    completed_on_server: counts.completed,
  }),
);
rampart.close();
await server?.stop();
