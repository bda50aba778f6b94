/**
 * Rate limits: `limiter.check(policy, key, {cost})` and middleware that
 * answers `429` with the server's headers (`X-RateLimit-*`, `RateLimit`,
 * `RateLimit-Policy`, `Retry-After`) and the same body as rampart's own
 * gate, `{"error": {"code": "RATE_LIMIT_EXCEEDED", …}, "retry_after_s": n}`.
 *
 * Three shapes of middleware over one decision: Express/Connect
 * `(req, res, next)`, a Fastify `onRequest` hook, and a fetch-style
 * `(request) => Response | null` for Next.js route handlers, Hono and
 * anything built on `Request`/`Response` (`null`: go on). The key comes
 * from a function the app gives (IP, user, org, …). When rampart cannot be
 * reached within `timeoutMs` (default 500 ms), `failMode` decides: `open`
 * lets the request through (default), `closed` answers `503`.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';

import { APIError, RampartError } from './errors.js';
import type { Rampart } from './client.js';
import type { RateLimitCheckResponse } from './wire.js';

/** A check's answer with the headers to send to the app's client. */
export interface Decision extends RateLimitCheckResponse {
  /** `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`, `RateLimit`, `RateLimit-Policy`, and `Retry-After` when denied. */
  headers: Record<string, string>;
}

const HEADER_NAMES = [
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'ratelimit',
  'ratelimit-policy',
  'retry-after',
] as const;

/** The body of a denial, as rampart's gate and tower layer send it. */
export function exceededBody(decision: RateLimitCheckResponse): string {
  return JSON.stringify({
    error: { code: 'RATE_LIMIT_EXCEEDED', message: 'Too many requests. Please wait a moment.' },
    retry_after_s: decision.retry_after_s ?? decision.reset_after_s,
  });
}

const UNAVAILABLE_BODY = JSON.stringify({
  error: { code: 'RATE_LIMIT_UNAVAILABLE', message: 'The rate limiter cannot be reached. Please retry shortly.' },
});

/** Rate-limit checks against the server's policies. */
export class Limiter {
  constructor(private readonly client: Rampart) {}

