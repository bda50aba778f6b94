/**
 * `Rampart`: the one client object of a process. It holds the connection
 * pool and the options, and hands out the resources: `queue(name)`,
 * `jobs`, `cron`, `breakers`, `limiter`, `usage`, `caches`, `errors`. No global state: two clients are
 * two pools.
 *
 * Requests the server refused before doing anything (429, 503) or that
 * never reached it (connection refused) are retried with jittered backoff,
 * `maxRetries` times; reads are retried on any 5xx or network error too.
 */

import { readFileSync } from 'node:fs';

import { backoffDelay, sleep, type Backoff } from './backoff.js';
import { APIError, ConnectionError, RampartError } from './errors.js';
import { Transport, path, type Answer, type RequestOptions } from './http.js';
import { Breakers, type SafeCallOptions } from './breaker.js';
import { Cron } from './cron.js';
import { Jobs, Queue } from './queue.js';
import { Limiter } from './ratelimit.js';
import { Caches, Errors, Usage } from './usage.js';
import type { HealthResponse, QueueView } from './wire.js';

/** How to reach the server. */
export interface RampartOptions {
  /** The server's base URL (default `RAMPART_URL`, else `http://127.0.0.1:7433`). */
  url?: string;
  /** An API key (default `RAMPART_API_KEY`, else `RAMPART_DATA_DIR/admin.key` or `./rampart-data/admin.key` when present). */
  apiKey?: string;
  /** Milliseconds one request may take (default 30,000; a long-poll adds its wait). */
  timeoutMs?: number;
  /** Tries after the first for a request the server refused before doing anything (default 2). */
  maxRetries?: number;
  /** Connections kept to the server at most (default 16; a worker raises it to its concurrency plus a few). */
  maxSockets?: number;
}

/** The backoff between the client's own retries: 200 ms, ×2, at most 5 s, ±20%. */
const CLIENT_BACKOFF: Backoff = { initialMs: 200, factor: 2, maxMs: 5_000, jitter: 0.2 };

const VERSION = '0.1.0';

/** A client of one rampart server. */
export class Rampart {
  /** The transport, shared by every resource and worker of this client. */
  readonly transport: Transport;
  /** Jobs by id: get, retry, cancel, wait for a result. */
  readonly jobs: Jobs;
  /** Cron schedules. */
  readonly cron: Cron;
  /** Shared circuit breakers and `safeCall`. */
  readonly breakers: Breakers;
  /** Rate-limit checks. */
  readonly limiter: Limiter;
  /** AI usage: reports, reservations (`guard`), summaries, budgets. */
  readonly usage: Usage;
  /** Cache telemetry. */
  readonly caches: Caches;
  /** Error events. */
  readonly errors: Errors;
  private readonly maxRetries: number;

  constructor(options: RampartOptions = {}) {
    const url = options.url ?? process.env.RAMPART_URL ?? 'http://127.0.0.1:7433';
    this.transport = new Transport({
      baseUrl: url,
      apiKey: options.apiKey ?? process.env.RAMPART_API_KEY ?? adminKeyFile(),
      timeoutMs: options.timeoutMs ?? 30_000,
      maxSockets: options.maxSockets ?? 16,
      userAgent: `rampart-node/${VERSION} node/${process.versions.node}`,
    });
    this.maxRetries = options.maxRetries ?? 2;
    this.jobs = new Jobs(this);
    this.cron = new Cron(this);
    this.breakers = new Breakers(this);
    this.limiter = new Limiter(this);
    this.usage = new Usage(this);
    this.caches = new Caches(this);
    this.errors = new Errors(this);
  }

  /** A queue by name (nothing is sent until you call a method). */
  queue(name: string): Queue {
    return new Queue(this, name);
  }

  /** Runs `fn` guarded by the shared breaker `name`, with a timeout per attempt and retries: see `Breakers.safeCall`. */
  safeCall<T>(name: string, fn: (signal: AbortSignal) => Promise<T>, options?: SafeCallOptions): Promise<T> {
    return this.breakers.safeCall(name, fn, options);
  }

  /** Every known queue with its counts and totals. */
  async queues(): Promise<QueueView[]> {
    return (await this.request<{ queues: QueueView[] }>('GET', '/v1/queues')).body.queues;
  }

  /** `GET /health`: liveness, uptime and version. */
  async health(): Promise<HealthResponse> {
    return (await this.request<HealthResponse>('GET', '/health')).body;
  }

  /** Closes the pooled connections (workers of this client should be closed first). */
  close(): void {
    this.transport.close();
  }

  /** Sends a request with the client's retries; `template`'s `{placeholders}` take `params` in order. */
  async request<T>(
    method: string,
    template: string,
    options: RequestOptions & { params?: string[]; retries?: number } = {},
  ): Promise<Answer<T>> {
    const pathname = path(template, ...(options.params ?? []));
    const retries = options.retries ?? this.maxRetries;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.transport.request<T>(method, pathname, options);
      } catch (e) {
        if (attempt >= retries || options.signal?.aborted || !retryable(method, e)) throw e;
        const asked = e instanceof APIError && e.retryAfter !== undefined ? e.retryAfter * 1000 : 0;
        await sleep(Math.max(asked, backoffDelay(CLIENT_BACKOFF, attempt + 1)), options.signal);
      }
    }
  }
}

/** Whether repeating the request is safe and may help. */
function retryable(method: string, e: unknown): boolean {
  if (e instanceof APIError) return e.status === 429 || e.status === 503 || (method === 'GET' && e.status >= 500);
  if (e instanceof ConnectionError) {
    const code = (e.cause as NodeJS.ErrnoException | undefined)?.code;
    return method === 'GET' || code === 'ECONNREFUSED';
  }
  return method === 'GET' && e instanceof RampartError && e.name === 'TimeoutError';
}

/** The admin key the server wrote on first start, when this process can read it. */
function adminKeyFile(): string | undefined {
  const dir = process.env.RAMPART_DATA_DIR ?? './rampart-data';
  try {
    return readFileSync(`${dir}/admin.key`, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
