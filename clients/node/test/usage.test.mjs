// What the app reports through the client: AI usage (one call, a batch),
// reservations and `guard` (settled on success, released on failure,
// refused past an enforced budget), summaries, budgets; cache telemetry;
// error events.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BadRequestError, BudgetExceededError, NotFoundError } from '../dist/index.js';
import { startServer } from './harness.mjs';

const CONFIG = `
[budgets.per-tenant]
scope = "tenant"
amount_usd = 1.0
period = "day"
`;

const call = (id, extra = {}) => ({
  call_id: id,
  model: 'gpt-4o',
  input_tokens: 100,
  output_tokens: 10,
  duration_ms: 50,
  success: true,
  tenant: 'acme',
  cost_usd: 0.1,
  ...extra,
});

test('usage: one report, a batch, a summary and budgets', async (t) => {
  const server = await startServer(t, { config: CONFIG });
  const rampart = server.client();
  const one = await rampart.usage.report(call('c1'));
  assert.equal(one.accepted, 1);
  const batch = await rampart.usage.report([call('c1'), call('c2', { success: false, model: 'claude' })]);
  assert.deepEqual([batch.accepted, batch.duplicates], [1, 1]);
  const summary = await rampart.usage.summary({ groupBy: 'model' });
  assert.equal(summary.timezone, 'UTC');
  assert.deepEqual(
    summary.groups.map((g) => [g.key, g.calls, g.failures]),
    [
      ['claude', 1, 1],
      ['gpt-4o', 1, 0],
    ],
  );
  const budget = await rampart.usage.budgets.get('per-tenant');
  assert.deepEqual(
    budget.windows.map((w) => [w.subject, w.spent_usd]),
    [['acme', 0.2]],
  );
  await rampart.usage.budgets.put('all', { amount_usd: 5, period: 'month', enforce: false });
  assert.deepEqual(
    (await rampart.usage.budgets.list()).map((b) => b.name),
    ['all', 'per-tenant'],
  );
  await rampart.usage.budgets.delete('all');
  await assert.rejects(rampart.usage.budgets.get('all'), NotFoundError);
  await assert.rejects(rampart.usage.report({ ...call('bad'), model: '' }), BadRequestError);
});

test('usage.guard: reserve, call, report; released on failure; refused past the budget', async (t) => {
  const server = await startServer(t, { config: CONFIG });
  const rampart = server.client();
  const spec = { model: 'gpt-4o', tenant: 'acme', estimated_cost_usd: 0.4 };
  const answer = await rampart.usage.guard(spec, async () => ({
    result: 'hello',
    usage: { input_tokens: 100, output_tokens: 20, cost_usd: 0.3 },
  }));
  assert.equal(answer, 'hello');
  let windows = (await rampart.usage.budgets.get('per-tenant')).windows;
  assert.deepEqual([windows[0].spent_usd, windows[0].reserved_usd], [0.3, 0]);

  await assert.rejects(
    rampart.usage.guard(spec, async () => {
      throw new Error('provider down');
    }),
    /provider down/,
  );
  windows = (await rampart.usage.budgets.get('per-tenant')).windows;
  assert.deepEqual([windows[0].spent_usd, windows[0].reserved_usd], [0.3, 0], 'the failed call released its hold');

  let called = false;
  await assert.rejects(
    rampart.usage.guard({ ...spec, estimated_cost_usd: 0.8 }, async () => {
      called = true;
      return { result: 'no', usage: { input_tokens: 0, output_tokens: 0 } };
    }),
    (e) => e instanceof BudgetExceededError && e.refusedBy === 'per-tenant',
  );
  assert.equal(called, false);
  const summary = await rampart.usage.summary();
  assert.deepEqual([summary.groups[0].calls, summary.groups[0].failures], [2, 1]);
});

test('caches and errors: a report each', async (t) => {
  const server = await startServer(t);
  const rampart = server.client();
  const cache = await rampart.caches.report('models', {
    snapshot: { size: 5, max_size: 10, loads: 3, hits: 7, misses: 3, avg_load_ms: 12.5 },
    events: [{ type: 'evict', key: 'k', reason: 'lru', idle_ms: 1000 }],
  });
  assert.deepEqual([cache.name, cache.events, cache.evictions], ['models', 1, 1]);
  const kept = await rampart.errors.report({
    level: 'error',
    kind: 'db.timeout',
    message: 'query took too long for alice@example.com',
  });
  assert.equal(kept.kind, 'db.timeout');
  assert.ok(!kept.message.includes('alice@example.com'), kept.message);
});
