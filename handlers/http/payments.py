"""Payment providers' notifications (issue 17): `POST /payments/yookassa/{shop_id}`, thin.

Reads the body within YooKassa's cap and hands it to the service, which believes nothing in it
until the payment is fetched back from YooKassa's API. YooKassa sends a notification again
until it gets 200, so: 200 once handled (applied or nothing to do), 400 for a body that is no
notification, 404 for a shop without YooKassa, 503 when YooKassa's API did not answer.
"""

from __future__ import annotations

from aiohttp import web

from services.payments.yookassa import MAX_NOTIFICATION_BYTES
from services.payments.yookassa_payments import Received, YooKassaPayments

YOOKASSA = web.AppKey("yookassa_payments", YooKassaPayments)
STATUS = {
    Received.APPLIED: 200,
    Received.IGNORED: 200,
    Received.INVALID: 400,
    Received.UNKNOWN_SHOP: 404,
    Received.UNAVAILABLE: 503,
}


async def yookassa_notification(request: web.Request) -> web.Response:
    shop_id = request.match_info["shop_id"]
    if not shop_id.isdigit() or len(shop_id) > 12:
        return web.Response(status=404, text="unknown shop")
    if request.content_length is not None and request.content_length > MAX_NOTIFICATION_BYTES:
        return web.Response(status=413, text="too large")
    body = await request.content.read(MAX_NOTIFICATION_BYTES + 1)
    if len(body) > MAX_NOTIFICATION_BYTES:
        return web.Response(status=413, text="too large")
    received = await request.app[YOOKASSA].notified(int(shop_id), body)
    return web.Response(status=STATUS[received], text=received.value)


def payments_app(yookassa: YooKassaPayments) -> web.Application:
    app = web.Application()
    app[YOOKASSA] = yookassa
    app.add_routes([web.post("/yookassa/{shop_id}", yookassa_notification)])
    return app