  /** Counts `cost` (default 1) against `key` under `policy`; answers allowed or not (the app decides). */
  async check(policy: string, key: string, options: { cost?: number; timeoutMs?: number } = {}): Promise<Decision> {
    const answer = await this.client.request<RateLimitCheckResponse>('POST', '/v1/ratelimit/check', {
      body: { policy, key, cost: options.cost },
      retries: 0,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
    const headers: Record<string, string> = {};
    for (const name of HEADER_NAMES) {
      const value = answer.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    return { ...answer.body, headers };
  }
}

/** What every middleware shape takes. */
export interface RateLimitOptions<Req> {
  /** The client. */
  client: Rampart;
  /** The policy's name. */
  policy: string;
  /** The key of a request (an IP, a user or org id); `undefined` skips the check. Default: the client IP. */
  key?: (req: Req) => string | undefined | Promise<string | undefined>;
  /** What a request costs (default 1). */
  cost?: number | ((req: Req) => number);
  /** When rampart cannot be reached: `open` lets requests through (default), `closed` answers 503. */
  failMode?: 'open' | 'closed';
  /** Milliseconds a check may take before `failMode` decides (default 500). */
  timeoutMs?: number;
  /** Called when a check failed and `failMode` decided (for logs and metrics). */
  onError?: (error: unknown) => void;
}

/** The outcome for one request: a decision, `skip` (no key), or `failed` (rampart unreachable). */
type Outcome = { decision: Decision } | { skip: true } | { failed: unknown };

async function decide<Req>(options: RateLimitOptions<Req>, req: Req, defaultKey: (req: Req) => string | undefined) {
  try {
    const key = await (options.key ?? defaultKey)(req);
    if (key === undefined) return { skip: true } as Outcome;
    const cost = typeof options.cost === 'function' ? options.cost(req) : options.cost;
    const decision = await options.client.limiter.check(options.policy, key, {
      ...(cost !== undefined ? { cost } : {}),
      timeoutMs: options.timeoutMs ?? 500,
    });
    return { decision } as Outcome;
  } catch (failed) {
    // A mistake of the app (unknown policy, bad key) must not pass silently as
    // "rampart down"; rampart refusing its own API key's rate (429) is a failure to decide.
    if (
      !(failed instanceof RampartError) ||
      (failed instanceof APIError && failed.status < 500 && failed.status !== 429)
    ) {
      throw failed;
    }
    options.onError?.(failed);
    return { failed } as Outcome;
  }
}

/** A request of Express or Connect: `req.ip` (Express) or the socket's address. */
type NodeRequest = IncomingMessage & { ip?: string };

function nodeClientIp(req: NodeRequest): string | undefined {
  return req.ip ?? req.socket.remoteAddress;
}

/** Express/Connect middleware. */
export function rateLimitExpress(
  options: RateLimitOptions<NodeRequest>,
): (req: NodeRequest, res: ServerResponse, next: (error?: unknown) => void) => void {
  return (req, res, next) => {
    decide(options, req, nodeClientIp).then((outcome) => {
      if ('skip' in outcome) return next();
      if ('failed' in outcome) {
        if (options.failMode !== 'closed') return next();
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end(UNAVAILABLE_BODY);
        return;
      }
      const { decision } = outcome;
      for (const [name, value] of Object.entries(decision.headers)) res.setHeader(name, value);
      if (decision.allowed) return next();
      res.writeHead(429, { 'content-type': 'application/json' }).end(exceededBody(decision));
    }, next);
  };
}

/** A Fastify request and reply, as far as the hook uses them. */
interface FastifyRequestLike {
  ip: string;
}
interface FastifyReplyLike {
  header(name: string, value: string): unknown;
  code(status: number): FastifyReplyLike;
  type(contentType: string): FastifyReplyLike;
  send(body: string): unknown;
}

/** A Fastify `onRequest` hook: `app.addHook('onRequest', rateLimitFastify({...}))`. */
export function rateLimitFastify<Req extends FastifyRequestLike>(
  options: RateLimitOptions<Req>,
): (req: Req, reply: FastifyReplyLike) => Promise<void> {
  return async (req, reply) => {
    const outcome = await decide(options, req, (r) => r.ip);
    if ('skip' in outcome) return;
    if ('failed' in outcome) {
      if (options.failMode === 'closed') {
        reply.header('retry-after', '1');
        await reply.code(503).type('application/json').send(UNAVAILABLE_BODY);
      }
      return;
    }
    for (const [name, value] of Object.entries(outcome.decision.headers)) reply.header(name, value);
    if (!outcome.decision.allowed) await reply.code(429).type('application/json').send(exceededBody(outcome.decision));
  };
}

/** The first address of `X-Forwarded-For`, else `X-Real-IP`: right only behind a proxy that sets them. */
function forwardedIp(req: Request): string | undefined {
  return req.headers.get('x-forwarded-for')?.split(',')[0]?.trim() || req.headers.get('x-real-ip') || undefined;
}

/**
 * Fetch-style: answers the `429` (or `503` when failing closed) `Response`
 * to return, or `null` to go on. Default key: `X-Forwarded-For`'s first
 * address (as Vercel and most proxies set it); give `key` elsewhere.
 */
export function rateLimitFetch(options: RateLimitOptions<Request>): (req: Request) => Promise<Response | null> {
  return async (req) => {
    const outcome = await decide(options, req, forwardedIp);
    if ('skip' in outcome) return null;
    if ('failed' in outcome) {
      if (options.failMode !== 'closed') return null;
      return new Response(UNAVAILABLE_BODY, {
        status: 503,
        headers: { 'content-type': 'application/json', 'retry-after': '1' },
      });
    }
    if (outcome.decision.allowed) return null;
    return new Response(exceededBody(outcome.decision), {
      status: 429,
      headers: { ...outcome.decision.headers, 'content-type': 'application/json' },
    });
  };
}
