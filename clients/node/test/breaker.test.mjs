// safeCall over the server's shared breakers: opening after failures,
// refusing with CircuitOpenError, recovering through a probe; retries of
// 5xx and timeouts, no retry of a 4xx, and calls unguarded while rampart
// is unreachable.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CircuitOpenError, FailedResponseError, Rampart, RetriesExhaustedError, TimeoutError } from '../dist/index.js';
import { eventually, startServer } from './harness.mjs';

const CONFIG =
  '[breakers.payments]\nfailure_threshold = 2\ncooldown = "1s"\n[breakers.search]\nfailure_threshold = 50\n';
const FAST = { backoff: { initialMs: 1, factor: 2, maxMs: 10, jitter: 0.2 } };

/** An error as an HTTP library throws it. */
function httpError(status) {
  return Object.assign(new Error(`HTTP ${status}`), { status });
}

test('safeCall opens the shared breaker after failures, refuses while open, and recovers through a probe', async (t) => {
  const server = await startServer(t, { config: CONFIG });
  const rampart = server.client();
  assert.equal(await rampart.safeCall('payments', async () => 'charged'), 'charged');

  let calls = 0;
  const failing = async () => {
    calls++;
    throw httpError(502);
  };
  for (let i = 0; i < 2; i++) {
    await assert.rejects(rampart.safeCall('payments', failing, { retries: 0 }), RetriesExhaustedError);
  }
  assert.equal((await rampart.breakers.get('payments')).state, 'open');

  await assert.rejects(rampart.safeCall('payments', failing), (e) => {
    assert.ok(e instanceof CircuitOpenError);
    assert.equal(e.breaker, 'payments');
    assert.equal(e.retryAfter, 1);
    return true;
  });
  assert.equal(calls, 2, 'no call is made while the breaker is open');

  await eventually(async () => (await rampart.breakers.get('payments')).state === 'half_open', {
    what: 'the cooldown to pass',
  });
  assert.equal(await rampart.safeCall('payments', async () => 'charged again'), 'charged again');
  const breaker = await rampart.breakers.get('payments');
  assert.equal(breaker.state, 'closed');
  assert.deepEqual(
    breaker.transitions.map((tr) => tr.to),
    ['open', 'half_open', 'closed'],
  );
});

test('safeCall retries 5xx answers and timeouts, never a 4xx', async (t) => {
  const server = await startServer(t, { config: CONFIG });
  const rampart = server.client();

  let n = 0;
  const value = await rampart.safeCall(
    'search',
    async () => {
      n++;
      if (n < 3) throw Object.assign(httpError(503), { retryAfter: 0 });
      return n;
    },
    FAST,
  );
  assert.equal(value, 3);

  // A fetch Response with a failed status counts as a failure too.
  let responses = 0;
  await assert.rejects(
    rampart.safeCall(
      'search',
      async () => {
        responses++;
        return new Response('busy', { status: 503, headers: { 'retry-after': '0' } });
      },
      { ...FAST, retries: 1 },
    ),
    (e) => e instanceof RetriesExhaustedError && e.cause instanceof FailedResponseError && e.attempts === 2,
  );
  assert.equal(responses, 2);

  const signals = [];
  await assert.rejects(
    rampart.safeCall(
      'search',
      (signal) => {
        signals.push(signal);
        return new Promise(() => {});
      },
      { ...FAST, timeoutMs: 50, retries: 1 },
    ),
    (e) => e instanceof RetriesExhaustedError && e.cause instanceof TimeoutError,
  );
  assert.equal(signals.length, 2);
  assert.ok(signals.every((s) => s.aborted && s.reason instanceof TimeoutError));

  let notFound = 0;
  await assert.rejects(
    rampart.safeCall('search', async () => {
      notFound++;
      throw httpError(404);
    }),
    (e) => e.status === 404,
  );
  assert.equal(notFound, 1);
  const search = await rampart.breakers.get('search');
  assert.equal(search.consecutive_failures, 0, 'the 404 was recorded as the remote answering');
});

test('safeCall calls unguarded when rampart is unreachable, unless told to fail closed', async () => {
  const offline = new Rampart({ url: 'http://127.0.0.1:9', apiKey: 'k', maxRetries: 0 });
  assert.equal(await offline.safeCall('payments', async () => 'made anyway'), 'made anyway');
  await assert.rejects(
    offline.safeCall('payments', async () => 'no', { onRampartError: 'closed' }),
    /ECONNREFUSED/,
  );
});
