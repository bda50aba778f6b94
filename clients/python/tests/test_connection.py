"""The keep-alive transport answers as httpx's own does, and recovers from closed connections."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from rampart_client.connection import KeepAliveSyncTransport, KeepAliveTransport

from .conftest import Server


async def test_answers_match_httpx_own_transport(server: Server) -> None:
    headers = {"authorization": f"Bearer {server.key}"}
    lean = httpx.AsyncClient(base_url=server.url, headers=headers, transport=KeepAliveTransport(4))
    plain = httpx.AsyncClient(base_url=server.url, headers=headers)
    async with lean, plain:
        for path in ("/health", "/metrics", "/v1/queues", "/v1/jobs/424242", "/v1/nothing"):
            ours, theirs = await lean.get(path), await plain.get(path)
            assert ours.status_code == theirs.status_code, path
            assert ours.headers.get("content-type") == theirs.headers.get("content-type"), path
            if path != "/metrics":  # its counters move between the two reads
                assert ours.content == theirs.content or ours.json().keys() == theirs.json().keys(), path
        created = await lean.post("/v1/queues/py-conn/jobs", json={"payload": {"x": "é" * 5000}})
        assert created.status_code == 201
        job = await lean.get(f"/v1/jobs/{created.json()['id']}")
        assert job.json()["payload"] == {"x": "é" * 5000}
        deleted = await lean.delete("/v1/keys/no-such-key")
        assert deleted.status_code == 404


async def test_a_connection_closed_by_the_server_is_replaced(own_server: Callable[..., Server]) -> None:
    server = own_server()
    headers = {"authorization": f"Bearer {server.key}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, transport=KeepAliveTransport(2)) as http:
        assert (await http.get("/health")).status_code == 200
        server.kill()
        server.start()  # the kept-alive connection is dead now
        assert (await http.get("/health")).status_code == 200


def test_the_sync_transport_matches_and_recovers(own_server: Callable[..., Server]) -> None:
    server = own_server()
    headers = {"authorization": f"Bearer {server.key}"}
    lean = httpx.Client(base_url=server.url, headers=headers, transport=KeepAliveSyncTransport(2))
    plain = httpx.Client(base_url=server.url, headers=headers)
    with lean, plain:
        for path in ("/health", "/v1/queues", "/v1/jobs/424242"):
            ours, theirs = lean.get(path), plain.get(path)
            assert (ours.status_code, ours.json().keys()) == (theirs.status_code, theirs.json().keys()), path
        assert "rampart" in lean.get("/metrics").text
        created = lean.post("/v1/queues/py-conn/jobs", json={"payload": [1, 2, 3]})
        assert created.status_code == 201
        assert lean.delete("/v1/keys/no-such-key").status_code == 404
        server.kill()
        server.start()
        assert lean.get("/health").status_code == 200
