/**
 * Errors: one class per family of the server's error codes, each carrying the
 * server's `code`, its `message`, the HTTP `status` and the `requestId` (the
 * `x-request-id` the server logged the request under). Catch a family with
 * `instanceof` (`NotFoundError`), or branch on `code` (`JOB_NOT_FOUND`).
 *
 * Errors that never reached an answer are `ConnectionError` and `TimeoutError`;
 * the worker's and safeCall's own outcomes (`FatalError`, `CircuitOpenError`,
 * `RetriesExhaustedError`) live here too so one import covers every catch.
 */

/** The base of every error this package throws. */
export class RampartError extends Error {
  override name = 'RampartError';
}

/** An answer from the server that was not a success. */
export class APIError extends RampartError {
  override name = 'APIError';
  /** The server's stable code, e.g. `LEASE_LOST`, `INVALID_REQUEST`. */
  readonly code: string;
  /** The HTTP status. */
  readonly status: number;
  /** The `x-request-id` of the request, to find it in the server's logs. */
  readonly requestId: string | undefined;
  /** Seconds the server asked to wait (`Retry-After`), when it said. */
  readonly retryAfter: number | undefined;

  constructor(status: number, code: string, message: string, requestId?: string, retryAfter?: number) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

/** 400: the request is malformed; the message names the field. */
export class BadRequestError extends APIError {
  override name = 'BadRequestError';
}
/** 401: no API key, or one the server does not know. */
export class AuthenticationError extends APIError {
  override name = 'AuthenticationError';
}
/** 403: the key's role does not allow this. */
export class PermissionDeniedError extends APIError {
  override name = 'PermissionDeniedError';
}
/** 404: `NOT_FOUND`, `JOB_NOT_FOUND`, `QUEUE_NOT_FOUND`, `POLICY_NOT_FOUND`, … */
export class NotFoundError extends APIError {
  override name = 'NotFoundError';
}
/** 409: `CONFLICT`, `INVALID_STATE`, `QUEUE_IS_PUSH`, … */
export class ConflictError extends APIError {
  override name = 'ConflictError';
}
/** 409 `LEASE_LOST`: another worker holds the job now; stop working on it. */
export class LeaseLostError extends ConflictError {
  override name = 'LeaseLostError';
}
/** 413: the payload is larger than the server takes. */
export class PayloadTooLargeError extends APIError {
  override name = 'PayloadTooLargeError';
}
/** 429: rampart's own API limit for this key; `retryAfter` says how long to wait. */
export class RateLimitedError extends APIError {
  override name = 'RateLimitedError';
}
/** 5xx: the server failed (`INTERNAL`) or cannot serve now (`STORE_UNAVAILABLE`). */
export class ServerError extends APIError {
  override name = 'ServerError';
}

/** The request got no answer: refused, reset, DNS, … */
export class ConnectionError extends RampartError {
  override name = 'ConnectionError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Something took longer than it was given: a request, or one attempt of `safeCall`. */
export class TimeoutError extends RampartError {
  override name = 'TimeoutError';
  /** The time it was given, in milliseconds. */
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number) {
    super(message);
    this.timeoutMs = timeoutMs;
  }
}

/** Thrown by a job handler: the job fails for good (straight to `dead`), no retry. */
export class FatalError extends RampartError {
  override name = 'FatalError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** `FatalError` by the name Celery and BullMQ users look for. */
export { FatalError as PermanentError };

/** `safeCall` was refused by the shared breaker; `retryAfter` in seconds. */
export class CircuitOpenError extends RampartError {
  override name = 'CircuitOpenError';
  /** The breaker's name. */
  readonly breaker: string;
  /** Seconds until the breaker may admit a call. */
  readonly retryAfter: number;
  constructor(breaker: string, retryAfter: number) {
    super(`circuit breaker "${breaker}" is open; try again in ${retryAfter}s`);
    this.breaker = breaker;
    this.retryAfter = retryAfter;
  }
}

/** `safeCall` used every attempt; `cause` is the last attempt's error. */
export class RetriesExhaustedError extends RampartError {
  override name = 'RetriesExhaustedError';
  /** Attempts made. */
  readonly attempts: number;
  constructor(attempts: number, cause: unknown) {
    super(`gave up after ${attempts} attempts: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.attempts = attempts;
  }
}

/** A push delivery whose signature or timestamp does not check out. */
export class PushVerificationError extends RampartError {
  override name = 'PushVerificationError';
}

/** The error an answer stands for, by status (and `LEASE_LOST` by code). */
export function errorFromAnswer(
  status: number,
  code: string,
  message: string,
  requestId?: string,
  retryAfter?: number,
): APIError {
  const args = [status, code, message, requestId, retryAfter] as const;
  if (status === 409 && code === 'LEASE_LOST') return new LeaseLostError(...args);
  switch (status) {
    case 400:
    case 422:
      return new BadRequestError(...args);
    case 401:
      return new AuthenticationError(...args);
    case 403:
      return new PermissionDeniedError(...args);
    case 404:
      return new NotFoundError(...args);
    case 409:
      return new ConflictError(...args);
    case 413:
      return new PayloadTooLargeError(...args);
    case 429:
      return new RateLimitedError(...args);
  }
  return status >= 500 ? new ServerError(...args) : new APIError(...args);
}

/** `usage.guard` was refused by an enforced budget: the call was not made. */
export class BudgetExceededError extends RampartError {
  override name = 'BudgetExceededError';
  /** The enforced budget that refused the reservation. */
  readonly refusedBy: string | undefined;
  /** The least room left (USD) among the budgets that apply. */
  readonly remaining: number | null;
  constructor(refusedBy: string | undefined, remaining: number | null) {
    super(`budget "${refusedBy ?? '?'}" has no room for this call (remaining: ${remaining ?? 'unknown'} USD)`);
    this.refusedBy = refusedBy;
    this.remaining = remaining;
  }
}
