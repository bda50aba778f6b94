"""Receiving push deliveries: verify rampart's signature, run the job, answer what rampart reads.

rampart POSTs a push queue's jobs as ``{"id", "queue", "attempt", "max_attempts", "payload"}``
signed in the Standard Webhooks scheme (``crates/rampart-core/src/webhook.rs``):
``webhook-id`` (``job_<id>``, the same on every attempt), ``webhook-timestamp`` (Unix seconds)
and ``webhook-signature``: ``v1,`` and the base64 of HMAC-SHA256 over
``"{id}.{timestamp}.{body}"``, keyed with the base64-decoded part of the queue's secret after
``whsec_``; several space-separated signatures may come (one matching is enough). The
timestamp must be within ``tolerance`` seconds (5 minutes) of now, so a captured delivery
cannot be replayed later. Signatures are compared in constant time.

The answer decides the job: 2xx completes it (a JSON body is its result), 4xx makes it dead,
5xx or 429 with ``Retry-After`` retries it. :func:`handle_push` maps a handler's outcome so:
a return value is ``200`` with it as JSON, :class:`~rampart_client.worker.PermanentError` is
``422``, :class:`RetryLater` is ``503`` with ``Retry-After``, any other exception ``500``, and a
delivery that fails verification ``401`` (a forgery is dropped for good).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import RampartError
from .ratelimit import Receive, Scope, Send
from .worker import PermanentError

log = logging.getLogger("rampart_client.push")

#: How far a delivery's timestamp may be from now, in seconds (the Standard Webhooks default).
DEFAULT_TOLERANCE = 300

SECRET_PREFIX = "whsec_"


class PushVerificationError(RampartError):
    """A delivery whose headers or signature do not hold: answer it ``401``."""


class RetryLater(Exception):
    """Raised by a push handler: the attempt fails and rampart retries, not before ``retry_after`` seconds."""

    def __init__(self, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class PushJob:
    """A verified delivery."""

    id: str
    queue: str
    attempt: int
    max_attempts: int
    payload: Any
    #: ``webhook-id``: the same on every attempt of the job, to drop a duplicate.
    message_id: str
    timestamp: int
    #: A parent's children's outcomes (``{id, queue, state, result, error}``); ``None`` for a job that is no parent.
    children: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class PushResponse:
    """What to answer rampart."""

    status: int
    headers: dict[str, str]
    body: bytes


def _key(secret: str) -> bytes:
    secret = secret.strip()
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a push secret starts with whsec_ (the queue's `secret`, shown by `rampart queues show`)")
    try:
        return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error:
        raise ValueError("the part of the push secret after whsec_ is not base64") from None


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise PushVerificationError(f"the {name} header is missing: not a rampart push delivery")


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> tuple[str, int]:
    """Checks a Standard Webhooks signature; the message's ``webhook-id`` and timestamp.

    ``body`` must be the raw bytes as received (not re-serialized JSON).
    """
    key = _key(secret)
    msg_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp").strip()
    signatures = _header(headers, "webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise PushVerificationError("webhook-timestamp is not a Unix time in seconds") from None
    skew = abs((time.time() if now is None else now) - timestamp)
    if skew > tolerance:
        raise PushVerificationError(f"webhook-timestamp is {skew:.0f}s away from now, more than {tolerance}s")
    expected = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    matched = False
    for signature in signatures.split(" "):
        version, _, encoded = signature.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
        # Every candidate is compared, in constant time, whatever the earlier ones gave.
        matched = hmac.compare_digest(expected, given) or matched
    if not matched:
        raise PushVerificationError("no v1 signature in webhook-signature matches the delivery")
    return msg_id, timestamp


def verify_push(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> PushJob:
    """The delivery's job, once its signature and timestamp hold; :class:`PushVerificationError` else.

    ``body`` must be the raw bytes as received (not re-serialized JSON).
    """
    msg_id, timestamp = verify_signature(secret, headers, body, tolerance=tolerance, now=now)
    try:
        job = json.loads(body)
        return PushJob(
            id=str(job["id"]),
            queue=str(job["queue"]),
            attempt=int(job["attempt"]),
            max_attempts=int(job["max_attempts"]),
            payload=job.get("payload"),
            message_id=msg_id,
            timestamp=timestamp,
            children=job.get("children"),
        )
    except (ValueError, KeyError, TypeError) as e:
        raise PushVerificationError(f"the signed body is not a rampart job: {e!r}") from None


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> PushResponse:
    return PushResponse(status, {"content-type": "application/json", **(headers or {})}, json.dumps(body).encode())


def _refused(e: PushVerificationError) -> PushResponse:
    log.warning("push delivery refused: %s", e)
    return _json(401, {"error": {"code": "INVALID_SIGNATURE", "message": str(e)}})


def _failed(e: Exception) -> PushResponse:
    if isinstance(e, PermanentError):
        return _json(422, {"error": {"code": "PERMANENT_ERROR", "message": str(e)}})
    if isinstance(e, RetryLater):
        headers = {"retry-after": str(max(0, round(e.retry_after)))} if e.retry_after is not None else {}
        return _json(503, {"error": {"code": "RETRY_LATER", "message": str(e)}}, headers)
    log.exception("push handler failed; rampart will retry the job")
    return _json(500, {"error": {"code": "HANDLER_ERROR", "message": f"{type(e).__name__}: {e}"}})


def handle_push(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    handler: Callable[[PushJob], Any],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
) -> PushResponse:
    """Verifies a delivery, runs ``handler`` on its job and maps the outcome (see the module doc)."""
    try:
        job = verify_push(secret, headers, body, tolerance=tolerance)
    except PushVerificationError as e:
        return _refused(e)
    try:
        return _json(200, handler(job))
    except Exception as e:
        return _failed(e)


async def handle_push_async(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    handler: Callable[[PushJob], Awaitable[Any]] | Callable[[PushJob], Any],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
) -> PushResponse:
    """As :func:`handle_push`, for an async (or sync) handler."""
    try:
        job = verify_push(secret, headers, body, tolerance=tolerance)
    except PushVerificationError as e:
        return _refused(e)
    try:
        result = handler(job)
        if inspect.isawaitable(result):
            result = await result
        return _json(200, result)
    except Exception as e:
        return _failed(e)


class PushEndpoint:
    """An ASGI app receiving one push queue: ``app.mount("/jobs/email", PushEndpoint(secret, handler))``."""

    def __init__(
        self,
        secret: str,
        handler: Callable[[PushJob], Awaitable[Any]] | Callable[[PushJob], Any],
        *,
        tolerance: int = DEFAULT_TOLERANCE,
    ) -> None:
        _key(secret)
        self.secret = secret
        self.handler = handler
        self.tolerance = tolerance

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            resp = _json(405, {"error": {"code": "METHOD_NOT_ALLOWED", "message": "push deliveries are POSTed"}})
        else:
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
            resp = await handle_push_async(
                self.secret, headers, b"".join(chunks), self.handler, tolerance=self.tolerance
            )
        raw = [(k.encode(), v.encode()) for k, v in resp.headers.items()]
        raw.append((b"content-length", str(len(resp.body)).encode()))
        await send({"type": "http.response.start", "status": resp.status, "headers": raw})
        await send({"type": "http.response.body", "body": resp.body})
