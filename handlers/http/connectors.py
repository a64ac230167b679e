"""The platforms' webhooks (H4): `POST /connectors/{platform}/{token}`, thin.

Reads the body within the platforms' cap (413 past it, before more is read), hands the
headers and the raw bytes (signatures are over them) to the inbound service, and answers
what it says: the platform's probe answer, 200 for anything taken or kept, 401 unverified,
404 for an unknown connection, 503 when the database stayed busy (the platform retries).
"""

from __future__ import annotations

from aiohttp import web

from services.storefront.connections.inbound import ConnectorInbound
from services.storefront.connectors.base import MAX_BODY_BYTES

INBOUND = web.AppKey("connector_inbound", ConnectorInbound)


async def receive(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return web.Response(status=413, text="too large")
    body = bytearray()
    while len(body) <= MAX_BODY_BYTES:
        chunk = await request.content.read(MAX_BODY_BYTES + 1 - len(body))
        if not chunk:
            break
        body += chunk
    else:
        return web.Response(status=413, text="too large")
    received = await request.app[INBOUND].receive(
        request.match_info["platform"],
        request.match_info["token"],
        dict(request.headers),
        bytes(body),
    )
    return web.Response(status=received.status, text=received.text)


def connectors_app(inbound: ConnectorInbound) -> web.Application:
    app = web.Application()
    app[INBOUND] = inbound
    app.add_routes([web.post("/{platform}/{token}", receive)])
    return app
