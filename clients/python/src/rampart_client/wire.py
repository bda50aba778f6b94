"""The JSON shapes of the API as typed dictionaries, written from ``crates/rampart-client/src/wire``.

Answers are handed back as the dictionaries the server sent (no copying into objects), typed
here so editors and ``mypy`` know their fields. Times are RFC 3339 strings, durations human
strings (``"30s"``), ids opaque strings.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

JobState = Literal["scheduled", "available", "waiting", "active", "completed", "dead", "cancelled"]


class _Enqueued(TypedDict):
    id: str
    state: JobState
    duplicate: bool


class EnqueueResult(_Enqueued, total=False):
    """The answer to an enqueue; ``duplicate`` when a live job with the same unique key was returned."""

    #: A parent's children as enqueued, in request order (absent without ``children``).
    children: list[EnqueueResult]


class ChildInfo(TypedDict):
    """A child as its parent's lease shows it: its result, or its error under ``on_child_dead="ignore"``."""

    id: str
    queue: str
    state: JobState
    result: Any
    error: str | None


class ChildCount(TypedDict):
    """How many of a parent's children are in one state."""

    state: JobState
    count: int


class JobEvent(TypedDict):
    """One transition in a job's history."""

    at: str
    to: JobState
    attempt: int
    worker: str | None
    reason: str
    error: str | None


class JobError(TypedDict):
    """One failed attempt."""

    attempt: int
    at: str
    reason: str
    error: str


class JobInfo(TypedDict, total=False):
    """A job as ``GET /v1/jobs/{id}`` shows it (``errors`` and ``history`` only there)."""

    id: str
    queue: str
    state: JobState
    payload: Any
    priority: int
    attempt: int
    max_attempts: int
    timeout: str | None
    unique_key: str | None
    created_at: str
    run_at: str
    started_at: str | None
    finished_at: str | None
    lease_expires_at: str | None
    timeout_at: str | None
    worker: str | None
    last_error: str | None
    result: Any
    tenant: str | None
    stalls: int
    progress: Any
    parent_id: str
    pending_children: int
    children: list[ChildCount]
    #: The steps recorded, in the order reached (absent when none).
    steps: list[StepInfo]
    errors: list[JobError]
    history: list[JobEvent]


class StepInfo(TypedDict):
    """One recorded step of a step-function job."""

    name: str
    result: Any
    at: str
    attempt: int


class JobsPage(TypedDict):
    """A page of a queue's jobs; pass ``next_cursor`` for the next."""

    jobs: list[JobInfo]
    next_cursor: str | None


class JobStateResult(TypedDict):
    """The answer to a retry or cancel."""

    id: str
    state: JobState


class StateCounts(TypedDict):
    """A queue's jobs per state."""

    scheduled: int
    available: int
    waiting: int
    active: int
    completed: int
    dead: int
    cancelled: int


class QueueTotals(TypedDict):
    """A queue's running totals."""

    completed: int
    failed: int
    retries: int
    dead: int
    stalled: int
    timeouts: int
    mean_processing_ms: float


class QueueInfo(TypedDict, total=False):
    """A queue with its counts; ``target`` and ``secret`` for push queues (``secret`` to admin keys only)."""

    name: str
    paused: bool
    counts: StateCounts
    totals: QueueTotals
    target: str
    secret: str


class BreakerAcquire(TypedDict):
    """Whether a shared breaker admits a call now."""

    allowed: bool
    state: str
    probe: bool
    retry_after_s: int | None


class BreakerTransition(TypedDict):
    """A change of a breaker's state."""

    at: str
    to: str
    reason: str


class BreakerStep(TypedDict):
    """The answer to a record or reset."""

    state: str
    transition: BreakerTransition | None


class BreakerInfo(TypedDict, total=False):
    """A breaker as ``GET /v1/breakers`` shows it."""

    name: str
    scope: str
    state: str
    since: str | None
    retry_after_s: int | None
    consecutive_failures: int
    window_calls: int
    window_failures: int
    probes_in_flight: int
    policy: dict[str, Any]
    transitions: list[BreakerTransition]


class RateLimitPolicy(TypedDict, total=False):
    """A rate-limit policy with its counters since start."""

    name: str
    limit: int
    window: str
    algorithm: str
    burst: int | None
    key: str
    backend: str
    source: str
    on_backend_error: str
    deny_body: str
    allowed: int
    denied: int
    fallbacks: int


class CronRun(TypedDict):
    """One run of a schedule."""

    id: str
    name: str
    scheduled_at: str
    enqueued_at: str
    job_id: str | None
    trigger: str
    status: str
    started_at: str | None
    finished_at: str | None
    attempts: int
    error: str | None
    result: Any


class CronSchedule(TypedDict):
    """A cron schedule."""

    name: str
    schedule: str
    timezone: str
    queue: str | None
    payload: Any
    description: str
    misfire: str
    source: str
    paused: bool
    next_run_at: str | None
    last_run: CronRun | None
    created_at: str
    updated_at: str


class CronRunsPage(TypedDict):
    """A page of a schedule's runs, newest first."""

    runs: list[CronRun]
    next_cursor: str | None


class Health(TypedDict):
    """``GET /health``."""

    status: str
    uptime_s: int
    version: str


class UsageEventResult(TypedDict, total=False):
    """What became of one reported call."""

    call_id: str
    duplicate: bool
    cost_usd: float
    price_version: str


class UsageResult(TypedDict):
    """The answer of ``POST /v1/usage``."""

    accepted: int
    duplicates: int
    settled: int
    events: list[UsageEventResult]


class Reservation(TypedDict, total=False):
    """The answer of ``POST /v1/usage/reserve``."""

    reservation_id: str | None
    allowed: bool
    remaining: float | None
    estimated_cost_usd: float
    expires_at: str
    refused_by: str


class UsageGroup(TypedDict):
    """One group's totals in a usage summary."""

    key: str | None
    calls: int
    failures: int
    input_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost_usd: float
    p50_ms: int
    p95_ms: int


class UsageSummary(TypedDict, total=False):
    """The answer of ``GET /v1/usage/summary``."""

    since: str
    until: str
    group_by: str
    timezone: str
    groups: list[UsageGroup]


class BudgetWindow(TypedDict):
    """One subject's window of a budget in its current period."""

    subject: str
    spent_usd: float
    reserved_usd: float
    remaining_usd: float


class Budget(TypedDict, total=False):
    """A budget with its current period's figures."""

    name: str
    origin: str
    scope: str
    match: str
    amount_usd: float
    period: str
    window: str
    thresholds: list[int]
    enforce: bool
    windows: list[BudgetWindow]


class CacheReportResult(TypedDict):
    """The answer of ``POST /v1/caches/{name}/report``."""

    name: str
    events: int
    evictions: int


class ErrorEvent(TypedDict):
    """An error event as kept (scrubbed)."""

    id: str
    at: str
    level: str
    kind: str
    message: str
    fingerprint: str
    tenant: str | None
    tags: dict[str, str]
