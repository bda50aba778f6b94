"""Cron schedules: create, list, trigger, pause, resume, runs, delete."""

from __future__ import annotations

import uuid

import pytest

from rampart_client import BadRequestError, NotFoundError, Rampart


def test_cron_lifecycle(client: Rampart, queue_name: str) -> None:
    name = f"py-{uuid.uuid4().hex[:10]}"
    created = client.cron.create(
        name, schedule="0 3 * * *", queue=queue_name, timezone="Europe/Paris", payload={"report": "daily"}
    )
    assert (created["queue"], created["timezone"], created["source"]) == (queue_name, "Europe/Paris", "api")
    assert created["next_run_at"] and not created["paused"]
    assert name in [s["name"] for s in client.cron.list()]

    run = client.cron.trigger(name)
    assert run["trigger"] == "manual" and run["job_id"]
    assert client.jobs.get(run["job_id"])["payload"] == {"report": "daily"}
    assert [r["id"] for r in client.cron.runs(name)["runs"]] == [run["id"]]

    assert client.cron.pause(name)["paused"]
    assert not client.cron.resume(name)["paused"]
    client.cron.delete(name)
    with pytest.raises(NotFoundError):
        client.cron.get(name)


def test_a_bad_schedule_names_the_field(client: Rampart) -> None:
    with pytest.raises(BadRequestError) as bad:
        client.cron.create("py-bad", schedule="every day", queue="q")
    assert bad.value.code == "INVALID_SCHEDULE" and "schedule" in bad.value.message
