"""Every request the client builds is one the server's OpenAPI document (``GET /openapi.json``) declares."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from rampart_client import routes
from rampart_client.transport import Request

from .conftest import Server

JOB = routes.job_body(
    {"a": 1}, delay=1, run_at="2030-01-01T00:00:00Z", priority=1, max_attempts=2, timeout=3, unique_key="k"
)

#: One of each request the client makes.
CALLS: list[Request] = [
    routes.jobs_create("q", JOB),
    routes.jobs_create_batch("q", [JOB]),
    routes.jobs_list("q", "dead", 10, "c"),
    routes.jobs_lease("q", 5, 1.0, 30.0, "w", 11.0),
    routes.jobs_get("1"),
    routes.jobs_heartbeat("1", "t", 30.0),
    routes.jobs_release("1", "t"),
    routes.jobs_retry("1"),
    routes.jobs_cancel("1"),
    routes.jobs_lease_release("1"),
    routes.jobs_lease_fail("1", "stuck"),
    routes.acks([{"id": "1", "lease_token": "t", "result": 1}], [{"id": "2", "lease_token": "t", "error": "e"}]),
    routes.queues_list(),
    routes.queues_get("q"),
    routes.queues_pause("q"),
    routes.queues_resume("q"),
    routes.queues_dead_retry("q", ["1"]),
    routes.queues_dead_purge("q"),
    routes.queues_delete("q"),
    routes.ratelimit_check("p", "k", 1, None, None),
    routes.ratelimit_policy_put("p", {"limit": 1, "window": "1s", "algorithm": "gcra", "burst": 2}),
    routes.ratelimit_key_reset("p", "k"),
    routes.breakers_list(),
    routes.breakers_get("b"),
    routes.breakers_acquire("b"),
    routes.breakers_record("b", True, 5),
    routes.breakers_reset("b"),
    routes.cron_put("c", "@daily", "q", "UTC", {}, "d", "skip"),
    routes.cron_list(),
    routes.cron_get("c"),
    routes.cron_delete("c"),
    routes.cron_runs("c", 5, "x"),
    routes.cron_trigger("c"),
    routes.cron_pause("c"),
    routes.cron_resume("c"),
    routes.health(),
    routes.usage_report(
        [{"call_id": "c", "model": "m", "input_tokens": 1, "output_tokens": 1, "duration_ms": 1, "success": True}]
    ),
    routes.usage_reserve({"estimated_cost_usd": 0.1}),
    routes.usage_summary("day", "2030-01-01T00:00:00Z", None),
    routes.budgets_list(),
    routes.budgets_get("b"),
    routes.budgets_put("b", {"amount_usd": 1}),
    routes.budgets_delete("b"),
    routes.caches_report("c", {"events": [{"type": "hit"}]}),
    routes.errors_report({"level": "error", "kind": "k", "message": "m"}),
]


@pytest.fixture(scope="module")
def document(server: Server) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}/openapi.json", timeout=10)
    assert answer.status_code == 200, "the server serves its OpenAPI document at /openapi.json"
    doc: dict[str, Any] = answer.json()
    return doc


def _operation(doc: dict[str, Any], req: Request) -> dict[str, Any]:
    for template, item in doc["paths"].items():
        pattern = "^" + "[^/]+".join(re.escape(part) for part in re.split(r"\{[^}]+\}", template)) + "$"
        if re.match(pattern, req.path) and req.method.lower() in item:
            operation: dict[str, Any] = item[req.method.lower()]
            return operation
    raise AssertionError(f"{req.method} {req.path} is not in /openapi.json")


def _schema(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def _properties(doc: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The fields a body schema allows (the union of its alternatives, if it has some)."""
    schema = _schema(doc, schema)
    fields = set(schema.get("properties", {}))
    for alternative in schema.get("oneOf", []) + schema.get("anyOf", []) + schema.get("allOf", []):
        fields |= _properties(doc, alternative)
    return fields


@pytest.mark.parametrize("req", CALLS, ids=lambda r: f"{r.method} {r.path}")
def test_each_request_is_in_the_contract(document: dict[str, Any], req: Request) -> None:
    operation = _operation(document, req)
    declared = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
    assert set(req.params or {}) <= declared, f"query {set(req.params or {}) - declared} not declared"
    if req.body is None:
        return
    content = operation.get("requestBody", {}).get("content", {})
    assert "application/json" in content, f"{req.method} {req.path} takes no JSON body"
    allowed = _properties(document, content["application/json"]["schema"])
    assert set(req.body) <= allowed, f"fields {set(req.body) - allowed} are not in the body's schema"
    for key in ("jobs", "complete", "fail"):
        if req.body.get(key):
            items = _schema(document, _schema(document, content["application/json"]["schema"])["properties"][key])
            item_fields = _properties(document, items.get("items", {}))
            assert set(req.body[key][0]) <= item_fields, f"{key} items: {set(req.body[key][0]) - item_fields}"
