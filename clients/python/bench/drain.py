"""Drains N no-op jobs with the asyncio worker, or with Celery on Redis, and prints the rate as one JSON line.

rampart (a running server; ``cargo build --release -p rampart`` and ``rampart serve``)::

    python bench/drain.py rampart --jobs 50000 --concurrency 50 [--url URL] [--key KEY_OR_FILE]

Celery 5 with Redis as the broker (``pip install 'celery[redis]'`` in a venv of its own)::

    python bench/drain.py celery --jobs 50000 --concurrency 50 [--broker redis://127.0.0.1:6379/15]

Both enqueue every job first, then time the worker from its first job to its last. Celery's
worker runs in this process with its threads pool (one process, so the count is exact), its
tasks acknowledged late as rampart's are. Not a test: figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import threading
import time
import uuid
from typing import Any


def read_key(key: str | None) -> str | None:
    """A key, or the content of the file it names."""
    if key is not None and os.path.isfile(key):
        with open(key) as f:
            return f.read().strip()
    return key


def report(kind: str, jobs: int, concurrency: int, seconds: float, **extra: Any) -> None:
    line = {
        "bench": "drain",
        "worker": kind,
        "jobs": jobs,
        "concurrency": concurrency,
        "seconds": round(seconds, 3),
        "jobs_per_s": round(jobs / seconds),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        **extra,
    }
    print(json.dumps(line))


async def drain_rampart(url: str | None, key: str | None, jobs: int, concurrency: int, pollers: int | None) -> None:
    from rampart_client import AsyncRampart, AsyncWorker, Job

    queue = f"bench-{uuid.uuid4().hex[:8]}"
    async with AsyncRampart(url, key, max_connections=concurrency + 8) as client:
        for start in range(0, jobs, 10_000):
            await client.queue(queue).add_bulk([{"payload": {"n": n}} for n in range(start, min(jobs, start + 10_000))])
        done = asyncio.Event()
        completed = 0
        first: float | None = None

        async def noop(job: Job) -> None:
            nonlocal first
            if first is None:
                first = time.perf_counter()

        def on_completed(job: Job, result: Any) -> None:
            nonlocal completed
            completed += 1
            if completed == jobs:
                done.set()

        worker = AsyncWorker(client, queue, noop, concurrency=concurrency, pollers=pollers, startup_jitter=0)
        worker.on("completed", on_completed)
        await worker.start()
        await done.wait()
        last = time.perf_counter()
        await worker.close()
        assert first is not None
        report("rampart-client asyncio AsyncWorker", jobs, concurrency, last - first, queue=queue)


def drain_celery(broker: str, jobs: int, concurrency: int) -> None:
    from celery import Celery
    from celery.signals import task_postrun, task_prerun

    app = Celery("bench", broker=broker)
    app.conf.update(
        task_acks_late=True,
        worker_prefetch_multiplier=4,
        task_ignore_result=True,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        worker_redirect_stdouts=False,
    )
    queue = f"bench-{uuid.uuid4().hex[:8]}"

    @app.task(name="noop")
    def noop(n: int) -> None:
        return None

    for n in range(jobs):
        noop.apply_async((n,), queue=queue)

    lock = threading.Lock()
    state = {"completed": 0, "first": 0.0, "last": 0.0}
    finished = threading.Event()

    @task_prerun.connect
    def started(**_: Any) -> None:
        with lock:
            if not state["first"]:
                state["first"] = time.perf_counter()

    @task_postrun.connect
    def ended(**_: Any) -> None:
        with lock:
            state["completed"] += 1
            if state["completed"] == jobs:
                state["last"] = time.perf_counter()
                finished.set()

    worker = app.Worker(pool="threads", concurrency=concurrency, queues=[queue], loglevel="WARNING", quiet=True)
    thread = threading.Thread(target=worker.start, daemon=True)
    thread.start()
    finished.wait()
    report("celery threads pool", jobs, concurrency, state["last"] - state["first"], broker=broker)
    os._exit(0)  # Celery's worker has no clean way to stop from another thread.


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("worker", choices=["rampart", "celery"])
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--url", default=None, help="rampart's URL (default RAMPART_URL or http://127.0.0.1:7433)")
    parser.add_argument("--key", default=None, help="an API key (default RAMPART_KEY or ./rampart-data/admin.key)")
    parser.add_argument("--pollers", type=int, default=None, help="leases in flight at once (the worker's default)")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    if args.worker == "rampart":
        asyncio.run(drain_rampart(args.url, read_key(args.key), args.jobs, args.concurrency, args.pollers))
    else:
        drain_celery(args.broker, args.jobs, args.concurrency)


if __name__ == "__main__":
    main()
