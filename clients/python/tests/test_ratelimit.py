"""The rate-limit middleware in front of real ASGI and WSGI apps, checking against the real server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rampart_client import AsyncRampart, Rampart, RateLimitMiddleware, WSGIRateLimitMiddleware, by_header


def policy(client: Rampart, limit: int) -> str:
    name = f"py-{uuid.uuid4().hex[:10]}"
    client.ratelimit.define(name, limit=limit, window="1m")
    return name


def starlette_app(client: AsyncRampart, name: str, **options: Any) -> Starlette:
    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"hello": "world"})

    app = Starlette(routes=[Route("/", hello)])
    app.add_middleware(RateLimitMiddleware, client=client, policy=name, key=by_header("x-user-id"), **options)
    return app


async def test_asgi_middleware_answers_429_with_the_servers_headers(client: Rampart, aclient: AsyncRampart) -> None:
    name = policy(client, 2)
    app = starlette_app(aclient, name)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
        alice = {"x-user-id": "alice"}
        first = await http.get("/", headers=alice)
        assert first.status_code == 200 and first.json() == {"hello": "world"}
        assert (first.headers["x-ratelimit-limit"], first.headers["x-ratelimit-remaining"]) == ("2", "1")
        assert (await http.get("/", headers=alice)).status_code == 200
        denied = await http.get("/", headers=alice)
        assert denied.status_code == 429
        assert denied.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert int(denied.headers["retry-after"]) >= 1 and denied.json()["retry_after_s"] >= 1
        assert denied.headers["x-ratelimit-remaining"] == "0"
        assert denied.headers["ratelimit-policy"].startswith(f'"{name}";q=2')
        # Another key has its own budget; no key is not checked.
        assert (await http.get("/", headers={"x-user-id": "bob"})).status_code == 200
        assert (await http.get("/")).status_code == 200


async def test_asgi_middleware_fails_open_or_closed_within_its_timeout() -> None:
    async with AsyncRampart("http://127.0.0.1:9", "key") as unreachable:
        for fail_open, status in ((True, 200), (False, 503)):
            app = starlette_app(unreachable, "api", fail_open=fail_open, timeout=0.2)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
                assert (await http.get("/", headers={"x-user-id": "u"})).status_code == status


def test_wsgi_middleware_answers_429(client: Rampart) -> None:
    name = policy(client, 1)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("content-type", "text/plain")])
        return [b"ok"]

    wrapped = WSGIRateLimitMiddleware(app, client=client, policy=name, key=lambda environ: "carol")
    with httpx.Client(transport=httpx.WSGITransport(app=wrapped), base_url="http://app") as http:
        ok = http.get("/")
        assert ok.status_code == 200 and ok.headers["x-ratelimit-limit"] == "1"
        denied = http.get("/")
        assert denied.status_code == 429 and denied.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert "retry-after" in denied.headers
    assert client.ratelimit.reset(name, "carol")
    assert client.ratelimit.check(name, "carol").allowed
