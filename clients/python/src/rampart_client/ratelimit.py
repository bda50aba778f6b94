"""Rate-limit middleware: ASGI (FastAPI, Starlette, any ASGI app) and WSGI (Flask, Django, ...).

Each request is checked against a policy of the server (``POST /v1/ratelimit/check``) under a
key the app's ``key`` function derives from the request (the client's IP, a user or an org
id; ``None`` lets the request through unchecked). Allowed requests go on, their answers
carrying the server's rate-limit headers; denied ones are answered ``429`` with those headers
and the server's own body: ``{"error": {"code": "RATE_LIMIT_EXCEEDED", "message": ...},
"retry_after_s": N}``. When rampart does not answer within ``timeout`` seconds (no retries),
``fail_open=True`` (the default) lets the request through and ``False`` answers ``503``.

ASGI::

    app.add_middleware(RateLimitMiddleware, client=rampart, policy="api", key=by_header("x-user-id"))

WSGI (Flask)::

    app.wsgi_app = WSGIRateLimitMiddleware(app.wsgi_app, client=rampart, policy="api", key=wsgi_client_ip)
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from .client import AsyncRampart, Decision, Rampart
from .errors import RampartError

log = logging.getLogger("rampart_client.ratelimit")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The server's message for a denied request (``crates/rampart-server/src/ratelimit/layer.rs``).
EXCEEDED_MESSAGE = "Too many requests. Please wait a moment."

#: How long a check may take before ``fail_open`` decides, in seconds.
DEFAULT_TIMEOUT = 0.5


def client_ip(scope: Scope) -> str | None:
    """The ASGI client's address (behind a proxy, run the server with its proxy-headers option)."""
    client = scope.get("client")
    return str(client[0]) if client else None


def by_header(name: str) -> Callable[[Scope], str | None]:
    """A key function reading a request header (``x-user-id``, ``x-org-id``): absent, unchecked."""
    wanted = name.lower().encode()

    def key(scope: Scope) -> str | None:
        for header, value in scope.get("headers", ()):
            if header.lower() == wanted:
                return bytes(value).decode("latin-1")
        return None

    return key


def wsgi_client_ip(environ: dict[str, Any]) -> str | None:
    """The WSGI client's address."""
    return environ.get("REMOTE_ADDR")


def _denied_body(decision: Decision) -> bytes:
    body = {
        "error": {"code": "RATE_LIMIT_EXCEEDED", "message": EXCEEDED_MESSAGE},
        "retry_after_s": decision.retry_after_s,
    }
    return json.dumps(body, separators=(",", ":")).encode()


_UNAVAILABLE = json.dumps(
    {"error": {"code": "RATE_LIMIT_UNAVAILABLE", "message": "The rate limiter cannot be reached; try again shortly."}},
    separators=(",", ":"),
).encode()


class RateLimitMiddleware:
    """ASGI middleware checking each HTTP request against ``policy``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        client: AsyncRampart,
        policy: str,
        key: Callable[[Scope], str | Awaitable[str | None] | None] = client_ip,
        cost: int = 1,
        fail_open: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.app = app
        self.client = client
        self.policy = policy
        self.key = key
        self.cost = cost
        self.fail_open = fail_open
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = self.key(scope)
        if inspect.isawaitable(key):
            key = await key
        if key is None:
            await self.app(scope, receive, send)
            return
        try:
            decision = await self.client.ratelimit.check(
                self.policy, key, cost=self.cost, timeout=self.timeout, retries=0
            )
        except RampartError as e:
            log.warning("rate-limit check for policy %s failed (%s); %s", self.policy, e, self._fallback())
            if self.fail_open:
                await self.app(scope, receive, send)
            else:
                await _answer(send, 503, [(b"retry-after", b"1")], _UNAVAILABLE)
            return
        headers = [(name.encode(), value.encode()) for name, value in decision.headers.items()]
        if not decision.allowed:
            await _answer(send, 429, headers, _denied_body(decision))
            return
        limit_headers = [h for h in headers if h[0] != b"retry-after"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *limit_headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _fallback(self) -> str:
        return "letting the request through (fail_open)" if self.fail_open else "answering 503 (fail closed)"


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class WSGIRateLimitMiddleware:
    """WSGI middleware checking each request against ``policy``; the same behaviour as the ASGI one."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        client: Rampart,
        policy: str,
        key: Callable[[dict[str, Any]], str | None] = wsgi_client_ip,
        cost: int = 1,
        fail_open: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.app = app
        self.client = client
        self.policy = policy
        self.key = key
        self.cost = cost
        self.fail_open = fail_open
        self.timeout = timeout

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        key = self.key(environ)
        if key is None:
            return self.app(environ, start_response)
        try:
            decision = self.client.ratelimit.check(self.policy, key, cost=self.cost, timeout=self.timeout, retries=0)
        except RampartError as e:
            log.warning("rate-limit check for policy %s failed (%s)", self.policy, e)
            if self.fail_open:
                return self.app(environ, start_response)
            start_response("503 Service Unavailable", [("content-type", "application/json"), ("retry-after", "1")])
            return [_UNAVAILABLE]
        headers = list(decision.headers.items())
        if not decision.allowed:
            start_response("429 Too Many Requests", [*headers, ("content-type", "application/json")])
            return [_denied_body(decision)]
        limit_headers = [h for h in headers if h[0] != "retry-after"]

        def start_with_headers(status: str, response_headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            return start_response(status, [*response_headers, *limit_headers], *exc_info)

        return self.app(environ, start_with_headers)
