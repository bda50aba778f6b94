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
export type JobState = 'scheduled' | 'available' | 'waiting' | 'active' | 'completed' | 'dead' | 'cancelled';

/** The answer to an enqueue. */
export interface EnqueueResponse {
  id: string;
  state: JobState;
  /** True when a live job with the same unique key was returned. */
  duplicate: boolean;
  /** A parent's children as enqueued, in request order (absent without `children`). */
  children?: EnqueueResponse[];
}

/** A child as its parent's lease shows it. */
export interface ChildView {
  id: string;
  queue: string;
  /** `completed`, or `dead`/`cancelled` under `onChildDead: 'ignore'`. */
  state: JobState;
  result: Json | null;
  error: string | null;
}

/** How many of a parent's children are in one state. */
export interface ChildCount {
  state: JobState;
  count: number;
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
  /** A parent's children's outcomes in id order; absent for a job that is no parent. */
  children?: ChildView[];
  /** The steps recorded so far, by name (see `job.step`). */
  steps?: Record<string, Json>;
  /** Their names in the order they were reached. */
  step_order?: string[];
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
  /** A flow's child: its parent. */
  parent_id?: string;
  /** A waiting parent: its children not yet ended. */
  pending_children?: number;
  /** A parent: its children counted by state (absent in listings). */
  children?: ChildCount[];
  /** The steps recorded, in the order reached (absent when none). */
  steps?: { name: string; result: Json; at: string; attempt: number }[];
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
  /** Parents waiting on their children. */
  waiting: number;
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

/** One model call as `POST /v1/usage` takes it (alone, or in `{events: [...]}`). */
export interface UsageEvent {
  /** The app's id of the call: a second report of it changes nothing. */
  call_id: string;
  model: string;
  provider?: string;
  input_tokens: number;
  cached_input_tokens?: number;
  cache_write_tokens?: number;
  output_tokens: number;
  reasoning_tokens?: number;
  /** What it cost; priced from the server's price table when left out. */
  cost_usd?: number;
  duration_ms: number;
  success: boolean;
  feature?: string;
  tenant?: string;
  user?: string;
  /** The reservation it settles. */
  reservation_id?: string;
  at?: string;
}

/** What became of one reported call. */
export interface UsageEventResult {
  call_id: string;
  duplicate: boolean;
  cost_usd: number;
  price_version?: string;
}

/** The answer of `POST /v1/usage`. */
export interface UsageResponse {
  accepted: number;
  duplicates: number;
  settled: number;
  events: UsageEventResult[];
}

/** `POST /v1/usage/reserve`: what the call is about, and its estimate (or the tokens to price it). */
export interface ReserveRequest {
  tenant?: string;
  user?: string;
  feature?: string;
  model?: string;
  estimated_cost_usd?: number;
  input_tokens?: number;
  max_tokens?: number;
}

/** The answer of `POST /v1/usage/reserve`. */
export interface ReserveResponse {
  /** The id to name in the call's usage report; `null` when refused. */
  reservation_id: string | null;
  allowed: boolean;
  /** The least room left (USD) among the budgets that apply; `null` when none applies. */
  remaining: number | null;
  estimated_cost_usd: number;
  expires_at?: string;
  refused_by?: string;
}

/** One group's totals in a usage summary. */
export interface UsageGroupView {
  key: string | null;
  calls: number;
  failures: number;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_usd: number;
  p50_ms: number;
  p95_ms: number;
}

/** The answer of `GET /v1/usage/summary`. */
export interface UsageSummaryResponse {
  since: string;
  until: string;
  group_by?: string;
  /** The zone whose calendar days `group_by: 'day'` counts. */
  timezone: string;
  groups: UsageGroupView[];
}

/** A budget as `PUT /v1/budgets/{name}` and `[budgets.NAME]` take it. */
export interface BudgetSpec {
  /** `global` (default), `tenant`, `user`, `feature` or `model`. */
  scope?: string;
  /** Only this value of the scope. */
  match?: string;
  amount_usd: number;
  /** `day`, `week` or `month` (default). */
  period?: string;
  /** Percentages alerted on once each per period (default 50, 80, 100). */
  thresholds?: number[];
  /** Whether reservations past the limit are refused (default true). */
  enforce?: boolean;
}

/** One subject's window of a budget in its current period. */
export interface BudgetWindowView {
  subject: string;
  spent_usd: number;
  reserved_usd: number;
  remaining_usd: number;
}

/** A budget with its current period's figures. */
export interface BudgetView {
  name: string;
  origin: string;
  scope: string;
  match?: string;
  amount_usd: number;
  period: string;
  window: string;
  thresholds: number[];
  enforce: boolean;
  windows: BudgetWindowView[];
}

/** A cache's state as `POST /v1/caches/{name}/report` takes it. */
export interface CacheSnapshotBody {
  size: number;
  max_size: number;
  loads: number;
  hits: number;
  misses: number;
  avg_load_ms: number;
  memory_bytes?: number;
}

/** One thing that happened in a cache. */
export interface CacheEventBody {
  type: 'load' | 'hit' | 'miss' | 'evict';
  key?: string;
  user?: string;
  /** Required for `evict`: `lru`, `timeout` or `manual`. */
  reason?: 'lru' | 'timeout' | 'manual';
  idle_ms?: number;
  load_ms?: number;
  at?: string;
}

/** `POST /v1/caches/{name}/report`: a snapshot and/or events. */
export interface CacheReportRequest {
  snapshot?: CacheSnapshotBody;
  events?: CacheEventBody[];
}

/** The answer of a cache report. */
export interface CacheReportResponse {
  name: string;
  events: number;
  evictions: number;
}

/** `POST /v1/errors`: one error event, scrubbed of personal data before it is kept. */
export interface ErrorReportRequest {
  /** `critical` becomes an alert at once. */
  level: 'info' | 'warning' | 'error' | 'critical';
  kind: string;
  message: string;
  fingerprint?: string;
  tenant?: string;
  tags?: Record<string, string>;
  at?: string;
}

/** A kept error event. */
export interface ErrorEventView {
  id: string;
  at: string;
  level: 'info' | 'warning' | 'error' | 'critical';
  kind: string;
  message: string;
  fingerprint: string;
  tenant: string | null;
  tags: Record<string, string>;
}
