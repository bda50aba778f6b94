"""The worker against a real server: complete, retry to dead, lease lost, graceful close, slots."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest

from rampart_client import AsyncRampart, AsyncWorker, Job, PermanentError, Rampart, Worker, routes
from rampart_client.heartbeat import Heartbeater
from rampart_client.transport import decode, send_async
from rampart_client.wire import JobInfo

from .conftest import Server, eventually


async def until(what: str, probe: Any, patience: float = 60.0) -> Any:
    """Awaits ``probe()`` (sync or async) until truthy."""
    deadline = time.monotonic() + patience
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up after {patience}s waiting for {what}"
        await asyncio.sleep(0.02)


def reasons(job: JobInfo) -> list[str]:
    return [event["reason"] for event in job["history"]]


async def test_enqueue_work_complete(aclient: AsyncRampart, queue_name: str) -> None:
    ids = await aclient.queue(queue_name).add_bulk([{"payload": {"n": i}} for i in range(20)])
    seen: list[tuple[str, Any]] = []

    async def double(job: Job) -> dict[str, int]:
        return {"doubled": job.payload["n"] * 2}

    worker = AsyncWorker(aclient, queue_name, double, concurrency=4, poll_wait=1)
    worker.on("completed", lambda job, result: seen.append((job.id, result)))
    await worker.start()
    await until("all 20 completed", lambda: len(seen) == 20)
    await worker.close()
    job = await aclient.jobs.get(ids[7])
    assert job["state"] == "completed" and job["result"] == {"doubled": 14}
    assert reasons(job) == ["enqueued", "leased", "completed"]
    assert worker.health()["completed"] == 20


async def test_a_tenant_goes_with_its_job_and_progress_is_kept(aclient: AsyncRampart, queue_name: str) -> None:
    queue = aclient.queue(queue_name)
    acme = (await queue.add({"n": 1}, tenant="acme"))["id"]
    [globex] = await queue.add_bulk([{"payload": {"n": 2}, "tenant": "globex"}])
    seen: list[tuple[str, str | None]] = []

    async def report(job: Job) -> None:
        seen.append((job.id, job.tenant))
        await aclient.jobs.progress(job.id, job.lease_token, {"done": job.payload["n"]})

    worker = AsyncWorker(aclient, queue_name, report, poll_wait=1)
    await worker.start()
    await until("both completed", lambda: len(seen) == 2 and worker.health()["completed"] == 2)
    await worker.close()
    assert sorted(seen) == sorted([(acme, "acme"), (globex, "globex")])
    job = await aclient.jobs.get(acme)
    assert job["tenant"] == "acme" and job["progress"] == {"done": 1}
    page = await queue.jobs(tenant="globex")
    assert [j["id"] for j in page["jobs"]] == [globex]


async def test_failures_retry_then_die_and_permanent_errors_die_at_once(aclient: AsyncRampart, queue_name: str) -> None:
    q = aclient.queue(queue_name)
    flaky = (await q.add({"kind": "flaky"}, max_attempts=2))["id"]
    fatal = (await q.add({"kind": "fatal"}, max_attempts=5))["id"]
    failures: list[tuple[str, BaseException]] = []

    async def handler(job: Job) -> None:
        if job.payload["kind"] == "fatal":
            raise PermanentError("the address does not exist")
        raise RuntimeError(f"smtp down on attempt {job.attempt}")

    worker = AsyncWorker(aclient, queue_name, handler, concurrency=2, poll_wait=1)
    worker.on("failed", lambda job, exc: failures.append((job.id, exc)))
    await worker.start()
    await until("the flaky job dead", lambda: _state(aclient, flaky, "dead"))
    await worker.close()
    dead = await aclient.jobs.get(flaky)
    assert [e["error"] for e in dead["errors"]] == [
        "RuntimeError: smtp down on attempt 1",
        "RuntimeError: smtp down on attempt 2",
    ]
    fatal_job = await aclient.jobs.get(fatal)
    assert fatal_job["state"] == "dead" and fatal_job["attempt"] == 1
    assert fatal_job["last_error"] == "PermanentError: the address does not exist"
    assert {job_id for job_id, _ in failures} == {flaky, fatal}
    assert [j["id"] for j in (await q.dead())["jobs"]] == sorted([flaky, fatal], key=int)
    assert await q.retry_dead([fatal]) == 1
    assert await q.purge_dead() == 1


async def _state(aclient: AsyncRampart, job_id: str, state: str) -> bool:
    return (await aclient.jobs.get(job_id))["state"] == state


@pytest.mark.parametrize("pollers", [1, 2])
async def test_never_leases_more_than_free_slots(aclient: AsyncRampart, queue_name: str, pollers: int) -> None:
    await aclient.queue(queue_name).add_bulk([{"payload": i} for i in range(10)])
    release = asyncio.Event()
    running = 0
    most = 0

    async def slow(job: Job) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1

    worker = AsyncWorker(aclient, queue_name, slow, concurrency=3, pollers=pollers, poll_wait=1)
    await worker.start()
    await until("three running", lambda: running == 3)
    await asyncio.sleep(1.5)  # a poll's worth: nothing more may be leased meanwhile
    counts = await aclient.queue(queue_name).counts()
    assert (counts["active"], counts["available"]) == (3, 7)
    release.set()
    await until("all done", lambda: _counts_done(aclient, queue_name, 10))
    await worker.close()
    assert most == 3


async def _counts_done(aclient: AsyncRampart, queue_name: str, n: int) -> bool:
    return (await aclient.queue(queue_name).counts())["completed"] == n


async def test_heartbeats_outlive_a_handler_that_blocks_the_loop(
    aclient: AsyncRampart, queue_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = (await aclient.queue(queue_name).add({}))["id"]

    async def hog(job: Job) -> str:
        time.sleep(4)  # noqa: ASYNC251 -- blocks the event loop for longer than the lease
        return "done"

    worker = AsyncWorker(aclient, queue_name, hog, lease=1.5, poll_wait=1)
    await worker.start()
    await until("the job completed", lambda: _state(aclient, job_id, "completed"))
    await worker.close()
    job = await aclient.jobs.get(job_id)
    assert job["attempt"] == 1 and "lease_expired" not in reasons(job)
    assert worker.health()["loop_lags"] >= 1
    assert "event loop was blocked" in caplog.text


def test_the_lease_must_cover_three_heartbeats(client: Rampart) -> None:
    with pytest.raises(ValueError, match="three heartbeat"):
        Worker(client, "q", lambda job: None, lease=10, heartbeat=5)


async def test_a_lost_lease_cancels_the_handler_and_drops_its_result(
    aclient: AsyncRampart, queue_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = (await aclient.queue(queue_name).add({}, max_attempts=3))["id"]
    partitioned = threading.Event()
    partitioned.set()
    beat = Heartbeater._beat

    def maybe_beat(self: Heartbeater, job: str, lease: Any) -> None:
        if not partitioned.is_set():
            beat(self, job, lease)

    monkeypatch.setattr(Heartbeater, "_beat", maybe_beat)
    expired = asyncio.Event()
    lost: list[str] = []

    async def late(job: Job) -> str:
        if job.attempt > 1:
            await asyncio.Event().wait()  # not this worker's to finish: given back on close
        await expired.wait()
        return "stale result"

    first = AsyncWorker(aclient, queue_name, late, lease=1.5, poll_wait=1)
    first.on("lease_lost", lambda job: lost.append(job.id))
    await first.start()
    # No heartbeat gets through: the server expires the lease and makes the job due again;
    # the handler ends after that, and its ack is refused with LEASE_LOST.
    await until("the lease expired", lambda: _reasons_include(aclient, job_id, "lease_expired"))
    expired.set()
    await until("the refused ack noticed", lambda: lost == [job_id])
    await first.close(grace=0)
    assert (await aclient.jobs.get(job_id))["result"] is None

    partitioned.clear()
    second_cancelled: list[str | None] = []
    second_lost: list[str] = []

    async def stuck_again(job: Job) -> str:
        try:
            await asyncio.sleep(60)
        finally:
            second_cancelled.append(job.signal.reason)
        return "dropped"

    # Heartbeats held back until the lease has expired, then let through: the next one
    # answers LEASE_LOST, and the handler is cancelled.
    partitioned.set()
    second = AsyncWorker(aclient, queue_name, stuck_again, lease=1.5, poll_wait=1)
    second.on("lease_lost", lambda job: second_lost.append(job.id))
    await second.start()
    await until("the job leased again", lambda: _attempt_at_least(aclient, job_id, 2))
    await until("the second lease expired", lambda: _count_reason(aclient, job_id, "lease_expired", 2))
    partitioned.clear()
    await until("the loss noticed", lambda: second_lost == [job_id])
    assert second_cancelled == ["lease_lost"]
    await second.close()

    async def works(job: Job) -> str:
        return "third time lucky"

    third = AsyncWorker(aclient, queue_name, works, poll_wait=1)
    await third.start()
    done = await aclient.jobs.wait(job_id, timeout=60)
    await third.close()
    assert done["state"] == "completed" and done["result"] == "third time lucky"
    assert reasons(done).count("completed") == 1


async def _reasons_include(aclient: AsyncRampart, job_id: str, reason: str) -> bool:
    return reason in reasons(await aclient.jobs.get(job_id))


async def _count_reason(aclient: AsyncRampart, job_id: str, reason: str, n: int) -> bool:
    return reasons(await aclient.jobs.get(job_id)).count(reason) >= n


async def _attempt_at_least(aclient: AsyncRampart, job_id: str, n: int) -> bool:
    job = await aclient.jobs.get(job_id)
    return job["state"] == "active" and job["attempt"] >= n


async def test_close_finishes_running_jobs_within_grace_and_releases_the_rest(
    aclient: AsyncRampart, queue_name: str
) -> None:
    q = aclient.queue(queue_name)
    quick = (await q.add({"seconds": 0.5}))["id"]
    slow = (await q.add({"seconds": 60}))["id"]
    started: list[str] = []
    signalled: list[str | None] = []

    async def sleeper(job: Job) -> str:
        started.append(job.id)
        try:
            await asyncio.sleep(job.payload["seconds"])
        except asyncio.CancelledError:
            signalled.append(job.signal.reason)
            raise
        return "slept"

    worker = AsyncWorker(aclient, queue_name, sleeper, concurrency=2, poll_wait=1)
    await worker.start()
    await until("both running", lambda: len(started) == 2)
    await worker.close(grace=2)
    assert signalled == ["shutdown"]
    assert (await aclient.jobs.get(quick))["state"] == "completed"
    given_back = await aclient.jobs.get(slow)
    assert given_back["state"] == "available" and reasons(given_back)[-1] == "released"
    assert not worker.health()["healthy"]


def test_sync_worker_runs_handlers_in_threads(client: Rampart, queue_name: str) -> None:
    ids = client.queue(queue_name).add_bulk([{"payload": i} for i in range(6)])
    threads: set[str] = set()

    def handler(job: Job) -> int:
        threads.add(threading.current_thread().name)
        time.sleep(0.2)
        return int(job.payload) + 1

    worker = Worker(client, queue_name, handler, concurrency=3, poll_wait=1)
    worker.start()
    eventually("all completed", lambda: client.queue(queue_name).counts()["completed"] == 6)
    health = worker.health()
    assert health is not None and health["healthy"]
    worker.close()
    assert client.jobs.get(ids[5])["result"] == 6
    assert len(threads) == 3 and all(name.startswith("rampart-job") for name in threads)


async def test_a_listener_that_raises_does_not_stop_the_worker(aclient: AsyncRampart, queue_name: str) -> None:
    await aclient.queue(queue_name).add_bulk([{"payload": i} for i in range(5)])
    calls = 0

    def bad_listener(job: Job, result: Any) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("listener bug")

    async def ok(job: Job) -> None:
        return None

    worker = AsyncWorker(aclient, queue_name, ok, poll_wait=1)
    worker.on("completed", bad_listener)
    await worker.start()
    await until("five completed", lambda: calls == 5)
    assert worker.health()["healthy"]
    await worker.close()


def test_sigterm_lets_the_running_job_finish(server: Server, client: Rampart, queue_name: str) -> None:
    job_id = client.queue(queue_name).add({})["id"]
    script = textwrap.dedent(
        f"""
        import time
        from rampart_client import Rampart, Worker
        def handler(job):
            print("started", flush=True)
            time.sleep(1.5)
            return "finished after SIGTERM"
        Worker(Rampart({server.url!r}, {server.key!r}), {queue_name!r}, handler, poll_wait=1).run()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    proc.terminate()
    assert proc.wait(timeout=30) == 0
    job = client.jobs.get(job_id)
    assert job["state"] == "completed" and job["result"] == "finished after SIGTERM"


