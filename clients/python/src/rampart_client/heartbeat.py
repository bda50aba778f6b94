"""The heartbeat thread: keeps the leases of a worker's jobs alive, whatever its handlers do.

It runs on its own thread with its own small connection pool, so a handler that blocks the
event loop (or a sync handler holding a thread) cannot starve it: the lesson of the field's
workers whose leases expired while a handler hogged the loop. A job is heartbeated from the
moment it is leased until its ack has landed, once every ``interval`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from . import routes
from .connection import KeepAliveSyncTransport
from .errors import ConflictError, NotFoundError, RampartError
from .transport import Settings, send

log = logging.getLogger("rampart_client.worker")


@dataclass
class _Lease:
    token: str
    #: When the last heartbeat that reached the server was sent (monotonic).
    renewed: float
    #: When the lease ends at the latest, counted from a send time (monotonic).
    expires: float


class Heartbeater:
    """Heartbeats the leases it tracks; tells ``on_lost(job_id)`` when one is no longer this worker's."""

    def __init__(self, settings: Settings, lease: float, interval: float, on_lost: Callable[[str], None]) -> None:
        self._settings = settings
        self._lease = lease
        self._interval = interval
        self._on_lost = on_lost
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._http = httpx.Client(
            base_url=settings.base_url,
            headers=settings.headers(),
            timeout=max(1.0, interval),
            limits=httpx.Limits(max_connections=2, max_keepalive_connections=2),
            transport=KeepAliveSyncTransport(2) if settings.base_url.startswith("http://") else None,
        )
        self._thread = threading.Thread(target=self._run, name="rampart-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops heartbeating and closes the pool."""
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)
        self._http.close()

    def track(self, job_id: str, token: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._leases[job_id] = _Lease(token, now, now + self._lease)

    def forget(self, job_id: str) -> None:
        with self._lock:
            self._leases.pop(job_id, None)

    def alive(self, job_id: str) -> bool:
        """Whether the job's lease may still be this worker's."""
        with self._lock:
            lease = self._leases.get(job_id)
        return lease is not None and lease.expires > time.monotonic()

    def _run(self) -> None:
        # Checked four times per interval, so a lease is renewed at most 1.25 intervals after
        # the last renewal, well within the three intervals it lasts.
        tick = min(self._interval / 4, 1.0)
        while not self._stop.wait(tick):
            now = time.monotonic()
            with self._lock:
                due = [
                    (job_id, lease) for job_id, lease in self._leases.items() if now - lease.renewed >= self._interval
                ]
            for job_id, lease in due:
                if self._stop.is_set():
                    return
                self._beat(job_id, lease)

    def _beat(self, job_id: str, lease: _Lease) -> None:
        sent = time.monotonic()
        try:
            send(self._http, self._settings, routes.jobs_heartbeat(job_id, lease.token, self._lease))
        except (ConflictError, NotFoundError) as e:
            # LEASE_LOST (or the job ended or vanished): it is not ours any more.
            with self._lock:
                ours = self._leases.get(job_id) is lease
                if ours:
                    del self._leases[job_id]
            if ours:
                log.warning("job %s: %s; another worker has it now", job_id, e.message)
                self._on_lost(job_id)
        except RampartError as e:
            log.warning("job %s: heartbeat failed (%s); trying again", job_id, e)
        except Exception:
            # The thread must outlive any surprise, or every lease would expire.
            log.exception("job %s: heartbeat failed unexpectedly; trying again", job_id)
        else:
            lease.renewed = sent
            lease.expires = sent + self._lease
