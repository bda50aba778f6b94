"""The client objects: :class:`Rampart` (sync) and :class:`AsyncRampart` (asyncio).

Each holds one keep-alive connection pool and the settings, and offers the API as resources:
``client.queue("email")`` (enqueue, counts, dead letters, pause), ``client.jobs`` (get, wait,
retry, cancel), ``client.ratelimit``, ``client.breakers`` (with ``safe_call``),
``client.cron``, ``client.usage`` (reports, ``guard``, budgets), ``client.caches`` and
``client.errors``. Create one per process and share it; close it (or use ``with``) at the end.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import httpx

from . import routes
from .backoff import CALL_BACKOFF, Backoff
from .connection import KeepAliveSyncTransport, KeepAliveTransport
from .errors import WaitTimeoutError
from .resource import AsyncResource as _Async
from .resource import SyncResource as _Sync
from .transport import Duration, Instant, Settings, decode, duration, send, send_async
from .usage import AsyncCaches, AsyncErrors, AsyncUsage, Caches, Errors, Usage
from .wire import (
    BreakerAcquire,
    BreakerInfo,
    BreakerStep,
    CronRun,
    CronRunsPage,
    CronSchedule,
    EnqueueResult,
    Health,
    JobInfo,
    JobsPage,
    JobStateResult,
    QueueInfo,
    RateLimitPolicy,
    StateCounts,
)

T = TypeVar("T")

#: Job states after which nothing more happens to a job by itself.
FINAL_STATES = frozenset({"completed", "dead", "cancelled"})

#: The rate-limit headers the server sets on a check, passed on by the middleware.
RATELIMIT_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "retry-after",
    "ratelimit-policy",
    "ratelimit",
)


@dataclass(frozen=True)
class Decision:
    """The server's answer to a rate-limit check, with the headers to pass on to the caller."""

    allowed: bool
    policy: str
    limit: int
    remaining: int
    reset_after_s: int
    retry_after_s: int | None
    fallback: bool
    headers: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def of(resp: httpx.Response) -> Decision:
        body = decode(resp)
        headers = {name: resp.headers[name] for name in RATELIMIT_HEADERS if name in resp.headers}
        return Decision(
            allowed=bool(body["allowed"]),
            policy=body["policy"],
            limit=body["limit"],
            remaining=body["remaining"],
            reset_after_s=body["reset_after_s"],
            retry_after_s=body.get("retry_after_s"),
            fallback=bool(body.get("fallback", False)),
            headers=headers,
        )


def _job(
    payload: Any,
    delay: Duration | None,
    run_at: Instant | None,
    priority: int | None,
    max_attempts: int | None,
    timeout: Duration | None,
    unique_key: str | None,
    tenant: str | None = None,
    children: Iterable[Mapping[str, Any]] | None = None,
    on_child_dead: str | None = None,
    children_timeout: Duration | None = None,
) -> dict[str, Any]:
    return routes.job_body(
        payload,
        delay=delay,
        run_at=run_at,
        priority=priority,
        max_attempts=max_attempts,
        timeout=timeout,
        unique_key=unique_key,
        tenant=tenant,
        children=children,
        on_child_dead=on_child_dead,
        children_timeout=children_timeout,
    )


def _bulk(jobs: Iterable[Any]) -> list[dict[str, Any]]:
    """Items of ``add_bulk``: ``{"payload": ..., "delay": ..., ...}`` dicts as ``add`` takes them."""
    out = []
    for item in jobs:
        if not isinstance(item, Mapping) or "payload" not in item:
            raise TypeError("add_bulk takes dicts with a 'payload' and add()'s options, e.g. [{'payload': {...}}]")
        out.append(routes.job_body(**item))
    return out


