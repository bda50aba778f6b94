/**
 * The JSON shapes of rampart's HTTP API, as the server sends them (field
 * names in snake_case, times as RFC 3339 UTC strings, durations as human
 * strings such as `"30s"`). Written from `crates/rampart-client/src/wire/`,
 * the server's own definitions, and held to the schemas of the same names
 * in the served `/openapi.json` by `test/contract.test.mjs`; options this
 * package takes are camelCase.
 */

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A job's state. */
export type JobState = 'scheduled' | 'available' | 'active' | 'completed' | 'dead' | 'cancelled';

/** The answer to an enqueue. */
export interface EnqueueResponse {
  id: string;
  state: JobState;
  /** True when a live job with the same unique key was returned. */
  duplicate: boolean;
}

/** A job leased to a worker. */
export interface LeasedJobView {
  id: string;
  queue: string;
  payload: Json;
  attempt: number;
  max_attempts: number;
  lease_token: string;
  lease_expires_at: string;
  timeout_at: string | null;
  created_at: string;
  /** The customer the job belongs to. */
  tenant?: string;
}

/** The answer to a complete or fail. */
export interface AckResponse {
  id: string;
  state: JobState;
  retry_at?: string;
  already?: boolean;
}

/** The fate of one ack of `POST /v1/acks`. */
export interface AckResult {
  id: string;
  state?: JobState;
  already?: boolean;
  error?: { code: string; message: string };
}

/** One transition in a job's history. */
export interface JobEventView {
  at: string;
  from: JobState | null;
  to: JobState;
  attempt: number;
  worker: string | null;
  /** enqueued, due, leased, completed, error, lease_expired, timeout, stalled, retried, cancelled, released. */
  reason: string;
  error: string | null;
}

/** One failed attempt's error. */
export interface JobErrorView {
  attempt: number;
  at: string;
  reason: string;
  error: string;
}

/** A job as `GET /v1/jobs/{id}` shows it (listings leave out `errors` and `history`). */
export interface JobView {
  id: string;
  queue: string;
  state: JobState;
  payload: Json;
  priority: number;
  attempt: number;
  max_attempts: number;
  timeout: string | null;
  unique_key: string | null;
  created_at: string;
  run_at: string;
  started_at: string | null;
  finished_at: string | null;
  lease_expires_at: string | null;
  timeout_at: string | null;
  worker: string | null;
  last_error: string | null;
  result: Json | null;
  /** The customer the job belongs to. */
  tenant: string | null;
  /** Leases that expired without a heartbeat and gave the job back without counting an attempt. */
  stalls: number;
  /** What its worker last reported of its attempt. */
  progress: Json | null;
  errors?: JobErrorView[];
  history?: JobEventView[];
}

/** A page of jobs. */
export interface JobListResponse {
  jobs: JobView[];
  next_cursor: string | null;
}

/** Job counts per state. */
export interface StateCounts {
  scheduled: number;
  available: number;
  active: number;
  completed: number;
  dead: number;
  cancelled: number;
}

/** Running totals of a queue. */
export interface QueueTotals {
  completed: number;
  failed: number;
  retries: number;
  dead: number;
  stalled: number;
  timeouts: number;
  mean_processing_ms: number;
}

/** A queue as `GET /v1/queues` shows it. */
export interface QueueView {
  name: string;
  paused: boolean;
  counts: StateCounts;
  totals: QueueTotals;
  target?: string;
  secret?: string;
  rate?: QueueRateView;
}

/** A queue's start rate (`[queues.NAME] rate`) and its windows open now. */
export interface QueueRateView {
  rate: string;
  key?: string;
  started: number;
  groups: number;
  full: number;
  reopens_at?: string;
}

/** The answer to a rate-limit check (allowed or not). */
export interface RateLimitCheckResponse {
  allowed: boolean;
  policy: string;
  limit: number;
  remaining: number;
  reset_after_s: number;
  retry_after_s: number | null;
  fallback: boolean;
}

/** The answer to `POST /v1/breakers/{name}/acquire`. */
export interface BreakerAcquireResponse {
  allowed: boolean;
  state: string;
  probe: boolean;
  retry_after_s: number | null;
}

/** A change of a breaker's state. */
export interface BreakerTransitionView {
  at: string;
  from: string;
  to: string;
  reason: string;
}

/** A circuit breaker as `GET /v1/breakers/{name}` shows it. */
export interface BreakerView {
  name: string;
  scope: string;
  state: 'closed' | 'open' | 'half_open';
  since: string | null;
  retry_after_s: number | null;
  consecutive_failures: number;
  window_calls: number;
  window_failures: number;
  probes_in_flight: number;
  policy: Record<string, Json>;
  transitions?: BreakerTransitionView[];
}

/** One run of a cron schedule. */
export interface CronRunView {
  id: string;
  name: string;
  scheduled_at: string;
  enqueued_at: string;
  job_id: string | null;
  trigger: 'schedule' | 'manual' | 'misfire';
  status: string;
  started_at: string | null;
  finished_at: string | null;
  attempts: number;
  error: string | null;
  result: Json | null;
}

/** A cron schedule. */
export interface CronView {
  name: string;
  schedule: string;
  timezone: string;
  queue: string | null;
  payload: Json;
  description: string;
  misfire: 'skip' | 'run_once';
  source: 'config' | 'api' | 'builtin';
  paused: boolean;
  next_run_at: string | null;
  last_run: CronRunView | null;
  created_at: string;
  updated_at: string;
}

/** `GET /health`. */
export interface HealthResponse {
  status: string;
  uptime_s: number;
  version: string;
}
