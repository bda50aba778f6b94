"""What the app reports about itself: AI usage, budgets and reservations, cache telemetry, errors.

``client.usage.guard(...)`` is reserve → call → report as a context manager: entering holds
the call's estimate on every budget that applies (refused by an enforced budget:
:class:`BudgetExceededError`, and the block never runs); the block records the call's real
usage with :meth:`GuardedCall.record`; leaving reports the call with the reservation's id,
which settles the hold at the real cost, or, when the block raised, reports a failed call,
which releases it, and lets the exception through::

    with client.usage.guard(model="gpt-4o", tenant="acme", estimated_cost_usd=0.05) as call:
        answer = openai.chat.completions.create(...)
        call.record(input_tokens=answer.usage.prompt_tokens, output_tokens=answer.usage.completion_tokens)
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import httpx

from . import routes
from .errors import RampartError
from .resource import AsyncResource, SyncResource
from .transport import Instant, Settings
from .wire import Budget, CacheReportResult, ErrorEvent, Reservation, UsageResult, UsageSummary

log = logging.getLogger("rampart_client.usage")


class BudgetExceededError(RampartError):
    """An enforced budget refused the reservation: the guarded call was not made."""

    def __init__(self, refused_by: str | None, remaining: float | None) -> None:
        super().__init__(f"budget {refused_by!r} has no room for this call (remaining: {remaining} USD)")
        self.refused_by = refused_by
        self.remaining = remaining


@dataclass
class GuardedCall:
    """A call inside :meth:`Usage.guard`: its reservation, and the usage it records."""

    reservation: Reservation
    usage: dict[str, Any] = field(default_factory=dict)

    def record(
        self,
        *,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        cost_usd: float | None = None,
    ) -> None:
        """The call's real usage; without ``cost_usd`` the server prices it from its table."""
        given = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cached_input_tokens": cached_input_tokens,
            "cache_write_tokens": cache_write_tokens,
            "reasoning_tokens": reasoning_tokens,
            "cost_usd": cost_usd,
        }
        self.usage = {k: v for k, v in given.items() if v is not None}


def _keys(**keys: Any) -> dict[str, Any]:
    return {k: v for k, v in keys.items() if v is not None}