class Queue(_Sync):
    """One queue: ``client.queue("email-send")``."""

    def __init__(self, http: httpx.Client, settings: Settings, name: str) -> None:
        super().__init__(http, settings)
        self.name = name

    def add(
        self,
        payload: Any,
        *,
        delay: Duration | None = None,
        run_at: Instant | None = None,
        priority: int | None = None,
        max_attempts: int | None = None,
        timeout: Duration | None = None,
        unique_key: str | None = None,
        tenant: str | None = None,
        children: Iterable[Mapping[str, Any]] | None = None,
        on_child_dead: str | None = None,
        children_timeout: Duration | None = None,
    ) -> EnqueueResult:
        """Enqueues a job; with ``unique_key`` a live job with that key is returned instead (``duplicate``).

        ``tenant``: the customer the job belongs to (shown with it, filterable, handed to workers).

        ``children`` makes the job a parent (a flow, as Celery's chord): dicts ``{"queue": ...,
        "payload": ..., **options}`` (children of their own too, no ``unique_key``); the parent
        waits until every child has ended, then runs with their outcomes in ``job.children``. An
        empty list runs it at once. ``on_child_dead``: ``"fail"`` (default: a dead child kills the
        parent) or ``"ignore"``; ``children_timeout``: the longest the parent waits. At most 5
        levels and 1,000 jobs per flow, enqueued all or nothing.
        """
        body = _job(
            payload,
            delay,
            run_at,
            priority,
            max_attempts,
            timeout,
            unique_key,
            tenant,
            children,
            on_child_dead,
            children_timeout,
        )
        return cast(EnqueueResult, self._call(routes.jobs_create(self.name, body)))

    def add_bulk(self, jobs: Iterable[Mapping[str, Any]]) -> list[str]:
        """Enqueues up to 10,000 jobs all or nothing; their ids in order."""
        return cast(list[str], self._call(routes.jobs_create_batch(self.name, _bulk(jobs)))["ids"])

    def get(self) -> QueueInfo:
        """The queue with its counts per state and totals."""
        return cast(QueueInfo, self._call(routes.queues_get(self.name)))

    def counts(self) -> StateCounts:
        """Jobs per state."""
        return self.get()["counts"]

    def jobs(
        self, state: str | None = None, limit: int | None = None, cursor: str | None = None, tenant: str | None = None
    ) -> JobsPage:
        """A page of the queue's jobs, optionally in one state or of one tenant."""
        return cast(JobsPage, self._call(routes.jobs_list(self.name, state, limit, cursor, tenant)))

    def dead(self, limit: int | None = None, cursor: str | None = None) -> JobsPage:
        """A page of the dead-letter jobs."""
        return self.jobs("dead", limit, cursor)

    def retry_dead(self, ids: list[str] | None = None) -> int:
        """Makes dead jobs (all, or these) available again; how many."""
        return int(self._call(routes.queues_dead_retry(self.name, ids))["retried"])

    def purge_dead(self) -> int:
        """Deletes the dead jobs; how many."""
        return int(self._call(routes.queues_dead_purge(self.name))["purged"])

    def pause(self) -> None:
        """Stops the queue's jobs from being leased."""
        self._call(routes.queues_pause(self.name))

    def resume(self) -> None:
        """Lets the queue's jobs be leased again."""
        self._call(routes.queues_resume(self.name))

    def delete(self) -> int:
        """Deletes the queue once every job of it finished, with them, its totals
        and settings; how many jobs went. ``ConflictError`` (``QUEUE_NOT_EMPTY``,
        naming the unfinished counts) while it holds scheduled, available or active jobs."""
        return int(self._call(routes.queues_delete(self.name))["jobs"])


class AsyncQueue(_Async):
    """One queue: ``client.queue("email-send")``; see :class:`Queue`."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings, name: str) -> None:
        super().__init__(http, settings)
        self.name = name

    async def add(
        self,
        payload: Any,
        *,
        delay: Duration | None = None,
        run_at: Instant | None = None,
        priority: int | None = None,
        max_attempts: int | None = None,
        timeout: Duration | None = None,
        unique_key: str | None = None,
        tenant: str | None = None,
        children: Iterable[Mapping[str, Any]] | None = None,
        on_child_dead: str | None = None,
        children_timeout: Duration | None = None,
    ) -> EnqueueResult:
        """Enqueues a job; see :meth:`Queue.add`."""
        body = _job(
            payload,
            delay,
            run_at,
            priority,
            max_attempts,
            timeout,
            unique_key,
            tenant,
            children,
            on_child_dead,
            children_timeout,
        )
        return cast(EnqueueResult, await self._call(routes.jobs_create(self.name, body)))

    async def add_bulk(self, jobs: Iterable[Mapping[str, Any]]) -> list[str]:
        """Enqueues up to 10,000 jobs all or nothing; their ids in order."""
        return cast(list[str], (await self._call(routes.jobs_create_batch(self.name, _bulk(jobs))))["ids"])

    async def get(self) -> QueueInfo:
        """The queue with its counts per state and totals."""
        return cast(QueueInfo, await self._call(routes.queues_get(self.name)))

    async def counts(self) -> StateCounts:
        """Jobs per state."""
        return (await self.get())["counts"]

    async def jobs(
        self, state: str | None = None, limit: int | None = None, cursor: str | None = None, tenant: str | None = None
    ) -> JobsPage:
        """A page of the queue's jobs, optionally in one state or of one tenant."""
        return cast(JobsPage, await self._call(routes.jobs_list(self.name, state, limit, cursor, tenant)))

    async def dead(self, limit: int | None = None, cursor: str | None = None) -> JobsPage:
        """A page of the dead-letter jobs."""
        return await self.jobs("dead", limit, cursor)

    async def retry_dead(self, ids: list[str] | None = None) -> int:
        """Makes dead jobs (all, or these) available again; how many."""
        return int((await self._call(routes.queues_dead_retry(self.name, ids)))["retried"])

    async def purge_dead(self) -> int:
        """Deletes the dead jobs; how many."""
        return int((await self._call(routes.queues_dead_purge(self.name)))["purged"])

    async def pause(self) -> None:
        """Stops the queue's jobs from being leased."""
        await self._call(routes.queues_pause(self.name))

    async def resume(self) -> None:
        """Lets the queue's jobs be leased again."""
        await self._call(routes.queues_resume(self.name))

    async def delete(self) -> int:
        """Deletes the queue once every job of it finished; see :meth:`Queue.delete`."""
        return int((await self._call(routes.queues_delete(self.name)))["jobs"])


