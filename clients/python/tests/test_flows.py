"""Flows against a real server: a parent runs after its children with their outcomes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rampart_client import AsyncRampart, AsyncWorker, Job, PermanentError


async def until(what: str, probe: Any, patience: float = 60.0) -> Any:
    deadline = time.monotonic() + patience
    while True:
        value = await probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up after {patience}s waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_parent_runs_after_its_children_with_their_results(aclient: AsyncRampart, queue_name: str) -> None:
    kids = f"{queue_name}-kids"
    children = [{"queue": kids, "payload": {"n": n}} for n in (1, 2, 3)]
    parent = await aclient.queue(queue_name).add({"report": 1}, children=children, children_timeout="1h")
    assert parent["state"] == "waiting" and len(parent["children"]) == 3
    child = await aclient.jobs.get(parent["children"][0]["id"])
    assert child["parent_id"] == parent["id"]

    async def double(job: Job) -> dict[str, int]:
        return {"doubled": job.payload["n"] * 2}

    seen: list[Any] = []

    async def total(job: Job) -> dict[str, int]:
        seen.append(job.children)
        return {"total": sum(c["result"]["doubled"] for c in job.children or [])}

    workers = [
        AsyncWorker(aclient, kids, double, poll_wait=1),
        AsyncWorker(aclient, queue_name, total, poll_wait=1),
    ]
    for w in workers:
        await w.start()

    async def done() -> Any:
        job = await aclient.jobs.get(parent["id"])
        return job if job["state"] == "completed" else None

    job = await until("the parent to complete", done)
    for w in workers:
        await w.close()
    assert job["result"] == {"total": 12}
    assert [c["state"] for c in seen[0]] == ["completed"] * 3


async def test_under_ignore_a_dead_child_hands_its_error_to_the_parent(aclient: AsyncRampart, queue_name: str) -> None:
    kids = f"{queue_name}-broken"
    children = [{"queue": kids, "payload": {}, "max_attempts": 1}]
    parent = await aclient.queue(queue_name).add({}, children=children, on_child_dead="ignore")

    async def broken(job: Job) -> None:
        raise PermanentError("shard broke")

    seen: list[Any] = []

    async def record(job: Job) -> None:
        seen.append(job.children)

    workers = [AsyncWorker(aclient, kids, broken, poll_wait=1), AsyncWorker(aclient, queue_name, record, poll_wait=1)]
    for w in workers:
        await w.start()

    async def done() -> Any:
        return (await aclient.jobs.get(parent["id"]))["state"] == "completed"

    await until("the parent to complete", done)
    for w in workers:
        await w.close()
    assert seen[0][0]["state"] == "dead" and seen[0][0]["error"].endswith("shard broke")
