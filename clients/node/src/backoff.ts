/**
 * Waiting between tries: exponential backoff with ±jitter (so clients that
 * failed together do not come back together), and a sleep that an
 * `AbortSignal` cuts short.
 */

/** Exponential backoff: `initialMs × factor^(n-1)`, capped at `maxMs`, then moved by up to ±`jitter` of itself. */
export interface Backoff {
  /** Wait before the first retry, in milliseconds. */
  initialMs: number;
  /** Multiplier for each further retry. */
  factor: number;
  /** Longest wait before jitter, in milliseconds. */
  maxMs: number;
  /** Fraction of the wait added or removed at random, 0 to 1. */
  jitter: number;
}

/** The default between attempts of a call (rampart-guard's): 100 ms, ×2, at most 5 s, ±20%. */
export const CALL_BACKOFF: Backoff = { initialMs: 1_000, factor: 2, maxMs: 4_000, jitter: 0.2 };

/** The wait before retry number `retry` (from 1). */
export function backoffDelay(backoff: Backoff, retry: number): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** Math.max(0, retry - 1));
  const spread = base * backoff.jitter;
  return Math.max(0, base - spread + Math.random() * 2 * spread);
}

/** Resolves after `ms`, or at once when `signal` aborts (it never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
