"""Carriers' webhooks (issue 18): `POST /carriers/cdek`, thin.

CDEK's ORDER_STATUS webhook is not signed, so it is only a hint: the CDEK numbers it names
are fetched back through CDEK's API (the shop's own credentials) by the tracking sweep, and
only what the API answers moves an order. A body that is not a CDEK webhook changes nothing
and is logged; a number nobody follows is ignored. CDEK is answered 200 for anything it may
stop resending.
"""

from __future__ import annotations

import logging

from aiohttp import web

from services.carriers.cdek import MAX_WEBHOOK_BYTES, WebhookRejected, parse_webhook
from services.deliveries.sweep import TrackingSweep

log = logging.getLogger(__name__)

TRACKING = web.AppKey("tracking", TrackingSweep)


async def cdek(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_WEBHOOK_BYTES:
        return web.Response(status=413, text="too large")
    body = await request.content.read(MAX_WEBHOOK_BYTES + 1)
    try:
        codes = parse_webhook(body)
    except WebhookRejected as error:
        log.warning("a CDEK webhook refused: %s (%d bytes)", error, len(body))
        return web.Response(status=400, text="not a CDEK webhook")
    report = await request.app[TRACKING].refresh("cdek", codes)
    return web.Response(text=f"ok: {report.parcels} followed")


def carriers_app(tracking: TrackingSweep) -> web.Application:
    app = web.Application()
    app[TRACKING] = tracking
    app.add_routes([web.post("/cdek", cdek)])
    return app
