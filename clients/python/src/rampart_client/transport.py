"""Sending one request: settings, JSON encoding, error mapping and retries, for both interfaces.

A request that the server refused for now is tried again with jittered backoff, honouring
``Retry-After``: a 429 or a refused connection always (nothing was done), a 5xx or a lost
answer only for a request that is safe to repeat (reads, puts, deletes, acks, heartbeats).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from .backoff import REQUEST_BACKOFF
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    RampartError,
    error_for_status,
    retry_after_seconds,
)

DEFAULT_URL = "http://127.0.0.1:7433"

#: A duration: seconds (``1.5``), a ``timedelta``, or a human string the server reads (``"30s"``).
Duration = float | int | str | timedelta

#: A point in time: an aware ``datetime`` or an RFC 3339 string.
Instant = datetime | str

_VERSION = "0.1.0"


@dataclass(frozen=True)
class Settings:
    """Where the server is and how to talk to it; shared by a client and the workers it makes."""

    base_url: str
    api_key: str
    timeout: float
    max_retries: int
    max_connections: int

    @staticmethod
    def resolve(
        base_url: str | None, api_key: str | None, timeout: float, max_retries: int, max_connections: int
    ) -> Settings:
        url = (base_url or os.environ.get("RAMPART_URL") or DEFAULT_URL).rstrip("/")
        return Settings(url, api_key or _key_from_env(), timeout, max_retries, max_connections)

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_key}", "user-agent": f"rampart-client-python/{_VERSION}"}

    def limits(self) -> httpx.Limits:
        return httpx.Limits(max_connections=self.max_connections, max_keepalive_connections=self.max_connections)


def _key_from_env() -> str:
    """``RAMPART_KEY`` (a key, or a file holding one), else ``./rampart-data/admin.key``."""
    value = os.environ.get("RAMPART_KEY", "rampart-data/admin.key")
    path = Path(value)
    if path.is_file():
        return path.read_text().strip()
    if "/" in value or value.endswith(".key"):
        raise RampartError(
            f"no API key: {value} does not exist; pass api_key=, or set RAMPART_KEY to a key or a file holding one"
        )
    return value


@dataclass(frozen=True)
class Request:
    """One API call, built the same for the sync and async clients."""

    method: str
    path: str
    body: Any = None
    params: dict[str, str] | None = None
    #: Safe to send again after a 5xx or a lost answer.
    idempotent: bool = False
    #: Overrides the client's timeout (a long-poll needs more).
    timeout: float | None = None
    #: Overrides the client's retries (middleware wants none).
    retries: int | None = None


def path(template: str, *params: str) -> str:
    """The path with each ``{placeholder}`` replaced, in order, by a percent-encoded parameter."""
    out, rest = [], template
    for param in params:
        start = rest.index("{")
        end = rest.index("}", start)
        out.append(rest[:start])
        out.append(quote(str(param), safe=""))
        rest = rest[end + 1 :]
    out.append(rest)
    return "".join(out)


def duration(value: Duration) -> str:
    """A duration as the server reads it (``"1500ms"``)."""
    if isinstance(value, str):
        return value
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    return f"{round(seconds * 1000)}ms"


def instant(value: Instant) -> str:
    """A time as RFC 3339 UTC."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("pass an aware datetime (with tzinfo), e.g. datetime.now(timezone.utc)")
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def encode(body: Any) -> bytes:
    """Compact JSON; NaN and infinities are refused here rather than by the server."""
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def decode(resp: httpx.Response) -> Any:
    """The answer's JSON, ``None`` for an empty body; raises the error of a non-2xx answer."""
    if resp.status_code >= 300:
        raise error_from(resp)
    return json.loads(resp.content) if resp.content else None


def error_from(resp: httpx.Response) -> APIStatusError:
    """The exception for an error answer, from its JSON body when it has one."""
    code, message = "HTTP_ERROR", resp.reason_phrase or f"HTTP {resp.status_code}"
    try:
        detail = json.loads(resp.content)["error"]
        code, message = str(detail["code"]), str(detail["message"])
    except (ValueError, KeyError, TypeError):
        if resp.content:
            message = resp.content[:200].decode(errors="replace")
    return error_for_status(resp.status_code, code, message, resp.headers.get("x-request-id"), dict(resp.headers))


def _failure(exc: httpx.HTTPError, idempotent: bool) -> tuple[RampartError, bool]:
    """A transport error as ours, and whether to try again."""
    if isinstance(exc, httpx.TimeoutException):
        # A connect timeout sent nothing; any other may have been done.
        return APITimeoutError(f"no answer in time: {exc!r}"), idempotent or isinstance(exc, httpx.ConnectTimeout)
    if isinstance(exc, httpx.ConnectError):
        return APIConnectionError(f"cannot reach the server: {exc}"), True
    return APIConnectionError(f"the request failed: {exc!r}"), idempotent


def _judge(resp: httpx.Response, idempotent: bool) -> tuple[APIStatusError, bool]:
    err = error_from(resp)
    return err, resp.status_code == 429 or (resp.status_code >= 500 and idempotent)


def _pause(err: RampartError, attempt: int) -> float:
    after = retry_after_seconds(err.headers) if isinstance(err, APIStatusError) else None
    return max(REQUEST_BACKOFF.delay(attempt), after or 0.0)


def _headers(req: Request) -> dict[str, str] | None:
    return {"content-type": "application/json"} if req.body is not None else None


def send(client: httpx.Client, settings: Settings, req: Request) -> httpx.Response:
    """Sends ``req``, trying again as the module doc says; the 2xx answer."""
    retries = settings.max_retries if req.retries is None else req.retries
    content = encode(req.body) if req.body is not None else None
    attempt = 0
    while True:
        try:
            resp = client.request(
                req.method,
                req.path,
                content=content,
                params=req.params,
                headers=_headers(req),
                timeout=req.timeout or settings.timeout,
            )
        except httpx.HTTPError as exc:
            err, again = _failure(exc, req.idempotent)
            cause: BaseException = exc
        else:
            if resp.status_code < 300:
                return resp
            err, again = _judge(resp, req.idempotent)
            cause = err
        if not again or attempt >= retries:
            raise err from (cause if cause is not err else None)
        attempt += 1
        time.sleep(_pause(err, attempt))


async def send_async(client: httpx.AsyncClient, settings: Settings, req: Request) -> httpx.Response:
    """The asyncio twin of :func:`send`."""
    retries = settings.max_retries if req.retries is None else req.retries
    content = encode(req.body) if req.body is not None else None
    attempt = 0
    while True:
        try:
            resp = await client.request(
                req.method,
                req.path,
                content=content,
                params=req.params,
                headers=_headers(req),
                timeout=req.timeout or settings.timeout,
            )
        except httpx.HTTPError as exc:
            err, again = _failure(exc, req.idempotent)
            cause: BaseException = exc
        else:
            if resp.status_code < 300:
                return resp
            err, again = _judge(resp, req.idempotent)
            cause = err
        if not again or attempt >= retries:
            raise err from (cause if cause is not err else None)
        attempt += 1
        await asyncio.sleep(_pause(err, attempt))
