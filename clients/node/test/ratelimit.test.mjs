// Rate-limit middleware against a real server: 429 with the server's
// headers and body, keys from the app's function, fail-open and
// fail-closed when rampart cannot be reached.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';

import { NotFoundError, Rampart, rateLimitExpress, rateLimitFastify, rateLimitFetch } from '../dist/index.js';
import { startServer } from './harness.mjs';

const CONFIG = '[ratelimit.policies.api]\nlimit = 2\nwindow = "1m"\n';

/** An app behind the Express-style middleware, on a free port; answers 200 "ok" when let through. */
async function app(t, middleware) {
  const server = createServer((req, res) => {
    middleware(req, res, (error) => {
      if (error) res.writeHead(500).end(String(error.code ?? error));
      else res.writeHead(200).end('ok');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  return `http://127.0.0.1:${server.address().port}`;
}

/** A client of a port nothing listens on. */
function unreachable() {
  return new Rampart({ url: 'http://127.0.0.1:9', apiKey: 'nope', maxRetries: 0 });
}

test('the Express middleware answers 429 with the server headers and body once the key used its limit', async (t) => {
  const server = await startServer(t, { config: CONFIG });
  const client = server.client();
  const url = await app(t, rateLimitExpress({ client, policy: 'api', key: (req) => req.headers['x-user-id'] }));
  const call = (user) => fetch(url, { headers: { 'x-user-id': user } });

  const first = await call('alice');
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('x-ratelimit-limit'), '2');
  assert.equal(first.headers.get('x-ratelimit-remaining'), '1');
  assert.equal(first.headers.get('ratelimit-policy'), '"api";q=2;w=60');
  assert.equal((await call('alice')).status, 200);

  const denied = await call('alice');
  assert.equal(denied.status, 429);
  assert.equal(denied.headers.get('x-ratelimit-remaining'), '0');
  assert.ok(Number(denied.headers.get('retry-after')) > 0);
  assert.match(denied.headers.get('ratelimit'), /^"api";r=0;t=\d+$/);
  const body = await denied.json();
  assert.equal(body.error.code, 'RATE_LIMIT_EXCEEDED');
  assert.equal(body.retry_after_s, Number(denied.headers.get('retry-after')));

  assert.equal((await call('bob')).status, 200, 'another key has its own limit');
});

test('the fetch-style middleware answers a 429 Response or null; limiter.check answers the decision', async (t) => {
  const server = await startServer(t, { config: CONFIG });
  const client = server.client();
  const limit = rateLimitFetch({ client, policy: 'api', key: (req) => new URL(req.url).searchParams.get('org') });
  const req = () => new Request('http://app.example/ai?org=acme');
  assert.equal(await limit(req()), null);
  assert.equal(await limit(req()), null);
  const denied = await limit(req());
  assert.equal(denied.status, 429);
  assert.equal(denied.headers.get('content-type'), 'application/json');
  assert.equal(denied.headers.get('x-ratelimit-limit'), '2');
  assert.equal((await denied.json()).error.code, 'RATE_LIMIT_EXCEEDED');

  const decision = await client.limiter.check('api', 'someone', { cost: 2 });
  assert.equal(decision.allowed, true);
  assert.equal(decision.remaining, 0);
  assert.equal(decision.headers['x-ratelimit-remaining'], '0');
  const over = await client.limiter.check('api', 'someone');
  assert.equal(over.allowed, false);
  assert.ok(over.retry_after_s > 0);

  // A mistake of the app is not taken for rampart being down.
  const unknown = rateLimitFetch({ client, policy: 'no-such-policy', key: () => 'k' });
  await assert.rejects(unknown(req()), NotFoundError);
});

test('fail-open lets requests through and fail-closed answers 503 when rampart is unreachable', async (t) => {
  const errors = [];
  const open = await app(
    t,
    rateLimitExpress({ client: unreachable(), policy: 'api', key: () => 'k', onError: (e) => errors.push(e) }),
  );
  assert.equal((await fetch(open)).status, 200);
  assert.equal(errors.length, 1);

  const closed = await app(t, rateLimitExpress({ client: unreachable(), policy: 'api', failMode: 'closed' }));
  const refused = await fetch(closed);
  assert.equal(refused.status, 503);
  assert.equal((await refused.json()).error.code, 'RATE_LIMIT_UNAVAILABLE');

  const fetchClosed = rateLimitFetch({ client: unreachable(), policy: 'api', key: () => 'k', failMode: 'closed' });
  assert.equal((await fetchClosed(new Request('http://app.example/'))).status, 503);
});

test('the Fastify hook sets the headers and answers 429 through the reply', async (t) => {
  const server = await startServer(t, { config: CONFIG });
  const hook = rateLimitFastify({ client: server.client(), policy: 'api' });
  const reply = () => {
    const sent = { headers: {}, status: 200, body: undefined };
    const r = {
      header: (name, value) => void (sent.headers[name] = value),
      code: (status) => ((sent.status = status), r),
      type: (type) => ((sent.headers['content-type'] = type), r),
      send: (body) => void (sent.body = body),
    };
    return { r, sent };
  };
  for (const expected of [200, 200, 429]) {
    const { r, sent } = reply();
    await hook({ ip: '203.0.113.9' }, r);
    assert.equal(sent.status, expected);
    assert.equal(sent.headers['x-ratelimit-limit'], '2');
    if (expected === 429) assert.equal(JSON.parse(sent.body).error.code, 'RATE_LIMIT_EXCEEDED');
  }
});
