"""The Telegram face of the storefront's shop-level notices (H4), sent by the notification
pump: a one-click-buy callback request for the staff, and a platform's order that could not
be taken, for the owner and admins; and payment notifications that could not be verified
(issue 17, services.payments.rejected), for the owner and admins."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from handlers.telegram.callback_requests import render_ping
from handlers.telegram.format import esc
from services.messaging.notifications.content import Notice
from services.messaging.notifications.pump import Outgoing
from services.storefront.callbacks import CallbackRequests
from services.storefront.connections.registry import TITLES


async def render(
    delivery: Outgoing, notice: Notice, callbacks: CallbackRequests
) -> tuple[str, InlineKeyboardMarkup | None] | None:
    data = delivery.data
    if delivery.topic == "callback_request":
        request = await callbacks.get(int(data.get("callback_request_id") or 0))
        return None if request is None else render_ping(request, notice.language)
    if delivery.topic == "connector_refused":
        platform = TITLES.get(data.get("platform") or "", data.get("platform") or "?")
        text = _(
            "⚠️ {platform} sent an order ShopBot could not take: {reason}\n"
            "It is kept: /settings → 🔑 API tokens and webhook → 🔌 Platforms."
        ).format(platform=platform, reason=esc(data.get("reason") or "—"))
        if data.get("platform_order_id"):
            text += "\n" + _("Its number there: {id}").format(id=esc(data["platform_order_id"]))
        return text, None
    if delivery.topic == "low_stock":
        text = _(
            "📦 Running out: {title} ({sku}), {available} left for sale. /products to correct."
        ).format(
            title=esc(data.get("title") or ""),
            sku=esc(data.get("sku") or ""),
            available=int(data.get("available") or 0),
        )
        return text, None
    if delivery.topic == "payment_rejected":
        # Issue 17: at most one an hour per shop (services.payments.rejected).
        return _(
            "⚠️ YooKassa: a payment notification for your shop could not be confirmed with "
            "YooKassa's API and changed nothing (it may be forged, or sent to the wrong "
            "address). It is kept; more of them within the hour are not announced."
        ), None
    return None
