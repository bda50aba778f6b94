"""The worker survives a server crash mid-job: the job completes once, and leasing resumes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from rampart_client import AsyncWorker, Job

from .conftest import Server
from .test_worker import reasons, until


async def test_a_server_killed_mid_job_and_restarted_sees_the_job_completed_once(
    own_server: Callable[..., Server],
) -> None:
    server = own_server()
    client = server.async_client()
    queue = client.queue("restart")
    job_id = (await queue.add({"n": 1}))["id"]
    running = asyncio.Event()
    finish = asyncio.Event()
    completed: list[tuple[str, Any]] = []

    async def handler(job: Job) -> dict[str, Any]:
        if job.payload["n"] == 1:
            running.set()
            await finish.wait()
        return {"n": job.payload["n"]}

    worker = AsyncWorker(client, "restart", handler, concurrency=2, poll_wait=1)
    worker.on("completed", lambda job, result: completed.append((job.id, result)))
    await worker.start()
    await asyncio.wait_for(running.wait(), 60)

    server.kill()
    finish.set()  # the handler ends while the server is down: its ack must wait
    await until("the worker to notice", lambda: worker.health()["consecutive_failures"] > 0)
    server.start()

    await until("the job completed", lambda: completed)
    job = await client.jobs.get(job_id)
    assert job["state"] == "completed" and job["attempt"] == 1 and job["result"] == {"n": 1}
    assert reasons(job).count("completed") == 1 and "lease_expired" not in reasons(job)

    # The poll loop kept trying and leases again after the restart.
    second = (await queue.add({"n": 2}))["id"]
    await until("the next job completed", lambda: len(completed) == 2)
    assert (await client.jobs.get(second))["state"] == "completed"
    assert worker.health()["healthy"]
    await worker.close()
    await client.close()
