/**
 * `Worker`: runs a handler for each job of a queue, BullMQ-style.
 *
 * - **Leasing**: one loop long-polls `POST /v1/queues/{queue}/lease` for as
 *   many jobs as there are free slots, never more (a slow job never hoards
 *   others behind it). A failed poll is retried forever with jittered
 *   backoff; the start is jittered too, so a fleet restarting together does
 *   not arrive together.
 * - **Heartbeats** run on their own timer, apart from the handlers; the lease
 *   is at least three heartbeat intervals, and the worker warns (`warning`)
 *   when the event loop lags past half an interval (a handler hogging it
 *   would lose its lease).
 * - **Acks** are batched through `POST /v1/acks`: handlers finishing together
 *   share one call; a failed call is retried until the lease would expire
 *   (a repeated ack is answered `already`, so retrying is safe).
 * - **Lease lost** (`409 LEASE_LOST`, on a heartbeat or an ack): another
 *   worker has the job. Its signal aborts, its result is dropped, and this
 *   worker never retries it (`lost` event).
 * - **Close** (`close()`, or SIGTERM/SIGINT unless `closeOnSignals: []`): no
 *   new leases; running handlers get `graceMs` to finish, heartbeating all
 *   along; those still running then see their `signal` abort and their
 *   leases are released, so another worker takes them at once without an
 *   attempt counted. Pending acks are flushed before `close()` resolves.
 * - **Liveness**: a watchdog restarts the poll when it makes no progress,
 *   and `health()` reports the last successful poll for liveness probes.
 * - **Events**: `completed`, `failed`, `lost`, `error`, `warning`, `closed`.
 *   A listener that throws is reported as `error` and never stops the worker.
 */

import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';

import { backoffDelay, sleep, type Backoff } from './backoff.js';
import { FatalError, LeaseLostError, RampartError } from './errors.js';
import type { Rampart } from './client.js';
import { duration } from './queue.js';
import { JobGivenBackError, Step, type StepCalls } from './step.js';
import type { AckResult, ChildView, JobState, Json, LeasedJobView } from './wire.js';

/** How a worker runs. */
export interface WorkerOptions {
  /** Handlers running at once (default 1). */
  concurrency?: number;
  /** Lease length: milliseconds or `"30s"` (default 30 s). */
  lease?: number | string;
  /** Milliseconds between heartbeats of a running job (default a third of the lease; at most that). */
  heartbeatIntervalMs?: number;
  /** Most jobs per lease call (default `concurrency`, at most 1,000). */
  batch?: number;
  /** Milliseconds a lease call long-polls when the queue is empty (default 20,000; at most 30,000). */
  waitMs?: number;
  /** Milliseconds running handlers get to finish on close (default 30,000). */
  graceMs?: number;
  /** The worker's name in the job history (default `host:pid`). */
  name?: string;
  /** Signals that close the worker, then are raised again for the process's default (default SIGTERM and SIGINT). */
  closeOnSignals?: NodeJS.Signals[];
  /** Start at once (default true); else call `run()`. */
  autorun?: boolean;
  /** Milliseconds without a successful poll after which the watchdog restarts it (default `waitMs` + 30 s). */
  watchdogMs?: number;
}

const abortJob = Symbol('abortJob');

/** The steps of a job no worker handed out: nothing to record them with. */
const NO_STEPS: StepCalls = {
  record: () => Promise.reject(new RampartError('this job was not handed out by a worker, so it has no steps')),
  sleep: () => Promise.reject(new RampartError('this job was not handed out by a worker, so it has no steps')),
  wait: () => Promise.reject(new RampartError('this job was not handed out by a worker, so it has no steps')),
};

/** A job as the handler sees it. */
export class Job<P = Json> {
  private controller: AbortController | undefined;
  private abortReason: unknown;

  constructor(
    /** The job's id. */
    readonly id: string,
    /** Its queue. */
    readonly queue: string,
    /** The payload as enqueued. */
    readonly payload: P,
    /** This attempt, from 1. */
    readonly attempt: number,
    /** Attempts allowed. */
    readonly maxAttempts: number,
    /** When it was enqueued. */
    readonly createdAt: Date,
    /** When this attempt times out on the server, if the job has a timeout. */
    readonly timeoutAt: Date | null,
    /** The customer the job belongs to. */
    readonly tenant: string | null = null,
    private readonly report: (progress: Json) => Promise<void> = async () => {},
    /** The job's steps: `job.step.run(name, fn)` runs `fn` once per job (see `Step`). */
    readonly step: Step = new Step(id, {}, NO_STEPS),
  ) {}

