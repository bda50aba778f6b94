// The peer: rate-limiter-flexible's RateLimiterRedis (ioredis) on the same
// Redis, the same load as rampart-limit's examples/redis_load.rs: a fixed
// number of consume() calls in flight over many keys, for a while.
//
//   node peer_load.js [--keys 10000] [--in-flight 64] [--seconds 10] [--url redis://127.0.0.1:6379]
//
// Prints consumes/s and the latency percentiles of one consume().
'use strict';
const Redis = require('ioredis');
const { RateLimiterRedis } = require('rate-limiter-flexible');

const opts = { keys: 10000, inFlight: 64, seconds: 10, url: 'redis://127.0.0.1:6379' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const [flag, value] = [argv[i], argv[i + 1]];
  if (flag === '--keys') opts.keys = Number(value);
  else if (flag === '--in-flight') opts.inFlight = Number(value);
  else if (flag === '--seconds') opts.seconds = Number(value);
  else if (flag === '--url') opts.url = value;
  else { console.error(`unknown flag ${flag}`); process.exit(2); }
}

async function main() {
  const redis = new Redis(opts.url, { enableOfflineQueue: false });
  await new Promise((resolve, reject) => { redis.once('ready', resolve); redis.once('error', reject); });
  const prefix = `peer-bench:${process.pid}`;
  // As in redis_load: a limit far above what the run sends, so every call is allowed and writes.
  const limiter = new RateLimiterRedis({ storeClient: redis, keyPrefix: prefix, points: 1000000, duration: 60 });

  const warmUp = 500;
  const start = Date.now() + warmUp;
  const end = start + opts.seconds * 1000;
  const latencies = [];
  let allowed = 0, errors = 0;
  let rng = 0x2545f491;
  const nextKey = () => {
    rng ^= rng << 13; rng ^= rng >>> 17; rng ^= rng << 5;
    return `user:${(rng >>> 0) % opts.keys}`;
  };
  async function worker() {
    for (;;) {
      const began = process.hrtime.bigint();
      const nowMs = Date.now();
      if (nowMs >= end) return;
      let ok = false;
      try { await limiter.consume(nextKey(), 1); ok = true; } catch (e) { if (e instanceof Error) errors++; }
      if (nowMs < start) continue;
      latencies.push(Number(process.hrtime.bigint() - began) / 1e6);
      if (ok) allowed++;
    }
  }
  const cpuStart = process.cpuUsage();
  await Promise.all(Array.from({ length: opts.inFlight }, worker));
  const cpu = process.cpuUsage(cpuStart);
  latencies.sort((a, b) => a - b);
  const n = latencies.length;
  const at = (q) => latencies[Math.min(n - 1, Math.floor(n * q))].toFixed(3);
  console.log(`${n} consumes in ${opts.seconds} s over ${opts.keys} keys, ${opts.inFlight} in flight: ${Math.round(n / opts.seconds)} consumes/s`);
  console.log(`latency p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, p99.9 ${at(0.999)} ms, max ${latencies[n - 1].toFixed(3)} ms; ${allowed} allowed, ${errors} errors`);
  console.log(`CPU per consume in node: ${((cpu.user + cpu.system) / n).toFixed(2)} µs (warm-up included)`);
  // Delete the run's keys.
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
}

main().catch((e) => { console.error(e); process.exit(1); });
