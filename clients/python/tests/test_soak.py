"""A bounded soak: enqueue and work for a while (``RAMPART_SOAK_SECONDS``, default 60) with flat memory."""

from __future__ import annotations

import asyncio
import gc
import os
import time
import tracemalloc
from typing import Any

import pytest

from rampart_client import AsyncRampart, AsyncWorker, Job

from .test_worker import until

SOAK_SECONDS = float(os.environ.get("RAMPART_SOAK_SECONDS", "60"))
#: Enqueued but not yet done, at most: the producer waits for the worker beyond this.
BACKLOG = 2000
#: Growth of traced memory allowed between the end of the warm-up and the end.
ALLOWED_GROWTH = 2 * 1024 * 1024


@pytest.mark.soak
async def test_soak_memory_stays_flat(aclient: AsyncRampart, queue_name: str) -> None:
    completed = 0
    failed = 0

    def on_completed(job: Job, result: Any) -> None:
        nonlocal completed
        completed += 1

    def on_failed(job: Job, exc: BaseException) -> None:
        nonlocal failed
        failed += 1

    async def handler(job: Job) -> dict[str, int]:
        if job.payload["n"] % 97 == 0 and job.attempt == 1:
            raise RuntimeError("one in 97 fails once")
        await asyncio.sleep(0)
        return {"n": job.payload["n"]}

    worker = AsyncWorker(aclient, queue_name, handler, concurrency=20, poll_wait=1)
    worker.on("completed", on_completed)
    worker.on("failed", on_failed)
    queue = aclient.queue(queue_name)
    tracemalloc.start()
    await worker.start()
    enqueued = 0
    samples: list[int] = []
    started = time.monotonic()
    warmed = started + min(10.0, SOAK_SECONDS / 4)
    next_sample = warmed
    while time.monotonic() - started < SOAK_SECONDS:
        if enqueued - completed < BACKLOG:
            await queue.add_bulk([{"payload": {"n": enqueued + i}} for i in range(200)])
            enqueued += 200
        else:
            await asyncio.sleep(0.01)
        if time.monotonic() >= next_sample:
            gc.collect()
            samples.append(tracemalloc.get_traced_memory()[0])
            next_sample += 2.0
    await until("the backlog drained", lambda: completed == enqueued, patience=120)
    await worker.close()
    gc.collect()
    samples.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()

    assert completed == enqueued, f"{completed} of {enqueued} completed"
    assert failed == len(range(0, enqueued, 97))
    counts = await queue.counts()
    assert counts["completed"] == enqueued and counts["dead"] == 0
    assert len(samples) >= 3
    growth = samples[-1] - samples[0]
    print(f"soak: {enqueued} jobs in {SOAK_SECONDS:.0f}s; traced memory {samples[0]} -> {samples[-1]} bytes")
    assert growth < ALLOWED_GROWTH, f"memory grew by {growth} bytes: {samples}"
    assert worker.health()["running"] == 0