  /** A parent's children's outcomes (results, and errors under `onChildDead: 'ignore'`); `null` for a job that is no parent. */
  children: ChildView[] | null = null;

  /** Keeps the attempt's progress on the job (any JSON, at most 16 KiB), as BullMQ's `job.updateProgress`. */
  updateProgress(progress: Json): Promise<void> {
    return this.report(progress);
  }

  /**
   * Aborts when the worker gives the job up: its lease was lost, or the
   * worker closed before it finished. Made on first use (most handlers
   * never look).
   */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Gives the job up (the worker's own call: a symbol, so it is no part of the handler's API). */
  [abortJob](reason: unknown): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}

/** A handler: the job's result (any JSON, or nothing), or a thrown error (`FatalError`: no retry). */
export type Handler<P = Json> = (job: Job<P>) => Promise<Json | void> | Json | void;

/** What `health()` reports. */
export interface WorkerHealth {
  /** Running, not closing, and either every slot busy or a poll succeeded within the watchdog's time. */
  ok: boolean;
  /** Started and not closed. */
  running: boolean;
  /** When a lease call last succeeded. */
  lastPollAt: Date | null;
  /** The last poll's error, cleared by a success. */
  lastError: string | null;
  /** Handlers running. */
  active: number;
  /** Outcomes waiting for their ack. */
  pendingAcks: number;
}

/** The worker closed before the handler finished; its lease is given back. */
export class WorkerClosingError extends RampartError {
  override name = 'WorkerClosingError';
}

/** One leased job the worker holds. */
interface Held<P> {
  job: Job<P>;
  token: string;
  /** Local time the lease ends, as last extended. */
  leaseEnd: number;
  lastBeat: number;
  beating: boolean;
  state: 'running' | 'acking' | 'dropped';
}

/** An outcome waiting to be acked. */
interface PendingAck<P> {
  held: Held<P>;
  complete: boolean;
  result?: Json;
  error?: string;
  retryable?: boolean;
  /** What the handler threw, as an `Error` (anything else thrown is wrapped in one). */
  thrown?: Error;
  /** Calls that failed to carry it. */
  tries: number;
}

/** Between failed polls: 100 ms doubling to 5 s, ±50% so a fleet spreads out. */
const POLL_BACKOFF: Backoff = { initialMs: 100, factor: 2, maxMs: 5_000, jitter: 0.5 };
/** Between failed ack calls: 100 ms doubling to 2 s (the Rust worker's). */
const ACK_BACKOFF: Backoff = { initialMs: 100, factor: 2, maxMs: 2_000, jitter: 0.2 };
/** Most acks per call. */
const ACK_BATCH = 1_000;
/** Ack calls in flight at once. */
const ACK_CALLS = 2;
/** The longest lease the server grants. */
const MAX_LEASE_MS = 24 * 3_600_000;
/** Longest error message kept. */
const MAX_ERROR_CHARS = 4_000;

/**
 * Workers closing because of a signal. A signal is process-wide, so this is
 * too: the signal is raised again only when the last of them has closed.
 */
const closingOnSignal = new Set<object>();