class Jobs(_Sync):
    """Jobs by id: ``client.jobs``."""

    def get(self, job_id: str) -> JobInfo:
        """The job with its errors and full history."""
        return cast(JobInfo, self._call(routes.jobs_get(job_id)))

    def wait(self, job_id: str, timeout: float = 30.0) -> JobInfo:
        """The job once it is completed, dead or cancelled (the server long-polls for it).

        :class:`WaitTimeoutError` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.0, deadline - time.monotonic())
            job = cast(JobInfo, self._call(routes.jobs_get(job_id, wait=left)))
            if job["state"] in FINAL_STATES:
                return job
            if time.monotonic() >= deadline:
                raise WaitTimeoutError(f"job {job_id} is still {job['state']} after {timeout}s")

    def progress(self, job_id: str, lease_token: str, progress: Any) -> None:
        """Keeps a running job's progress (any JSON, at most 16 KiB); also extends its lease."""
        self._call(routes.jobs_progress(job_id, lease_token, progress))

    def retry(self, job_id: str) -> JobStateResult:
        """Makes a dead or cancelled job available again."""
        return cast(JobStateResult, self._call(routes.jobs_retry(job_id)))

    def cancel(self, job_id: str) -> JobStateResult:
        """Cancels a job that has not started."""
        return cast(JobStateResult, self._call(routes.jobs_cancel(job_id)))

    def release_lease(self, job_id: str) -> JobStateResult:
        """Gives an active job's lease back without its token (admin; a job stuck on a hung
        worker): ``available`` again, the attempt not counted."""
        return cast(JobStateResult, self._call(routes.jobs_lease_release(job_id)))

    def fail_now(self, job_id: str, error: str) -> JobStateResult:
        """Fails an active job's attempt now without its token (admin); the retry policy
        decides ``scheduled`` or ``dead``."""
        return cast(JobStateResult, self._call(routes.jobs_lease_fail(job_id, error)))


class AsyncJobs(_Async):
    """Jobs by id: ``client.jobs``; see :class:`Jobs`."""

    async def get(self, job_id: str) -> JobInfo:
        """The job with its errors and full history."""
        return cast(JobInfo, await self._call(routes.jobs_get(job_id)))

    async def wait(self, job_id: str, timeout: float = 30.0) -> JobInfo:
        """The job once it is final; :class:`WaitTimeoutError` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.0, deadline - time.monotonic())
            job = cast(JobInfo, await self._call(routes.jobs_get(job_id, wait=left)))
            if job["state"] in FINAL_STATES:
                return job
            if time.monotonic() >= deadline:
                raise WaitTimeoutError(f"job {job_id} is still {job['state']} after {timeout}s")

    async def progress(self, job_id: str, lease_token: str, progress: Any) -> None:
        """Keeps a running job's progress; see :meth:`Jobs.progress`."""
        await self._call(routes.jobs_progress(job_id, lease_token, progress))

    async def retry(self, job_id: str) -> JobStateResult:
        """Makes a dead or cancelled job available again."""
        return cast(JobStateResult, await self._call(routes.jobs_retry(job_id)))

    async def cancel(self, job_id: str) -> JobStateResult:
        """Cancels a job that has not started."""
        return cast(JobStateResult, await self._call(routes.jobs_cancel(job_id)))

    async def release_lease(self, job_id: str) -> JobStateResult:
        """Gives an active job's lease back; see :meth:`Jobs.release_lease`."""
        return cast(JobStateResult, await self._call(routes.jobs_lease_release(job_id)))

    async def fail_now(self, job_id: str, error: str) -> JobStateResult:
        """Fails an active job's attempt now; see :meth:`Jobs.fail_now`."""
        return cast(JobStateResult, await self._call(routes.jobs_lease_fail(job_id, error)))


