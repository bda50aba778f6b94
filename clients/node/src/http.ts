/**
 * The transport: JSON over `node:http`/`node:https` through one keep-alive
 * agent per client, so a process holds a small pool of warm connections
 * instead of opening one per call (built-in `fetch` measured at well under
 * half the rate of a keep-alive `node:http` loop on the worker's hot path).
 *
 * Every request has a deadline and may carry an `AbortSignal`. A request
 * that fails on a pooled connection the server had just closed (reset
 * before any answer) is sent once more on a fresh one: nothing was
 * processed. Answers other than 2xx become the error classes of `errors.ts`.
 */

import http from 'node:http';
import https from 'node:https';

import { ConnectionError, TimeoutError, errorFromAnswer } from './errors.js';

/** One answer: status, headers and the parsed JSON body (undefined when empty). */
export interface Answer<T = unknown> {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: T;
}

/** What a request needs beyond method and path. */
export interface RequestOptions {
  /** A JSON body. */
  body?: unknown;
  /** Query parameters; undefined values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  /** Milliseconds for the whole exchange. */
  timeoutMs?: number;
  /** Cuts the request short (it rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** The parts of a connection that never change. */
export interface TransportOptions {
  baseUrl: string;
  apiKey: string | undefined;
  timeoutMs: number;
  maxSockets: number;
  userAgent: string;
}

/** Joins a path template's placeholders with percent-encoded values, in order. */
export function path(template: string, ...params: string[]): string {
  let i = 0;
  return template.replace(/\{[^}]+\}/g, () => encodeURIComponent(params[i++] ?? ''));
}

/** Requests to one server over a keep-alive pool. */
export class Transport {
  /** The connection pool; its `maxSockets` grows when a worker needs more. */
  readonly agent: http.Agent;
  private readonly url: URL;
  private readonly module: typeof http | typeof https;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(options: TransportOptions) {
    this.url = new URL(options.baseUrl);
    const secure = this.url.protocol === 'https:';
    this.module = secure ? https : http;
    // LIFO keeps the fewest sockets warm; idle ones close well before the
    // server's 60 s idle timeout would close them under a request.
    const agentOptions = {
      keepAlive: true,
      maxSockets: options.maxSockets,
      scheduling: 'lifo' as const,
      timeout: 30_000,
    };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.headers = { accept: 'application/json', 'user-agent': options.userAgent };
    if (options.apiKey) this.headers.authorization = `Bearer ${options.apiKey}`;
    this.timeoutMs = options.timeoutMs;
  }

  /** Sends one request; rejects with an `APIError` subclass, `ConnectionError` or `TimeoutError`. */
  async request<T>(method: string, pathname: string, options: RequestOptions = {}): Promise<Answer<T>> {
    try {
      return await this.once<T>(method, pathname, options);
    } catch (e) {
      if (e instanceof StaleSocket) return this.once<T>(method, pathname, options);
      throw e;
    }
  }

  /** Closes the pooled connections. */
  close(): void {
    this.agent.destroy();
  }

  private once<T>(method: string, pathname: string, options: RequestOptions): Promise<Answer<T>> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let target = this.url.pathname.replace(/\/$/, '') + pathname;
    if (options.query) {
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(options.query)) if (v !== undefined) query.set(k, String(v));
      const text = query.toString();
      if (text) target += `?${text}`;
    }
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Record<string, string | number> = { ...this.headers };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise<Answer<T>>((resolve, reject) => {
      const req = this.module.request({
        protocol: this.url.protocol,
        hostname: this.url.hostname,
        port: this.url.port,
        method,
        path: target,
        headers,
        agent: this.agent,
      });
      let settled = false;
      const finish = (error: unknown, answer?: Answer<T>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined && answer) resolve(answer);
        else reject(error);
      };
      const onAbort = () => {
        finish(signal?.reason);
        req.destroy();
      };
      const timer = setTimeout(() => {
        finish(new TimeoutError(`${method} ${pathname} got no answer within ${timeoutMs} ms`, timeoutMs));
        req.destroy();
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (req.reusedSocket && e.code === 'ECONNRESET') return finish(new StaleSocket());
        finish(new ConnectionError(`${method} ${this.url.origin}${pathname} failed: ${e.message}`, { cause: e }));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => finish(new ConnectionError(`reading the answer failed: ${e.message}`, { cause: e })));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = chunks.length === 1 ? (chunks[0] as Buffer).toString() : Buffer.concat(chunks).toString();
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = text;
          }
          if (status >= 200 && status < 300) {
            return finish(undefined, { status, headers: res.headers, body: body as T });
          }
          finish(answerError(status, res.headers, body, text));
        });
      });
      req.end(payload);
    });
  }
}

/** A pooled connection closed by the server before this request was read. */
class StaleSocket extends Error {}

/** The error of a non-2xx answer, from rampart's `{"error": {code, message}}` body. */
function answerError(status: number, headers: http.IncomingHttpHeaders, body: unknown, text: string) {
  const detail = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof detail?.code === 'string' ? detail.code : `HTTP_${status}`;
  const message = typeof detail?.message === 'string' ? detail.message : text.slice(0, 200) || `HTTP ${status}`;
  const requestId = headerText(headers['x-request-id']);
  return errorFromAnswer(status, code, message, requestId, retryAfterSeconds(headers['retry-after']));
}

/** A header's single value. */
export function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** `Retry-After` in seconds: a number of seconds, or an HTTP date. */
export function retryAfterSeconds(value: string | string[] | null | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const seconds = Number(text.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
