"""What the app reports: AI usage (one call, a batch), ``guard`` (settled on success, released on
failure, refused past an enforced budget), summaries and budgets; cache telemetry; error events."""

from __future__ import annotations

import uuid

import pytest

from rampart_client import AsyncRampart, BadRequestError, BudgetExceededError, NotFoundError, Rampart


def _tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def _call(call_id: str, tenant: str, **extra: object) -> dict[str, object]:
    call = {"call_id": call_id, "model": "gpt-4o", "input_tokens": 10, "output_tokens": 5, "duration_ms": 20}
    return call | {"success": True, "tenant": tenant, "cost_usd": 0.1} | extra


def _window(client: Rampart, budget: str) -> tuple[float, float]:
    w = client.usage.budgets.get(budget)["windows"][0]
    return (w["spent_usd"], w["reserved_usd"])


def test_reports_summaries_and_budgets(client: Rampart) -> None:
    tenant, budget = _tenant(), f"py-{uuid.uuid4().hex[:8]}"
    client.usage.budgets.put(budget, scope="tenant", match=tenant, amount_usd=1.0, period="day")
    one = client.usage.report(_call(f"{tenant}-1", tenant))
    assert one["accepted"] == 1
    batch = client.usage.report([_call(f"{tenant}-1", tenant), _call(f"{tenant}-2", tenant, success=False)])
    assert (batch["accepted"], batch["duplicates"]) == (1, 1)
    assert _window(client, budget) == (0.2, 0.0)
    summary = client.usage.summary(group_by="tenant")
    assert summary["timezone"] == "UTC"
    mine = [g for g in summary["groups"] if g["key"] == tenant]
    assert [(g["calls"], g["failures"]) for g in mine] == [(2, 1)]
    assert budget in [b["name"] for b in client.usage.budgets.list()]
    client.usage.budgets.delete(budget)
    with pytest.raises(NotFoundError):
        client.usage.budgets.get(budget)
    with pytest.raises(BadRequestError):
        client.usage.report(_call("bad", tenant, model=""))


def test_guard_settles_releases_and_refuses(client: Rampart) -> None:
    tenant, budget = _tenant(), f"py-{uuid.uuid4().hex[:8]}"
    client.usage.budgets.put(budget, scope="tenant", match=tenant, amount_usd=1.0, period="day")
    with client.usage.guard(model="gpt-4o", tenant=tenant, estimated_cost_usd=0.4) as call:
        assert call.reservation["allowed"]
        call.record(input_tokens=100, output_tokens=20, cost_usd=0.3)
    assert _window(client, budget) == (0.3, 0.0)

    with pytest.raises(RuntimeError, match="provider down"):
        with client.usage.guard(model="gpt-4o", tenant=tenant, estimated_cost_usd=0.4):
            raise RuntimeError("provider down")
    assert _window(client, budget) == (0.3, 0.0), "the failed call released its hold"

    ran = False
    with pytest.raises(BudgetExceededError) as refused:
        with client.usage.guard(model="gpt-4o", tenant=tenant, estimated_cost_usd=0.8):
            ran = True
    assert refused.value.refused_by == budget and not ran
    client.usage.budgets.delete(budget)


async def test_async_guard_and_reports(aclient: AsyncRampart) -> None:
    tenant, budget = _tenant(), f"py-{uuid.uuid4().hex[:8]}"
    await aclient.usage.budgets.put(budget, scope="tenant", match=tenant, amount_usd=1.0, period="day")
    async with aclient.usage.guard(model="gpt-4o", tenant=tenant, estimated_cost_usd=0.2) as call:
        call.record(input_tokens=1, output_tokens=1, cost_usd=0.15)
    window = (await aclient.usage.budgets.get(budget))["windows"][0]
    assert (window["spent_usd"], window["reserved_usd"]) == (0.15, 0.0)
    await aclient.usage.budgets.delete(budget)
    cache = await aclient.caches.report("py-models", events=[{"type": "hit"}])
    assert cache["events"] == 1
    kept = await aclient.errors.report("warning", "py.kind", "slow")
    assert kept["level"] == "warning"


def test_caches_and_errors(client: Rampart) -> None:
    snapshot = {"size": 5, "max_size": 10, "loads": 3, "hits": 7, "misses": 3, "avg_load_ms": 12.5}
    cache = client.caches.report("py-cache", snapshot, [{"type": "evict", "key": "k", "reason": "lru"}])
    assert (cache["name"], cache["events"], cache["evictions"]) == ("py-cache", 1, 1)
    kept = client.errors.report("error", "db.timeout", "query took too long for alice@example.com", tags={"db": "main"})
    assert kept["kind"] == "db.timeout" and "alice@example.com" not in kept["message"]