class RateLimits(_Sync):
    """Rate limits: ``client.ratelimit.check("api", user_id)``."""

    def check(
        self, policy: str, key: str, *, cost: int = 1, timeout: float | None = None, retries: int | None = None
    ) -> Decision:
        """Counts ``cost`` against ``key`` under ``policy``; allowed or not is in the decision."""
        req = routes.ratelimit_check(policy, key, cost, timeout, retries)
        return Decision.of(send(self._http, self._settings, req))

    def define(self, name: str, *, limit: int, window: Duration, **options: Any) -> RateLimitPolicy:
        """Defines or replaces a policy kept in the store (``algorithm``, ``burst``, ``backend``, ...)."""
        spec = {"limit": limit, "window": duration(window), **options}
        return cast(RateLimitPolicy, self._call(routes.ratelimit_policy_put(name, spec)))

    def reset(self, policy: str, key: str) -> bool:
        """Forgets a key's state under a policy (unblocks it); whether it had one."""
        return bool(self._call(routes.ratelimit_key_reset(policy, key))["reset"])


class AsyncRateLimits(_Async):
    """Rate limits: ``await client.ratelimit.check("api", user_id)``; see :class:`RateLimits`."""

    async def check(
        self, policy: str, key: str, *, cost: int = 1, timeout: float | None = None, retries: int | None = None
    ) -> Decision:
        """Counts ``cost`` against ``key`` under ``policy``; allowed or not is in the decision."""
        req = routes.ratelimit_check(policy, key, cost, timeout, retries)
        return Decision.of(await send_async(self._http, self._settings, req))

    async def define(self, name: str, *, limit: int, window: Duration, **options: Any) -> RateLimitPolicy:
        """Defines or replaces a policy kept in the store."""
        spec = {"limit": limit, "window": duration(window), **options}
        return cast(RateLimitPolicy, await self._call(routes.ratelimit_policy_put(name, spec)))

    async def reset(self, policy: str, key: str) -> bool:
        """Forgets a key's state under a policy; whether it had one."""
        return bool((await self._call(routes.ratelimit_key_reset(policy, key)))["reset"])


class Breakers(_Sync):
    """The shared circuit breakers: ``client.breakers.safe_call("stripe", charge)``."""

    def list(self) -> list[BreakerInfo]:
        """Every breaker."""
        return cast(list[BreakerInfo], self._call(routes.breakers_list())["breakers"])

    def get(self, name: str) -> BreakerInfo:
        """One breaker with its latest transitions."""
        return cast(BreakerInfo, self._call(routes.breakers_get(name)))

    def acquire(self, name: str) -> BreakerAcquire:
        """Asks whether to make a call now (a new name is made with the server's defaults)."""
        return cast(BreakerAcquire, self._call(routes.breakers_acquire(name)))

    def record(self, name: str, success: bool, duration_ms: int = 0) -> BreakerStep:
        """Tells the breaker how an admitted call ended."""
        return cast(BreakerStep, self._call(routes.breakers_record(name, success, duration_ms)))

    def reset(self, name: str) -> BreakerStep:
        """Closes the breaker and forgets its counts."""
        return cast(BreakerStep, self._call(routes.breakers_reset(name)))

    def safe_call(
        self,
        name: str,
        fn: Callable[[], T],
        *,
        timeout: float | None = 30.0,
        retries: int = 2,
        backoff: Backoff = CALL_BACKOFF,
        budget: float = 120.0,
        retry_on: Callable[[BaseException], bool] | None = None,
    ) -> T:
        """Calls ``fn`` through the shared breaker ``name``; see :func:`rampart_client.safecall.safe_call`."""
        from .safecall import safe_call

        return safe_call(
            self, name, fn, timeout=timeout, retries=retries, backoff=backoff, budget=budget, retry_on=retry_on
        )


