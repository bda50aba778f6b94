"""Queues and jobs through the sync and async clients: enqueue, inspect, dead letters, errors."""

from __future__ import annotations

import pytest

from rampart_client import (
    AsyncRampart,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    Rampart,
    WaitTimeoutError,
    routes,
)
from rampart_client.errors import APIConnectionError

from .conftest import Server


def test_add_get_and_counts(client: Rampart, queue_name: str) -> None:
    q = client.queue(queue_name)
    added = q.add({"to": "a@b.c"}, max_attempts=5, priority=3, timeout=30, delay="1h")
    assert added["state"] == "scheduled" and not added.get("duplicate")
    job = client.jobs.get(added["id"])
    assert job["payload"] == {"to": "a@b.c"}
    assert (job["max_attempts"], job["priority"], job["timeout"]) == (5, 3, "30s")
    assert [e["reason"] for e in job["history"]] == ["enqueued"]
    ids = q.add_bulk([{"payload": {"n": i}, "priority": i} for i in range(3)])
    assert len(ids) == 3
    counts = q.counts()
    assert (counts["scheduled"], counts["available"]) == (1, 3)
    assert q.jobs(state="available")["jobs"][0]["payload"] == {"n": 0}


def test_unique_key_returns_the_live_job(client: Rampart, queue_name: str) -> None:
    q = client.queue(queue_name)
    first = q.add({"n": 1}, unique_key="welcome:42")
    second = q.add({"n": 2}, unique_key="welcome:42")
    assert second["id"] == first["id"] and second["duplicate"]


def test_pause_resume_cancel_and_retry(client: Rampart, queue_name: str) -> None:
    q = client.queue(queue_name)
    q.pause()
    assert q.get()["paused"]
    q.resume()
    assert not q.get()["paused"]
    job_id = q.add({})["id"]
    assert client.jobs.cancel(job_id)["state"] == "cancelled"
    assert client.jobs.retry(job_id)["state"] == "available"
    with pytest.raises(ConflictError) as refused:
        client.jobs.retry(job_id)
    assert refused.value.code == "INVALID_STATE" and refused.value.status == 409


def test_an_admin_releases_or_fails_a_held_lease_without_its_token(client: Rampart, queue_name: str) -> None:
    q = client.queue(queue_name)
    job_id = q.add({}, max_attempts=1)["id"]

    def lease() -> None:
        leased = client.jobs._call(routes.jobs_lease(queue_name, 1, 0, 30.0, "hung", 10.0))
        assert [j["id"] for j in leased["jobs"]] == [job_id]

    lease()
    assert client.jobs.release_lease(job_id)["state"] == "available"
    assert client.jobs.get(job_id)["attempt"] == 0, "the released attempt is not counted"
    lease()
    assert client.jobs.fail_now(job_id, "stuck on a hung worker")["state"] == "dead"
    assert "stuck on a hung worker" in client.jobs.get(job_id)["errors"][-1]["error"]
    with pytest.raises(ConflictError):
        client.jobs.release_lease(job_id)


def test_a_queue_is_deleted_once_its_jobs_finished(client: Rampart, queue_name: str) -> None:
    q = client.queue(queue_name)
    job_id = q.add({})["id"]
    with pytest.raises(ConflictError) as busy:
        q.delete()
    assert busy.value.code == "QUEUE_NOT_EMPTY" and "1 available" in str(busy.value)
    client.jobs.cancel(job_id)
    assert q.delete() == 1
    with pytest.raises(NotFoundError) as gone:
        q.get()
    assert gone.value.code == "QUEUE_NOT_FOUND"


def test_errors_carry_code_status_and_request_id(server: Server, client: Rampart, queue_name: str) -> None:
    with pytest.raises(NotFoundError) as missing:
        client.jobs.get("999999999")
    assert missing.value.code == "JOB_NOT_FOUND" and missing.value.status == 404
    assert missing.value.request_id
    with pytest.raises(BadRequestError) as bad:
        client.queue(queue_name).add({}, delay="soon")
    assert bad.value.status == 400 and "delay" in bad.value.message
    with Rampart(server.url, "not-a-key") as stranger, pytest.raises(AuthenticationError) as unknown:
        stranger.queues()
    assert unknown.value.status == 401


def test_no_server_is_a_connection_error() -> None:
    with Rampart("http://127.0.0.1:9", "k", max_retries=0) as nowhere, pytest.raises(APIConnectionError):
        nowhere.health()


def test_wait_never_hangs(client: Rampart, queue_name: str) -> None:
    job_id = client.queue(queue_name).add({})["id"]
    with pytest.raises(WaitTimeoutError):
        client.jobs.wait(job_id, timeout=0.3)
    client.jobs.cancel(job_id)
    assert client.jobs.wait(job_id, timeout=5)["state"] == "cancelled"


async def test_async_client_enqueues_and_reads(aclient: AsyncRampart, queue_name: str) -> None:
    q = aclient.queue(queue_name)
    ids = await q.add_bulk([{"payload": i} for i in range(5)])
    assert (await q.counts())["available"] == 5
    assert (await aclient.jobs.get(ids[0]))["payload"] == 0
    assert any(info["name"] == queue_name for info in await aclient.queues())
    assert (await aclient.health())["status"]
