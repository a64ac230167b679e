"""The bot's HTTP server: one aiohttp application for everything the bot serves over HTTP, its
routes from handlers/http (health, readiness and metrics; the pages behind e-mail links).
`build_web_app` returns it unfrozen: more routes (the storefront API, a Telegram webhook) are
added with `app.add_routes(...)` or given as sub-applications, before `start_web` runs it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from aiogram.utils.i18n import I18n
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from bot.container import Container
from bot.i18n import build_i18n
from bot.mail import signer_of
from handlers.http.api import MAX_BODY_BYTES as API_MAX_BODY_BYTES
from handlers.http.api import api_app
from handlers.http.api.callbacks import CallbacksApi
from handlers.http.api.gate import Gate
from handlers.http.api.order_changes import OrderChangesApi
from handlers.http.api.order_list import OrderListApi
from handlers.http.api.orders import StorefrontApi
from handlers.http.api.products import ProductsApi
from handlers.http.app import Desk, mini_app
from handlers.http.app.identity import Identify
from handlers.http.app.render import Renderer
from handlers.http.carriers import carriers_app
from handlers.http.connectors import connectors_app
from handlers.http.links.pages import LinkPages
from handlers.http.ops import OperationsRoutes
from handlers.http.payments import PayLinks, payments_app
from services import metrics
from services.deliveries.sweep import TrackingSweep
from services.messaging.email.links import LinkSigner
from services.storefront.payments import StorefrontPayments
from storage.database import ping

log = logging.getLogger(__name__)

# Forms and small JSON bodies; a bigger body is refused with 413 before it is read.
MAX_BODY_BYTES = 64 * 1024

CONTAINER = web.AppKey("container", Container)
SIGNER = web.AppKey("signer", LinkSigner)
I18N = web.AppKey("i18n", I18n)

# A link's token is the buyer's key to their order, a login link's the person's, a
# connection's the way in for a platform's posts: none is written to the access log.
_TOKEN_IN_PATH = re.compile(r"^(/l|/app/login|/connectors/[^/?]+|/payments/pay)/[^/?]+")


class AccessLogger(AbstractAccessLogger):
    """The access log without the secrets that travel in paths and queries."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        path = _TOKEN_IN_PATH.sub(r"\1/…", request.path)
        self.logger.info(
            '%s "%s %s" %s %.3fs',
            request.remote,
            request.method,
            path,
            response.status,
            time,
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
    pages = LinkPages(
        container.orders,
        container.clock,
        signer,
        bot_username=bot_username,
        i18n=i18n,
        documents=container.documents,
    )
    operations = OperationsRoutes(
        ping=lambda: ping(container.engine),
        read_backlog=lambda: metrics.read_backlog(container.sessions, container.clock.now()),
    )
    app.add_routes(
        [
            *operations.routes(),
            *pages.routes(),
        ]
    )
    for prefix, subapp in (subapps or {}).items():
        app.add_subapp(prefix, subapp)
    return app


def build_api_app(
    container: Container, *, bot_username: str | None, max_body_bytes: int = API_MAX_BODY_BYTES
) -> web.Application:
    """The storefront API to mount at /api: `build_web_app(..., subapps={"/api": ...})`.

    `bot_username` (without @) makes the buyers' Telegram deep links in answers; None: none.
    Bodies over `max_body_bytes` are refused with 413 before they are read whole.
    """
    gate = Gate(container.api_tokens, container.rate_limiter)
    return api_app(
        StorefrontApi(
            gate=gate,
            orders=container.storefront_orders,
            queries=container.storefront_queries,
            bot_username=bot_username,
            max_body_bytes=max_body_bytes,
        ),
        OrderListApi(gate=gate, listing=container.storefront_listing),
        ProductsApi(  # issue 19: products and stock
            gate=gate,
            products=container.products,
            keyed=container.keyed,
            max_body_bytes=max_body_bytes,
        ),
        OrderChangesApi(
            gate=gate,
            changes=container.storefront_changes,
            keyed=container.keyed,
            max_body_bytes=max_body_bytes,
            payments=StorefrontPayments(
                container.orders, container.storefront_queries, container.payments
            ),
        ),
        CallbacksApi(
            gate=gate,
            callbacks=container.callbacks,
            keyed=container.keyed,
            max_body_bytes=max_body_bytes,
        ),
        max_in_flight=container.settings.api_max_in_flight,
        queue_seconds=container.settings.api_queue_seconds,
    )


def build_carriers_app(tracking: TrackingSweep) -> web.Application:
    """The carriers' webhooks (CDEK's), to mount at /carriers: hints to fetch back."""
    return carriers_app(tracking)


def build_connectors_app(container: Container) -> web.Application:
    """The platforms' inbound webhooks, to mount at /connectors."""
    return connectors_app(container.connector_inbound)


def build_payments_app(container: Container) -> web.Application:
    """Payment providers' notifications (issue 17), to mount at /payments."""
    settings = container.settings
    links = PayLinks(signer_of(settings), container.clock, settings.public_url)
    return payments_app(container.yookassa_payments, links)


def build_mini_app(container: Container, i18n: I18n | None = None) -> web.Application:
    """The Telegram Mini App to mount at /app: `build_web_app(..., subapps={"/app": ...})`.

    Inside Telegram it trusts initData signed with BOT_TOKEN; a desktop browser signs in with
    the single-use link `/web` gives. The cookie is Secure when PUBLIC_URL is https.
    """
    settings = container.settings
    desk = Desk(
        identify=Identify(
            bot_token=settings.bot_token.get_secret_value(),
            users=container.users,
            login=container.desk_login,
            clock=container.clock,
            public_url=settings.public_url,
        ),
        renderer=Renderer(i18n or build_i18n()),
        orders=container.orders,
        table=container.desk_table,
        board=container.desk_board,
        numbers=container.desk_numbers,
        scope=container.desk_scope,
        buyers=container.buyers,
        users=container.users,
        dialog=container.dialog,
        documents=container.documents,
        login=container.desk_login,
        workflows=container.workflow_editor,
        secure_cookies=settings.public_url.startswith("https://"),
    )
    return mini_app(desk)


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
