/**
 * Push handlers: for a push queue, rampart POSTs each job to the app,
 * signed in the Standard Webhooks scheme (`rampart-core/src/webhook.rs`):
 * `webhook-id` (`job_<id>`, the same on every attempt), `webhook-timestamp`
 * (Unix seconds) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 over
 * `"{id}.{timestamp}.{body}"`, keyed with the bytes after `whsec_`; several
 * space-separated, one match is enough). The body is
 * `{id, queue, attempt, max_attempts, payload}`.
 *
 * `verifyPush` checks exactly that on the raw body, in constant time, with
 * a timestamp tolerance (default 5 minutes), and answers the job. The
 * handlers map the app's outcome to the statuses rampart reads: a returned
 * value is `200` with it as the job's result (JSON), `FatalError` a `422`
 * (permanent: the job is dead), `RetryLaterError` a `503` with
 * `Retry-After`, any other error a `500` (retried with the queue's
 * backoff), and a bad signature a `401`.
 */

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { FatalError, PushVerificationError, RampartError } from './errors.js';
import type { ChildView, Json } from './wire.js';

/** A job rampart pushed. */
export interface PushJob {
  /** The job's id. */
  id: string;
  /** Its queue. */
  queue: string;
  /** This attempt, from 1. */
  attempt: number;
  /** Attempts allowed. */
  maxAttempts: number;
  /** The payload as enqueued. */
  payload: Json;
  /** `webhook-id`: the same for every attempt of the job, to drop duplicates. */
  messageId: string;
  /** A parent's children's outcomes; absent for a job that is no parent. */
  children?: ChildView[];
}

/** Headers as a plain object (Node) or a `Headers` (fetch). */
export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

/** What `verifyPush` checks against. */
export interface VerifyOptions {
  /** The queue's secret, `whsec_…` (an admin key reads it from `GET /v1/queues/{queue}`). */
  secret: string;
  /** Seconds the timestamp may be from now (default 300). */
  toleranceS?: number;
  /** Now, in Unix seconds (for tests). */
  nowS?: number;
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The HMAC key of a `whsec_` secret. */
function secretKey(secret: string): Buffer {
  const text = secret.trim();
  if (!text.startsWith('whsec_')) throw new RampartError('a push secret starts with `whsec_`');
  const key = Buffer.from(text.slice('whsec_'.length), 'base64');
  if (key.length < 16) throw new RampartError('the push secret is shorter than 16 bytes; copy the whole `whsec_…`');
  return key;
}

/** Verifies a push delivery from its raw body and headers; answers the job or throws `PushVerificationError`. */
export function verifyPush(body: Buffer | Uint8Array | string, headers: HeaderSource, options: VerifyOptions): PushJob {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) {
    throw new PushVerificationError('missing webhook-id, webhook-timestamp or webhook-signature');
  }
  const ts = /^\s*\d+\s*$/.test(timestamp) ? Number(timestamp) : NaN;
  if (!Number.isSafeInteger(ts)) throw new PushVerificationError('webhook-timestamp is not a Unix time in seconds');
  const now = options.nowS ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceS ?? 300;
  if (Math.abs(now - ts) > tolerance) {
    throw new PushVerificationError(
      `webhook-timestamp is ${Math.abs(now - ts)}s away from now, more than ${tolerance}s`,
    );
  }
  const raw = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const expected = createHmac('sha256', secretKey(options.secret)).update(`${id}.${ts}.`).update(raw).digest();
  const matched = signatures
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'))
    // Every candidate is compared in full, so timing tells nothing of which matched.
    .reduce((ok, sig) => (sig.length === expected.length && timingSafeEqual(sig, expected)) || ok, false);
  if (!matched) throw new PushVerificationError('no v1 signature in webhook-signature matches the message');
  let parsed: {
    id?: unknown;
    queue?: unknown;
    attempt?: unknown;
    max_attempts?: unknown;
    payload?: Json;
    children?: ChildView[];
  };
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new PushVerificationError('the signed body is not JSON');
  }
  return {
    id: String(parsed.id),
    queue: String(parsed.queue),
    attempt: Number(parsed.attempt),
    maxAttempts: Number(parsed.max_attempts),
    payload: parsed.payload ?? null,
    messageId: id,
    ...(parsed.children ? { children: parsed.children } : {}),
  };
}

/** Thrown by a push handler: answer `503` with `Retry-After`, so rampart retries after that long. */
export class RetryLaterError extends RampartError {
  override name = 'RetryLaterError';
  constructor(
    /** Seconds to wait. */
    readonly retryAfterS: number,
    message = `retry in ${retryAfterS}s`,
  ) {
    super(message);
  }
}

/** A push handler: the job's result, or a thrown error. */
export type PushHandler = (job: PushJob) => Json | void | Promise<Json | void>;

/** The answer for rampart: status, headers and body. */
interface PushAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_TYPE = { 'content-type': 'application/json' };

function errorAnswer(status: number, code: string, message: string, headers: Record<string, string> = {}) {
  return { status, headers: { ...JSON_TYPE, ...headers }, body: JSON.stringify({ error: { code, message } }) };
}

/** Verifies, runs the handler, and maps its outcome to the status rampart reads. */
export async function handlePush(
  body: Buffer | Uint8Array | string,
  headers: HeaderSource,
  options: VerifyOptions,
  handler: PushHandler,
): Promise<PushAnswer> {
  let job: PushJob;
  try {
    job = verifyPush(body, headers, options);
  } catch (e) {
    if (e instanceof PushVerificationError) return errorAnswer(401, 'INVALID_SIGNATURE', e.message);
    throw e;
  }
  try {
    const result = await handler(job);
    return { status: 200, headers: JSON_TYPE, body: JSON.stringify(result ?? null) };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof FatalError) return errorAnswer(422, 'FATAL', message);
    if (e instanceof RetryLaterError) {
      return errorAnswer(503, 'RETRY_LATER', message, { 'retry-after': String(Math.ceil(e.retryAfterS)) });
    }
    return errorAnswer(500, 'HANDLER_FAILED', message);
  }
}

/** The raw body of a Node request: `req.body` when a raw parser kept it as a Buffer, else read from the stream. */
async function rawBody(req: IncomingMessage & { body?: unknown }): Promise<Buffer> {
  if (Buffer.isBuffer(req.body)) return req.body;
  if (typeof req.body === 'string') return Buffer.from(req.body);
  if (req.body !== undefined) {
    throw new RampartError(
      'the request body was parsed already; mount the push route before express.json() or use express.raw()',
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Express/Connect (or plain `node:http`) push endpoint: `app.post('/jobs', pushExpress({secret}, handler))`. */
export function pushExpress(
  options: VerifyOptions,
  handler: PushHandler,
): (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void {
  return (req, res, next) => {
    rawBody(req)
      .then((body) => handlePush(body, req.headers, options, handler))
      .then(
        (answer) => void res.writeHead(answer.status, answer.headers).end(answer.body),
        (e) => (next ? next(e) : void res.writeHead(500).end()),
      );
  };
}

/** Fetch-style push endpoint (Next.js route handlers, Hono): `export const POST = pushFetch({secret}, handler)`. */
export function pushFetch(options: VerifyOptions, handler: PushHandler): (req: Request) => Promise<Response> {
  return async (req) => {
    const body = Buffer.from(await req.arrayBuffer());
    const answer = await handlePush(body, req.headers, options, handler);
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  };
}