function parseMs(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(value);
  if (!m) throw new RampartError(`invalid duration ${JSON.stringify(value)}: write e.g. "30s", "500ms" or "5m"`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

function errorText(e: unknown): string {
  const text = e instanceof Error ? (e.name && e.name !== 'Error' ? `${e.name}: ${e.message}` : e.message) : String(e);
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
}

/** The worker's events and their arguments. */
export interface WorkerEvents<P = Json> {
  /** The job's completion was acknowledged; `result` is what the handler answered. */
  completed: [job: Job<P>, result: Json | undefined];
  /** The attempt's failure was acknowledged; `state` is the job's new state (`scheduled` to retry, or `dead`). */
  failed: [job: Job<P>, error: Error, state: JobState | undefined];
  /** Another worker has the job now (`409 LEASE_LOST`): its signal aborted, its result dropped. */
  lost: [job: Job<P>];
  /** A poll, heartbeat or ack failed (retried), or a listener threw. */
  error: [error: unknown];
  /** The event loop lagged enough to put leases at risk. */
  warning: [message: string];
  /** `close()` has finished. */
  closed: [];
}

/** Runs `handler` for the jobs of one queue. */
export class Worker<P = Json> extends EventEmitter<WorkerEvents<P>> {
  /** The queue worked. */
  readonly queue: string;
  private readonly client: Rampart;
  private readonly handler: Handler<P>;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly beatMs: number;
  private readonly batch: number;
  private readonly waitMs: number;
  private readonly graceMs: number;
  private readonly watchdogMs: number;
  private readonly workerName: string;
  private readonly signals: NodeJS.Signals[];

  private readonly held = new Map<string, Held<P>>();
  private running = 0;
  private pending: PendingAck<P>[] = [];
  private ackCalls = 0;
  private ackFailures = 0;
  private ackTimer: NodeJS.Timeout | undefined;
  private ackScheduled = false;
  private ackIdle: (() => void)[] = [];

  private started = false;
  private closing = false;
  private closed: Promise<void> | undefined;
  private loopDone: Promise<void> | undefined;
  private poll: AbortController | undefined;
  private stop = new AbortController();
  private wakeUp: (() => void) | undefined;
  private lastPollAt = 0;
  /** The last successful poll, or the last moment every slot was busy (no poll to make): what the watchdog reads. */
  private progressAt = 0;
  private lastError: string | null = null;
  private timers: NodeJS.Timeout[] = [];
  private readonly onSignal: (signal: NodeJS.Signals) => void;

  constructor(client: Rampart, queue: string, handler: Handler<P>, options: WorkerOptions = {}) {
    super();
    this.client = client;
    this.queue = queue;
    this.handler = handler;
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
    // The server grants at most 24 h; a longer lease would be refused on every call.
    this.leaseMs = Math.min(parseMs(options.lease ?? 30_000), MAX_LEASE_MS);
    this.beatMs = options.heartbeatIntervalMs ?? this.leaseMs / 3;
    if (this.beatMs <= 0 || this.leaseMs < 3 * this.beatMs) {
      throw new RampartError(
        `the lease (${this.leaseMs} ms) must be at least three heartbeat intervals (${this.beatMs} ms): a late heartbeat must not lose the job`,
      );
    }
    this.batch = Math.min(1_000, Math.max(1, options.batch ?? this.concurrency));
    this.waitMs = Math.min(30_000, Math.max(0, options.waitMs ?? 20_000));
    this.graceMs = options.graceMs ?? 30_000;
    this.watchdogMs = options.watchdogMs ?? this.waitMs + 30_000;
    this.workerName = options.name ?? `${hostname()}:${process.pid}`;
    this.signals = options.closeOnSignals ?? ['SIGTERM', 'SIGINT'];
    this.onSignal = (signal) => {
      closingOnSignal.add(this);
      void this.close().finally(() => {
        closingOnSignal.delete(this);
        // Once every worker the signal closed is done, hand the signal back
        // to whatever else listens, or to Node's default (exit).
        if (closingOnSignal.size === 0 && process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      });
    };
    // The pool holds the long-poll, the ack calls and the heartbeats of every running job.
    const agent = client.transport.agent;
    agent.maxSockets = Math.max(agent.maxSockets, this.concurrency + ACK_CALLS + 2);
    if (options.autorun ?? true) queueMicrotask(() => void this.run());
  }

  /** Starts the worker (once); resolves when it has closed. */
  run(): Promise<void> {
    if (this.started) return this.closed ?? this.loopDone ?? Promise.resolve();
    this.started = true;
    for (const signal of this.signals) process.once(signal, this.onSignal);
    this.progressAt = Date.now();
    this.timers.push(setInterval(() => this.heartbeatTick(), Math.max(50, this.beatMs / 3)));
    this.timers.push(this.lagMonitor());
    const watchdog = setInterval(() => this.watch(), Math.min(5_000, this.watchdogMs / 2));
    watchdog.unref();
    this.timers.push(watchdog);
    this.loopDone = this.loop();
    return this.loopDone.then(() => this.closed);
  }

  /** Liveness for probes: the last successful poll, and whether it is recent enough. */
  health(): WorkerHealth {
    const fresh = this.free() <= 0 || Date.now() - this.progressAt < this.watchdogMs;
    return {
      ok: this.started && !this.closing && fresh,
      running: this.started && !this.closing,
      lastPollAt: this.lastPollAt ? new Date(this.lastPollAt) : null,
      lastError: this.lastError,
      active: this.running,
      pendingAcks: this.pending.length,
    };
  }

  /**
   * Stops leasing, lets running handlers finish within `graceMs`, then
   * aborts and releases the rest, flushes the acks and stops the timers.
   */
  close(options: { graceMs?: number } = {}): Promise<void> {
    this.closed ??= this.shutdown(options.graceMs ?? this.graceMs);
    return this.closed;
  }

  /** Emits, turning a listener's exception into an `error` event (or a log line) instead of a crash. */
  override emit<K extends keyof WorkerEvents<P>>(event: K, ...args: WorkerEvents<P>[K]): boolean {
    try {
      if (event === 'error' && this.listenerCount('error') === 0) {
        console.error(`rampart worker (${this.queue}):`, errorText(args[0]));
        return false;
      }
      return (super.emit as (event: string, ...args: unknown[]) => boolean).call(this, event, ...args);
    } catch (e) {
      if (event !== 'error') this.emit('error', e);
      return true;
    }
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.closing = true;
    for (const signal of this.signals) process.removeListener(signal, this.onSignal);
    this.stop.abort();
    this.poll?.abort();
    this.wake();
    await this.loopDone;
    const deadline = Date.now() + graceMs;
    while (this.running > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        setTimeout(resolve, Math.max(0, deadline - Date.now())).unref();
      });
    }
    const releases: Promise<unknown>[] = [];
    for (const held of this.held.values()) {
      if (held.state !== 'running') continue;
      held.state = 'dropped';
      held.job[abortJob](new WorkerClosingError('the worker closed before the job finished; its lease was released'));
      releases.push(this.release(held));
    }
    await Promise.all(releases);
    await this.acksFlushed();
    for (const timer of this.timers) clearInterval(timer);
    this.emit('closed');
  }

  private release(held: Held<P>): Promise<unknown> {
    this.held.delete(held.job.id);
    return this.client
      .request('POST', '/v1/jobs/{id}/release', { params: [held.job.id], body: { lease_token: held.token } })
      .catch((e) => this.emit('error', e));
  }

  private wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }

  /** Slots a lease may fill: free handler slots, while acks in flight stay under one round of work. */
  private free(): number {
    const acking = this.held.size - this.running;
    return Math.min(this.concurrency - this.running, 2 * this.concurrency - this.running - acking);
  }

  private async loop(): Promise<void> {
    // A fleet started together spreads its first polls over 100 ms.
    await sleep(Math.random() * 100, this.stop.signal);
    let failures = 0;
    while (!this.closing) {
      const free = this.free();
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        this.progressAt = Date.now();
        continue;
      }
      this.poll = new AbortController();
      try {
        const answer = await this.client.request<{ jobs: LeasedJobView[] }>('POST', '/v1/queues/{queue}/lease', {
          params: [this.queue],
          body: {
            max: Math.min(free, this.batch),
            wait: duration(this.waitMs),
            lease: duration(this.leaseMs),
            worker: this.workerName,
          },
          timeoutMs: this.waitMs + 15_000,
          signal: this.poll.signal,
          retries: 0,
        });
        failures = 0;
        this.lastPollAt = this.progressAt = Date.now();
        this.lastError = null;
        for (const view of answer.body.jobs) {
          if (this.closing) void this.release(this.hold(view));
          else this.start(view);
        }
      } catch (e) {
        if (this.closing) break;
        failures++;
        this.lastError = errorText(e);
        this.emit('error', e);
        await sleep(backoffDelay(POLL_BACKOFF, failures), this.stop.signal);
      }
    }
  }

  private hold(view: LeasedJobView): Held<P> {
    const now = Date.now();
    const job = new Job<P>(
      view.id,
      view.queue,
      view.payload as P,
      view.attempt,
      view.max_attempts,
      new Date(view.created_at),
      view.timeout_at ? new Date(view.timeout_at) : null,
      view.tenant ?? null,
      (progress) => this.client.jobs.progress(view.id, view.lease_token, progress),
      new Step(view.id, view.steps ?? {}, this.stepCalls(view)),
    );
    job.children = view.children ?? null;
    const held: Held<P> = {
      job,
      token: view.lease_token,
      leaseEnd: now + this.leaseMs,
      lastBeat: now,
      beating: false,
      state: 'running',
    };
    this.held.set(view.id, held);
    return held;
  }

  /** How a leased job's steps reach the server, under its lease. */
  private stepCalls(view: LeasedJobView): StepCalls {
    const call = async <T>(step: string, suffix: '' | '/sleep' | '/wait', body: Record<string, Json>): Promise<T> => {
      const method = suffix === '' ? 'PUT' : 'POST';
      const params = [view.id, step];
      const answer = await this.client.request<T>(method, `/v1/jobs/{id}/steps/{step}${suffix}`, {
        params,
        body: { lease_token: view.lease_token, ...body },
      });
      return answer.body;
    };
    return {
      record: async (step, result) => (await call<{ result: Json }>(step, '', { result })).result,
      sleep: async (step, duration) => (await call<{ recorded: boolean }>(step, '/sleep', { duration })).recorded,
      wait: async (step, wait) => {
        const body: Record<string, Json> = { event: wait.event, timeout: wait.timeout };
        if (wait.match) body.match = wait.match;
        const answer = await call<{ state: string; result: Json }>(step, '/wait', body);
        return answer.state === 'waiting' ? null : { result: answer.result };
      },
    };
  }

  /** A handler that ended at a sleep or a wait: the server holds the job, so nothing is acked. */
  private givenBack(held: Held<P>): void {
    this.running--;
    this.wake();
    if (held.state !== 'running') return;
    held.state = 'dropped';
    this.held.delete(held.job.id);
  }

  private start(view: LeasedJobView): void {
    const held = this.hold(view);
    const job = held.job;
    this.running++;
    let outcome: Promise<Json | void>;
    try {
      outcome = Promise.resolve(this.handler(job));
    } catch (e) {
      outcome = Promise.reject(e);
    }
    outcome.then(
      (result) => this.finish(held, { held, complete: true, tries: 0, ...(result === undefined ? {} : { result }) }),
      (e) =>
        e instanceof JobGivenBackError
          ? this.givenBack(held)
          : this.finish(held, {
              held,
              complete: false,
              error: errorText(e),
              retryable: !(e instanceof FatalError),
              thrown: e instanceof Error ? e : new Error(String(e)),
              tries: 0,
            }),
    );
  }

  private finish(held: Held<P>, ack: PendingAck<P>): void {
    this.running--;
    this.wake();
    if (held.state !== 'running') return; // lost or released: the result is dropped
    held.state = 'acking';
    if (ack.complete && ack.result !== undefined) {
      try {
        JSON.stringify(ack.result);
      } catch (e) {
        ack = {
          held,
          complete: false,
          error: `the handler's result is not JSON: ${errorText(e)}`,
          retryable: false,
          thrown: e instanceof Error ? e : new Error(String(e)),
          tries: 0,
        };
      }
    }
    this.pending.push(ack);
    this.scheduleAcks();
  }

  /** Sends pending acks on the next turn of the event loop, so handlers ending together share a call. */
  private scheduleAcks(): void {
    if (this.ackScheduled || this.ackTimer) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      this.flushAcks();
    });
  }

  private flushAcks(): void {
    while (this.pending.length > 0 && this.ackCalls < ACK_CALLS && !this.ackTimer) {
      const now = Date.now();
      const batch: PendingAck<P>[] = [];
      const keep: PendingAck<P>[] = [];
      for (const ack of this.pending) {
        if (ack.tries > 0 && ack.held.leaseEnd <= now) {
          // Unreachable until its lease ended: the server has given the job to someone else or will.
          this.held.delete(ack.held.job.id);
          this.emit(
            'error',
            new LeaseLostError(
              409,
              'LEASE_LOST',
              `gave up acking job ${ack.held.job.id}: its lease ended while rampart was unreachable`,
            ),
          );
        } else if (batch.length < ACK_BATCH) batch.push(ack);
        else keep.push(ack);
      }
      this.pending = keep;
      if (batch.length > 0) void this.sendAcks(batch);
    }
    if (this.pending.length === 0 && this.ackCalls === 0) {
      for (const resolve of this.ackIdle.splice(0)) resolve();
    }
  }

  private async sendAcks(batch: PendingAck<P>[]): Promise<void> {
    this.ackCalls++;
    const complete = batch.filter((a) => a.complete);
    const fail = batch.filter((a) => !a.complete);
    const ordered = [...complete, ...fail];
    try {
      const answer = await this.client.request<{ results: AckResult[] }>('POST', '/v1/acks', {
        body: {
          complete: complete.map((a) => ({ id: a.held.job.id, lease_token: a.held.token, result: a.result })),
          fail: fail.map((a) => ({
            id: a.held.job.id,
            lease_token: a.held.token,
            error: a.error,
            retryable: a.retryable,
          })),
        },
        retries: 0,
      });
      this.ackFailures = 0;
      answer.body.results.forEach((r, i) => {
        const ack = ordered[i];
        if (ack) this.settle(ack, r);
      });
    } catch (e) {
      this.ackFailures++;
      this.emit('error', e);
      for (const ack of batch) ack.tries++;
      this.pending.push(...batch);
      this.ackTimer = setTimeout(
        () => {
          this.ackTimer = undefined;
          this.flushAcks();
        },
        backoffDelay(ACK_BACKOFF, this.ackFailures),
      );
    } finally {
      this.ackCalls--;
      this.wake();
      this.flushAcks();
    }
  }

  private settle(ack: PendingAck<P>, result: AckResult): void {
    const { job } = ack.held;
    this.held.delete(job.id);
    if (result.error) {
      if (result.error.code === 'LEASE_LOST') this.emit('lost', job);
      else
        this.emit(
          'error',
          new RampartError(`ack of job ${job.id} refused: ${result.error.code}: ${result.error.message}`),
        );
      return;
    }
    if (ack.complete) this.emit('completed', job, ack.result);
    else this.emit('failed', job, ack.thrown ?? new Error(ack.error), result.state);
  }

  private acksFlushed(): Promise<void> {
    if (this.pending.length === 0 && this.ackCalls === 0) return Promise.resolve();
    return new Promise((resolve) => this.ackIdle.push(resolve));
  }

  private heartbeatTick(): void {
    const now = Date.now();
    for (const held of this.held.values()) {
      if (held.state !== 'running' || held.beating || now - held.lastBeat < this.beatMs) continue;
      held.beating = true;
      this.client
        .request<{ lease_expires_at: string }>('POST', '/v1/jobs/{id}/heartbeat', {
          params: [held.job.id],
          body: { lease_token: held.token, lease: duration(this.leaseMs) },
          timeoutMs: this.beatMs,
          retries: 0,
        })
        .then(
          () => {
            held.lastBeat = now;
            held.leaseEnd = now + this.leaseMs;
          },
          (e) => {
            if (e instanceof LeaseLostError && held.state === 'running') {
              held.state = 'dropped';
              this.held.delete(held.job.id);
              held.job[abortJob](e);
              this.emit('lost', held.job);
            } else if (!(e instanceof LeaseLostError)) {
              this.emit('error', e);
            }
          },
        )
        .finally(() => (held.beating = false));
    }
  }

  /** Warns when timers fire late by more than half a heartbeat interval: a handler is hogging the event loop. */
  private lagMonitor(): NodeJS.Timeout {
    const every = Math.min(500, this.beatMs / 2);
    let expected = Date.now() + every;
    const timer = setInterval(() => {
      const lag = Date.now() - expected;
      expected = Date.now() + every;
      if (lag > this.beatMs / 2) {
        this.emit(
          'warning',
          `the event loop was blocked for ${Math.round(lag)} ms (heartbeats every ${Math.round(this.beatMs)} ms): move CPU-bound work off the main thread or jobs will lose their leases`,
        );
      }
    }, every);
    timer.unref();
    return timer;
  }

  private watch(): void {
    // Every slot busy is progress too: there is no poll to make.
    if (this.closing || this.free() <= 0 || Date.now() - this.progressAt < this.watchdogMs) return;
    this.emit(
      'error',
      new RampartError(`no successful poll of ${this.queue} for ${this.watchdogMs} ms; restarting the poll`),
    );
    this.poll?.abort();
  }
}
