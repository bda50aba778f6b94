"""Step functions in an async worker handler: ``job.step``.

``await job.step.run(name, fn)`` records ``fn``'s result on the server under the job's lease, so
a retry answers recorded steps from memory instead of running them again (Inngest's
``step.run``). A name used again in one run becomes ``name:1``, ``name:2``, … Steps run at least
once: pass ``job.step.idempotency_key(name)`` (``{job_id}:{step}``) to the APIs a step calls.
``sleep`` and ``wait_for_event`` give the job back to the server (no attempt counted) and raise
:class:`JobGivenBack`, which the worker recognises: let it propagate.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

#: Sends one step call to the server: (step, kind, body) -> the answer's JSON.
Send = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


class JobGivenBack(Exception):
    """Raised by ``step.sleep`` and ``step.wait_for_event`` once the server holds the job."""


class Step:
    """A job's steps: memoized results and occurrence counters."""

    def __init__(self, job_id: str, recorded: dict[str, Any] | None = None, send: Send | None = None) -> None:
        self._job_id = job_id
        self._recorded: dict[str, Any] = dict(recorded or {})
        self._seen: dict[str, int] = {}
        self._send = send

    def _identity(self, name: str) -> str:
        n = self._seen.get(name, 0)
        self._seen[name] = n + 1
        return name if n == 0 else f"{name}:{n}"

    async def _call(self, step: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._send is None:
            raise RuntimeError("this job was not handed out by a worker, so it has no steps")
        return await self._send(step, kind, body)

    def idempotency_key(self, name: str) -> str:
        """The idempotency key of the next use of ``name`` (``{job_id}:{step}``), stable across attempts."""
        n = self._seen.get(name, 0)
        return f"{self._job_id}:{name if n == 0 else f'{name}:{n}'}"

    async def run(self, name: str, fn: Callable[[], Any]) -> Any:
        """Runs ``fn`` (sync or async) once per job; later attempts get its recorded result."""
        step = self._identity(name)
        if step in self._recorded:
            return self._recorded[step]
        value = fn()
        if inspect.isawaitable(value):
            value = await value
        # First writer wins: the server answers what it kept.
        kept = (await self._call(step, "record", {"result": value}))["result"]
        self._recorded[step] = kept
        return kept

    async def sleep(self, name: str, duration: str | float) -> None:
        """A durable sleep (``"10m"`` or seconds); raises :class:`JobGivenBack`."""
        step = self._identity(name)
        if step in self._recorded:
            return
        answer = await self._call(step, "sleep", {"duration": duration})
        if answer.get("recorded"):
            raise JobGivenBack(step)

    async def wait_for_event(
        self, name: str, event: str, *, timeout: str | float, match: tuple[str, Any] | None = None
    ) -> Any:
        """The matching event's payload, or ``None`` after ``timeout``; while it waits, raises :class:`JobGivenBack`."""
        step = self._identity(name)
        if step in self._recorded:
            return self._recorded[step]
        body: dict[str, Any] = {"event": event, "timeout": timeout}
        if match is not None:
            body["match"] = {"path": match[0], "value": match[1]}
        answer = await self._call(step, "wait", body)
        if answer.get("state") == "waiting":
            raise JobGivenBack(step)
        self._recorded[step] = answer.get("result")
        return answer.get("result")
