"""The storefront API (G1, H4), an aiohttp sub-application mounted at /api by the web server.

One module per resource, each a class with `routes()`: orders (create, read), order_list,
order_changes (cancel, edit, shipment), callbacks (one-click buy). A new resource is a new
module, its routes given to `api_app`, its paths added to the OpenAPI document (openapi.py).
"""

from __future__ import annotations

from aiohttp import web

from handlers.http.api.errors import json_errors
from handlers.http.api.in_flight import bounded
from handlers.http.api.openapi import openapi_document
from handlers.http.api.orders import StorefrontApi

__all__ = ["MAX_BODY_BYTES", "StorefrontApi", "api_app"]

# An order of 200 items with long names fits with room to spare.
MAX_BODY_BYTES = 256 * 1024


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


def api_app(*resources, max_in_flight: int, queue_seconds: float) -> web.Application:
    """The app to mount at /api: the resources' routes, the OpenAPI document, errors as JSON;
    at most `max_in_flight` requests worked on at once, the rest waiting their turn."""
    app = web.Application(middlewares=[bounded(max_in_flight, queue_seconds), json_errors])
    app.add_routes([web.get("/v1/openapi.json", _openapi)])
    for resource in resources:
        app.add_routes(resource.routes())
    return app
