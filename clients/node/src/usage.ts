/**
 * What the app reports to rampart about itself: AI usage (each model call,
 * one or a batch), budget reservations and their `guard`, usage summaries
 * and budgets; cache telemetry; error events.
 *
 * `usage.guard(call, fn)` is reserve → call → report: it holds the call's
 * estimate on every budget that applies (refused by an enforced budget:
 * `BudgetExceededError`, and `fn` never runs), runs `fn`, then reports the
 * call with the reservation's id, which settles the hold at the real cost
 * on success and releases it on failure.
 */

import { randomUUID } from 'node:crypto';

import { BudgetExceededError } from './errors.js';
import type { Rampart } from './client.js';
import type {
  BudgetSpec,
  BudgetView,
  CacheReportRequest,
  CacheReportResponse,
  ErrorEventView,
  ErrorReportRequest,
  ReserveRequest,
  ReserveResponse,
  UsageEvent,
  UsageResponse,
  UsageSummaryResponse,
} from './wire.js';

/** A guarded call: whom it is for, its model, and an estimate (or the tokens to price it). */
export interface GuardCall extends ReserveRequest {
  /** The model called (reported with the call). */
  model: string;
  /** The provider, reported with the call. */
  provider?: string;
}

/** What a guarded function hands back: its result and the call's real usage. */
export interface GuardOutcome<T> {
  result: T;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cached_input_tokens?: number;
    cache_write_tokens?: number;
    reasoning_tokens?: number;
    /** What it cost; priced from the server's price table when left out. */
    cost_usd?: number;
  };
}

/** How `guard` behaves. */
export interface GuardOptions {
  /** The call's id (default a random UUID): a second report of it changes nothing. */
  callId?: string;
  /** Told when the report after a successful call fails; the result is returned anyway and the hold expires. */
  onReportError?: (error: unknown) => void;
}

/** The summary's options. */
export interface SummaryOptions {
  groupBy?: 'model' | 'feature' | 'tenant' | 'user' | 'day';
  /** RFC 3339 (default: 24 hours before `until`). */
  since?: string;
  /** RFC 3339 (default: now). */
  until?: string;
}

/** AI usage: reports, reservations, summaries and budgets. */
export class Usage {
  /** Budgets: list, get, put and delete. */
  readonly budgets: Budgets;

  constructor(private readonly client: Rampart) {
    this.budgets = new Budgets(client);
  }

  /** Reports one call, or a batch of up to 1,000; repeats of a `call_id` change nothing. */
  async report(events: UsageEvent | UsageEvent[]): Promise<UsageResponse> {
    const body = Array.isArray(events) ? { events } : events;
    return (await this.client.request<UsageResponse>('POST', '/v1/usage', { body })).body;
  }

  /** Holds an estimate on every budget that applies, all or none; `allowed: false` when an enforced one has no room. */
  async reserve(call: ReserveRequest): Promise<ReserveResponse> {
    return (await this.client.request<ReserveResponse>('POST', '/v1/usage/reserve', { body: call })).body;
  }

  /** Calls, failures, tokens, cost and p50/p95 duration, in total or per group. */
  async summary(options: SummaryOptions = {}): Promise<UsageSummaryResponse> {
    const query: Record<string, string> = {};
    if (options.groupBy) query.group_by = options.groupBy;
    if (options.since) query.since = options.since;
    if (options.until) query.until = options.until;
    return (await this.client.request<UsageSummaryResponse>('GET', '/v1/usage/summary', { query })).body;
  }

  /**
   * Reserve → call → report. Refused by an enforced budget: throws
   * `BudgetExceededError` without calling `fn`. `fn` returns its result
   * with the call's usage; a throw of `fn` is reported as a failed call
   * (releasing the hold) and thrown again.
   */
  async guard<T>(call: GuardCall, fn: () => Promise<GuardOutcome<T>>, options: GuardOptions = {}): Promise<T> {
    const { provider, ...reserve } = call;
    const held = await this.reserve(reserve);
    if (!held.allowed) throw new BudgetExceededError(held.refused_by, held.remaining);
    const base = {
      call_id: options.callId ?? randomUUID(),
      model: call.model,
      ...(provider === undefined ? {} : { provider }),
      ...(call.tenant === undefined ? {} : { tenant: call.tenant }),
      ...(call.user === undefined ? {} : { user: call.user }),
      ...(call.feature === undefined ? {} : { feature: call.feature }),
      ...(held.reservation_id === null ? {} : { reservation_id: held.reservation_id }),
    };
    const started = performance.now();
    let outcome: GuardOutcome<T>;
    try {
      outcome = await fn();
    } catch (e) {
      const failed = { ...base, input_tokens: 0, output_tokens: 0, cost_usd: 0, success: false };
      await this.report({ ...failed, duration_ms: Math.round(performance.now() - started) }).catch(() => undefined);
      throw e;
    }
    const duration_ms = Math.round(performance.now() - started);
    try {
      await this.report({ ...base, ...outcome.usage, duration_ms, success: true });
    } catch (e) {
      options.onReportError?.(e);
    }
    return outcome.result;
  }
}

/** Budgets, configured (`[budgets.NAME]`) and kept through the API. */
export class Budgets {
  constructor(private readonly client: Rampart) {}

  /** Every budget with its current period's windows. */
  async list(): Promise<BudgetView[]> {
    return (await this.client.request<{ budgets: BudgetView[] }>('GET', '/v1/budgets')).body.budgets;
  }

  /** One budget. */
  async get(name: string): Promise<BudgetView> {
    return (await this.client.request<BudgetView>('GET', '/v1/budgets/{name}', { params: [name] })).body;
  }

  /** Defines or replaces a budget kept in the store (admin). */
  async put(name: string, spec: BudgetSpec): Promise<BudgetView> {
    return (await this.client.request<BudgetView>('PUT', '/v1/budgets/{name}', { params: [name], body: spec })).body;
  }

  /** Deletes a budget of the API (admin). */
  async delete(name: string): Promise<void> {
    await this.client.request('DELETE', '/v1/budgets/{name}', { params: [name] });
  }
}

/** Cache telemetry. */
export class Caches {
  constructor(private readonly client: Rampart) {}

  /** Reports a cache's snapshot and/or events. */
  async report(name: string, report: CacheReportRequest): Promise<CacheReportResponse> {
    return (
      await this.client.request<CacheReportResponse>('POST', '/v1/caches/{name}/report', {
        params: [name],
        body: report,
      })
    ).body;
  }
}

/** Error events. */
export class Errors {
  constructor(private readonly client: Rampart) {}

  /** Reports one error event; a `critical` one alerts at once. Answers it as kept (scrubbed). */
  async report(event: ErrorReportRequest): Promise<ErrorEventView> {
    return (await this.client.request<ErrorEventView>('POST', '/v1/errors', { body: event })).body;
  }
}
