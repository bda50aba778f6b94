// The same workload as drain.mjs on BullMQ: N no-op jobs added in bulk,
// then drained by one Worker with concurrency C, against the local Redis.
// BullMQ is not a dependency of this package: install it elsewhere.
//
//   mkdir -p /tmp/bullmq-bench && (cd /tmp/bullmq-bench && npm init -y && npm install bullmq@6 ioredis)
//   BULLMQ_DIR=/tmp/bullmq-bench node clients/node/bench/bullmq.mjs [--jobs 50000] [--concurrency 50]

import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '50000' },
    concurrency: { type: 'string', default: '50' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
  },
});
const jobs = Number(values.jobs);
const concurrency = Number(values.concurrency);
const require = createRequire(`${process.env.BULLMQ_DIR ?? '/tmp/bullmq-bench'}/`);
const { Queue, Worker } = await import(require.resolve('bullmq'));
const version = require('bullmq/package.json').version;

const redis = new URL(values.redis);
const connection = { host: redis.hostname, port: Number(redis.port || 6379), maxRetriesPerRequest: null };
const name = `bench-${process.pid}`;
const queue = new Queue(name, { connection });
for (let at = 0; at < jobs; at += 5_000) {
  const n = Math.min(5_000, jobs - at);
  await queue.addBulk(Array.from({ length: n }, () => ({ name: 'noop', data: {} })));
}

let completed = 0;
const started = performance.now();
const cpuBefore = process.cpuUsage();
await new Promise((done) => {
  const worker = new Worker(name, async () => {}, { connection, concurrency });
  worker.on('completed', () => {
    if (++completed === jobs) void worker.close().then(done);
  });
});
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
console.log(
  JSON.stringify({
    client: `bullmq ${version}`,
    jobs,
    concurrency,
    seconds: Number(seconds.toFixed(3)),
    jobs_per_s: Math.round(jobs / seconds),
    client_cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
  }),
);
await queue.obliterate({ force: true });
await queue.close();
