"""Safe calls: an outbound call through one of the server's shared circuit breakers.

Each attempt asks the breaker first (``POST /v1/breakers/{name}/acquire``): an open breaker
raises :class:`CircuitOpenError` with ``retry_after`` at once, without calling. An admitted
attempt runs under a timeout, and its outcome and duration are recorded
(``POST /v1/breakers/{name}/record``), so every instance of the app shares what it learnt.
A failure that ``retry_on`` accepts (by default: network errors, timeouts, and errors carrying
a 408, 429 or 5xx status) is tried again after a backoff (1 s, 2 s, then 4 s at most, ±20%,
at least the error's ``Retry-After``), within ``retries`` more attempts and ``budget``
seconds; then :class:`RetriesExhaustedError` (with ``retries=0``, the error itself).
Defaults are the server's own ``safe_call``: 30 s per attempt, 3 attempts, 120 s in all.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

import httpx

from .backoff import CALL_BACKOFF, Backoff
from .errors import RampartError, retry_after_seconds

if TYPE_CHECKING:
    from .client import AsyncBreakers, Breakers

T = TypeVar("T")


class CircuitOpenError(RampartError):
    """The breaker refused the call; ``retry_after`` seconds until it may admit one."""

    def __init__(self, name: str, retry_after: float | None, last_error: BaseException | None = None) -> None:
        super().__init__(f"circuit {name!r} is open" + (f"; retry after {retry_after:g}s" if retry_after else ""))
        self.name = name
        self.retry_after = retry_after
        self.last_error = last_error


class CallTimeoutError(RampartError, TimeoutError):
    """An attempt took longer than the call's timeout."""


class RetriesExhaustedError(RampartError):
    """Every attempt failed (or the budget ran out); ``last_error`` is the last one's error."""

    def __init__(self, name: str, attempts: int, last_error: BaseException) -> None:
        super().__init__(f"{name}: {attempts} attempt(s) failed; the last with {last_error!r}")
        self.name = name
        self.attempts = attempts
        self.last_error = last_error


def _status(e: BaseException) -> int | None:
    """The HTTP status an error carries: ``httpx``'s, ``requests``' or an attribute of its own."""
    if isinstance(e, httpx.HTTPStatusError):
        return e.response.status_code
    for holder in (e, getattr(e, "response", None)):
        for attr in ("status", "status_code"):
            value = getattr(holder, attr, None)
            if isinstance(value, int):
                return value
    return None


def default_retry_on(e: BaseException) -> bool:
    """Network errors, timeouts and 408/429/5xx answers are worth another attempt; the rest are not."""
    if isinstance(e, (CallTimeoutError, TimeoutError, ConnectionError, httpx.TransportError)):
        return True
    status = _status(e)
    return status is not None and (status in (408, 429) or status >= 500)


def _retry_after(e: BaseException) -> float:
    headers = getattr(getattr(e, "response", None), "headers", None) or getattr(e, "headers", None)
    if isinstance(headers, Mapping) or isinstance(headers, httpx.Headers):
        return retry_after_seconds(dict(headers.items())) or 0.0
    return 0.0


class _Plan:
    """The attempt loop's arithmetic, shared by the sync and async versions."""

    def __init__(
        self,
        name: str,
        retries: int,
        backoff: Backoff,
        budget: float,
        retry_on: Callable[[BaseException], bool] | None,
    ) -> None:
        self.name = name
        self.attempts = max(0, retries) + 1
        self.backoff = backoff
        self.deadline = time.monotonic() + budget
        self.retry_on = retry_on or default_retry_on

    def next_pause(self, attempt: int, error: BaseException) -> float:
        """The pause before another attempt; raises when there is to be none."""
        if not self.retry_on(error) or self.attempts == 1:
            raise error
        pause = max(self.backoff.delay(attempt), _retry_after(error))
        if attempt >= self.attempts or time.monotonic() + pause > self.deadline:
            raise RetriesExhaustedError(self.name, attempt, error) from error
        return pause


def safe_call(
    breakers: Breakers,
    name: str,
    fn: Callable[[], T],
    *,
    timeout: float | None = 30.0,
    retries: int = 2,
    backoff: Backoff = CALL_BACKOFF,
    budget: float = 120.0,
    retry_on: Callable[[BaseException], bool] | None = None,
) -> T:
    """Calls ``fn()`` through the shared breaker ``name``, as the module doc says.

    A sync ``fn`` with a timeout runs in a helper thread, which is left to finish on its own
    when it overruns (Python cannot stop a thread): give ``fn`` its own timeout too.
    """
    plan = _Plan(name, retries, backoff, budget, retry_on)
    attempt = 0
    last: BaseException | None = None
    while True:
        attempt += 1
        admitted = breakers.acquire(name)
        if not admitted["allowed"]:
            raise CircuitOpenError(name, admitted["retry_after_s"], last)
        started = time.monotonic()
        try:
            result = _run_with_timeout(fn, timeout)
        except Exception as e:
            last = e
            breakers.record(name, False, int((time.monotonic() - started) * 1000))
            time.sleep(plan.next_pause(attempt, e))
            continue
        breakers.record(name, True, int((time.monotonic() - started) * 1000))
        return result


def _run_with_timeout(fn: Callable[[], T], timeout: float | None) -> T:
    if timeout is None:
        return fn()
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="rampart-safe-call")
    try:
        return pool.submit(fn).result(timeout)
    except concurrent.futures.TimeoutError:
        raise CallTimeoutError(f"the call took longer than {timeout:g}s") from None
    finally:
        pool.shutdown(wait=False)


async def safe_call_async(
    breakers: AsyncBreakers,
    name: str,
    fn: Callable[[], Awaitable[T]],
    *,
    timeout: float | None = 30.0,
    retries: int = 2,
    backoff: Backoff = CALL_BACKOFF,
    budget: float = 120.0,
    retry_on: Callable[[BaseException], bool] | None = None,
) -> T:
    """The asyncio twin of :func:`safe_call`: an attempt past ``timeout`` is cancelled."""
    plan = _Plan(name, retries, backoff, budget, retry_on)
    attempt = 0
    last: BaseException | None = None
    while True:
        attempt += 1
        admitted = await breakers.acquire(name)
        if not admitted["allowed"]:
            raise CircuitOpenError(name, admitted["retry_after_s"], last)
        started = time.monotonic()
        try:
            result: T = await asyncio.wait_for(_awaited(fn), timeout)
        except asyncio.TimeoutError:
            last = CallTimeoutError(f"the call took longer than {timeout:g}s")
        except Exception as e:
            last = e
        else:
            await breakers.record(name, True, int((time.monotonic() - started) * 1000))
            return result
        await breakers.record(name, False, int((time.monotonic() - started) * 1000))
        await asyncio.sleep(plan.next_pause(attempt, last))


async def _awaited(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()
