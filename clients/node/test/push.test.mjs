// Push handlers against rampart's real deliveries: accepted and completed
// with the handler's result, FatalError made permanent; a forged, tampered
// or stale delivery refused.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { test } from 'node:test';

import { FatalError, PushVerificationError, pushExpress, pushFetch, verifyPush } from '../dist/index.js';
import { eventually, startServer } from './harness.mjs';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;

/** A push endpoint on a free port that verifies with `SECRET` and keeps every delivery it got. */
async function receiver(t) {
  const seen = [];
  const raw = [];
  const handler = pushExpress({ secret: SECRET }, async (job) => {
    seen.push(job);
    if (job.payload.fatal) throw new FatalError('this payload can never work');
    return { handled: job.payload.n };
  });
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      raw.push({ body, headers: req.headers });
      // The raw body as express.raw() would leave it.
      req.body = body;
      handler(req, res);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  return { url: `http://127.0.0.1:${server.address().port}/hook`, seen, raw };
}

test("rampart's real deliveries are verified, run, and their outcome maps to the job's", async (t) => {
  const hook = await receiver(t);
  const config = `[queues.hook]\ntarget = "${hook.url}"\nsecret = "${SECRET}"\nmax_attempts = 3\n`;
  const server = await startServer(t, { config });
  const rampart = server.client();
  assert.equal((await rampart.queue('hook').info()).secret, SECRET, 'an admin key reads the secret');

  const ok = await rampart.queue('hook').add({ n: 7 });
  const job = await rampart.jobs.waitForResult(ok.id, { timeoutMs: 15_000 });
  assert.equal(job.state, 'completed');
  assert.deepEqual(job.result, { handled: 7 });
  assert.deepEqual(hook.seen[0], {
    id: ok.id,
    queue: 'hook',
    attempt: 1,
    maxAttempts: 3,
    payload: { n: 7 },
    messageId: `job_${ok.id}`,
  });

  const fatal = await rampart.queue('hook').add({ fatal: true });
  const dead = await rampart.jobs.waitForResult(fatal.id, { timeoutMs: 15_000 });
  assert.equal(dead.state, 'dead');
  assert.equal(dead.attempt, 1, 'a 4xx is permanent');
  assert.match(dead.last_error, /422.*this payload can never work/);

  // The same real delivery through the fetch-style handler.
  const { body, headers } = hook.raw[0];
  const request = new Request('http://app.example/hook', { method: 'POST', body, headers: headers });
  const answer = await pushFetch({ secret: SECRET }, (j) => ({ again: j.payload.n }))(request);
  assert.equal(answer.status, 200);
  assert.deepEqual(await answer.json(), { again: 7 });
});

test('a forged, tampered or stale delivery is refused', async (t) => {
  const hook = await receiver(t);
  const config = `[queues.hook]\ntarget = "${hook.url}"\nsecret = "${SECRET}"\n`;
  const server = await startServer(t, { config });
  const rampart = server.client();
  const { id } = await rampart.queue('hook').add({ n: 1 });
  await rampart.jobs.waitForResult(id, { timeoutMs: 15_000 });
  await eventually(() => hook.raw.length === 1, { what: 'the delivery' });
  const { body, headers } = hook.raw[0];
  const ts = Number(headers['webhook-timestamp']);

  assert.equal(verifyPush(body, headers, { secret: SECRET }).id, id);
  const other = `whsec_${randomBytes(24).toString('base64')}`;
  assert.throws(() => verifyPush(body, headers, { secret: other }), PushVerificationError);
  const tampered = Buffer.from(body.toString().replace('"n":1', '"n":2'));
  assert.throws(() => verifyPush(tampered, headers, { secret: SECRET }), /no v1 signature/);
  assert.throws(() => verifyPush(body, headers, { secret: SECRET, nowS: ts + 301 }), /301s away/);
  assert.equal(verifyPush(body, headers, { secret: SECRET, nowS: ts + 299 }).id, id);
  const rotated = {
    ...headers,
    'webhook-signature': `v1,${randomBytes(32).toString('base64')} ${headers['webhook-signature']}`,
  };
  assert.equal(verifyPush(body, rotated, { secret: SECRET }).id, id, 'one matching signature of several is enough');
  assert.throws(
    () => verifyPush(body, { ...headers, 'webhook-id': 'job_0' }, { secret: SECRET }),
    PushVerificationError,
  );

  // Sent to the endpoint, a forgery is answered 401 and the handler never runs.
  const forged = await fetch(hook.url, {
    method: 'POST',
    body,
    headers: { ...headers, 'webhook-signature': `v1,${randomBytes(32).toString('base64')}` },
  });
  assert.equal(forged.status, 401);
  assert.equal((await forged.json()).error.code, 'INVALID_SIGNATURE');
  assert.equal(hook.seen.length, 1);
});

test('the Standard Webhooks example signature verifies', () => {
  const headers = {
    'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    'webhook-timestamp': '1614265330',
    'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  };
  const options = { secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', nowS: 1614265330 };
  assert.equal(verifyPush('{"test": 2432232314}', headers, options).messageId, 'msg_p5jXN8AQM9LWM0D4loKWxJek');
});
