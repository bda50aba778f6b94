"""The official Python client for rampart.

Layout: ``client`` (the :class:`Rampart` and :class:`AsyncRampart` objects and their
resources), ``routes`` (every call as a request, shared by both), ``transport`` (settings,
encoding, retries), ``wire`` (the API's shapes), ``errors``, ``worker`` (with ``heartbeat``
and ``events``), ``ratelimit`` (ASGI and WSGI middleware), ``safecall`` (calls through
shared breakers), ``push`` (receiving push deliveries), ``usage`` (AI usage, budgets and
``guard``, cache telemetry, error events), ``step`` (``job.step``: step functions in async
handlers), ``resource`` (what resources share), ``backoff``.
"""

from .backoff import Backoff
from .client import AsyncRampart, Decision, Rampart
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    LeaseLostError,
    NotFoundError,
    PermissionDeniedError,
    RampartError,
    RateLimitError,
    WaitTimeoutError,
)
from .push import (
    PushEndpoint,
    PushJob,
    PushVerificationError,
    RetryLater,
    handle_push,
    handle_push_async,
    verify_push,
    verify_signature,
)
from .ratelimit import RateLimitMiddleware, WSGIRateLimitMiddleware, by_header, client_ip
from .safecall import CallTimeoutError, CircuitOpenError, RetriesExhaustedError
from .step import JobGivenBack, Step
from .usage import BudgetExceededError, GuardedCall
from .worker import AsyncWorker, CancellationToken, FatalError, Job, PermanentError, Worker

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncRampart",
    "AsyncWorker",
    "AuthenticationError",
    "Backoff",
    "BadRequestError",
    "BudgetExceededError",
    "CallTimeoutError",
    "CancellationToken",
    "CircuitOpenError",
    "ConflictError",
    "Decision",
    "FatalError",
    "GuardedCall",
    "InternalServerError",
    "Job",
    "JobGivenBack",
    "LeaseLostError",
    "NotFoundError",
    "PermanentError",
    "PermissionDeniedError",
    "PushEndpoint",
    "PushJob",
    "PushVerificationError",
    "Rampart",
    "RampartError",
    "RateLimitError",
    "RateLimitMiddleware",
    "RetriesExhaustedError",
    "RetryLater",
    "Step",
    "WSGIRateLimitMiddleware",
    "WaitTimeoutError",
    "Worker",
    "by_header",
    "client_ip",
    "handle_push",
    "handle_push_async",
    "verify_push",
    "verify_signature",
]
