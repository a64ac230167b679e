"""The storefront API (G1), an aiohttp sub-application mounted at /api by the web server."""

from __future__ import annotations

from aiohttp import web

from handlers.http.api.errors import json_errors
from handlers.http.api.openapi import openapi_document
from handlers.http.api.orders import StorefrontApi

# An order of 200 items with long names fits with room to spare.
MAX_BODY_BYTES = 256 * 1024


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


def api_app(api: StorefrontApi) -> web.Application:
    """The app to mount at /api: its routes, the OpenAPI document, errors as JSON."""
    app = web.Application(middlewares=[json_errors])
    app.add_routes([web.get("/v1/openapi.json", _openapi), *api.routes()])
    return app
