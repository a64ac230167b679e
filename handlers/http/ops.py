"""Operations routes: liveness, readiness for a load balancer, Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services import metrics

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store"}
READY_TIMEOUT = 3.0  # seconds: a load balancer's probe must not hang on a stuck database


class OperationsRoutes:
    """`ping()` raises when the database does not answer; `read_backlog()` sets the gauges
    read from the database at each scrape."""

    def __init__(
        self,
        ping: Callable[[], Awaitable[None]],
        read_backlog: Callable[[], Awaitable[None]],
    ):
        self._ping = ping
        self._read_backlog = read_backlog

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/healthz", self.healthz),
            web.get("/readyz", self.readyz),
            web.get("/metrics", self.metrics_page),
        ]

    async def healthz(self, request: web.Request) -> web.Response:
        """Alive: the process answers (a restart helps only if this fails)."""
        return web.Response(text="ok", headers=NO_STORE)

    async def readyz(self, request: web.Request) -> web.Response:
        """Ready: the database answers; a load balancer sends no traffic here otherwise."""
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await self._ping()
        except Exception as error:  # any failure means "not ready", with the reason logged
            log.warning("not ready: %s: %s", type(error).__name__, error)
            return web.Response(text="database unavailable", status=503, headers=NO_STORE)
        return web.Response(text="ready", headers=NO_STORE)

    async def metrics_page(self, request: web.Request) -> web.Response:
        """Prometheus text format: this instance's counters, the shared backlog read now."""
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await self._read_backlog()
        except Exception as error:  # the counters are still worth serving
            log.warning("metrics: backlog not read: %s: %s", type(error).__name__, error)
        return web.Response(
            body=generate_latest(metrics.REGISTRY),
            headers={**NO_STORE, "Content-Type": CONTENT_TYPE_LATEST},
        )
