/**
 * Cron schedules kept in the server: create (or replace), list, get,
 * trigger now, pause, resume, delete, and a schedule's runs. Every node
 * fires each tick once.
 */

import type { Rampart } from './client.js';
import type { CronRunView, CronView, Json } from './wire.js';

/** A schedule to create or replace. */
export interface CronSpec {
  /** 5 fields, 6 with seconds first, or `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`. */
  schedule: string;
  /** The queue each run's job goes to. */
  queue: string;
  /** Each job's payload (default `{}`). */
  payload?: Json;
  /** An IANA zone (default `UTC`). */
  timezone?: string;
  /** What it is for. */
  description?: string;
  /** What ticks missed during downtime do: `skip` (default) or `run_once`. */
  misfire?: 'skip' | 'run_once';
}

/** Cron schedules. */
export class Cron {
  constructor(private readonly client: Rampart) {}

  /** Creates the schedule, or replaces the one of that name. */
  async create(name: string, spec: CronSpec): Promise<CronView> {
    return (await this.client.request<CronView>('PUT', '/v1/cron/{name}', { params: [name], body: spec })).body;
  }

  /** Every schedule, by name. */
  async list(): Promise<CronView[]> {
    return (await this.client.request<{ schedules: CronView[] }>('GET', '/v1/cron')).body.schedules;
  }

  /** One schedule. */
  async get(name: string): Promise<CronView> {
    return (await this.client.request<CronView>('GET', '/v1/cron/{name}', { params: [name] })).body;
  }

  /** Runs the schedule once now; answers the run (its `job_id` is the job enqueued). */
  async trigger(name: string): Promise<CronRunView> {
    return (await this.client.request<CronRunView>('POST', '/v1/cron/{name}/trigger', { params: [name] })).body;
  }

  /** Pauses the schedule: its ticks pass without runs. */
  async pause(name: string): Promise<CronView> {
    return (await this.client.request<CronView>('POST', '/v1/cron/{name}/pause', { params: [name] })).body;
  }

  /** Resumes a paused schedule. */
  async resume(name: string): Promise<CronView> {
    return (await this.client.request<CronView>('POST', '/v1/cron/{name}/resume', { params: [name] })).body;
  }

  /** Deletes a schedule defined through the API. */
  async delete(name: string): Promise<void> {
    await this.client.request('DELETE', '/v1/cron/{name}', { params: [name] });
  }

  /** A page of the schedule's runs, newest first. */
  async runs(
    name: string,
    options: { limit?: number; cursor?: string } = {},
  ): Promise<{ runs: CronRunView[]; next_cursor: string | null }> {
    return (
      await this.client.request<{ runs: CronRunView[]; next_cursor: string | null }>('GET', '/v1/cron/{name}/runs', {
        params: [name],
        query: options,
      })
    ).body;
  }
}
