"""Every exception the client raises, one class per family of the server's error codes.

An answer that is not 2xx becomes an :class:`APIStatusError` subclass chosen by its status
(``ConflictError`` for 409, ``RateLimitError`` for 429, ...), carrying the server's ``code``
(``"LEASE_LOST"``), ``message``, ``status`` and ``request_id`` (the ``x-request-id`` the
server logged it under). A request that got no answer is an :class:`APIConnectionError`.
The worker, safe calls and push handlers add their own below.
"""

from __future__ import annotations

from collections.abc import Mapping


class RampartError(Exception):
    """The base of every error this package raises."""


class APIConnectionError(RampartError):
    """No answer from the server: refused connection, reset, DNS failure, ..."""

    code = "CONNECTION_ERROR"
    status: int | None = None
    request_id: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APITimeoutError(APIConnectionError):
    """The server did not answer within the request's timeout."""

    code = "TIMEOUT"


class APIStatusError(RampartError):
    """The server answered with an error status and its ``{"error": {code, message}}`` body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}" + (f" (request {request_id})" if request_id else ""))
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.headers: Mapping[str, str] = dict(headers or {})


class BadRequestError(APIStatusError):
    """400 and the other refusals of the request itself (405, 408, 413, 414, 415, 422, 431)."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or unknown."""


class PermissionDeniedError(APIStatusError):
    """403: the key's role does not allow this action."""


class NotFoundError(APIStatusError):
    """404: the job, queue, schedule, breaker or policy does not exist."""


class ConflictError(APIStatusError):
    """409: the resource's state does not allow the action (``INVALID_STATE``, ``QUEUE_IS_PUSH``, ...)."""


class LeaseLostError(ConflictError):
    """409 ``LEASE_LOST``: the lease expired and the job is someone else's now."""


class RateLimitError(APIStatusError):
    """429: rampart's own API limits refused the request; ``retry_after`` is in seconds."""

    @property
    def retry_after(self) -> float | None:
        return retry_after_seconds(self.headers)


class InternalServerError(APIStatusError):
    """5xx: the server or its store failed (``STORE_UNAVAILABLE``, ``INTERNAL``)."""


class WaitTimeoutError(RampartError, TimeoutError):
    """A job did not reach a final state within the time :meth:`wait` was given."""


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds, when it is a number (the form rampart sends)."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None


def error_for_status(
    status: int, code: str, message: str, request_id: str | None, headers: Mapping[str, str]
) -> APIStatusError:
    """The exception for an error answer."""
    cls: type[APIStatusError]
    if status == 409 and code == "LEASE_LOST":
        cls = LeaseLostError
    elif status == 401:
        cls = AuthenticationError
    elif status == 403:
        cls = PermissionDeniedError
    elif status == 404:
        cls = NotFoundError
    elif status == 409:
        cls = ConflictError
    elif status == 429:
        cls = RateLimitError
    elif status >= 500:
        cls = InternalServerError
    else:
        cls = BadRequestError
    return cls(status, code, message, request_id, headers)
