"""Event listeners for workers (``completed``, ``failed``, ``lease_lost``, ``error``), as BullMQ users expect.

A listener that raises is logged and skipped: it never stops the worker. A coroutine
listener runs as a task kept only until it ends, so nothing piles up.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("rampart_client.worker")

#: The events a worker emits.
EVENTS = ("completed", "failed", "lease_lost", "error")

Listener = Callable[..., Any]


class Events:
    """Listeners by event name."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {name: [] for name in EVENTS}
        self._tasks: set[asyncio.Task[Any]] = set()

    def on(self, event: str, listener: Listener) -> Callable[[], None]:
        """Calls ``listener`` on each ``event``; answers a function that removes it again."""
        if event not in self._listeners:
            raise ValueError(f"unknown event {event!r}; a worker emits {', '.join(EVENTS)}")
        self._listeners[event].append(listener)
        return lambda: self.off(event, listener)

    def off(self, event: str, listener: Listener) -> None:
        """Removes a listener (nothing when it is not there)."""
        try:
            self._listeners[event].remove(listener)
        except (KeyError, ValueError):
            pass

    def has(self, event: str) -> bool:
        """Whether anything listens to ``event``."""
        return bool(self._listeners.get(event))

    def emit(self, event: str, *args: Any) -> None:
        """Calls every listener of ``event`` with ``args``."""
        for listener in tuple(self._listeners[event]):
            try:
                outcome = listener(*args)
                if inspect.isawaitable(outcome):
                    task = asyncio.ensure_future(outcome)
                    self._tasks.add(task)
                    task.add_done_callback(self._settled)
            except Exception:
                log.exception("a %r listener raised; the worker carries on", event)

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a worker event listener raised; the worker carries on", exc_info=task.exception())
