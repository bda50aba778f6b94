/**
 * Queues and jobs: enqueue (one or many), inspect a job with its history,
 * retry and cancel it, wait for its result, and per queue the dead letters,
 * pause and resume, and counts.
 */

import { TimeoutError } from './errors.js';
import type { Rampart } from './client.js';
import type { EnqueueResponse, Json, JobListResponse, JobState, JobView, QueueView, StateCounts } from './wire.js';

/** Options of one job; every one left out takes the queue's default. */
export interface JobOptions {
  /** Run after this long: milliseconds, or a human duration (`"30s"`). Exclusive with `runAt`. */
  delay?: number | string;
  /** Run at this time. Exclusive with `delay`. */
  runAt?: Date | string;
  /** Higher runs first (default 0). */
  priority?: number;
  /** Attempts before the job is dead. */
  maxAttempts?: number;
  /** How long one attempt may run: milliseconds or `"5m"`. */
  timeout?: number | string;
  /** While a live job of the queue has this key, `add` returns that job (`duplicate: true`). */
  uniqueKey?: string;
  /** The customer the job belongs to (1 to 200 characters): shown with it, filterable, handed to workers. */
  tenant?: string;
  /**
   * Makes the job a parent (a flow, as BullMQ's `FlowProducer`): it waits
   * until every child has ended, then runs with their outcomes in
   * `job.children`. An empty list runs it at once. At most 5 levels and
   * 1,000 jobs per flow, enqueued all or nothing.
   */
  children?: ChildJob[];
  /** For a parent: a child that dies `'fail'`s it (default) or is `'ignore'`d (its error is in `job.children`). */
  onChildDead?: 'fail' | 'ignore';
  /** For a parent: the longest it waits on its children, milliseconds or `"1h"`; past it the parent dies. */
  childrenTimeout?: number | string;
}

/** A child of a flow: a job of any queue (no `uniqueKey`), with children of its own if need be. */
export interface ChildJob extends Omit<JobOptions, 'uniqueKey'> {
  queue: string;
  payload: Json;
}

/** One job of `addBulk`. */
export interface BulkJob extends JobOptions {
  payload: Json;
}

/** A duration for the server: milliseconds become `"1500ms"`, strings pass as they are. */
export function duration(value: number | string): string {
  return typeof value === 'number' ? `${Math.max(0, Math.round(value))}ms` : value;
}

function enqueueBody(payload: Json, o: JobOptions = {}): Record<string, unknown> {
  return {
    payload,
    children: o.children?.map(({ queue, payload, ...child }) => ({ queue, ...enqueueBody(payload, child) })),
    on_child_dead: o.onChildDead,
    children_timeout: o.childrenTimeout === undefined ? undefined : duration(o.childrenTimeout),
    delay: o.delay === undefined ? undefined : duration(o.delay),
    run_at: o.runAt === undefined ? undefined : o.runAt instanceof Date ? o.runAt.toISOString() : o.runAt,
    priority: o.priority,
    max_attempts: o.maxAttempts,
    timeout: o.timeout === undefined ? undefined : duration(o.timeout),
    unique_key: o.uniqueKey,
    tenant: o.tenant,
  };
}

/** A page of a queue's jobs. */
export interface ListOptions {
  state?: JobState;
  /** Only this tenant's jobs. */
  tenant?: string;
  limit?: number;
  cursor?: string;
}

/** One queue. */
export class Queue {
  constructor(
    private readonly client: Rampart,
    /** The queue's name. */
    readonly name: string,
  ) {}

  /** Enqueues one job. Acknowledged means durable: it survives a crash of the server. */
  async add(payload: Json, options?: JobOptions): Promise<EnqueueResponse> {
    const answer = await this.client.request<EnqueueResponse>('POST', '/v1/queues/{queue}/jobs', {
      params: [this.name],
      body: enqueueBody(payload, options),
    });
    return answer.body;
  }

  /** Enqueues up to 10,000 jobs, all or nothing; answers their ids in order. */
  async addBulk(jobs: BulkJob[]): Promise<string[]> {
    const answer = await this.client.request<{ ids: string[] }>('POST', '/v1/queues/{queue}/jobs/batch', {
      params: [this.name],
      body: { jobs: jobs.map(({ payload, ...o }) => enqueueBody(payload, o)) },
    });
    return answer.body.ids;
  }

  /** A page of the queue's jobs in id order, optionally in one state. */
  async jobs(options: ListOptions = {}): Promise<JobListResponse> {
    const answer = await this.client.request<JobListResponse>('GET', '/v1/queues/{queue}/jobs', {
      params: [this.name],
      query: { ...options },
    });
    return answer.body;
  }

  /** The queue's dead letters, a page at a time. */
  async dead(options: Omit<ListOptions, 'state'> = {}): Promise<JobListResponse> {
    return this.jobs({ ...options, state: 'dead' });
  }

  /** Makes the queue's dead jobs (or only `ids`) available again; answers how many. */
  async retryDead(ids?: string[]): Promise<number> {
    const answer = await this.client.request<{ retried: number }>('POST', '/v1/queues/{queue}/dead/retry', {
      params: [this.name],
      body: ids ? { ids } : {},
    });
    return answer.body.retried;
  }

