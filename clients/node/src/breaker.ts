/**
 * Shared circuit breakers and `safeCall`: an outbound call guarded by a
 * breaker every instance of the app shares (its state lives in rampart, so
 * when one instance sees the API fail, all stop calling it).
 *
 * `safeCall` asks the breaker before each attempt (refused: `CircuitOpenError`
 * with `retryAfter`, no call made), gives the attempt a timeout (an
 * `AbortSignal` is passed to the function), records the outcome and its
 * duration, and retries 408/429/5xx, network errors, timeouts and any other
 * error without an HTTP status, with exponential backoff and ±20% jitter,
 * waiting at least what a `Retry-After` asked. A 4xx other than 408 and 429
 * is the caller's mistake: recorded as a success of the remote (it
 * answered) and thrown at once. Defaults are rampart-guard's: 30 s per
 * attempt, 3 attempts, 1 s → 2 s → 4 s (±20%), 2 minutes in all.
 */

import { CALL_BACKOFF, backoffDelay, sleep, type Backoff } from './backoff.js';
import { APIError, CircuitOpenError, ConnectionError, RetriesExhaustedError, TimeoutError } from './errors.js';
import { retryAfterSeconds } from './http.js';
import type { Rampart } from './client.js';
import type { BreakerAcquireResponse, BreakerView } from './wire.js';

/** How `safeCall` behaves; every field has the default said. */
export interface SafeCallOptions {
  /** Milliseconds one attempt may take (default 30,000). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 2). */
  retries?: number;
  /** The wait between attempts (default 1 s, ×2, at most 4 s, ±20%). */
  backoff?: Backoff;
  /** Milliseconds for all attempts and waits together (default 120,000). */
  budgetMs?: number;
  /** Decides whether an error is worth another attempt (default: see the module doc). */
  retryOn?: (error: unknown) => boolean;
  /** When rampart itself cannot be reached: `open` makes the call unguarded (default), `closed` throws. */
  onRampartError?: 'open' | 'closed';
  /** Cancels the whole call. */
  signal?: AbortSignal;
}

/** The status a thrown error or a returned `Response` carries, if any. */
function statusOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as { status?: unknown; statusCode?: unknown; response?: { status?: unknown } };
  for (const s of [v.status, v.statusCode, v.response?.status]) if (typeof s === 'number') return s;
  return undefined;
}

/** Whether a status means the remote failed (worth a retry, counted against the breaker). */
function failedStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The `Retry-After` a thrown error or a returned `Response` carries, in seconds. */
function retryAfterOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as { retryAfter?: unknown; headers?: { get?: unknown }; response?: { headers?: { get?: unknown } } };
  if (typeof v.retryAfter === 'number') return v.retryAfter;
  for (const headers of [v.headers, v.response?.headers]) {
    if (headers && typeof headers.get === 'function') {
      const text = (headers.get as (name: string) => string | null).call(headers, 'retry-after');
      const seconds = retryAfterSeconds(text);
      if (seconds !== undefined) return seconds;
    }
  }
  return undefined;
}

/** A `Response` whose status says the remote failed, turned into an error to retry. */
export class FailedResponseError extends Error {
  override name = 'FailedResponseError';
  constructor(
    /** The response. */
    readonly response: { status: number },
  ) {
    super(`the call answered HTTP ${response.status}`);
  }
  /** Its status. */
  get status(): number {
    return this.response.status;
  }
}

/** Shared circuit breakers. */
export class Breakers {
  constructor(private readonly client: Rampart) {}