def test_a_sync_handler_is_told_through_its_token_when_grace_ends(client: Rampart, queue_name: str) -> None:
    job_id = client.queue(queue_name).add({})["id"]
    started = threading.Event()
    told: list[str | None] = []

    def patient(job: Job) -> str:
        started.set()
        job.signal.wait(60)
        told.append(job.signal.reason)
        return "too late"

    worker = Worker(client, queue_name, patient, poll_wait=1)
    worker.start()
    assert started.wait(60)
    began = time.monotonic()
    worker.close(grace=0.5)
    assert time.monotonic() - began < 10
    eventually("the handler told", lambda: told == ["shutdown"])
    job = client.jobs.get(job_id)
    assert job["state"] == "available" and job["result"] is None and reasons(job)[-1] == "released"


async def test_a_four_step_job_whose_third_step_fails_twice_runs_steps_one_and_two_once(
    aclient: AsyncRampart, queue_name: str
) -> None:
    job_id = (await aclient.queue(queue_name).add({"album": 7}, max_attempts=5))["id"]
    runs = [0, 0, 0, 0]

    def count(i: int) -> int:
        runs[i] += 1
        return runs[i]

    async def save() -> int:
        if count(2) <= 2:
            raise RuntimeError("the database is away")
        return 42

    async def photos(job: Job) -> dict[str, Any]:
        labels = await job.step.run("analyze photos", lambda: (count(0), ["cat"])[1])
        scope = await job.step.run("generate scope", lambda: (count(1), f"{len(labels)} labels")[1])
        saved = await job.step.run("save", save)
        score = await job.step.run("update score", lambda: (count(3), 0.9)[1])
        return {"scope": scope, "saved": saved, "score": score, "key": job.step.idempotency_key("save")}

    worker = AsyncWorker(aclient, queue_name, photos, poll_wait=1)
    await worker.start()
    await until("the four-step job completed", lambda: _state(aclient, job_id, "completed"))
    await worker.close()
    assert runs == [1, 1, 3, 1]
    job = await aclient.jobs.get(job_id)
    assert job["result"] == {"scope": "1 labels", "saved": 42, "score": 0.9, "key": f"{job_id}:save:1"}
    assert [s["name"] for s in job["steps"]] == ["analyze photos", "generate scope", "save", "update score"]


async def test_a_handler_sleeps_and_waits_for_an_event_then_resumes(aclient: AsyncRampart, queue_name: str) -> None:
    job_id = (await aclient.queue(queue_name).add({}))["id"]
    charged: list[int] = []

    async def order(job: Job) -> Any:
        await job.step.run("charge", lambda: charged.append(1))
        await job.step.sleep("cool down", "1s")
        return await job.step.wait_for_event("shipped", "order.shipped", timeout="1h", match=("order", "o-1"))

    worker = AsyncWorker(aclient, queue_name, order, poll_wait=1)
    await worker.start()
    await until("the job waiting for its event", lambda: _state(aclient, job_id, "waiting"))
    sent = decode(
        await send_async(aclient._http, aclient.settings, routes.events_send("order.shipped", {"order": "o-1"}))
    )
    assert sent == {"duplicate": False, "woken": 1}
    await until("the job completed", lambda: _state(aclient, job_id, "completed"))
    await worker.close()
    job = await aclient.jobs.get(job_id)
    assert job["result"] == {"order": "o-1"} and job["attempt"] == 1 and charged == [1]
