"""The bot's HTTP server: health, readiness, metrics and the pages behind e-mail links (D2).

One aiohttp application for everything the bot serves over HTTP. `build_web_app` returns it
unfrozen: more routes (the storefront API, a Telegram webhook) are added with
`app.add_routes(...)` or given as sub-applications, before `start_web` runs it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping

from aiogram.utils.i18n import I18n
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from bot.container import Container
from bot.i18n import build_i18n
from bot.link_pages import LinkPages
from services import metrics
from services.email.links import LinkSigner

log = logging.getLogger(__name__)

# Forms and small JSON bodies; a bigger body is refused with 413 before it is read.
MAX_BODY_BYTES = 64 * 1024

CONTAINER = web.AppKey("container", Container)
SIGNER = web.AppKey("signer", LinkSigner)
I18N = web.AppKey("i18n", I18n)

# A link's token is the buyer's key to their order: never written to the access log.
_TOKEN_IN_PATH = re.compile(r"^/l/[^/?]+")


class AccessLogger(AbstractAccessLogger):
    """The access log without the secrets that travel in paths and queries."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        path = _TOKEN_IN_PATH.sub("/l/…", request.path)
        self.logger.info(
            '%s "%s %s" %s %.3fs',
            request.remote,
            request.method,
            path,
            response.status,
            time,
        )


NO_STORE = {"Cache-Control": "no-store"}
READY_TIMEOUT = 3.0  # seconds: a load balancer's probe must not hang on a stuck database


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers (a restart helps only if this fails)."""
    return web.Response(text="ok", headers=NO_STORE)


async def readyz(request: web.Request) -> web.Response:
    """Ready: the database answers; a load balancer sends no traffic here otherwise."""
    engine = request.app[CONTAINER].engine
    try:
        async with asyncio.timeout(READY_TIMEOUT), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure means "not ready", with the reason logged
        log.warning("not ready: %s: %s", type(error).__name__, error)
        return web.Response(text="database unavailable", status=503, headers=NO_STORE)
    return web.Response(text="ready", headers=NO_STORE)


async def metrics_page(request: web.Request) -> web.Response:
    """Prometheus text format: this instance's counters, the shared backlog read now."""
    container = request.app[CONTAINER]
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await metrics.read_backlog(container.sessions, container.clock.now())
    except Exception as error:  # the counters are still worth serving
        log.warning("metrics: backlog not read: %s: %s", type(error).__name__, error)
    return web.Response(
        body=generate_latest(metrics.REGISTRY),
        headers={**NO_STORE, "Content-Type": CONTENT_TYPE_LATEST},
    )


def build_web_app(
    container: Container,
    signer: LinkSigner,
    *,
    bot_username: str | None,
    i18n: I18n | None = None,
    subapps: Mapping[str, web.Application] | None = None,
    client_max_size: int = MAX_BODY_BYTES,
) -> web.Application:
    """The application: `GET /healthz`, `/readyz`, `/metrics`, `GET|POST /l/{token}`, and the
    given sub-apps.

    `bot_username`: the bot's @username without the @, for "open in Telegram" (None: the
    pages say the bot cannot be reached). `subapps`: prefix -> application, e.g.
    {"/api": storefront_app}. The container, the signer and the translations are in
    `app[CONTAINER]`, `app[SIGNER]`, `app[I18N]` for handlers added later.
    """
    i18n = i18n or build_i18n()
    app = web.Application(client_max_size=client_max_size)
    app[CONTAINER] = container
    app[SIGNER] = signer
    app[I18N] = i18n
    pages = LinkPages(container, signer, bot_username=bot_username, i18n=i18n)
    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.get("/readyz", readyz),
            web.get("/metrics", metrics_page),
            *pages.routes(),
        ]
    )
    for prefix, subapp in (subapps or {}).items():
        app.add_subapp(prefix, subapp)
    return app


async def start_web(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve `app` on host:port (0: any free port, see `runner.addresses`).

    The caller owns the runner: `await runner.cleanup()` stops the server.
    """
    runner = web.AppRunner(app, handle_signals=False, access_log_class=AccessLogger)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info("serving HTTP on %s", ", ".join(str(a) for a in runner.addresses))
    return runner
