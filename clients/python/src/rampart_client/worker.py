"""Workers: lease a queue's jobs with long-polls, run a handler on each, heartbeat, ack in batches.

:class:`AsyncWorker` is the one implementation; :class:`Worker` runs it on its own event loop
for sync handlers (each in a thread of a pool sized to ``concurrency``). The rules they keep:

- Never lease more jobs than there are free slots, so no job waits behind a slow one.
- Heartbeats run on their own thread (:mod:`rampart_client.heartbeat`); the lease is at
  least three heartbeat intervals; the worker warns when the event loop lags.
- A handler's return value completes the job; an exception fails the attempt (retried by the
  server's policy), a :class:`PermanentError` fails it for good. Acks go in batches through
  ``POST /v1/acks``, and a job is heartbeated until its ack has landed.
- ``409 LEASE_LOST`` means another worker has the job: its handler is told through
  ``job.signal`` (an async one is cancelled), and its result is dropped.
- The poll loop retries forever with jittered backoff; a watchdog restarts it if it hangs
  or dies, and :meth:`AsyncWorker.health` reports the last successful poll.
- ``close()`` (or SIGTERM under ``run()``) stops leasing, lets running handlers finish within
  ``grace``, then cancels the rest through ``job.signal`` and gives their leases back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import logging
import os
import random
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from . import routes
from .backoff import RECONNECT_BACKOFF
from .client import AsyncRampart, Rampart
from .errors import APIStatusError, RampartError
from .events import Events, Listener
from .heartbeat import Heartbeater
from .step import JobGivenBack, Send, Step
from .transport import decode, send_async
from .wire import ChildInfo

log = logging.getLogger("rampart_client.worker")


class PermanentError(Exception):
    """Raised by a handler: the job fails for good (``dead``), without the retries left."""


#: BullMQ's name for :class:`PermanentError`.
FatalError = PermanentError


class CancellationToken:
    """Tells a handler to stop: the worker is closing and its grace is over, or the lease was lost.

    Sync handlers check ``cancelled`` or ``wait(timeout)``; async ones may ``await
    wait_async()`` (they are also cancelled the asyncio way). Its event is made only when
    someone waits, so the many jobs nobody cancels cost nothing.
    """

    __slots__ = ("_async", "_event", "reason")

    #: Guards the making of a token's event (a handler's threads may wait at once).
    _making = threading.Lock()

    def __init__(self) -> None:
        self._event: threading.Event | None = None
        self._async: asyncio.Event | None = None
        #: ``"shutdown"`` or ``"lease_lost"`` once cancelled.
        self.reason: str | None = None

    @property
    def cancelled(self) -> bool:
        return self.reason is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until cancelled or ``timeout``; whether it was cancelled."""
        if self.reason is not None:
            return True
        with CancellationToken._making:
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        # `_cancel` sets `reason` before it looks for the event: seen here, or it sets it.
        return self.reason is not None or event.wait(timeout)

    async def wait_async(self) -> None:
        """Returns once cancelled (on the worker's event loop)."""
        if self.reason is not None:
            return
        if self._async is None:
            self._async = asyncio.Event()
        await self._async.wait()

    def _cancel(self, reason: str) -> None:
        # Called on the worker's event loop only, where `_async` lives.
        if self.reason is not None:
            return
        self.reason = reason
        with CancellationToken._making:
            event = self._event
        if event is not None:
            event.set()
        if self._async is not None:
            self._async.set()


@dataclass(slots=True, eq=False)
class Job:
    """A leased job, as a handler gets it."""

    id: str
    queue: str
    payload: Any
    attempt: int
    max_attempts: int
    created_at: str
    lease_token: str
    signal: CancellationToken = field(default_factory=CancellationToken)
    #: The customer the job belongs to.
    tenant: str | None = None
    #: A parent's children's outcomes (results, and errors under ``on_child_dead="ignore"``);
    #: ``None`` for a job that is no parent.
    children: list[ChildInfo] | None = None
    #: The job's steps (``await job.step.run(name, fn)``; async handlers), see :mod:`.step`.
    step: Step = field(default_factory=lambda: Step(""))


Handler = Callable[[Job], Any]


