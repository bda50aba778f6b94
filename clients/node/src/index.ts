/**
 * `@rampart/client`: the official TypeScript client for rampart.
 *
 * ```ts
 * import { Rampart, Worker } from '@rampart/client';
 * const rampart = new Rampart({ url: 'http://127.0.0.1:7433', apiKey: process.env.RAMPART_API_KEY });
 * await rampart.queue('email-send').add({ to: 'a@b.c' }, { maxAttempts: 3 });
 * new Worker(rampart, 'email-send', async (job) => ({ sent: job.payload }), { concurrency: 8 });
 * ```
 */

export { Rampart, type RampartOptions } from './client.js';
export {
  Queue,
  Jobs,
  type JobOptions,
  type BulkJob,
  type ChildJob,
  type ListOptions,
  type WaitOptions,
} from './queue.js';
export {
  Worker,
  Job,
  WorkerClosingError,
  type Handler,
  type WorkerOptions,
  type WorkerHealth,
  type WorkerEvents,
} from './worker.js';
export { Step, JobGivenBackError, type WaitForEvent } from './step.js';
export { Breakers, FailedResponseError, type SafeCallOptions } from './breaker.js';
export { Cron, type CronSpec } from './cron.js';
export {
  Usage,
  Budgets,
  Caches,
  Errors,
  type GuardCall,
  type GuardOutcome,
  type GuardOptions,
  type SummaryOptions,
} from './usage.js';
export {
  Limiter,
  rateLimitExpress,
  rateLimitFastify,
  rateLimitFetch,
  exceededBody,
  type Decision,
  type RateLimitOptions,
} from './ratelimit.js';
export {
  verifyPush,
  handlePush,
  pushExpress,
  pushFetch,
  RetryLaterError,
  type PushJob,
  type PushHandler,
  type VerifyOptions,
  type HeaderSource,
} from './push.js';
export { CALL_BACKOFF, backoffDelay, type Backoff } from './backoff.js';
export * from './errors.js';
export type * from './wire.js';
