"""YooKassa for an order (issue 17): a payment link for the buyer, and its notifications.

A notification is never believed: it only says which payment to fetch back, with the shop's
own credentials, from YooKassa's API (services.payments.yookassa). What the API answers is the
fact; a payment of another shop, of an order that is not this shop's, or one YooKassa does not
know changes nothing. The order's id travels in the payment's metadata, set by us.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.orders.actors import ActorRef
from services.orders.payments import amount_due
from services.orders.service import OrderService
from services.payments import rejected
from services.payments.rejected import RejectedNotices
from services.payments.service import PAYMENT_ACTOR, Confirmed, PaymentService
from services.payments.settings import PaymentSettings
from services.payments.yookassa import (
    ErrorKind,
    Notification,
    NotificationInvalid,
    ProviderError,
    YooKassaClient,
    YooKassaCredentials,
    parse_notification,
)
from services.refusals import OrderRefused, Problem
from storage.database import reading
from storage.models import Order

log = logging.getLogger(__name__)

PROVIDER = "yookassa"


class Received(StrEnum):
    """What became of a notification (the HTTP edge answers YooKassa by it)."""

    APPLIED = "applied"  # fetched back and handed to the payments service
    IGNORED = "ignored"  # fetched back: nothing for us (another shop's, not ours, pending)
    INVALID = "invalid"  # not a notification we read: 400
    UNKNOWN_SHOP = "unknown_shop"  # no YooKassa account for this shop: 404
    UNAVAILABLE = "unavailable"  # YooKassa did not answer: 503, it sends the notification again


@dataclass(frozen=True)
class PaymentLink:
    url: str
    payment_id: str


class YooKassaPayments:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        orders: OrderService,
        settings: PaymentSettings,
        payments: PaymentService,
        client: YooKassaClient,
        public_url: str,
        rejected: RejectedNotices | None = None,
    ):
        self._sessions = sessions
        self._orders = orders
        self._settings = settings
        self._payments = payments
        self._client = client
        self._public_url = public_url.rstrip("/")
        self._rejected = rejected

    async def payment_link(self, order_id: int, actor: ActorRef, description: str) -> PaymentLink:
        """A payment for what the buyer owes now; the same order, version and amount always
        get the same payment (the Idempotence-Key), however often the buyer asks."""
        view = await self._orders.view(order_id, actor)  # someone else's order: not found
        order = view.order
        actions = await self._orders.actions(order_id, PAYMENT_ACTOR)
        if not any(option.code == "mark_paid" for option in actions):
            raise OrderRefused(Problem.NOT_AVAILABLE, "the order is not awaiting payment")
        credentials = await self._credentials(order.shop_id)
        if credentials is None:
            raise OrderRefused(Problem.NOT_AVAILABLE, "the shop takes no payments by YooKassa")
        due = amount_due(order)
        payment = await self._client.create_payment(
            credentials,
            amount_minor=due,
            currency=order.currency,
            description=description[:128],
            return_url=f"{self._public_url}/healthz",
            metadata={"order_id": str(order.id), "shop_id": str(order.shop_id)},
            idempotence_key=f"shopbot-order-{order.id}-v{order.version}-{due}",
        )
        await self._payments.noted(
            Confirmed(
                PROVIDER, payment.id, order.id, payment.amount_minor, payment.currency, payment.raw
            ),
            payment.status,
        )
        if payment.confirmation_url is None:
            raise OrderRefused(Problem.NOT_AVAILABLE, "YooKassa gave no page to pay on")
        return PaymentLink(payment.confirmation_url, payment.id)

    async def notified(self, shop_id: int, body: bytes) -> Received:
        """A notification POSTed for `shop_id`: fetched back, then applied if it is true."""
        try:
            notification = parse_notification(body)
        except NotificationInvalid as invalid:
            log.info("yookassa notification for shop %s refused: %s", shop_id, invalid)
            if await self._credentials(shop_id) is not None:
                await self._reject(shop_id, rejected.UNREADABLE, None)
            return Received.INVALID
        credentials = await self._credentials(shop_id)
        if credentials is None:
            return Received.UNKNOWN_SHOP
        if notification.object_kind != "payment":
            return Received.IGNORED  # refunds are followed by the refund pump
        try:
            payment = await self._client.get_payment(credentials, notification.object_id)
        except ProviderError as error:
            if error.kind in (ErrorKind.NOT_FOUND, ErrorKind.INVALID, ErrorKind.UNAUTHORIZED):
                log.info("yookassa notification for shop %s: %s", shop_id, error.kind)
                await self._reject(shop_id, rejected.UNKNOWN_PAYMENT, notification)
                return Received.IGNORED  # not a payment of this shop's account
            return Received.UNAVAILABLE
        order_id = await self._order_of(shop_id, payment.metadata)
        if order_id is None:
            await self._reject(shop_id, rejected.NOT_THIS_SHOP, notification)
            return Received.IGNORED  # not one of our payments, or another shop's order
        confirmed = Confirmed(
            PROVIDER, payment.id, order_id, payment.amount_minor, payment.currency, payment.raw
        )
        if payment.status == "succeeded" and payment.paid:
            await self._payments.confirmed(confirmed)
        else:
            await self._payments.noted(confirmed, payment.status)
        return Received.APPLIED

    async def _reject(self, shop_id: int, reason: str, notification: Notification | None) -> None:
        """Kept for the shop to see (DESIGN: nothing lost), not only logged."""
        if self._rejected is None:
            return
        await self._rejected.keep(
            shop_id,
            PROVIDER,
            reason,
            event=notification.event if notification else None,
            object_id=notification.object_id if notification else None,
        )

    async def _order_of(self, shop_id: int, metadata: dict[str, str]) -> int | None:
        if metadata.get("shop_id") != str(shop_id) or not metadata.get("order_id", "").isdigit():
            return None
        async with reading(self._sessions) as session:
            order = await session.get(Order, int(metadata["order_id"]))
        return order.id if order is not None and order.shop_id == shop_id else None

    async def _credentials(self, shop_id: int) -> YooKassaCredentials | None:
        stored = await self._settings.yookassa(shop_id)
        return YooKassaCredentials(*stored) if stored else None
