"""The storefront API (G1), an aiohttp sub-application mounted at /api by the web server."""

from __future__ import annotations

from aiohttp import web

from bot.container import Container
from handlers.http.api.errors import json_errors
from handlers.http.api.openapi import openapi_document
from handlers.http.api.orders import StorefrontApi
from handlers.http.api.webhook_client import AiohttpPoster
from services.messaging.webhooks.pump import MAX_ATTEMPTS, WebhookPump
from services.storefront.queries import StorefrontQueries

# An order of 200 items with long names fits with room to spare.
MAX_BODY_BYTES = 256 * 1024


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


def build_api_app(
    container: Container, *, bot_username: str | None, max_body_bytes: int = MAX_BODY_BYTES
) -> web.Application:
    """The app to mount at /api: `build_web_app(..., subapps={"/api": build_api_app(...)})`.

    `bot_username` (without @) makes the buyers' Telegram deep links in answers; None: none.
    Bodies over `max_body_bytes` are refused with 413 before they are read whole.
    """
    api = StorefrontApi(
        orders=container.orders,
        tokens=container.api_tokens,
        keys=container.idempotency,
        queries=StorefrontQueries(container.sessions, container.workflows),
        bot_username=bot_username,
        max_body_bytes=max_body_bytes,
    )
    app = web.Application(middlewares=[json_errors])
    app.add_routes([web.get("/v1/openapi.json", _openapi), *api.routes()])
    return app


def build_webhook_pump(
    container: Container, *, max_attempts: int = MAX_ATTEMPTS, idle: float = 2.0
) -> WebhookPump:
    """The pump sending status changes to storefronts: `await pump.run(stop_event)` in the
    background, or `await pump.run_once()`. Several (one per instance) may run at once."""
    return WebhookPump(
        container.sessions, container.clock, AiohttpPoster(), max_attempts=max_attempts, idle=idle
    )
