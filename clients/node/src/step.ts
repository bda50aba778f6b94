/**
 * Step functions in a worker's handler: `job.step` records each step's
 * result on the server under the job's lease, so a retry answers recorded
 * steps from memory instead of running them again (Inngest's `step.run`).
 *
 * A step's identity is its name plus an occurrence counter kept here: the
 * first `run('fetch', …)` of an attempt is `fetch`, the next `fetch:1`, and
 * so on. Steps run at least once (one that ran but whose record was lost
 * runs again): pass `step.idempotencyKey(name)` (`{jobId}:{step}`) to the
 * APIs a step calls. `sleep` and `waitForEvent` give the job back to the
 * server and throw `JobGivenBackError`, which the worker recognises: let it
 * propagate and the handler ends without an ack.
 */

import { RampartError } from './errors.js';
import type { Json } from './wire.js';

/** Thrown by `step.sleep` and `step.waitForEvent` once the server holds the job. */
export class JobGivenBackError extends RampartError {
  override name = 'JobGivenBackError';
  constructor(step: string) {
    super(`the job was given back at step \`${step}\``);
  }
}

/** What a wait for an event is for. */
export interface WaitForEvent {
  /** The event's name (as sent to `POST /v1/events/{name}`). */
  event: string;
  /** Only an event whose payload holds `value` at the dotted `path`. */
  match?: { path: string; value: Json };
  /** How long to wait (`"1h"`); the step's result is then `null`. */
  timeout: string;
}

/** The server calls a job's steps make. */
export interface StepCalls {
  record(step: string, result: Json): Promise<Json>;
  /** True when the job was given back (asleep). */
  sleep(step: string, duration: string): Promise<boolean>;
  /** `{result}` when the step has its result, `null` when the job waits. */
  wait(step: string, wait: WaitForEvent): Promise<{ result: Json } | null>;
}

/** A job's steps, as `job.step`. */
export class Step {
  private readonly recorded: Map<string, Json>;
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly jobId: string,
    steps: Record<string, Json>,
    private readonly calls: StepCalls,
  ) {
    this.recorded = new Map(Object.entries(steps));
  }

  private identity(name: string): string {
    const n = this.seen.get(name) ?? 0;
    this.seen.set(name, n + 1);
    return n === 0 ? name : `${name}:${n}`;
  }

  /** The idempotency key of the next use of `name` (`{jobId}:{step}`), stable across attempts. */
  idempotencyKey(name: string): string {
    const n = this.seen.get(name) ?? 0;
    return `${this.jobId}:${n === 0 ? name : `${name}:${n}`}`;
  }

  /** Runs `fn` once per job: its result is recorded, and later attempts get it back without calling `fn`. */
  async run<T extends Json>(name: string, fn: () => Promise<T> | T): Promise<T> {
    const id = this.identity(name);
    if (this.recorded.has(id)) return this.recorded.get(id) as T;
    const value = await fn();
    // First writer wins: the server answers what it kept.
    const kept = await this.calls.record(id, value === undefined ? null : value);
    this.recorded.set(id, kept);
    return kept as T;
  }

  /** A durable sleep (`"10m"`): the job goes back scheduled, no attempt counted; throws `JobGivenBackError`. */
  async sleep(name: string, duration: string): Promise<void> {
    const id = this.identity(name);
    if (this.recorded.has(id)) return;
    if (await this.calls.sleep(id, duration)) throw new JobGivenBackError(id);
  }

  /** The matching event's payload, or `null` after the timeout; while it waits, throws `JobGivenBackError`. */
  async waitForEvent<T extends Json = Json>(name: string, wait: WaitForEvent): Promise<T | null> {
    const id = this.identity(name);
    if (this.recorded.has(id)) return this.recorded.get(id) as T | null;
    const answer = await this.calls.wait(id, wait);
    if (answer === null) throw new JobGivenBackError(id);
    this.recorded.set(id, answer.result);
    return answer.result as T | null;
  }
}