@dataclass(frozen=True)
class _Guard:
    """What a guard reserves and then reports."""

    reserve: dict[str, Any]
    report: dict[str, Any]

    @staticmethod
    def of(
        model: str,
        call_id: str | None,
        provider: str | None,
        tenant: str | None,
        user: str | None,
        feature: str | None,
        estimated_cost_usd: float | None,
        input_tokens: int | None,
        max_tokens: int | None,
    ) -> _Guard:
        who = _keys(tenant=tenant, user=user, feature=feature)
        reserve = {**who, "model": model}
        reserve |= _keys(estimated_cost_usd=estimated_cost_usd, input_tokens=input_tokens, max_tokens=max_tokens)
        report = {**who, "model": model, "call_id": call_id or str(uuid.uuid4())} | _keys(provider=provider)
        return _Guard(reserve, report)

    def held(self, reservation: Reservation) -> GuardedCall:
        if not reservation.get("allowed"):
            raise BudgetExceededError(reservation.get("refused_by"), reservation.get("remaining"))
        if reservation.get("reservation_id"):
            self.report["reservation_id"] = reservation["reservation_id"]
        return GuardedCall(reservation)

    def failed(self, started: float) -> dict[str, Any]:
        duration_ms = round((time.monotonic() - started) * 1000)
        zero = {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
        return {**self.report, **zero, "duration_ms": duration_ms, "success": False}

    def succeeded(self, call: GuardedCall, started: float) -> dict[str, Any]:
        duration_ms = round((time.monotonic() - started) * 1000)
        usage = {"input_tokens": 0, "output_tokens": 0} | call.usage
        return {**self.report, **usage, "duration_ms": duration_ms, "success": True}


def _events(events: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(events)] if isinstance(events, Mapping) else [dict(e) for e in events]


class Usage(SyncResource):
    """AI usage: ``client.usage``."""

    def __init__(self, http: httpx.Client, settings: Settings) -> None:
        super().__init__(http, settings)
        self.budgets = Budgets(http, settings)

    def report(self, events: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> UsageResult:
        """Reports one call (a dict) or a batch of up to 1,000; repeats of a ``call_id`` change nothing."""
        return cast(UsageResult, self._call(routes.usage_report(_events(events))))

    def reserve(self, **call: Any) -> Reservation:
        """Holds ``estimated_cost_usd`` (or the price of ``input_tokens`` and ``max_tokens``) on each budget."""
        return cast(Reservation, self._call(routes.usage_reserve(_keys(**call))))

    def summary(
        self, group_by: str | None = None, since: Instant | None = None, until: Instant | None = None
    ) -> UsageSummary:
        """Calls, failures, tokens, cost and p50/p95 duration, in total or per ``group_by``."""
        return cast(UsageSummary, self._call(routes.usage_summary(group_by, since, until)))

    @contextmanager
    def guard(
        self,
        *,
        model: str,
        estimated_cost_usd: float | None = None,
        tenant: str | None = None,
        user: str | None = None,
        feature: str | None = None,
        provider: str | None = None,
        input_tokens: int | None = None,
        max_tokens: int | None = None,
        call_id: str | None = None,
    ) -> Iterator[GuardedCall]:
        """Reserve → call → report (see the module's doc)."""
        g = _Guard.of(model, call_id, provider, tenant, user, feature, estimated_cost_usd, input_tokens, max_tokens)
        call = g.held(self.reserve(**g.reserve))
        started = time.monotonic()
        try:
            yield call
        except BaseException:
            try:
                self.report(g.failed(started))
            except RampartError as e:
                log.warning("could not report the failed call; its hold expires by itself: %s", e)
            raise
        try:
            self.report(g.succeeded(call, started))
        except RampartError as e:
            log.warning("could not report the call; its hold expires by itself: %s", e)


class AsyncUsage(AsyncResource):
    """AI usage: ``client.usage`` of :class:`~rampart_client.AsyncRampart`; see :class:`Usage`."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        super().__init__(http, settings)
        self.budgets = AsyncBudgets(http, settings)

    async def report(self, events: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> UsageResult:
        """Reports one call (a dict) or a batch of up to 1,000."""
        return cast(UsageResult, await self._call(routes.usage_report(_events(events))))

    async def reserve(self, **call: Any) -> Reservation:
        """Holds an estimate on every budget that applies."""
        return cast(Reservation, await self._call(routes.usage_reserve(_keys(**call))))

    async def summary(
        self, group_by: str | None = None, since: Instant | None = None, until: Instant | None = None
    ) -> UsageSummary:
        """Calls, failures, tokens, cost and p50/p95 duration."""
        return cast(UsageSummary, await self._call(routes.usage_summary(group_by, since, until)))

    @asynccontextmanager
    async def guard(
        self,
        *,
        model: str,
        estimated_cost_usd: float | None = None,
        tenant: str | None = None,
        user: str | None = None,
        feature: str | None = None,
        provider: str | None = None,
        input_tokens: int | None = None,
        max_tokens: int | None = None,
        call_id: str | None = None,
    ) -> AsyncIterator[GuardedCall]:
        """Reserve → call → report, ``async with``; see :meth:`Usage.guard`."""
        g = _Guard.of(model, call_id, provider, tenant, user, feature, estimated_cost_usd, input_tokens, max_tokens)
        call = g.held(await self.reserve(**g.reserve))
        started = time.monotonic()
        try:
            yield call
        except BaseException:
            try:
                await self.report(g.failed(started))
            except RampartError as e:
                log.warning("could not report the failed call; its hold expires by itself: %s", e)
            raise
        try:
            await self.report(g.succeeded(call, started))
        except RampartError as e:
            log.warning("could not report the call; its hold expires by itself: %s", e)


class Budgets(SyncResource):
    """Budgets, configured and kept through the API: ``client.usage.budgets``."""

    def list(self) -> list[Budget]:
        """Every budget with its current period's windows."""
        return cast(list[Budget], self._call(routes.budgets_list())["budgets"])

    def get(self, name: str) -> Budget:
        """One budget."""
        return cast(Budget, self._call(routes.budgets_get(name)))

    def put(self, name: str, **spec: Any) -> Budget:
        """Defines or replaces a budget kept in the store (admin): ``amount_usd``, ``scope``, ``period``, ..."""
        return cast(Budget, self._call(routes.budgets_put(name, _keys(**spec))))

    def delete(self, name: str) -> None:
        """Deletes a budget of the API (admin)."""
        self._call(routes.budgets_delete(name))


class AsyncBudgets(AsyncResource):
    """Budgets; see :class:`Budgets`."""

    async def list(self) -> list[Budget]:
        """Every budget with its current period's windows."""
        return cast(list[Budget], (await self._call(routes.budgets_list()))["budgets"])

    async def get(self, name: str) -> Budget:
        """One budget."""
        return cast(Budget, await self._call(routes.budgets_get(name)))

    async def put(self, name: str, **spec: Any) -> Budget:
        """Defines or replaces a budget kept in the store (admin)."""
        return cast(Budget, await self._call(routes.budgets_put(name, _keys(**spec))))

    async def delete(self, name: str) -> None:
        """Deletes a budget of the API (admin)."""
        await self._call(routes.budgets_delete(name))


class Caches(SyncResource):
    """Cache telemetry: ``client.caches``."""

    def report(
        self, name: str, snapshot: Mapping[str, Any] | None = None, events: Sequence[Mapping[str, Any]] = ()
    ) -> CacheReportResult:
        """Reports a cache's snapshot (``size``, ``max_size``, ``loads``, ...) and/or events."""
        body = _keys(snapshot=dict(snapshot) if snapshot else None, events=[dict(e) for e in events] or None)
        return cast(CacheReportResult, self._call(routes.caches_report(name, body)))


class AsyncCaches(AsyncResource):
    """Cache telemetry; see :class:`Caches`."""

    async def report(
        self, name: str, snapshot: Mapping[str, Any] | None = None, events: Sequence[Mapping[str, Any]] = ()
    ) -> CacheReportResult:
        """Reports a cache's snapshot and/or events."""
        body = _keys(snapshot=dict(snapshot) if snapshot else None, events=[dict(e) for e in events] or None)
        return cast(CacheReportResult, await self._call(routes.caches_report(name, body)))


def _error(level: str, kind: str, message: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    return {"level": level, "kind": kind, "message": message} | _keys(**extra)


class Errors(SyncResource):
    """Error events: ``client.errors``."""

    def report(self, level: str, kind: str, message: str, **extra: Any) -> ErrorEvent:
        """Reports one event (``fingerprint``, ``tenant``, ``tags``, ``at`` optional); ``critical`` alerts at once."""
        return cast(ErrorEvent, self._call(routes.errors_report(_error(level, kind, message, extra))))


class AsyncErrors(AsyncResource):
    """Error events; see :class:`Errors`."""

    async def report(self, level: str, kind: str, message: str, **extra: Any) -> ErrorEvent:
        """Reports one event; ``critical`` alerts at once."""
        return cast(ErrorEvent, await self._call(routes.errors_report(_error(level, kind, message, extra))))