class AsyncBreakers(_Async):
    """The shared circuit breakers; see :class:`Breakers`."""

    async def list(self) -> list[BreakerInfo]:
        """Every breaker."""
        return cast(list[BreakerInfo], (await self._call(routes.breakers_list()))["breakers"])

    async def get(self, name: str) -> BreakerInfo:
        """One breaker with its latest transitions."""
        return cast(BreakerInfo, await self._call(routes.breakers_get(name)))

    async def acquire(self, name: str) -> BreakerAcquire:
        """Asks whether to make a call now."""
        return cast(BreakerAcquire, await self._call(routes.breakers_acquire(name)))

    async def record(self, name: str, success: bool, duration_ms: int = 0) -> BreakerStep:
        """Tells the breaker how an admitted call ended."""
        return cast(BreakerStep, await self._call(routes.breakers_record(name, success, duration_ms)))

    async def reset(self, name: str) -> BreakerStep:
        """Closes the breaker and forgets its counts."""
        return cast(BreakerStep, await self._call(routes.breakers_reset(name)))

    async def safe_call(
        self,
        name: str,
        fn: Callable[[], Awaitable[T]],
        *,
        timeout: float | None = 30.0,
        retries: int = 2,
        backoff: Backoff = CALL_BACKOFF,
        budget: float = 120.0,
        retry_on: Callable[[BaseException], bool] | None = None,
    ) -> T:
        """Calls ``fn`` through the shared breaker ``name``; see :func:`rampart_client.safecall.safe_call_async`."""
        from .safecall import safe_call_async

        return await safe_call_async(
            self, name, fn, timeout=timeout, retries=retries, backoff=backoff, budget=budget, retry_on=retry_on
        )


class Cron(_Sync):
    """Cron schedules: ``client.cron.create("nightly", schedule="0 3 * * *", queue="reports")``."""

    def create(
        self,
        name: str,
        *,
        schedule: str,
        queue: str,
        timezone: str | None = None,
        payload: Any = None,
        description: str | None = None,
        misfire: str | None = None,
    ) -> CronSchedule:
        """Defines or replaces a schedule kept in the store."""
        req = routes.cron_put(name, schedule, queue, timezone, payload, description, misfire)
        return cast(CronSchedule, self._call(req))

    def list(self) -> list[CronSchedule]:
        """Every schedule."""
        return cast(list[CronSchedule], self._call(routes.cron_list())["schedules"])

    def get(self, name: str) -> CronSchedule:
        """One schedule."""
        return cast(CronSchedule, self._call(routes.cron_get(name)))

    def delete(self, name: str) -> None:
        """Deletes a schedule defined through the API."""
        self._call(routes.cron_delete(name))

    def runs(self, name: str, limit: int | None = None, cursor: str | None = None) -> CronRunsPage:
        """A page of the schedule's runs, newest first."""
        return cast(CronRunsPage, self._call(routes.cron_runs(name, limit, cursor)))

    def trigger(self, name: str) -> CronRun:
        """Runs the schedule once now."""
        return cast(CronRun, self._call(routes.cron_trigger(name)))

    def pause(self, name: str) -> CronSchedule:
        """Pauses the schedule: its ticks pass without runs."""
        return cast(CronSchedule, self._call(routes.cron_pause(name)))

    def resume(self, name: str) -> CronSchedule:
        """Resumes a paused schedule from its next tick."""
        return cast(CronSchedule, self._call(routes.cron_resume(name)))


class AsyncCron(_Async):
    """Cron schedules; see :class:`Cron`."""

    async def create(
        self,
        name: str,
        *,
        schedule: str,
        queue: str,
        timezone: str | None = None,
        payload: Any = None,
        description: str | None = None,
        misfire: str | None = None,
    ) -> CronSchedule:
        """Defines or replaces a schedule kept in the store."""
        req = routes.cron_put(name, schedule, queue, timezone, payload, description, misfire)
        return cast(CronSchedule, await self._call(req))

    async def list(self) -> list[CronSchedule]:
        """Every schedule."""
        return cast(list[CronSchedule], (await self._call(routes.cron_list()))["schedules"])

    async def get(self, name: str) -> CronSchedule:
        """One schedule."""
        return cast(CronSchedule, await self._call(routes.cron_get(name)))

    async def delete(self, name: str) -> None:
        """Deletes a schedule defined through the API."""
        await self._call(routes.cron_delete(name))

    async def runs(self, name: str, limit: int | None = None, cursor: str | None = None) -> CronRunsPage:
        """A page of the schedule's runs, newest first."""
        return cast(CronRunsPage, await self._call(routes.cron_runs(name, limit, cursor)))

    async def trigger(self, name: str) -> CronRun:
        """Runs the schedule once now."""
        return cast(CronRun, await self._call(routes.cron_trigger(name)))

    async def pause(self, name: str) -> CronSchedule:
        """Pauses the schedule."""
        return cast(CronSchedule, await self._call(routes.cron_pause(name)))

    async def resume(self, name: str) -> CronSchedule:
        """Resumes a paused schedule from its next tick."""
        return cast(CronSchedule, await self._call(routes.cron_resume(name)))