  /** Asks the breaker whether to make a call. */
  async acquire(name: string, options: { timeoutMs?: number } = {}): Promise<BreakerAcquireResponse> {
    const answer = await this.client.request<BreakerAcquireResponse>('POST', '/v1/breakers/{name}/acquire', {
      params: [name],
      retries: 0,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
    return answer.body;
  }

  /** Tells the breaker how an admitted call ended. */
  async record(name: string, outcome: 'success' | 'failure', durationMs?: number): Promise<{ state: string }> {
    const answer = await this.client.request<{ state: string }>('POST', '/v1/breakers/{name}/record', {
      params: [name],
      body: { outcome, duration_ms: durationMs === undefined ? undefined : Math.round(durationMs) },
    });
    return answer.body;
  }

  /** One breaker with its latest transitions. */
  async get(name: string): Promise<BreakerView> {
    return (await this.client.request<BreakerView>('GET', '/v1/breakers/{name}', { params: [name] })).body;
  }

  /** Every breaker. */
  async list(): Promise<BreakerView[]> {
    return (await this.client.request<{ breakers: BreakerView[] }>('GET', '/v1/breakers')).body.breakers;
  }

  /** Closes a breaker and forgets its counts (admin). */
  async reset(name: string): Promise<void> {
    await this.client.request('POST', '/v1/breakers/{name}/reset', { params: [name] });
  }

  /** Runs `fn` guarded by the shared breaker `name`, with a timeout per attempt and retries (see the module doc). */
  async safeCall<T>(name: string, fn: (signal: AbortSignal) => Promise<T>, options: SafeCallOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const attempts = (options.retries ?? 2) + 1;
    const backoff = options.backoff ?? CALL_BACKOFF;
    const deadline = Date.now() + (options.budgetMs ?? 120_000);
    let last: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      options.signal?.throwIfAborted();
      const guarded = await this.admit(name, options.onRampartError ?? 'open');
      const started = performance.now();
      let outcome: { ok: true; value: T } | { ok: false; error: unknown };
      try {
        const value = await withTimeout(fn, timeoutMs, options.signal);
        const status = statusOf(value);
        outcome =
          status !== undefined && failedStatus(status) && typeof (value as { headers?: unknown }).headers === 'object'
            ? { ok: false, error: new FailedResponseError(value as { status: number }) }
            : { ok: true, value };
      } catch (error) {
        outcome = { ok: false, error };
      }
      const duration = performance.now() - started;
      const status = outcome.ok ? undefined : statusOf(outcome.error);
      // A 4xx other than 408/429 means the remote answered: it works.
      const remoteFailed = !outcome.ok && !(status !== undefined && !failedStatus(status));
      if (guarded) await this.record(name, remoteFailed ? 'failure' : 'success', duration).catch(() => undefined);
      if (outcome.ok) return outcome.value;
      last = outcome.error;
      const again = options.retryOn ? options.retryOn(last) : remoteFailed;
      if (!again || options.signal?.aborted) throw last;
      if (attempt === attempts) break;
      const wait = Math.max(backoffDelay(backoff, attempt), (retryAfterOf(last) ?? 0) * 1000);
      if (Date.now() + wait >= deadline) break;
      await sleep(wait, options.signal);
    }
    throw new RetriesExhaustedError(attempts, last);
  }

  /** Acquires the breaker; answers whether the call is guarded (false when rampart is unreachable and failing open). */
  private async admit(name: string, onError: 'open' | 'closed'): Promise<boolean> {
    let answer: BreakerAcquireResponse;
    try {
      answer = await this.acquire(name, { timeoutMs: 2_000 });
    } catch (e) {
      const unreachable = e instanceof ConnectionError || e instanceof TimeoutError;
      const serverDown = e instanceof APIError && (e.status >= 500 || e.status === 429);
      if (onError === 'open' && (unreachable || serverDown)) return false;
      throw e;
    }
    if (!answer.allowed) throw new CircuitOpenError(name, answer.retry_after_s ?? 0);
    return true;
  }
}

/** Runs `fn` with a signal that aborts after `timeoutMs`; rejects with `TimeoutError` then even if `fn` ignores it. */
function withTimeout<T>(fn: (signal: AbortSignal) => Promise<T>, timeoutMs: number, outer?: AbortSignal): Promise<T> {
  const controller = new AbortController();
  const onOuter = () => controller.abort(outer?.reason);
  outer?.addEventListener('abort', onOuter, { once: true });
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new TimeoutError(`the call took longer than ${timeoutMs} ms`, timeoutMs);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
    const settle = () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuter);
    };
    fn(controller.signal).then(
      (v) => {
        settle();
        resolve(v);
      },
      (e) => {
        settle();
        reject(e);
      },
    );
  });
}
