"""Lean HTTP/1.1 keep-alive transports for ``httpx``: asyncio streams, and blocking sockets.

Why: httpx's own async transport (httpcore over anyio) spends about a millisecond of CPU per
request on a small machine and writes a request's head and body in two packets, each of
which wakes the server; a rate-limit check in a web request, and the worker's leases and
acks, pay that on every call. This transport writes each request in one packet and reads
the answer with asyncio's stream reader (or a buffered socket, for the sync client): about a
tenth of the cost (``bench/middleware.py``).
It speaks only what rampart needs: plain ``http://``, bodies given whole, answers with a
``Content-Length`` or chunked. Everything else about the client (``httpx``'s requests,
responses, timeouts and errors) stays as it is, and ``https://`` URLs use httpx's transport.

One pool of kept-alive connections, at most ``max_connections`` open; a connection comes back
to the pool only after a whole answer was read, so a cancelled request never leaves one
half-read. A kept-alive connection the server has closed meanwhile is replaced once, as
httpx does, when nothing of the answer had arrived.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import deque
from typing import BinaryIO

import httpx

#: The most bytes of an answer's head.
MAX_HEAD = 64 * 1024


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class _Stale(Exception):
    """A reused connection was closed by the server before it answered anything."""


class KeepAliveTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests over a pool of kept-alive HTTP/1.1 connections."""

    def __init__(self, max_connections: int = 32) -> None:
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        connect_timeout = timeouts.get("connect")
        read_timeout = timeouts.get("read")
        head = _head(request)
        async with self._slots:
            while True:
                conn, reused = self._take(), True
                if conn is None:
                    conn, reused = await self._open(request, connect_timeout), False
                try:
                    status, headers, body, keep = await asyncio.wait_for(
                        self._exchange(conn, head, reused), read_timeout
                    )
                except _Stale:
                    conn.close()
                    continue
                except asyncio.TimeoutError:
                    conn.close()
                    raise httpx.ReadTimeout("no answer within the timeout", request=request) from None
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
                    conn.close()
                    raise httpx.ReadError(f"the connection failed: {e!r}", request=request) from e
                except BaseException:
                    # Cancelled mid-answer: the connection holds an unread answer.
                    conn.close()
                    raise
                if keep and not self._closed:
                    self._idle.append(conn)
                else:
                    conn.close()
                return httpx.Response(status, headers=headers, content=body, request=request)

    def _take(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.reader.at_eof() and not conn.writer.is_closing():
                return conn
            conn.close()
        return None

    async def _open(self, request: httpx.Request, timeout: float | None) -> _Connection:
        url = request.url
        port = url.port or 80
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(url.host, port, limit=MAX_HEAD), timeout)
        except asyncio.TimeoutError:
            raise httpx.ConnectTimeout(f"cannot connect to {url.host}:{port} in time", request=request) from None
        except OSError as e:
            raise httpx.ConnectError(f"cannot connect to {url.host}:{port}: {e}", request=request) from e
        return _Connection(reader, writer)

    async def _exchange(
        self, conn: _Connection, head: bytes, reused: bool
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        try:
            conn.writer.write(head)
            await conn.writer.drain()
            raw = await conn.reader.readuntil(b"\r\n\r\n")
        except (OSError, asyncio.IncompleteReadError) as e:
            if reused and not (isinstance(e, asyncio.IncompleteReadError) and e.partial):
                raise _Stale() from e
            raise
        code, headers, length, chunked, keep = _parse_head(raw)
        if chunked:
            body = await _read_chunked(conn.reader)
        elif length is not None:
            body = await conn.reader.readexactly(length)
        elif code in (204, 304) or 100 <= code < 200:
            body = b""
        else:
            body = await conn.reader.read()
            keep = False
        # httpx must not decode the length or chunks again.
        headers = [(k, v) for k, v in headers if k != b"transfer-encoding"]
        return code, headers, body, keep

    async def aclose(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()


def _parse_head(raw: bytes) -> tuple[int, list[tuple[bytes, bytes]], int | None, bool, bool]:
    """An answer's status, headers, length, whether chunked and whether the connection stays open."""
    lines = raw.split(b"\r\n")
    version, status, _ = (lines[0].decode("latin-1") + " ").split(" ", 2)
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1 answer: {lines[0][:40]!r}")
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    chunked = False
    keep = version == "HTTP/1.1"
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip()
        headers.append((name, value))
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep = value.lower() != b"close" if keep else value.lower() == b"keep-alive"
    return int(status), headers, length, chunked, keep


def _head(request: httpx.Request) -> bytes:
    """The request's head and body, to be written at once."""
    body = request.read()
    url = request.url
    target = url.raw_path
    lines = [request.method.encode() + b" " + target + b" HTTP/1.1"]
    has_length = False
    for name, value in request.headers.raw:
        lower = name.lower()
        if lower == b"transfer-encoding":
            continue
        has_length = has_length or lower == b"content-length"
        lines.append(name + b": " + value)
    if not has_length and (body or request.method in ("POST", "PUT", "PATCH")):
        lines.append(b"content-length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            # Trailers, if any, end with an empty line.
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


class KeepAliveSyncTransport(httpx.BaseTransport):
    """The same for ``httpx.Client``, on blocking sockets, safe to share between threads."""

    def __init__(self, max_connections: int = 32) -> None:
        self._idle: deque[tuple[socket.socket, BinaryIO]] = deque()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        head = _head(request)
        with self._slots:
            while True:
                conn, reused = self._take(), True
                if conn is None:
                    conn, reused = self._open(request, timeouts.get("connect")), False
                sock, reader = conn
                try:
                    sock.settimeout(timeouts.get("read"))
                    status, headers, body, keep = self._exchange(sock, reader, head, reused)
                except _Stale:
                    _close(conn)
                    continue
                except TimeoutError:
                    _close(conn)
                    raise httpx.ReadTimeout("no answer within the timeout", request=request) from None
                except (OSError, ValueError) as e:
                    _close(conn)
                    raise httpx.ReadError(f"the connection failed: {e!r}", request=request) from e
                except BaseException:
                    _close(conn)
                    raise
                with self._lock:
                    if keep and not self._closed:
                        self._idle.append(conn)
                        conn = None
                if conn is not None:
                    _close(conn)
                return httpx.Response(status, headers=headers, content=body, request=request)

    def _take(self) -> tuple[socket.socket, BinaryIO] | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def _open(self, request: httpx.Request, timeout: float | None) -> tuple[socket.socket, BinaryIO]:
        url = request.url
        port = url.port or 80
        try:
            sock = socket.create_connection((url.host, port), timeout=timeout)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"cannot connect to {url.host}:{port} in time", request=request) from None
        except OSError as e:
            raise httpx.ConnectError(f"cannot connect to {url.host}:{port}: {e}", request=request) from e
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, sock.makefile("rb")

    def _exchange(
        self, sock: socket.socket, reader: BinaryIO, head: bytes, reused: bool
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        try:
            sock.sendall(head)
            first = reader.readline(MAX_HEAD)
        except (ConnectionError, BrokenPipeError) as e:
            if reused:
                raise _Stale() from e
            raise
        if not first:
            if reused:
                raise _Stale()
            raise ValueError("the server closed the connection without an answer")
        lines = [first]
        size = len(first)
        while lines[-1] != b"\r\n":
            line = reader.readline(MAX_HEAD)
            size += len(line)
            if not line or size > MAX_HEAD:
                raise ValueError("the answer's head is cut short or too long")
            lines.append(line)
        code, headers, length, chunked, keep = _parse_head(b"".join(lines))
        if chunked:
            body = _read_chunked_sync(reader)
        elif length is not None:
            body = _read_exactly(reader, length)
        elif code in (204, 304) or 100 <= code < 200:
            body = b""
        else:
            body = reader.read()
            keep = False
        headers = [(k, v) for k, v in headers if k != b"transfer-encoding"]
        return code, headers, body, keep

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle), deque()
        for conn in idle:
            _close(conn)


def _close(conn: tuple[socket.socket, BinaryIO]) -> None:
    conn[1].close()
    conn[0].close()


def _read_exactly(reader: BinaryIO, n: int) -> bytes:
    data = reader.read(n)
    if len(data) != n:
        raise ValueError(f"the answer was cut short: {len(data)} of {n} bytes")
    return data


def _read_chunked_sync(reader: BinaryIO) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int(reader.readline(MAX_HEAD).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while reader.readline(MAX_HEAD) not in (b"\r\n", b""):
                pass
            return b"".join(parts)
        parts.append(_read_exactly(reader, size))
        _read_exactly(reader, 2)