class Rampart(_Sync):
    """The sync client.

    ``base_url`` defaults to ``RAMPART_URL`` or ``http://127.0.0.1:7433``; ``api_key`` to
    ``RAMPART_KEY`` (a key or a file holding one) or ``./rampart-data/admin.key``. Requests
    that the server refused for now are tried ``max_retries`` more times. Plain ``http://``
    goes through :class:`~rampart_client.connection.KeepAliveSyncTransport` (see
    :class:`AsyncRampart`); ``transport=`` overrides it.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 2,
        max_connections: int = 32,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        settings = Settings.resolve(base_url, api_key, timeout, max_retries, max_connections)
        if transport is None and settings.base_url.startswith("http://"):
            transport = KeepAliveSyncTransport(max_connections)
        http = httpx.Client(
            base_url=settings.base_url, headers=settings.headers(), limits=settings.limits(), transport=transport
        )
        super().__init__(http, settings)
        self.jobs = Jobs(http, settings)
        self.ratelimit = RateLimits(http, settings)
        self.breakers = Breakers(http, settings)
        self.cron = Cron(http, settings)
        self.usage = Usage(http, settings)
        self.caches = Caches(http, settings)
        self.errors = Errors(http, settings)

    @property
    def settings(self) -> Settings:
        """Where the server is and how this client talks to it."""
        return self._settings

    def queue(self, name: str) -> Queue:
        """One queue's operations."""
        return Queue(self._http, self._settings, name)

    def queues(self) -> list[QueueInfo]:
        """Every known queue with its counts."""
        return cast(list[QueueInfo], self._call(routes.queues_list())["queues"])

    def health(self) -> Health:
        """``GET /health``: liveness, uptime and version."""
        return cast(Health, self._call(routes.health()))

    def close(self) -> None:
        """Closes the connection pool."""
        self._http.close()

    def __enter__(self) -> Rampart:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRampart(_Async):
    """The asyncio client; the same options as :class:`Rampart`.

    Plain ``http://`` goes through :class:`~rampart_client.connection.KeepAliveTransport`
    (a request in one packet, a tenth of httpx's own transport's cost); pass ``transport=``
    to use another (``httpx.AsyncHTTPTransport()`` for httpx's own).
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 2,
        max_connections: int = 32,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        settings = Settings.resolve(base_url, api_key, timeout, max_retries, max_connections)
        if transport is None and settings.base_url.startswith("http://"):
            transport = KeepAliveTransport(max_connections)
        http = httpx.AsyncClient(
            base_url=settings.base_url, headers=settings.headers(), limits=settings.limits(), transport=transport
        )
        super().__init__(http, settings)
        self.jobs = AsyncJobs(http, settings)
        self.ratelimit = AsyncRateLimits(http, settings)
        self.breakers = AsyncBreakers(http, settings)
        self.cron = AsyncCron(http, settings)
        self.usage = AsyncUsage(http, settings)
        self.caches = AsyncCaches(http, settings)
        self.errors = AsyncErrors(http, settings)

    @staticmethod
    def from_settings(settings: Settings) -> AsyncRampart:
        """A client with the same settings (a sync client's, for the worker it runs)."""
        return AsyncRampart(
            settings.base_url,
            settings.api_key,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            max_connections=settings.max_connections,
        )

    @property
    def settings(self) -> Settings:
        """Where the server is and how this client talks to it."""
        return self._settings

    def queue(self, name: str) -> AsyncQueue:
        """One queue's operations."""
        return AsyncQueue(self._http, self._settings, name)

    async def queues(self) -> list[QueueInfo]:
        """Every known queue with its counts."""
        return cast(list[QueueInfo], (await self._call(routes.queues_list()))["queues"])

    async def health(self) -> Health:
        """``GET /health``: liveness, uptime and version."""
        return cast(Health, await self._call(routes.health()))

    async def close(self) -> None:
        """Closes the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncRampart:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
