"""What a connected platform posts (H4): verified before anything, each platform order taken
once, the rest kept for the shop to see.

In this order, for a post to /connectors/<platform>/<token>:
1. the token finds the connection (an unknown one: 404, nothing kept);
2. a platform's set-up probe is answered as it expects (WooCommerce's ping, Tilda's test);
3. the platform's own signature (or Tilda's key) is checked with the sealed secret; an
   unverified post changes nothing, is kept with its body (cut short) and answered 401;
4. a delivery seen before (the platform's delivery id) is answered 200 at once;
5. the order is read; one the connector refuses (malformed, hostile, numbers that do not
   add up, another currency) is kept and the shop's owner and admins are told, and the
   platform gets 200 (WooCommerce disables a webhook that keeps failing; a refused payload
   is the shop's to look at, not the platform's to resend);
6. an order already taken (the "updated" topics resend the whole order, platforms
   redeliver, two deliveries may race) is not taken again: it is found by its external id,
   "<platform>:<id>", unique per shop in the database too;
7. otherwise OrderService creates it as the system on the connector channel.
A Tilda form without a cart but with a phone is a call-back request (seed 002).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.messaging.notifications.outbox import Outbox
from services.orders.actors import ActorRef, Channel
from services.orders.drafts import OrderDraft
from services.orders.service import OrderService
from services.outside.vault import Vault, VaultError
from services.refusals import OrderRefused, Problem
from services.storefront.callbacks import CallbackDraft, CallbackRequests
from services.storefront.connections.registry import PLATFORMS, ConnectorRegistry
from services.storefront.connectors import ConnectorOrder, ConnectorRefused
from services.storefront.connectors.payload import clean_text
from services.time.clock import Clock
from storage.database import reading
from storage.models import ConnectorDelivery, Order, Shop, ShopConnection

log = logging.getLogger(__name__)

CONNECTOR_ACTOR = ActorRef.system(Channel.CONNECTOR)
KEPT_BODY = 16 * 1024  # of a refused or unverified post, for the shop to look at
REFUSED_TOPIC = "connector_refused"
TAKEN = ("created", "duplicate", "ignored", "callback")


@dataclass(frozen=True)
class Received:
    """What the edge answers the platform."""

    status: int
    text: str = "ok"


NOT_FOUND = Received(404, "not found")


class ConnectorInbound:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        vault: Vault,
        registry: ConnectorRegistry,
        orders: OrderService,
        callbacks: CallbackRequests,
    ):
        self._sessions = sessions
        self._clock = clock
        self._vault = vault
        self._registry = registry
        self._orders = orders
        self._callbacks = callbacks

    async def receive(
        self, platform: str, token: str, headers: Mapping[str, str], body: bytes
    ) -> Received:
        if platform not in PLATFORMS or not 1 <= len(token) <= 64:
            return NOT_FOUND
        async with reading(self._sessions) as session:
            found = (
                await session.execute(
                    select(ShopConnection, Shop.currency)
                    .join(Shop, Shop.id == ShopConnection.shop_id)
                    .where(ShopConnection.path_token == token, ShopConnection.platform == platform)
                )
            ).first()
        if found is None:
            return NOT_FOUND
        connection, currency = found
        connector = self._registry.get(platform, currency)
        probe = connector.handshake(headers, body)
        if probe is not None:
            return Received(200, probe)
        try:
            credentials = json.loads(self._vault.open(connection.credentials))
        except (VaultError, ValueError):
            # SECRET_KEY changed without the old one kept: nothing can be verified.
            log.error("connection %s: its credentials cannot be opened", connection.id)
            await self._keep(connection, "unverified", "the stored secret cannot be read", body)
            return Received(401, "not verified")
        secret = credentials.get(connector.webhook_secret_field, "")
        if not connector.verify(headers, body, secret):
            await self._keep(connection, "unverified", "the signature does not match", body)
            return Received(401, "not verified")
        delivery_id = connector.delivery_id(headers, body)
        if delivery_id and await self._seen(connection.id, delivery_id):
            return Received(200, "seen")
        try:
            order = connector.parse_order(headers, body)
        except ConnectorRefused as refusal:
            await self._refused(connection, delivery_id, None, str(refusal), body)
            return Received(200, "refused")
        if order is None:
            return await self._without_order(connection, connector, delivery_id, body)
        if order.currency != currency:
            reason = f"the order is in {order.currency}, the shop's currency is {currency}"
            await self._refused(connection, delivery_id, order.platform_order_id, reason, body)
            return Received(200, "refused")
        return await self._take(connection, delivery_id, order, body)

    async def _take(
        self, connection: ShopConnection, delivery_id: str | None, order: ConnectorOrder, body
    ) -> Received:
        given = order.platform_order_id
        existing = await self._numbers(connection.shop_id, order.draft.external_id)
        if existing:
            await self._keep(connection, "duplicate", None, None, delivery_id, given, existing)
            return Received(200, "taken before")
        try:
            created = await self._create(connection, order.draft)
        except OrderRefused as refusal:
            if refusal.code is Problem.DUPLICATE:  # a concurrent delivery took it first
                numbers = await self._numbers(connection.shop_id, order.draft.external_id)
                await self._keep(connection, "duplicate", None, None, delivery_id, given, numbers)
                return Received(200, "taken before")
            if refusal.code is Problem.BUSY:
                return Received(503, "busy")
            field = refusal.params.get("field")
            reason = f"{field}: {refusal.message}" if field else refusal.message
            await self._refused(connection, delivery_id, given, reason, body)
            return Received(200, "refused")
        numbers = [o.number for o in created]
        await self._keep(connection, "created", None, None, delivery_id, given, numbers)
        return Received(200, "created")

    async def _create(self, connection: ShopConnection, draft: OrderDraft) -> list[Order]:
        """The order; a phone the shop's country cannot read (platforms check none) does
        not lose it when there is an e-mail to reach the buyer: the phone as given goes
        into the comment for the staff instead."""
        create = self._orders.create_orders
        try:
            return await create(
                connection.shop_id, draft, CONNECTOR_ACTOR, source=connection.platform
            )
        except OrderRefused as refusal:
            phone = draft.buyer.phone
            unreadable = refusal.code is Problem.INVALID and (
                refusal.params.get("field") == "buyer.phone"
            )
            if not (unreadable and phone and draft.buyer.email):
                raise
        note = f"Phone as given: {clean_text(phone, 64)}"
        draft = replace(
            draft,
            buyer=replace(draft.buyer, phone=None),
            comment=clean_text(f"{draft.comment}\n{note}" if draft.comment else note, 2000),
        )
        return await create(connection.shop_id, draft, CONNECTOR_ACTOR, source=connection.platform)

    async def _without_order(self, connection, connector, delivery_id, body) -> Received:
        lead = connector.lead(body) if hasattr(connector, "lead") else None
        if lead is None:
            await self._keep(connection, "ignored", "no order in it", None, delivery_id)
            return Received(200, "ignored")
        draft = CallbackDraft(phone=lead["phone"], name=lead["name"], comment=lead["comment"])
        try:
            await self._callbacks.create(connection.shop_id, draft, source=connection.platform)
        except OrderRefused as refusal:
            await self._refused(connection, delivery_id, None, refusal.message, body)
            return Received(200, "refused")
        await self._keep(connection, "callback", None, None, delivery_id)
        return Received(200, "callback request")

    async def _numbers(self, shop_id: int, external_id: str | None) -> list[int]:
        async with reading(self._sessions) as session:
            return list(
                await session.scalars(
                    select(Order.number).where(
                        Order.shop_id == shop_id, Order.external_id == external_id
                    )
                )
            )

    async def _seen(self, connection_id: int, delivery_id: str) -> bool:
        async with reading(self._sessions) as session:
            found = await session.scalar(
                select(ConnectorDelivery.id)
                .where(
                    ConnectorDelivery.connection_id == connection_id,
                    ConnectorDelivery.delivery_id == delivery_id,
                    ConnectorDelivery.outcome.in_(TAKEN),
                )
                .limit(1)
            )
            return found is not None

    async def _refused(self, connection, delivery_id, given, reason: str, body: bytes) -> None:
        """Kept, and the shop's owner and admins are told in Telegram."""
        await self._keep(connection, "refused", reason, body, delivery_id, given, notify=True)

    async def _keep(
        self,
        connection: ShopConnection,
        outcome: str,
        reason: str | None,
        body: bytes | None,
        delivery_id: str | None = None,
        given: str | None = None,
        numbers: list[int] | None = None,
        *,
        notify: bool = False,
    ) -> None:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            row = ConnectorDelivery(
                connection_id=connection.id,
                shop_id=connection.shop_id,
                platform=connection.platform,
                delivery_id=clean_text(delivery_id, 128) or None if delivery_id else None,
                platform_order_id=(given or None) and given[:64],
                outcome=outcome,
                reason=clean_text(reason, 500) if reason else None,
                body=_kept(body),
                order_numbers=numbers or [],
                created_at=now,
            )
            session.add(row)
            await session.flush()
            if notify:
                outbox = Outbox(now)
                outbox.add(
                    key=f"connector:{row.id}:refused",
                    channel="telegram",
                    audience="shop",
                    topic=REFUSED_TOPIC,
                    shop_id=connection.shop_id,
                    payload={
                        "connector_delivery_id": row.id,
                        "platform": connection.platform,
                        "platform_order_id": row.platform_order_id,
                        "reason": row.reason,
                    },
                )
                await outbox.write(session)


def _kept(body: bytes | None) -> str | None:
    if body is None:
        return None
    return bytes(body[:KEPT_BODY]).decode("utf-8", "replace").replace("\x00", "")
