"""YooKassa wired end to end (issue 17): a payment link made through the fake YooKassa API on
loopback, its notification POSTed to the bot's own web server (/payments/yookassa/<shop>), the
payment fetched back before anything changes, and the order paid once by itself. Forged,
repeated and concurrent notifications change nothing more."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.container import Container, build_container
from bot.mail import signer_of
from bot.pumps import build_refund_pump
from bot.settings import Settings
from bot.web import build_payments_app, build_web_app
from services.messaging.email.links import LinkSigner
from services.orders.actors import ActorRef, Channel
from services.payments.rejected import KEPT_PER_HOUR
from services.payments.settings import PAY_BY_CARD
from services.payments.yookassa import YooKassaClient, YooKassaCredentials
from storage.models import (
    LedgerEntry,
    Order,
    OrderEvent,
    OutboxMessage,
    Payment,
    PaymentRefund,
    RejectedPaymentNotice,
)
from tests.factories import draft, item
from tests.outside.fakes.yookassa import FakeYooKassa

SHOP_ID, SECRET = "506751", "test_secret"


@dataclass
class Bot:
    container: Container
    client: TestClient
    fake: FakeYooKassa
    shop_id: int
    owner: ActorRef

    async def notify(self, event: str, payment_id: str, *, shop_id: int | None = None, body=None):
        body = body if body is not None else self.fake.notification(event, payment_id)
        url = f"/payments/yookassa/{shop_id or self.shop_id}"
        async with self.client.post(url, data=body) as response:
            return response.status

    async def billed_order(self) -> Order:
        [order] = await self.container.orders.create_orders(
            self.shop_id,
            draft(item("CAT-1", 2, 150_000), delivery_cost=30_000),
            ActorRef.system(Channel.API),
        )
        await self.container.orders.apply(order.id, self.owner, "confirm")
        return order

    async def count(self, model, *where) -> int:
        async with self.container.sessions() as session:
            return await session.scalar(select(func.count()).select_from(model).where(*where))

    async def order(self, order_id: int) -> Order:
        async with self.container.sessions() as session:
            return await session.get(Order, order_id)


@pytest.fixture
async def bot(database_url, engine, clock):
    fake = await FakeYooKassa(shops={SHOP_ID: SECRET, "999999": "other_secret"}).start()
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        secret_key="yookassa-round-trip",
        yookassa_api_url=fake.url,
    )
    container = build_container(settings, clock=clock)
    app = build_web_app(
        container,
        LinkSigner("x"),
        bot_username=None,
        subapps={"/payments": build_payments_app(container)},
    )
    client = TestClient(TestServer(app))
    await client.start_server()
    created = await container.shops.create_shop(
        name="Store", owner_telegram_id=4242, currency="RUB", country="RU"
    )
    await container.payment_settings.set_yookassa(
        created.shop.id, created.owner.id, f"{SHOP_ID} {SECRET}"
    )
    yield Bot(container, client, fake, created.shop.id, ActorRef.user(created.owner.id))
    await client.close()
    await container.close()
    await fake.stop()


async def test_a_notification_fetched_back_marks_the_order_paid_once(bot):
    order = await bot.billed_order()
    buyer = ActorRef.buyer(order.buyer_id)
    link = await bot.container.yookassa_payments.payment_link(order.id, buyer, "Order #1")
    assert link.url.startswith("https://yoomoney.ru/")
    [created] = bot.fake.posts("/payments")
    assert created.json()["amount"] == {"value": "3300.00", "currency": "RUB"}
    assert created.idempotence_key
    # a notification before the buyer paid: YooKassa says pending, nothing changes
    forged = json.dumps(
        {
            "type": "notification",
            "event": "payment.succeeded",
            "object": {"id": link.payment_id, "status": "succeeded"},
        }
    ).encode()
    assert await bot.notify("payment.succeeded", link.payment_id, body=forged) == 200
    assert (await bot.order(order.id)).status == "awaiting_payment"

    bot.fake.succeed(link.payment_id)
    assert await bot.notify("payment.succeeded", link.payment_id) == 200
    assert await bot.notify("payment.succeeded", link.payment_id) == 200  # repeated

    paid = await bot.order(order.id)
    assert (paid.status, paid.amount_paid) == ("preparing_shipment", order.total)
    where = (OrderEvent.order_id == order.id, OrderEvent.action == "mark_paid")
    assert await bot.count(OrderEvent, *where) == 1
    reserved = (LedgerEntry.order_id == order.id, LedgerEntry.kind == "reserve_income")
    assert await bot.count(LedgerEntry, *reserved) == 1
    told = (OutboxMessage.order_id == order.id, OutboxMessage.topic == "payment_notice")
    assert await bot.count(OutboxMessage, *told) == 1
    buyer_told = (OutboxMessage.order_id == order.id, OutboxMessage.topic == "status_changed")
    assert await bot.count(OutboxMessage, *buyer_told) >= 1


async def test_twenty_concurrent_notifications_make_one_transition(bot):
    order = await bot.billed_order()
    link = await bot.container.yookassa_payments.payment_link(
        order.id, ActorRef.buyer(order.buyer_id), "Order #1"
    )
    bot.fake.succeed(link.payment_id)

    statuses = await asyncio.gather(
        *(bot.notify("payment.succeeded", link.payment_id) for _ in range(20))
    )

    assert set(statuses) == {200}
    where = (OrderEvent.order_id == order.id, OrderEvent.action == "mark_paid")
    assert await bot.count(OrderEvent, *where) == 1
    reserved = (LedgerEntry.order_id == order.id, LedgerEntry.kind == "reserve_income")
    assert await bot.count(LedgerEntry, *reserved) == 1
    assert await bot.count(Payment, Payment.order_id == order.id) == 1


async def test_forged_notifications_change_nothing(bot):
    order = await bot.billed_order()
    # an id YooKassa does not know
    unknown = json.dumps(
        {"type": "notification", "event": "payment.succeeded", "object": {"id": "2f0c-unknown"}}
    ).encode()
    assert await bot.notify("payment.succeeded", "x", body=unknown) == 200
    # not a notification at all
    assert await bot.notify("payment.succeeded", "x", body=b"{}") == 400
    # another shop's payment, sent to this shop's address
    other = YooKassaClient(bot.container.outside, bot.fake.url)
    theirs = await other.create_payment(
        YooKassaCredentials("999999", "other_secret"),
        amount_minor=order.total,
        currency="RUB",
        description="theirs",
        return_url="https://example.com",
        metadata={"order_id": str(order.id), "shop_id": str(bot.shop_id)},
        idempotence_key="theirs-1",
    )
    bot.fake.succeed(theirs.id)
    assert await bot.notify("payment.succeeded", theirs.id) == 200
    # a shop without YooKassa
    assert await bot.notify("payment.succeeded", theirs.id, shop_id=bot.shop_id + 1) == 404

    fresh = await bot.order(order.id)
    assert (fresh.status, fresh.amount_paid, fresh.problem) == ("awaiting_payment", 0, False)
    told = (OutboxMessage.order_id == order.id, OutboxMessage.topic == "payment_notice")
    assert await bot.count(OutboxMessage, *told) == 0
    # but none is lost: each is kept for the shop, and its owner told once (DESIGN)
    async with bot.container.sessions() as session:
        kept = (await session.scalars(select(RejectedPaymentNotice))).all()
    assert sorted((row.shop_id, row.reason, row.object_id) for row in kept) == sorted(
        [
            (bot.shop_id, "unknown_payment", "2f0c-unknown"),
            (bot.shop_id, "unreadable", None),
            (bot.shop_id, "unknown_payment", theirs.id),
        ]
    )
    warned = (OutboxMessage.shop_id == bot.shop_id, OutboxMessage.topic == "payment_rejected")
    assert await bot.count(OutboxMessage, *warned) == 1


async def test_a_flood_of_forgeries_tells_the_owner_once_an_hour_and_keeps_a_bounded_number(
    bot, clock
):
    forged = json.dumps(
        {"type": "notification", "event": "payment.succeeded", "object": {"id": "f-1"}}
    ).encode()
    for _ in range(KEPT_PER_HOUR + 20):
        assert await bot.notify("payment.succeeded", "x", body=forged) == 200
    warned = (OutboxMessage.shop_id == bot.shop_id, OutboxMessage.topic == "payment_rejected")
    assert await bot.count(OutboxMessage, *warned) == 1
    assert await bot.count(RejectedPaymentNotice) == KEPT_PER_HOUR

    clock.advance(timedelta(hours=1))
    assert await bot.notify("payment.succeeded", "x", body=forged) == 200
    assert await bot.count(OutboxMessage, *warned) == 2
    assert await bot.count(RejectedPaymentNotice) == KEPT_PER_HOUR + 1


async def test_a_confirmed_wrong_amount_flags_the_order_and_tells_the_shop(bot):
    order = await bot.billed_order()
    client = YooKassaClient(bot.container.outside, bot.fake.url)
    short = await client.create_payment(
        YooKassaCredentials(SHOP_ID, SECRET),
        amount_minor=order.total - 10_000,
        currency="RUB",
        description="short",
        return_url="https://example.com",
        metadata={"order_id": str(order.id), "shop_id": str(bot.shop_id)},
        idempotence_key="short-1",
    )
    bot.fake.succeed(short.id)
    assert await bot.notify("payment.succeeded", short.id) == 200

    fresh = await bot.order(order.id)
    assert (fresh.status, fresh.amount_paid) == ("awaiting_payment", 0)
    assert (fresh.problem, fresh.problem_reason) == (True, "payment")
    told = (OutboxMessage.order_id == order.id, OutboxMessage.topic == "payment_notice")
    assert await bot.count(OutboxMessage, *told) == 1


async def test_a_paid_order_cancelled_is_refunded_through_yookassa_once(bot):
    # a reseller's order (initial: awaiting payment), paid through YooKassa
    created = await bot.container.shops.create_shop(
        name="Resale", owner_telegram_id=5252, preset="reseller", currency="RUB", country="RU"
    )
    owner = ActorRef.user(created.owner.id)
    await bot.container.payment_settings.set_yookassa(
        created.shop.id, created.owner.id, f"{SHOP_ID} {SECRET}"
    )
    [order] = await bot.container.orders.create_orders(
        created.shop.id, draft(item("CAT-1", 1, 200_000)), ActorRef.system(Channel.API)
    )
    link = await bot.container.yookassa_payments.payment_link(
        order.id, ActorRef.buyer(order.buyer_id), "Order #1"
    )
    bot.fake.succeed(link.payment_id)
    assert await bot.notify("payment.succeeded", link.payment_id, shop_id=created.shop.id) == 200
    assert (await bot.order(order.id)).status == "paid"

    # the shop cancels it: the refund is owed in the same transaction, sent by the pump
    await bot.container.orders.apply(order.id, owner, "cancel", {"reason": "out_of_stock"})
    pump = build_refund_pump(bot.container)
    bot.fake.fail_next("rate_limited")  # YooKassa busy at the first try
    assert await pump.run_once() == 1
    [row] = await rows(bot, PaymentRefund)
    assert (row.status, row.attempts, row.provider_refund_id) == ("pending", 1, None)
    assert not bot.fake.refunds

    bot.container.clock.advance(timedelta(minutes=5))
    assert await pump.run_once() == 1
    assert await pump.run_once() == 0  # nothing more to send
    [row] = await rows(bot, PaymentRefund)
    assert row.status == "succeeded"
    [refund] = bot.fake.refunds.values()
    assert row.provider_refund_id == refund["id"]
    assert refund["amount"] == {"value": "2000.00", "currency": "RUB"}
    keys = {r.idempotence_key for r in bot.fake.posts("/refunds")}
    assert len(keys) == 1  # every try with the same key
    memo = (LedgerEntry.order_id == order.id, LedgerEntry.kind == "provider_refund")
    [entry] = await rows(bot, LedgerEntry, *memo)
    assert refund["id"] in entry.dedupe_key and entry.amount == 200_000


async def rows(bot, model, *where):
    async with bot.container.sessions() as session:
        return list(await session.scalars(select(model).where(*where)))


async def test_a_refund_yookassa_refuses_is_failed_and_the_shop_told(bot):
    created = await bot.container.shops.create_shop(
        name="Resale", owner_telegram_id=5353, preset="reseller", currency="RUB", country="RU"
    )
    await bot.container.payment_settings.set_yookassa(
        created.shop.id, created.owner.id, f"{SHOP_ID} {SECRET}"
    )
    [order] = await bot.container.orders.create_orders(
        created.shop.id, draft(item("CAT-1", 1, 200_000)), ActorRef.system(Channel.API)
    )
    link = await bot.container.yookassa_payments.payment_link(
        order.id, ActorRef.buyer(order.buyer_id), "Order #1"
    )
    bot.fake.succeed(link.payment_id)
    await bot.notify("payment.succeeded", link.payment_id, shop_id=created.shop.id)
    owner = ActorRef.user(created.owner.id)
    await bot.container.orders.apply(order.id, owner, "cancel", {"reason": "out_of_stock"})

    bot.fake.fail_next("bad_request")
    assert await build_refund_pump(bot.container).run_once() == 1

    [row] = await rows(bot, PaymentRefund)
    assert row.status == "failed" and not bot.fake.refunds
    told = (OutboxMessage.order_id == order.id, OutboxMessage.topic == "payment_notice")
    kinds = [m.payload["kind"] for m in await rows(bot, OutboxMessage, *told)]
    assert kinds == ["received", "refund_failed"]


async def test_the_emails_pay_by_card_link_opens_yookassas_page_while_payment_is_due(bot):
    order = await bot.billed_order()
    signer = signer_of(bot.container.settings)
    now = bot.container.clock.now()
    token = signer.action_token(order.id, order.buyer_id, PAY_BY_CARD, now)

    async with bot.client.get(f"/payments/pay/{token}", allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"].startswith("https://yoomoney.ru/")
    [payment_id] = bot.fake.payments
    bot.fake.succeed(payment_id)
    await bot.notify("payment.succeeded", payment_id)
    # paid: the same link now leads to the order's own page
    async with bot.client.get(f"/payments/pay/{token}", allow_redirects=False) as response:
        assert response.status == 302
        assert "/l/" in response.headers["Location"]
    assert len(bot.fake.payments) == 1
    # a link for another action, or a tampered one, opens nothing
    other = signer.action_token(order.id, order.buyer_id, "cancel", now)
    for bad in (other, token[:-3] + "abc"):
        async with bot.client.get(f"/payments/pay/{bad}", allow_redirects=False) as response:
            assert response.status == 404


async def test_a_pending_refund_is_fetched_again_and_booked_once_it_succeeded(bot):
    created = await bot.container.shops.create_shop(
        name="Resale", owner_telegram_id=5454, preset="reseller", currency="RUB", country="RU"
    )
    await bot.container.payment_settings.set_yookassa(
        created.shop.id, created.owner.id, f"{SHOP_ID} {SECRET}"
    )
    [order] = await bot.container.orders.create_orders(
        created.shop.id, draft(item("CAT-1", 1, 200_000)), ActorRef.system(Channel.API)
    )
    link = await bot.container.yookassa_payments.payment_link(
        order.id, ActorRef.buyer(order.buyer_id), "Order #1"
    )
    bot.fake.succeed(link.payment_id)
    await bot.notify("payment.succeeded", link.payment_id, shop_id=created.shop.id)
    owner = ActorRef.user(created.owner.id)
    await bot.container.orders.apply(order.id, owner, "cancel", {"reason": "out_of_stock"})
    bot.fake.refund_status = "pending"
    pump = build_refund_pump(bot.container)

    assert await pump.run_once() == 1
    [row] = await rows(bot, PaymentRefund)
    assert (row.status, row.provider_refund_id) == ("pending", next(iter(bot.fake.refunds)))
    memo = (LedgerEntry.order_id == order.id, LedgerEntry.kind == "provider_refund")
    assert await rows(bot, LedgerEntry, *memo) == []

    bot.fake.refunds[row.provider_refund_id]["status"] = "succeeded"
    bot.container.clock.advance(timedelta(hours=1))
    assert await pump.run_once() == 1
    [row] = await rows(bot, PaymentRefund)
    assert row.status == "succeeded"
    assert len(bot.fake.posts("/refunds")) == 1
    assert len(await rows(bot, LedgerEntry, *memo)) == 1