  /** Deletes the queue's dead jobs; answers how many. */
  async purgeDead(): Promise<number> {
    const answer = await this.client.request<{ purged: number }>('DELETE', '/v1/queues/{queue}/dead', {
      params: [this.name],
    });
    return answer.body.purged;
  }

  /** Stops the queue's jobs from being leased (enqueues are still accepted). */
  async pause(): Promise<void> {
    await this.client.request('POST', '/v1/queues/{queue}/pause', { params: [this.name] });
  }

  /** Lets a paused queue's jobs be leased again. */
  async resume(): Promise<void> {
    await this.client.request('POST', '/v1/queues/{queue}/resume', { params: [this.name] });
  }

  /**
   * Deletes the queue once every job of it finished, with them, its totals
   * and settings; answers how many jobs went. A `ConflictError`
   * (`QUEUE_NOT_EMPTY`, naming the unfinished counts) while it holds
   * scheduled, available or active jobs.
   */
  async delete(): Promise<number> {
    const answer = await this.client.request<{ jobs: number }>('DELETE', '/v1/queues/{queue}', {
      params: [this.name],
    });
    return answer.body.jobs;
  }

  /** The queue with its counts, totals and whether it is paused. */
  async info(): Promise<QueueView> {
    return (await this.client.request<QueueView>('GET', '/v1/queues/{queue}', { params: [this.name] })).body;
  }

  /** Jobs per state. */
  async counts(): Promise<StateCounts> {
    return (await this.info()).counts;
  }

  /** A job by id (with its errors and history). */
  getJob(id: string): Promise<JobView> {
    return this.client.jobs.get(id);
  }
}

/** What `waitForResult` waits for. */
export interface WaitOptions {
  /** Milliseconds to wait at most (default 30,000); then it rejects with `TimeoutError`. */
  timeoutMs?: number;
  /** Stops waiting (rejects with the signal's reason). */
  signal?: AbortSignal;
}

const TERMINAL: ReadonlySet<JobState> = new Set(['completed', 'dead', 'cancelled']);

/** Jobs by id. */
export class Jobs {
  constructor(private readonly client: Rampart) {}

  /**
   * Keeps a running job's progress (any JSON, at most 16 KiB), shown with the
   * job; as a heartbeat, it also extends the lease. `leaseToken` is the
   * lease's (a `Worker` handler has `job.updateProgress`).
   */
  async progress(id: string, leaseToken: string, progress: Json): Promise<void> {
    await this.client.request('POST', '/v1/jobs/{id}/progress', {
      params: [id],
      body: { lease_token: leaseToken, progress },
    });
  }

  /** A job with its errors and full history. */
  async get(id: string): Promise<JobView> {
    return (await this.client.request<JobView>('GET', '/v1/jobs/{id}', { params: [id] })).body;
  }

  /** Makes a dead or cancelled job available again. */
  async retry(id: string): Promise<{ id: string; state: JobState }> {
    return (await this.client.request<{ id: string; state: JobState }>('POST', '/v1/jobs/{id}/retry', { params: [id] }))
      .body;
  }

  /** Cancels a job that has not started. */
  async cancel(id: string): Promise<{ id: string; state: JobState }> {
    return (
      await this.client.request<{ id: string; state: JobState }>('POST', '/v1/jobs/{id}/cancel', { params: [id] })
    ).body;
  }

  /**
   * Gives an active job's lease back without its token (admin; a job stuck on
   * a hung worker): `available` again, the attempt not counted.
   */
  async releaseLease(id: string): Promise<{ id: string; state: JobState }> {
    return (
      await this.client.request<{ id: string; state: JobState }>('POST', '/v1/jobs/{id}/lease/release', {
        params: [id],
      })
    ).body;
  }

  /** Fails an active job's attempt now without its token (admin); the retry policy decides `scheduled` or `dead`. */
  async failNow(id: string, error: string): Promise<{ id: string; state: JobState }> {
    return (
      await this.client.request<{ id: string; state: JobState }>('POST', '/v1/jobs/{id}/lease/fail', {
        params: [id],
        body: { error },
      })
    ).body;
  }

  /**
   * Waits until the job is completed, dead or cancelled and answers it, on
   * the server's long-poll (`GET /v1/jobs/{id}?wait=`, at most 30 s per
   * call, asked again until `timeoutMs`); it never waits past `timeoutMs`.
   */
  async waitForResult(id: string, options: WaitOptions = {}): Promise<JobView> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      const waitMs = Math.max(0, Math.min(30_000, left));
      const signal = options.signal
        ? AbortSignal.any([options.signal, AbortSignal.timeout(Math.max(1, left + 5_000))])
        : undefined;
      const job = (
        await this.client.request<JobView>('GET', '/v1/jobs/{id}', {
          params: [id],
          query: { wait: `${waitMs}ms` },
          timeoutMs: waitMs + 10_000,
          ...(signal ? { signal } : {}),
        })
      ).body;
      if (TERMINAL.has(job.state)) return job;
      if (options.signal?.aborted) throw options.signal.reason;
      if (Date.now() >= deadline) {
        throw new TimeoutError(`job ${id} is still ${job.state} after ${timeoutMs} ms`, timeoutMs);
      }
    }
  }
}
