"""Building shops, staff and orders for tests through the real services."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.orders.actors import ActorRef, Channel
from services.orders.drafts import BuyerDraft, ItemDraft, OrderDraft
from storage.models import Order, User

OWNER_TG = 1000
MANAGER_TG = 1001
PACKER_TG = 1002
COURIER_TG = 1003
ACCOUNTANT_TG = 1004
STRANGER_TG = 1999
BUYER_TG = 5000
_owners = itertools.count()


@dataclass
class Shop:
    id: int
    owner: User
    manager: User
    packer: User
    courier: User
    accountant: User
    stranger: User
    buyer_user: User

    def as_user(self, user: User) -> ActorRef:
        return ActorRef.user(user.id)


async def make_shop(services, preset: str = "marketplace", **settings) -> Shop:
    created = await services.shops.create_shop(
        name=f"Shop {preset}",
        owner_telegram_id=OWNER_TG + next(_owners) * 100_000,
        preset=preset,
        email="shop@example.com",
    )
    shop_id = created.shop.id
    add = services.shops.add_staff
    manager = await add(shop_id, MANAGER_TG + shop_id * 100, "manager")
    packer = await add(shop_id, PACKER_TG + shop_id * 100, "packer")
    courier = await add(shop_id, COURIER_TG + shop_id * 100, "courier")
    accountant = await add(shop_id, ACCOUNTANT_TG + shop_id * 100, "accountant")
    # A person known to the bot but not staff of this shop.
    stranger = await add_user(services, STRANGER_TG + shop_id * 100)
    buyer_user = await add_user(services, BUYER_TG + shop_id * 100)
    if settings:
        await merge_settings(services.sessions, shop_id, settings)
    return Shop(shop_id, created.owner, manager, packer, courier, accountant, stranger, buyer_user)


async def merge_settings(sessions, shop_id: int, settings: Mapping[str, Any]) -> None:
    """Settings written straight into the shop's row over its own: what a test takes as
    given (delivery prices, payment instructions), not what it tests."""
    from storage.models import Shop as ShopRow

    async with sessions() as session, session.begin():
        row = await session.get(ShopRow, shop_id)
        row.settings = {**row.settings, **settings}


async def add_user(services, telegram_id: int) -> User:
    from services.shops.service import get_or_create_user

    async with services.sessions() as session, session.begin():
        return await get_or_create_user(session, telegram_id, now=services.clock.now())


def item(sku="SKU-1", quantity=1, price=10_000, availability="in_stock", **extra) -> ItemDraft:
    return ItemDraft(
        sku=sku,
        name=f"Item {sku}",
        quantity=quantity,
        unit_price=price,
        availability=availability,
        **extra,
    )


def draft(
    *items: ItemDraft,
    payment="card",
    delivery="post",
    phone="+79161234567",
    email="buyer@example.com",
    external_id=None,
    delivery_cost=None,
    **extra,
) -> OrderDraft:
    return OrderDraft(
        buyer=BuyerDraft(name="Ivan Petrov", phone=phone, email=email, language="ru"),
        items=list(items) or [item()],
        payment_method=payment,
        delivery_method=delivery,
        delivery_address="Moscow, Tverskaya 1",
        delivery_cost=delivery_cost,
        external_id=external_id,
        **extra,
    )


async def make_order(services, shop: Shop, *items: ItemDraft, **draft_args) -> Order:
    orders = await services.orders.create_orders(
        shop.id, draft(*items, **draft_args), ActorRef.system(Channel.API), source="api"
    )
    assert len(orders) == 1
    return orders[0]


async def bind_buyer(services, order: Order, user: User) -> None:
    """What the deep link will do: the buyer's Telegram account owns the order's buyer."""
    from storage.models import Buyer

    async with services.sessions() as session, session.begin():
        buyer = await session.get(Buyer, order.buyer_id)
        buyer.user_id = user.id
        buyer.telegram_id = user.telegram_id


def mail_reader(services, *, secret: str = "a secret", documents=None):
    """The buyer's and the shop's e-mails as the mail pump reads them, for a test's shop
    (links to https://shop.example, replies to reply.example, no Telegram bot)."""
    from services.messaging.email.content import MailContentReader
    from services.messaging.email.links import LinkSigner

    return MailContentReader(
        services.sessions,
        services.workflows,
        LinkSigner(secret),
        public_url="https://shop.example",
        reply_domain="reply.example",
        bot_username=None,
        documents=documents,
    )
