"""What every resource of a client shares: the connection pool, the settings, and one way to call."""

from __future__ import annotations

from typing import Any

import httpx

from .transport import Request, Settings, decode, send, send_async


class SyncResource:
    """What the sync resources share: the pool and the settings."""

    def __init__(self, http: httpx.Client, settings: Settings) -> None:
        self._http = http
        self._settings = settings

    def _call(self, req: Request) -> Any:
        return decode(send(self._http, self._settings, req))


class AsyncResource:
    """What the async resources share: the pool and the settings."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self._http = http
        self._settings = settings

    async def _call(self, req: Request) -> Any:
        return decode(await send_async(self._http, self._settings, req))