class WorkerHealth(TypedDict):
    """What :meth:`AsyncWorker.health` reports, for a liveness probe."""

    healthy: bool
    closing: bool
    running: int
    last_poll_at: float | None
    seconds_since_poll: float | None
    consecutive_failures: int
    last_error: str | None
    completed: int
    failed: int
    lease_lost: int
    loop_lags: int


@dataclass(slots=True, eq=False)
class _Attempt:
    job: Job
    task: asyncio.Task[None] | None = None
    #: Lease lost or given back: the handler's outcome is dropped.
    abandoned: bool = False


@dataclass(slots=True, eq=False)
class _Poller:
    """One of the worker's lease loops, with the lease it has in flight."""

    task: asyncio.Task[None] | None = None
    call: asyncio.Future[list[dict[str, Any]]] | None = None
    #: When the lease in flight was sent (monotonic).
    started: float | None = None
    #: Set by the watchdog when it cancels a hung lease.
    cut: bool = False


@dataclass(slots=True)
class _Ack:
    job: Job
    kind: Literal["complete", "fail"]
    result: Any = None
    error: str = ""
    retryable: bool = True
    exc: BaseException | None = None


def _default_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class AsyncWorker:
    """Works ``queue``'s jobs with ``handler`` (async, or sync run in a thread pool).

    ``concurrency`` jobs at once; ``lease`` seconds per lease, heartbeated every ``heartbeat``
    (default a third of it; the lease must be at least three intervals); ``pollers`` leases
    in flight at once (default 1; more for a distant server), each for at most ``batch`` jobs
    (default the concurrency shared between them) and never more than the slots free and not
    claimed by the other; long-polls of ``poll_wait`` seconds (at most 30); ``grace`` seconds
    for running handlers on close.
    """

    def __init__(
        self,
        client: AsyncRampart,
        queue: str,
        handler: Handler,
        *,
        concurrency: int = 1,
        lease: float = 30.0,
        heartbeat: float | None = None,
        batch: int | None = None,
        pollers: int | None = None,
        poll_wait: float = 30.0,
        grace: float = 30.0,
        name: str | None = None,
        ack_batch: int = 1000,
        loop_lag_warning: float = 0.5,
        startup_jitter: float = 0.2,
        events: Events | None = None,
    ) -> None:
        heartbeat = lease / 3 if heartbeat is None else heartbeat
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if heartbeat <= 0 or lease < 3 * heartbeat:
            raise ValueError(
                f"the lease ({lease}s) must be at least three heartbeat intervals ({heartbeat}s): "
                "one late heartbeat must not lose it"
            )
        self.queue = queue
        self.name = name or _default_name()
        self._client = client
        self._handler = handler
        self._is_async = inspect.iscoroutinefunction(handler)
        self._concurrency = concurrency
        self._lease = lease
        self._heartbeat_every = heartbeat
        # More leases in flight overlap round trips to a distant server; one is best nearby.
        pollers = pollers or 1
        self._batch = min(batch or -(-concurrency // pollers), 1000)
        self._pollers = [_Poller() for _ in range(max(1, pollers))]
        #: Slots claimed by leases in flight: with the running jobs, never more than `concurrency`.
        self._reserved = 0
        self._poll_wait = min(poll_wait, routes.MAX_WAIT_S)
        self._grace = grace
        self._ack_batch = ack_batch
        self._lag_warning = loop_lag_warning
        self._startup_jitter = startup_jitter
        self._events = events or Events()

        self._running: dict[str, _Attempt] = {}
        self._acks: deque[_Ack] = deque()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._heartbeats: Heartbeater | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ack_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._free: asyncio.Event | None = None
        self._ack_wake: asyncio.Event | None = None
        self._closed: asyncio.Event | None = None
        self._closing = False
        self._closer: asyncio.Future[None] | None = None
        self._acks_done = False

        self._started_at = 0.0
        self._last_poll_at: float | None = None
        self._failures = 0
        self._last_error: str | None = None
        self._completed = 0
        self._failed = 0
        self._lost = 0
        self._lags = 0

    # -- the public surface -------------------------------------------------------------------

    def on(self, event: str, listener: Listener) -> Callable[[], None]:
        """Listens to ``completed(job, result)``, ``failed(job, exc)``, ``lease_lost(job)`` or ``error(exc)``."""
        return self._events.on(event, listener)

    @property
    def closing(self) -> bool:
        """Whether :meth:`close` has begun: handlers may use it to wind down early."""
        return self._closing

    async def start(self) -> None:
        """Starts leasing in the background; :meth:`close` stops it."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._free = asyncio.Event()
        self._ack_wake = asyncio.Event()
        self._closed = asyncio.Event()
        self._started_at = time.time()
        if not self._is_async:
            self._executor = concurrent.futures.ThreadPoolExecutor(self._concurrency, thread_name_prefix="rampart-job")
        self._heartbeats = Heartbeater(self._client.settings, self._lease, self._heartbeat_every, self._lost_elsewhere)
        self._heartbeats.start()
        for poller in self._pollers:
            poller.task = asyncio.create_task(self._poll_loop(poller))
        self._ack_task = asyncio.create_task(self._ack_loop())
        self._watch_task = asyncio.create_task(self._watch())
        log.info("worker %s started on queue %s (concurrency %d)", self.name, self.queue, self._concurrency)

    async def run(self, handle_signals: bool = True) -> None:
        """Works until :meth:`close` has finished; with ``handle_signals``, SIGTERM and SIGINT close it."""
        await self.start()
        assert self._closed is not None and self._loop is not None
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                try:
                    self._loop.add_signal_handler(sig, self._on_signal, sig)
                except (NotImplementedError, RuntimeError, ValueError):
                    log.debug("cannot handle %s here (not the main thread); call close() instead", sig.name)
        try:
            await self._closed.wait()
        finally:
            if handle_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    try:
                        self._loop.remove_signal_handler(sig)
                    except (NotImplementedError, RuntimeError, ValueError):
                        pass

    async def close(self, grace: float | None = None) -> None:
        """Stops leasing, waits up to ``grace`` seconds for running handlers, then cancels the
        rest and gives their leases back; flushes the acks and stops heartbeating."""
        if self._loop is None or self._closed is None:
            return
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        grace = self._grace if grace is None else grace
        assert self._free is not None and self._ack_wake is not None and self._heartbeats is not None
        self._free.set()
        polls = [p.task for p in self._pollers if p.task is not None]
        for task in polls:
            task.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
        tasks = [a.task for a in self._running.values() if a.task is not None]
        if tasks:
            log.info("worker %s closing: waiting up to %ss for %d running job(s)", self.name, grace, len(tasks))
            await asyncio.wait(tasks, timeout=grace)
        if self._running:
            await self._give_back(list(self._running.values()))
        self._acks_done = True
        self._ack_wake.set()
        if self._ack_task is not None:
            try:
                await asyncio.wait_for(self._ack_task, timeout=self._lease)
            except asyncio.TimeoutError:
                log.warning(
                    "worker %s: acks still unsent after %ss; their jobs will be retried", self.name, self._lease
                )
        if self._watch_task is not None:
            self._watch_task.cancel()
            await asyncio.gather(self._watch_task, return_exceptions=True)
        await asyncio.to_thread(self._heartbeats.stop)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        log.info("worker %s closed", self.name)
        self._closed.set()

    def health(self) -> WorkerHealth:
        """For a liveness probe: healthy while leasing works (or every slot is busy)."""
        now = time.time()
        since = now - (self._last_poll_at or self._started_at) if self._started_at else None
        busy = len(self._running) >= self._concurrency
        polling = any(p.task is not None and not p.task.done() for p in self._pollers)
        healthy = polling and not self._closing and (busy or (since is not None and since < self._poll_wait + 30))
        return WorkerHealth(
            healthy=healthy,
            closing=self._closing,
            running=len(self._running),
            last_poll_at=self._last_poll_at,
            seconds_since_poll=None if self._last_poll_at is None else now - self._last_poll_at,
            consecutive_failures=self._failures,
            last_error=self._last_error,
            completed=self._completed,
            failed=self._failed,
            lease_lost=self._lost,
            loop_lags=self._lags,
        )

    # -- leasing -------------------------------------------------------------------------------

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("worker %s received %s: closing", self.name, sig.name)
        self._closer = asyncio.ensure_future(self.close())

    async def _poll_loop(self, poller: _Poller) -> None:
        assert self._free is not None
        await asyncio.sleep(random.uniform(0, self._startup_jitter))
        while not self._closing:
            free = self._concurrency - len(self._running) - self._reserved
            if free <= 0:
                self._free.clear()
                await self._free.wait()
                continue
            want = min(free, self._batch)
            self._reserved += want
            poller.started = time.monotonic()
            poller.call = asyncio.ensure_future(self._lease_jobs(want))
            try:
                jobs = await poller.call
            except asyncio.CancelledError:
                if not poller.cut:
                    raise
                poller.cut = False
                continue
            except RampartError as e:
                await self._poll_failed(e)
                continue
            finally:
                self._reserved -= want
                poller.started = None
                poller.call = None
            self._failures = 0
            self._last_error = None
            self._last_poll_at = time.time()
            for raw in jobs:
                self._begin(raw)
            if len(jobs) < want:
                # Slots claimed and not used: another poller may be waiting for them.
                self._free.set()

    async def _lease_jobs(self, want: int) -> list[dict[str, Any]]:
        req = routes.jobs_lease(self.queue, want, self._poll_wait, self._lease, self.name, self._poll_wait + 10)
        jobs: list[dict[str, Any]] = decode(await send_async(self._client._http, self._client.settings, req))["jobs"]
        return jobs

    async def _poll_failed(self, e: RampartError) -> None:
        self._failures += 1
        self._last_error = str(e)
        pause = RECONNECT_BACKOFF.delay(self._failures)
        log.warning("worker %s: lease failed (%s); trying again in %.2fs", self.name, e, pause)
        self._emit_error(e)
        await asyncio.sleep(pause)

    def _begin(self, raw: dict[str, Any]) -> None:
        assert self._heartbeats is not None
        job = Job(
            id=raw["id"],
            queue=raw.get("queue", self.queue),
            payload=raw.get("payload"),
            attempt=raw["attempt"],
            max_attempts=raw["max_attempts"],
            created_at=raw.get("created_at", ""),
            lease_token=raw["lease_token"],
            tenant=raw.get("tenant"),
            children=raw.get("children"),
        )
        job.step = Step(job.id, raw.get("steps") or {}, self._step_sender(job))
        self._heartbeats.track(job.id, job.lease_token)
        attempt = _Attempt(job)
        self._running[job.id] = attempt
        attempt.task = asyncio.create_task(self._work(attempt))

    def _step_sender(self, job: Job) -> Send:
        async def send(step: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
            if kind == "record":
                req = routes.jobs_step_record(job.id, step, job.lease_token, body["result"])
            elif kind == "sleep":
                req = routes.jobs_step_sleep(job.id, step, job.lease_token, body["duration"])
            else:
                req = routes.jobs_step_wait(job.id, step, job.lease_token, body)
            answer: dict[str, Any] = decode(await send_async(self._client._http, self._client.settings, req))
            return answer

        return send

    # -- running a job -------------------------------------------------------------------------

    async def _work(self, attempt: _Attempt) -> None:
        job = attempt.job
        try:
            if self._is_async:
                result = await self._handler(job)
            else:
                assert self._loop is not None
                result = await self._loop.run_in_executor(self._executor, self._handler, job)
            ack = _Ack(job, "complete", result=result)
            if result is not None:
                try:
                    json.dumps(result, allow_nan=False)
                except (TypeError, ValueError) as e:
                    error = f"the handler's result is not JSON: {e}"
                    ack = _Ack(job, "fail", error=error, retryable=False, exc=PermanentError(error))
        except asyncio.CancelledError:
            # Lease lost or grace over: whoever cancelled it deals with the lease.
            return
        except JobGivenBack:
            # Asleep or waiting: the server holds the job, so nothing is acked.
            assert self._heartbeats is not None
            self._heartbeats.forget(job.id)
            return
        except PermanentError as e:
            ack = _Ack(job, "fail", error=_describe(e), retryable=False, exc=e)
        except Exception as e:
            ack = _Ack(job, "fail", error=_describe(e), retryable=True, exc=e)
        finally:
            self._finished(job.id)
        if attempt.abandoned:
            return
        self._acks.append(ack)
        assert self._ack_wake is not None
        self._ack_wake.set()

    def _finished(self, job_id: str) -> None:
        self._running.pop(job_id, None)
        assert self._free is not None
        self._free.set()

    def _lost_elsewhere(self, job_id: str) -> None:
        """From the heartbeat thread: the job's lease is no longer ours."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._lease_lost, job_id)

    def _lease_lost(self, job_id: str) -> None:
        attempt = self._running.get(job_id)
        if attempt is None or attempt.abandoned:
            return
        attempt.abandoned = True
        attempt.job.signal._cancel("lease_lost")
        if self._is_async and attempt.task is not None:
            attempt.task.cancel()
        self._lost += 1
        self._events.emit("lease_lost", attempt.job)

    async def _give_back(self, attempts: list[_Attempt]) -> None:
        """Cancels handlers still running after the grace period and releases their leases."""
        assert self._heartbeats is not None
        log.warning("worker %s: grace over; cancelling %d job(s) and giving them back", self.name, len(attempts))
        for attempt in attempts:
            attempt.abandoned = True
            attempt.job.signal._cancel("shutdown")
            if attempt.task is not None:
                attempt.task.cancel()

        async def release(job: Job) -> None:
            try:
                req = routes.jobs_release(job.id, job.lease_token)
                await send_async(self._client._http, self._client.settings, req)
            except RampartError as e:
                log.warning("job %s: release failed (%s); it returns when its lease expires", job.id, e)
            finally:
                assert self._heartbeats is not None
                self._heartbeats.forget(job.id)

        await asyncio.gather(*(release(a.job) for a in attempts))
        tasks = [a.task for a in attempts if a.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)

    # -- acks ----------------------------------------------------------------------------------

    async def _ack_loop(self) -> None:
        assert self._ack_wake is not None
        failures = 0
        while True:
            if not self._acks:
                if self._acks_done:
                    return
                self._ack_wake.clear()
                await self._ack_wake.wait()
                continue
            batch = [self._acks.popleft() for _ in range(min(len(self._acks), self._ack_batch))]
            try:
                results = await self._send_acks(batch)
            except RampartError as e:
                failures += 1
                self._requeue(batch, e)
                await asyncio.sleep(RECONNECT_BACKOFF.delay(failures))
                continue
            except Exception as e:
                # Never let the ack loop die: the leases would expire and the work be redone.
                log.exception("worker %s: acks failed unexpectedly", self.name)
                failures += 1
                self._requeue(batch, RampartError(repr(e)))
                await asyncio.sleep(RECONNECT_BACKOFF.delay(failures))
                continue
            failures = 0
            self._settle(batch, results)

    async def _send_acks(self, batch: list[_Ack]) -> list[dict[str, Any]]:
        complete: list[dict[str, Any]] = []
        fail: list[dict[str, Any]] = []
        for ack in batch:
            if ack.kind == "complete":
                item: dict[str, Any] = {"id": ack.job.id, "lease_token": ack.job.lease_token}
                if ack.result is not None:
                    item["result"] = ack.result
                complete.append(item)
            else:
                fail.append(
                    {
                        "id": ack.job.id,
                        "lease_token": ack.job.lease_token,
                        "error": ack.error,
                        "retryable": ack.retryable,
                    }
                )
        resp = await send_async(self._client._http, self._client.settings, routes.acks(complete, fail))
        results: list[dict[str, Any]] = decode(resp)["results"]
        return results

    def _requeue(self, batch: list[_Ack], e: RampartError) -> None:
        """Puts back the acks whose leases may still be ours; the others' jobs will run again."""
        assert self._heartbeats is not None
        keep = [ack for ack in batch if self._heartbeats.alive(ack.job.id)]
        if isinstance(e, APIStatusError) and e.status < 500 and e.status != 429:
            # The server refused the batch itself: sending it again will not help.
            keep = []
        for ack in batch:
            if ack not in keep:
                self._heartbeats.forget(ack.job.id)
        self._acks.extendleft(reversed(keep))
        log.warning("worker %s: acks failed (%s); %d kept to send again", self.name, e, len(keep))
        self._emit_error(e)

    def _settle(self, batch: list[_Ack], results: list[dict[str, Any]]) -> None:
        assert self._heartbeats is not None
        # The server answers completions first, then failures, each in request order.
        ordered = [a for a in batch if a.kind == "complete"] + [a for a in batch if a.kind == "fail"]
        for ack, result in zip(ordered, results, strict=False):
            self._heartbeats.forget(ack.job.id)
            error = result.get("error")
            if error:
                if error.get("code") == "LEASE_LOST":
                    self._lost += 1
                    log.warning("job %s: lease lost before its ack; another worker has it", ack.job.id)
                    self._events.emit("lease_lost", ack.job)
                else:
                    self._emit_error(RampartError(f"job {ack.job.id}: ack refused: {error.get('message')}"))
            elif ack.kind == "complete":
                self._completed += 1
                self._events.emit("completed", ack.job, ack.result)
            else:
                self._failed += 1
                self._events.emit("failed", ack.job, ack.exc)

    def _emit_error(self, e: BaseException) -> None:
        if self._events.has("error"):
            self._events.emit("error", e)

    # -- the watchdog --------------------------------------------------------------------------

    async def _watch(self) -> None:
        """Warns when the event loop lags; restarts a poll loop that hangs or died."""
        tick = 0.25
        last = time.monotonic()
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            lag = now - last - tick
            last = now
            if lag > self._lag_warning:
                self._lags += 1
                log.warning(
                    "worker %s: the event loop was blocked for %.2fs; run blocking work in a thread "
                    "(heartbeats carry on in their own)",
                    self.name,
                    lag,
                )
            if self._closing:
                continue
            for poller in self._pollers:
                self._check(poller, now)

    def _check(self, poller: _Poller, now: float) -> None:
        """Cancels a lease that hung; starts again a poll loop that died."""
        started, call = poller.started, poller.call
        if started is not None and call is not None and now - started > self._poll_wait + 20:
            log.error("worker %s: a lease has hung for %.0fs; starting it again", self.name, now - started)
            poller.cut = True
            call.cancel()
        if poller.task is not None and poller.task.done():
            error = None if poller.task.cancelled() else poller.task.exception()
            log.error("worker %s: a poll loop stopped (%r); starting it again", self.name, error)
            self._last_error = repr(error)
            poller.task = asyncio.create_task(self._poll_loop(poller))


def _describe(e: BaseException) -> str:
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


class Worker:
    """A worker for sync handlers: each job runs in a thread of a pool sized to ``concurrency``.

    Takes the options of :class:`AsyncWorker`. ``run()`` blocks until closed (SIGTERM and
    SIGINT close it when called from the main thread); ``start()`` runs it in the background
    and ``close()`` stops it from any thread.
    """

    def __init__(self, client: Rampart, queue: str, handler: Callable[[Job], Any], **options: Any) -> None:
        if inspect.iscoroutinefunction(handler):
            raise TypeError("an async handler needs AsyncWorker (with AsyncRampart)")
        self.queue = queue
        self._settings = client.settings
        self._handler = handler
        self._options = options
        self._events = Events()
        self._core: AsyncWorker | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        # Checked now, not on the worker's thread later.
        self._check()

    def _check(self) -> None:
        lease = float(self._options.get("lease", 30.0))
        heartbeat = self._options.get("heartbeat")
        heartbeat = lease / 3 if heartbeat is None else float(heartbeat)
        if heartbeat <= 0 or lease < 3 * heartbeat:
            raise ValueError(f"the lease ({lease}s) must be at least three heartbeat intervals ({heartbeat}s)")

    def on(self, event: str, listener: Listener) -> Callable[[], None]:
        """Listens to ``completed``, ``failed``, ``lease_lost`` or ``error`` (called on the worker's thread)."""
        return self._events.on(event, listener)

    def run(self, handle_signals: bool = True) -> None:
        """Works until closed."""
        asyncio.run(self._main(handle_signals and threading.current_thread() is threading.main_thread()))

    def start(self) -> None:
        """Works in a background thread until :meth:`close`."""
        self._thread = threading.Thread(target=self.run, args=(False,), name="rampart-worker", daemon=True)
        self._thread.start()
        self._ready.wait()

    def close(self, grace: float | None = None) -> None:
        """Stops as :meth:`AsyncWorker.close` does, and waits for it."""
        if self._loop is None or self._core is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._core.close(grace), self._loop)
        future.result()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def health(self) -> WorkerHealth | None:
        """As :meth:`AsyncWorker.health`; ``None`` before it has started."""
        return self._core.health() if self._core is not None else None

    async def _main(self, handle_signals: bool) -> None:
        client = AsyncRampart.from_settings(self._settings)
        try:
            self._core = AsyncWorker(client, self.queue, self._handler, events=self._events, **self._options)
            self._loop = asyncio.get_running_loop()
            await self._core.start()
            self._ready.set()
            await self._core.run(handle_signals)
        finally:
            self._ready.set()
            await client.close()
