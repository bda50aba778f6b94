"""safe_call over a shared breaker of the real server: it opens, refuses, then recovers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from rampart_client import AsyncRampart, CallTimeoutError, CircuitOpenError, Rampart, RetriesExhaustedError
from rampart_client.backoff import Backoff

from .conftest import eventually

#: Configured in the session server: opens after 2 failures, cooldown 1s.
FLAKY = "py-flaky"
QUICK = Backoff(initial=0.01, maximum=0.05)


def test_safe_call_opens_the_breaker_and_recovers(client: Rampart) -> None:
    client.breakers.reset(FLAKY)
    calls = 0

    def down() -> str:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("connection refused")

    with pytest.raises(CircuitOpenError) as opened:
        client.breakers.safe_call(FLAKY, down, retries=4, backoff=QUICK)
    # Two failures opened it; the third attempt was refused without calling.
    assert calls == 2
    assert isinstance(opened.value.last_error, httpx.ConnectError)
    with pytest.raises(CircuitOpenError) as refused:
        client.breakers.safe_call(FLAKY, lambda: "not called")
    assert refused.value.retry_after is not None and refused.value.retry_after >= 1
    assert client.breakers.get(FLAKY)["state"] == "open"

    # After the cooldown one probe is admitted; its success closes the breaker.
    def recovered() -> str:
        return client.breakers.safe_call(FLAKY, lambda: "ok", retries=0)

    assert eventually("the breaker to admit a probe", lambda: _try(recovered)) == "ok"
    assert client.breakers.get(FLAKY)["state"] == "closed"


def _try(fn: Callable[[], str]) -> str | None:
    try:
        return fn()
    except CircuitOpenError:
        time.sleep(0.1)
        return None


def test_retries_run_out(client: Rampart) -> None:
    calls = 0

    def down() -> str:
        nonlocal calls
        calls += 1
        raise ConnectionResetError("reset by peer")

    with pytest.raises(RetriesExhaustedError) as exhausted:
        client.breakers.safe_call("py-exhausted", down, retries=2, backoff=QUICK)
    assert calls == 3 and exhausted.value.attempts == 3
    assert isinstance(exhausted.value.last_error, ConnectionResetError)
    assert client.breakers.get("py-exhausted")["consecutive_failures"] == 3


def test_non_retryable_errors_are_raised_at_once(client: Rampart) -> None:
    calls = 0

    def bad_input() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("the caller's own mistake")

    with pytest.raises(ValueError):
        client.breakers.safe_call("py-values", bad_input, retries=3, backoff=QUICK)
    assert calls == 1


async def test_async_safe_call_times_out_retries_and_honours_retry_after(aclient: AsyncRampart) -> None:
    attempts: list[float] = []

    async def slow() -> str:
        attempts.append(time.monotonic())
        await asyncio.sleep(5)
        return "late"

    with pytest.raises(CallTimeoutError):
        await aclient.breakers.safe_call("py-slow", slow, timeout=0.1, retries=0)

    async def throttled() -> str:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            request = httpx.Request("GET", "http://upstream")
            response = httpx.Response(429, headers={"retry-after": "1"}, request=request)
            raise httpx.HTTPStatusError("429", request=request, response=response)
        return "ok"

    assert await aclient.breakers.safe_call("py-throttled", throttled, retries=2, backoff=QUICK) == "ok"
    assert attempts[2] - attempts[1] >= 0.95  # waited out Retry-After, not the 10 ms backoff
    breaker = await aclient.breakers.get("py-throttled")
    assert breaker["state"] == "closed"
