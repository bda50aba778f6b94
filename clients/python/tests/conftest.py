"""Fixtures: a real ``rampart serve`` on a free port with a fresh data directory.

The binary is ``RAMPART_BIN``, else ``target/debug/rampart`` of the repository (built by
``cargo build -p rampart``). One server serves the whole session (each test uses queues of
its own); tests that restart or configure it start their own with :class:`Server`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from rampart_client import AsyncRampart, Rampart

REPO = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("RAMPART_BIN") or REPO / "target" / "debug" / "rampart")

# One line per request would drown the output of a failing test.
logging.getLogger("httpx").setLevel(logging.WARNING)

#: Far beyond what a healthy run needs, so a slow machine never fails a test.
PATIENCE = 60.0

T = TypeVar("T")


def eventually(what: str, probe: Callable[[], T | None], patience: float = PATIENCE) -> T:
    """Polls ``probe`` until it answers something other than ``None`` or ``False``."""
    deadline = time.monotonic() + patience
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        assert time.monotonic() < deadline, f"gave up after {patience}s waiting for {what}"
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """A ``rampart serve`` process; ``start()`` again after ``kill()`` reuses the port and data."""

    def __init__(self, data_dir: Path, config: str | None = None) -> None:
        if not BIN.exists():
            pytest.fail(f"no rampart binary at {BIN}: run `cargo build -p rampart` or set RAMPART_BIN")
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = None
        if config is not None:
            self.config = data_dir.parent / f"{data_dir.name}.toml"
            self.config.write_text(config)
        self.log = data_dir.parent / f"{data_dir.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        for name in ("DATABASE_URL", "REDIS_URL", "SENTRY_DSN"):
            env.pop(name, None)
        args = [str(BIN), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir)]
        if self.config is not None:
            args += ["--config", str(self.config)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env)

        def up() -> bool:
            assert self.process is not None
            assert self.process.poll() is None, f"rampart exited: {self.log.read_text()[-2000:]}"
            try:
                return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        eventually("the server to answer /health", up)
        return self

    @property
    def key(self) -> str:
        return (self.data_dir / "admin.key").read_text().strip()

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self) -> Rampart:
        return Rampart(self.url, self.key)

    def async_client(self) -> AsyncRampart:
        return AsyncRampart(self.url, self.key)


#: The session server's configuration: a breaker quick to open and to recover, and
#: every expired lease counted as an attempt (no stall spared), which the tests of
#: lost leases count on.
SESSION_CONFIG = """
[queue_defaults]
max_stalls = 0

[breakers.py-flaky]
failure_threshold = 2
cooldown = "1s"
"""


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("rampart") / "data", SESSION_CONFIG).start()
    yield srv
    srv.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Starts servers of the test's own (a config, a restart); stops them after it."""
    started: list[Server] = []

    def make(config: str | None = None) -> Server:
        srv = Server(tmp_path / f"data{len(started)}", config)
        started.append(srv)
        return srv.start()

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def client(server: Server) -> Iterator[Rampart]:
    with server.client() as c:
        yield c


@pytest.fixture
async def aclient(server: Server) -> AsyncIterator[AsyncRampart]:
    async with server.async_client() as c:
        yield c


@pytest.fixture
def queue_name() -> str:
    """A queue no other test uses."""
    return f"q-{uuid.uuid4().hex[:12]}"
