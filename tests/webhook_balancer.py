"""One address in front of several bot instances, as a load balancer is in production.

Telegram (here the emulator) posts each update to the balancer, which forwards it to the
next instance in turn and answers with that instance's answer. `duplicate=True` forwards
every update to two instances at once (or twice to one), as happens when Telegram redelivers
an update whose first delivery timed out while it was still being handled.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookBalancer:
    def __init__(self, backends: list[str], *, duplicate: bool = False):
        self.backends = backends
        self.duplicate = duplicate
        self.received: list[dict[str, Any]] = []  # every update, as Telegram posted it
        self.answers: list[int] = []  # the statuses the instances gave
        self._turns = 0
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self, path: str = "/telegram") -> str:
        app = web.Application()
        app.router.add_post(path, self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self._http = aiohttp.ClientSession()
        self.url = f"http://127.0.0.1:{port}{path}"
        return self.url

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def post(self, backend: str, body: bytes, secret: str) -> tuple[int, bytes]:
        assert self._http is not None
        async with self._http.post(
            backend,
            data=body,
            headers={SECRET_HEADER: secret, "Content-Type": "application/json"},
        ) as response:
            return response.status, await response.read()

    def _next_backend(self) -> str:
        """Round robin over `backends` (which may be set after start)."""
        backend = self.backends[self._turns % len(self.backends)]
        self._turns += 1
        return backend

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(json.loads(body))
        secret = request.headers.get(SECRET_HEADER, "")
        first = self._next_backend()
        if not self.duplicate:
            status, answer = await self.post(first, body, secret)
        else:
            second = self._next_backend()
            (status, answer), (other, _) = await asyncio.gather(
                self.post(first, body, secret), self.post(second, body, secret)
            )
            self.answers.append(other)
        self.answers.append(status)
        return web.Response(status=status, body=answer, content_type="application/json")
