"""Payment providers' notifications (issue 17): `POST /payments/yookassa/{shop_id}`, thin;
and the e-mail's "Pay by card" link, `GET /payments/pay/{token}`.

Reads the body within YooKassa's cap and hands it to the service, which believes nothing in it
until the payment is fetched back from YooKassa's API. YooKassa sends a notification again
until it gets 200, so: 200 once handled (applied or nothing to do), 400 for a body that is no
notification, 404 for a shop without YooKassa, 503 when YooKassa's API did not answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from services.messaging.email.links import OPEN_IN_TELEGRAM, LinkRefused, LinkSigner
from services.orders.actors import ActorRef, Channel
from services.payments.settings import PAY_BY_CARD
from services.payments.yookassa import MAX_NOTIFICATION_BYTES, ProviderError
from services.payments.yookassa_payments import Received, YooKassaPayments
from services.refusals import OrderRefused
from services.time.clock import Clock

YOOKASSA = web.AppKey("yookassa_payments", YooKassaPayments)
STATUS = {
    Received.APPLIED: 200,
    Received.IGNORED: 200,
    Received.INVALID: 400,
    Received.UNKNOWN_SHOP: 404,
    Received.UNAVAILABLE: 503,
}


async def pay_by_card(request: web.Request) -> web.Response:
    """The e-mail's "Pay by card": a signed link of ours, for the order's buyer, that opens
    YooKassa's page for what is due now. An order no longer awaiting payment (or a shop
    without YooKassa) lands on the order's own page instead, which says where it is."""
    links = request.app[LINKS]
    try:
        link = links.signer.read_action(request.match_info["token"], links.clock.now())
    except LinkRefused:
        raise web.HTTPNotFound(text="This link is not valid any more.") from None
    if link.action != PAY_BY_CARD:
        raise web.HTTPNotFound(text="This link is not valid any more.")
    try:
        paying = await request.app[YOOKASSA].payment_link(
            link.order_id, ActorRef.buyer(link.buyer_id, Channel.EMAIL), f"#{link.order_id}"
        )
    except (OrderRefused, ProviderError):
        token = links.signer.action_token(
            link.order_id, link.buyer_id, OPEN_IN_TELEGRAM, links.clock.now()
        )
        raise web.HTTPFound(f"{links.public_url}/l/{token}") from None
    raise web.HTTPFound(paying.url)


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


@dataclass(frozen=True)
class PayLinks:
    signer: LinkSigner
    clock: Clock
    public_url: str


LINKS = web.AppKey("pay_links", PayLinks)


def payments_app(yookassa: YooKassaPayments, links: PayLinks) -> web.Application:
    app = web.Application()
    app[YOOKASSA] = yookassa
    app[LINKS] = links
    app.add_routes(
        [
            web.post("/yookassa/{shop_id}", yookassa_notification),
            web.get("/pay/{token}", pay_by_card),
        ]
    )
    return app
