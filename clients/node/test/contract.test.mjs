// The client's hand-written routes and shapes held to the server's own
// contract, the OpenAPI document it serves at /openapi.json: every route
// the client calls exists with that method, and every shape of
// src/wire.ts has the fields of the schema of the same name (none the
// server does not send, every one it requires). Request bodies need no
// check here: the server refuses unknown fields, and the other tests send
// every body the client builds.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';

import { startServer } from './harness.mjs';

const src = new URL('../src/', import.meta.url);
const sources = readdirSync(src)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => [f, readFileSync(new URL(f, src), 'utf8')]);

/** `[method, path]` of every request the client makes. */
function clientRoutes() {
  const routes = new Set();
  for (const [, text] of sources) {
    for (const m of text.matchAll(/request(?:<[^>]*>)?\(\s*'(GET|POST|PUT|DELETE)',\s*'([^']+)'/g)) {
      routes.add(`${m[1]} ${m[2]}`);
    }
  }
  return [...routes].sort();
}

/** Each interface of wire.ts with its field names. */
function wireShapes() {
  const text = sources.find(([f]) => f === 'wire.ts')[1];
  const shapes = new Map();
  for (const m of text.matchAll(/export interface (\w+) \{\n([\s\S]*?)\n\}/g)) {
    const fields = [...m[2].matchAll(/^ {2}(\w+)\??:/gm)].map((f) => f[1]);
    shapes.set(m[1], fields);
  }
  return shapes;
}

test('every route and shape of the client is in the served OpenAPI document', async (t) => {
  const server = await startServer(t);
  const doc = await (await fetch(`${server.url}/openapi.json`)).json();

  const routes = clientRoutes();
  assert.ok(routes.length >= 25, `found ${routes.length} routes in src/`);
  const missing = routes.filter((r) => {
    const [method, path] = r.split(' ');
    return !doc.paths[path]?.[method.toLowerCase()];
  });
  assert.deepEqual(missing, [], 'routes the client calls that the server does not document');

  const shapes = wireShapes();
  assert.ok(shapes.size >= 15, `found ${shapes.size} shapes in wire.ts`);
  const problems = [];
  for (const [name, fields] of shapes) {
    const schema = doc.components.schemas[name];
    if (!schema) {
      problems.push(`${name}: no schema of that name`);
      continue;
    }
    const properties = Object.keys(schema.properties ?? {});
    for (const f of fields) if (!properties.includes(f)) problems.push(`${name}.${f}: not in the schema`);
    for (const f of schema.required ?? [])
      if (!fields.includes(f)) problems.push(`${name}.${f}: required, missing here`);
  }
  assert.deepEqual(problems, []);
});
