// The rate-limit middleware's overhead per request: the time from the
// Express middleware being called to `next()`, one check against a local
// server each, sequentially and with 16 requests at once. Prints one JSON
// line with p50/p90/p99 in milliseconds. Server as in drain.mjs.
//
//   node clients/node/bench/middleware.mjs [--requests 20000]

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { Rampart, rateLimitExpress } from '../dist/index.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '20000' } } });
const requests = Number(values.requests);

let server;
let url = process.env.RAMPART_URL;
let apiKey = process.env.RAMPART_API_KEY;
if (!url) {
  process.env.RAMPART_BIN ??= resolve(import.meta.dirname, '../../../target/release/rampart');
  const { Server } = await import('../test/harness.mjs');
  server = await new Server({ config: '[ratelimit.policies.bench]\nlimit = 1000000000\nwindow = "1m"\n' }).start();
  ({ url, key: apiKey } = server);
}
const client = new Rampart({ url, apiKey });
const middleware = rateLimitExpress({ client, policy: 'bench', key: (req) => req.headers['x-user-id'] });

/** A request and response as the middleware sees them, without a socket. */
function exchange(n) {
  const req = { headers: { 'x-user-id': `user-${n % 1000}` }, socket: {} };
  const res = { setHeader() {}, writeHead: () => ({ end() {} }) };
  return { req, res };
}

function one(n) {
  const { req, res } = exchange(n);
  const start = performance.now();
  return new Promise((done, fail) =>
    middleware(req, res, (error) => (error ? fail(error) : done(performance.now() - start))),
  );
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
function summary(times) {
  const sorted = [...times].sort((a, b) => a - b);
  return Object.fromEntries([50, 90, 99].map((p) => [`p${p}_ms`, Number(percentile(sorted, p).toFixed(3))]));
}

for (let i = 0; i < 2_000; i++) await one(i); // warm-up: connections, JIT
const sequential = [];
for (let i = 0; i < requests; i++) sequential.push(await one(i));
const concurrent = [];
let next = 0;
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (next < requests) concurrent.push(await one(next++));
  }),
);
console.log(
  JSON.stringify({
    bench: 'rateLimitExpress overhead',
    requests,
    sequential: summary(sequential),
    concurrent_16: summary(concurrent),
  }),
);
client.close();
await server?.stop();
