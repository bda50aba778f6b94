"""The rate-limit middleware's cost per request: an ASGI app called directly, with and without it.

    python bench/middleware.py --requests 5000 [--url URL] [--key KEY_OR_FILE]

Defines a policy roomy enough that nothing is denied, then times each call of a minimal ASGI
app (no HTTP server in front, so what is measured is the middleware: the key, one check over
a kept-alive connection to rampart, the headers added) and prints p50/p90/p99 of both, the
p50 difference and the middleware's CPU time per request in this process (which a loaded
machine does not inflate the way it does wall time), as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from typing import Any

from drain import read_key

from rampart_client import AsyncRampart, RateLimitMiddleware, by_header
from rampart_client.ratelimit import Receive, Scope, Send


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def timed(asgi: Any, requests: int) -> tuple[list[float], float]:
    """Each call's wall time in ms, and the process's CPU time per call in ms."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    samples = []
    cpu = time.process_time()
    for i in range(requests):
        scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"x-user-id", f"u{i % 1000}".encode())]}
        started = time.perf_counter()
        await asgi(scope, receive, send)
        samples.append((time.perf_counter() - started) * 1000)
    return samples, (time.process_time() - cpu) * 1000 / requests


async def main(url: str | None, key: str | None, requests: int) -> None:
    async with AsyncRampart(url, key) as client:
        policy = f"bench-{uuid.uuid4().hex[:8]}"
        await client.ratelimit.define(policy, limit=1_000_000, window="1h")
        limited = RateLimitMiddleware(app, client=client, policy=policy, key=by_header("x-user-id"))
        await timed(limited, 200)  # warm the connection and the code paths
        bare, bare_cpu = await timed(app, requests)
        with_mw, mw_cpu = await timed(limited, requests)
    line = {
        "bench": "ratelimit-middleware",
        "requests": requests,
        "bare_p50_ms": round(percentile(bare, 50), 4),
        "middleware_p50_ms": round(percentile(with_mw, 50), 3),
        "middleware_p90_ms": round(percentile(with_mw, 90), 3),
        "middleware_p99_ms": round(percentile(with_mw, 99), 3),
        "overhead_p50_ms": round(percentile(with_mw, 50) - percentile(bare, 50), 3),
        "client_cpu_per_request_ms": round(mw_cpu - bare_cpu, 3),
        "loadavg_1m": os.getloadavg()[0],
    }
    print(json.dumps(line))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--url", default=None)
    parser.add_argument("--key", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.url, read_key(args.key), args.requests))
