"""Push handlers: rampart's real deliveries are accepted, forged and stale ones refused."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from rampart_client import (
    PermanentError,
    PushEndpoint,
    PushJob,
    PushVerificationError,
    RetryLater,
    handle_push,
    verify_push,
    verify_signature,
)

from .conftest import Server, eventually

SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    status: int


class Receiver:
    """A local HTTP endpoint answering rampart's deliveries through :func:`handle_push`."""

    def __init__(self, handler: Callable[[PushJob], Any]) -> None:
        self.deliveries: list[Delivery] = []
        receiver = self

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                resp = handle_push(SECRET, headers, body, handler)
                receiver.deliveries.append(Delivery(headers, body, resp.status))
                self.send_response(resp.status)
                for name, value in resp.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(resp.body)))
                self.end_headers()
                self.wfile.write(resp.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/jobs"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


def handler(job: PushJob) -> Any:
    kind = job.payload["kind"]
    if kind == "fatal":
        raise PermanentError("unknown customer")
    if kind == "later" and job.attempt == 1:
        raise RetryLater("upstream busy", retry_after=1)
    return {"handled": job.payload, "attempt": job.attempt}


@pytest.fixture
def pushed(own_server: Callable[..., Server]) -> Iterator[tuple[Server, Receiver]]:
    receiver = Receiver(handler)
    config = f'[queues.py-push]\ntarget = "{receiver.url}"\nsecret = "{SECRET}"\n'
    yield own_server(config), receiver
    receiver.http.shutdown()


def test_real_deliveries_are_verified_and_their_outcomes_mapped(pushed: tuple[Server, Receiver]) -> None:
    server, receiver = pushed
    with server.client() as client:
        q = client.queue("py-push")
        done = q.add({"kind": "ok"})["id"]
        fatal = q.add({"kind": "fatal"}, max_attempts=5)["id"]
        later = q.add({"kind": "later"}, max_attempts=3)["id"]
        job = client.jobs.wait(done, timeout=60)
        assert job["state"] == "completed" and job["result"] == {"handled": {"kind": "ok"}, "attempt": 1}
        dead = client.jobs.wait(fatal, timeout=60)
        assert dead["state"] == "dead" and dead["attempt"] == 1 and "422" in (dead["last_error"] or "")
        retried = client.jobs.wait(later, timeout=60)
        assert retried["state"] == "completed" and retried["attempt"] == 2
        assert "503" in retried["errors"][0]["error"]
    assert all(d.status != 401 for d in receiver.deliveries)


async def test_forged_and_stale_deliveries_are_refused(pushed: tuple[Server, Receiver]) -> None:
    server, receiver = pushed
    with server.client() as client:
        client.jobs.wait(client.queue("py-push").add({"kind": "ok"})["id"], timeout=60)
    real = eventually("a delivery", lambda: receiver.deliveries[0] if receiver.deliveries else None)
    job = verify_push(SECRET, real.headers, real.body)
    assert job.queue == "py-push" and job.message_id == f"job_{job.id}"
    stamp = int(real.headers["webhook-timestamp"])

    forged_body = real.body.replace(b'"ok"', b'"evil"')
    with pytest.raises(PushVerificationError, match="signature"):
        verify_push(SECRET, real.headers, forged_body)
    other_secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    with pytest.raises(PushVerificationError, match="signature"):
        verify_push(other_secret, real.headers, real.body)
    with pytest.raises(PushVerificationError, match="away from now"):
        verify_push(SECRET, real.headers, real.body, now=stamp + 301)
    assert verify_push(SECRET, real.headers, real.body, now=stamp + 299).id == job.id
    missing = {k: v for k, v in real.headers.items() if k != "webhook-signature"}
    with pytest.raises(PushVerificationError, match="missing"):
        verify_push(SECRET, missing, real.body)

    seen: list[PushJob] = []

    async def record(job: PushJob) -> dict[str, bool]:
        seen.append(job)
        return {"ok": True}

    endpoint = PushEndpoint(SECRET, record)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=endpoint), base_url="http://app") as http:
        accepted = await http.post("/", content=real.body, headers=real.headers)
        assert accepted.status_code == 200 and accepted.json() == {"ok": True}
        forged = await http.post("/", content=forged_body, headers=real.headers)
        assert forged.status_code == 401 and forged.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert [j.id for j in seen] == [job.id]


def test_the_standard_webhooks_example_verifies() -> None:
    # The specification's example, also checked by rampart-core's tests.
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,bm90IGl0 v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    body = json.dumps({"test": 2432232314}).encode()
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert verify_signature(secret, headers, body, now=1614265330) == ("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330)
    with pytest.raises(PushVerificationError):
        verify_signature(
            secret,
            {**headers, "webhook-signature": "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
            body,
            now=1614265330,
        )
