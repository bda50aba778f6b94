"""The API's routes as :class:`Request` builders, one per call (``crates/rampart-client/src/endpoint.rs``).

The sync and async clients both build their requests here, so their paths and bodies cannot
drift apart; each only sends them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .transport import Duration, Instant, Request, duration, instant, path

#: Most a lease's long-poll may wait on the server.
MAX_WAIT_S = 30.0


def job_body(
    payload: Any,
    *,
    delay: Duration | None = None,
    run_at: Instant | None = None,
    priority: int | None = None,
    max_attempts: int | None = None,
    timeout: Duration | None = None,
    unique_key: str | None = None,
    tenant: str | None = None,
    children: Iterable[Mapping[str, Any]] | None = None,
    on_child_dead: str | None = None,
    children_timeout: Duration | None = None,
) -> dict[str, Any]:
    """One job as ``POST /v1/queues/{queue}/jobs`` and each item of a batch take it.

    ``children``: dicts ``{"queue": ..., "payload": ..., **options}``, each a job of a flow.
    """
    body: dict[str, Any] = {"payload": payload}
    if delay is not None:
        body["delay"] = duration(delay)
    if run_at is not None:
        body["run_at"] = instant(run_at)
    if priority is not None:
        body["priority"] = priority
    if max_attempts is not None:
        body["max_attempts"] = max_attempts
    if timeout is not None:
        body["timeout"] = duration(timeout)
    if unique_key is not None:
        body["unique_key"] = unique_key
    if tenant is not None:
        body["tenant"] = tenant
    if children is not None:
        body["children"] = [child_body(c) for c in children]
    if on_child_dead is not None:
        body["on_child_dead"] = on_child_dead
    if children_timeout is not None:
        body["children_timeout"] = duration(children_timeout)
    return body


def child_body(child: Mapping[str, Any]) -> dict[str, Any]:
    """One child of a flow: ``{"queue": ..., "payload": ..., **job_body's options}``."""
    if not isinstance(child, Mapping) or "queue" not in child or "payload" not in child:
        raise TypeError("a child is a dict with a 'queue' and a 'payload', e.g. {'queue': 'shard', 'payload': {...}}")
    options = {k: v for k, v in child.items() if k != "queue"}
    return {"queue": child["queue"], **job_body(**options)}


def jobs_create(queue: str, body: dict[str, Any]) -> Request:
    # With a unique key a repeat returns the first job, so it is safe to send again.
    return Request("POST", path("/v1/queues/{queue}/jobs", queue), body, idempotent="unique_key" in body)


def jobs_create_batch(queue: str, jobs: list[dict[str, Any]]) -> Request:
    return Request("POST", path("/v1/queues/{queue}/jobs/batch", queue), {"jobs": jobs})


def jobs_list(
    queue: str, state: str | None, limit: int | None, cursor: str | None, tenant: str | None = None
) -> Request:
    pairs = (("state", state), ("tenant", tenant), ("limit", limit), ("cursor", cursor))
    params = {k: str(v) for k, v in pairs if v is not None}
    return Request("GET", path("/v1/queues/{queue}/jobs", queue), params=params, idempotent=True)


def jobs_lease(queue: str, max_jobs: int, wait: float, lease: float, worker: str | None, timeout: float) -> Request:
    body: dict[str, Any] = {"max": max_jobs, "wait": duration(min(wait, MAX_WAIT_S)), "lease": duration(lease)}
    if worker:
        body["worker"] = worker
    # Not retried here: the worker's poll loop retries, forever, with its own backoff.
    return Request("POST", path("/v1/queues/{queue}/lease", queue), body, timeout=timeout, retries=0)


def jobs_get(job_id: str, wait: float | None = None) -> Request:
    if wait is None:
        return Request("GET", path("/v1/jobs/{id}", job_id), idempotent=True)
    # The server long-polls up to `wait` (at most 30 s) for the job's end.
    params = {"wait": duration(min(wait, 30.0))}
    return Request("GET", path("/v1/jobs/{id}", job_id), params=params, idempotent=True, timeout=min(wait, 30.0) + 10)


def jobs_heartbeat(job_id: str, lease_token: str, lease: float) -> Request:
    body = {"lease_token": lease_token, "lease": duration(lease)}
    return Request("POST", path("/v1/jobs/{id}/heartbeat", job_id), body, idempotent=True, retries=0)


def jobs_progress(job_id: str, lease_token: str, progress: Any) -> Request:
    body = {"lease_token": lease_token, "progress": progress}
    return Request("POST", path("/v1/jobs/{id}/progress", job_id), body, idempotent=True)


def jobs_step_record(job_id: str, step: str, lease_token: str, result: Any) -> Request:
    body = {"lease_token": lease_token, "result": result}
    return Request("PUT", path("/v1/jobs/{id}/steps/{step}", job_id, step), body, idempotent=True)


def jobs_step_sleep(job_id: str, step: str, lease_token: str, sleep: Duration) -> Request:
    body = {"lease_token": lease_token, "duration": duration(sleep)}
    return Request("POST", path("/v1/jobs/{id}/steps/{step}/sleep", job_id, step), body, idempotent=True)


def jobs_step_wait(job_id: str, step: str, lease_token: str, wait: dict[str, Any]) -> Request:
    body = {"lease_token": lease_token, **wait}
    return Request("POST", path("/v1/jobs/{id}/steps/{step}/wait", job_id, step), body, idempotent=True)


def events_send(name: str, payload: Any, event_id: str | None = None) -> Request:
    body: dict[str, Any] = {"payload": payload}
    if event_id is not None:
        body["id"] = event_id
    return Request("POST", path("/v1/events/{name}", name), body, idempotent=event_id is not None)


def jobs_release(job_id: str, lease_token: str) -> Request:
    return Request("POST", path("/v1/jobs/{id}/release", job_id), {"lease_token": lease_token}, idempotent=True)


def jobs_retry(job_id: str) -> Request:
    return Request("POST", path("/v1/jobs/{id}/retry", job_id))


def jobs_cancel(job_id: str) -> Request:
    return Request("POST", path("/v1/jobs/{id}/cancel", job_id))


def jobs_lease_release(job_id: str) -> Request:
    return Request("POST", path("/v1/jobs/{id}/lease/release", job_id))


def jobs_lease_fail(job_id: str, error: str) -> Request:
    return Request("POST", path("/v1/jobs/{id}/lease/fail", job_id), {"error": error})


def acks(complete: list[dict[str, Any]], fail: list[dict[str, Any]]) -> Request:
    # Acks are idempotent on the server (a repeat answers `already: true`).
    return Request("POST", "/v1/acks", {"complete": complete, "fail": fail}, idempotent=True, retries=0)


def queues_list() -> Request:
    return Request("GET", "/v1/queues", idempotent=True)


def queues_get(queue: str) -> Request:
    return Request("GET", path("/v1/queues/{queue}", queue), idempotent=True)


def queues_pause(queue: str) -> Request:
    return Request("POST", path("/v1/queues/{queue}/pause", queue), idempotent=True)


def queues_resume(queue: str) -> Request:
    return Request("POST", path("/v1/queues/{queue}/resume", queue), idempotent=True)


def queues_dead_retry(queue: str, ids: list[str] | None) -> Request:
    return Request("POST", path("/v1/queues/{queue}/dead/retry", queue), {"ids": ids} if ids is not None else {})


def queues_delete(queue: str) -> Request:
    return Request("DELETE", path("/v1/queues/{queue}", queue), idempotent=True)


def queues_dead_purge(queue: str) -> Request:
    return Request("DELETE", path("/v1/queues/{queue}/dead", queue), idempotent=True)


def ratelimit_check(policy: str, key: str, cost: int, timeout: float | None, retries: int | None) -> Request:
    body = {"policy": policy, "key": key, "cost": cost}
    return Request("POST", "/v1/ratelimit/check", body, timeout=timeout, retries=retries)


def ratelimit_policy_put(name: str, spec: dict[str, Any]) -> Request:
    return Request("PUT", path("/v1/ratelimit/policies/{name}", name), spec, idempotent=True)


def ratelimit_key_reset(name: str, key: str) -> Request:
    return Request("DELETE", path("/v1/ratelimit/policies/{name}/keys/{key}", name, key), idempotent=True)


def breakers_list() -> Request:
    return Request("GET", "/v1/breakers", idempotent=True)


def breakers_get(name: str) -> Request:
    return Request("GET", path("/v1/breakers/{name}", name), idempotent=True)


def breakers_acquire(name: str) -> Request:
    return Request("POST", path("/v1/breakers/{name}/acquire", name))


def breakers_record(name: str, success: bool, duration_ms: int) -> Request:
    body = {"outcome": "success" if success else "failure", "duration_ms": max(0, duration_ms)}
    return Request("POST", path("/v1/breakers/{name}/record", name), body)


def breakers_reset(name: str) -> Request:
    return Request("POST", path("/v1/breakers/{name}/reset", name), idempotent=True)


def cron_put(
    name: str,
    schedule: str,
    queue: str,
    timezone: str | None,
    payload: Any,
    description: str | None,
    misfire: str | None,
) -> Request:
    body: dict[str, Any] = {"schedule": schedule, "queue": queue}
    for key, value in (("timezone", timezone), ("payload", payload), ("description", description)):
        if value is not None:
            body[key] = value
    if misfire is not None:
        body["misfire"] = misfire
    return Request("PUT", path("/v1/cron/{name}", name), body, idempotent=True)


def cron_list() -> Request:
    return Request("GET", "/v1/cron", idempotent=True)


def cron_get(name: str) -> Request:
    return Request("GET", path("/v1/cron/{name}", name), idempotent=True)


def cron_delete(name: str) -> Request:
    return Request("DELETE", path("/v1/cron/{name}", name), idempotent=True)


def cron_runs(name: str, limit: int | None, cursor: str | None) -> Request:
    params = {k: str(v) for k, v in (("limit", limit), ("cursor", cursor)) if v is not None}
    return Request("GET", path("/v1/cron/{name}/runs", name), params=params, idempotent=True)


def cron_trigger(name: str) -> Request:
    return Request("POST", path("/v1/cron/{name}/trigger", name))


def cron_pause(name: str) -> Request:
    return Request("POST", path("/v1/cron/{name}/pause", name), idempotent=True)


def cron_resume(name: str) -> Request:
    return Request("POST", path("/v1/cron/{name}/resume", name), idempotent=True)


def health() -> Request:
    return Request("GET", "/health", idempotent=True)


def usage_report(events: list[dict[str, Any]]) -> Request:
    # Idempotent on each call id: a repeat changes nothing.
    body: dict[str, Any] = events[0] if len(events) == 1 else {"events": events}
    return Request("POST", "/v1/usage", body, idempotent=True)


def usage_reserve(body: dict[str, Any]) -> Request:
    return Request("POST", "/v1/usage/reserve", body)


def usage_summary(group_by: str | None, since: Instant | None, until: Instant | None) -> Request:
    params = {"group_by": group_by, "since": instant(since) if since is not None else None}
    params["until"] = instant(until) if until is not None else None
    kept = {k: v for k, v in params.items() if v is not None}
    return Request("GET", "/v1/usage/summary", params=kept, idempotent=True)


def budgets_list() -> Request:
    return Request("GET", "/v1/budgets", idempotent=True)


def budgets_get(name: str) -> Request:
    return Request("GET", path("/v1/budgets/{name}", name), idempotent=True)


def budgets_put(name: str, spec: dict[str, Any]) -> Request:
    return Request("PUT", path("/v1/budgets/{name}", name), spec, idempotent=True)


def budgets_delete(name: str) -> Request:
    return Request("DELETE", path("/v1/budgets/{name}", name), idempotent=True)


def caches_report(name: str, body: dict[str, Any]) -> Request:
    return Request("POST", path("/v1/caches/{name}/report", name), body)


def errors_report(body: dict[str, Any]) -> Request:
    return Request("POST", "/v1/errors", body)
