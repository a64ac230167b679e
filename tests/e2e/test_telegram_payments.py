"""Telegram Payments end to end (issue 17): the buyer taps "💳 Pay" on the awaiting-payment
message, pays the invoice in the emulator, and the order reaches "paid" with no tap by staff;
the buyer and the shop are told, the ledger reserves it. An order that changed, was cancelled
or was paid meanwhile refuses the payment at pre-checkout and nothing is charged."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from storage.models import LedgerEntry, OrderEvent
from tests.e2e.chats import card_of, labels, message_starting
from tests.e2e.shops import (
    ShopRecipe,
    buyer_via_link,
    db_user,
    fresh,
    open_shop,
    place_order,
    ref,
)
from tests.outside.fakes.yookassa import FakeYooKassa

SHOP = ShopRecipe(language="en", staff=("manager", "accountant"))
TOKEN = "381764678:TEST:100500"


async def billed_order(tg):
    shop = await open_shop(tg, SHOP)
    owner_id = (await db_user(tg, shop.owner)).id
    await tg.container.payment_settings.set_telegram_token(shop.id, owner_id, TOKEN)
    order = await place_order(tg, shop.id)
    ivan = await buyer_via_link(tg, order)
    await tg.container.orders.apply(order.id, await ref(tg, shop.manager), "confirm")
    await tg.deliver()
    return shop, order, ivan


async def invoice_of(tg, ivan, order):
    """The buyer taps "💳 Pay" on the awaiting-payment message; returns the invoice sent."""
    heading = f"Order #{order.number} at Cats & Dogs: Awaiting payment"
    before = {m.message_id for m in tg.emulator.messages(ivan) if m.invoice is not None}
    offer = await tg.offering(ivan, "💳 Pay")
    assert offer.content.startswith(heading)
    await tg.tap(ivan, offer, text="💳 Pay")
    return await tg.emulator.wait_for_message(
        ivan, lambda m: m.invoice is not None and m.message_id not in before
    )


async def test_paid_in_telegram_the_order_is_paid_with_no_tap_by_staff(tg):
    shop, order, ivan = await billed_order(tg)
    invoice = await invoice_of(tg, ivan, order)
    assert invoice.invoice.currency == "RUB"
    assert invoice.invoice.total_amount == order.total
    assert [(p.label, p.amount) for p in invoice.invoice.prices][-1] == ("Delivery", 30_000)

    paying = await tg.emulator.pay(ivan, invoice)
    await tg.settle()

    assert paying.paid
    paid = await fresh(tg, order.id)
    assert paid.status == "preparing_shipment"
    assert paid.amount_paid == order.total
    async with tg.container.sessions() as session:
        event = await session.scalar(
            select(OrderEvent).where(
                OrderEvent.order_id == order.id, OrderEvent.action == "mark_paid"
            )
        )
        assert (event.channel, event.actor_kind) == ("payment", "system")
        reserved = await session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.order_id == order.id, LedgerEntry.kind == "reserve_income")
        )
        assert reserved == 1
    # the buyer and the shop are told
    await tg.deliver()
    assert message_starting(tg, ivan, f"Order #{order.number} at Cats & Dogs: Preparing")
    told = message_starting(tg, shop.owner, f"💳 Order #{order.number}: the buyer paid")
    assert "3,300.00" in told.text or "3 300" in told.text
    assert message_starting(tg, shop.accountant, f"💳 Order #{order.number}: the buyer paid")


async def test_an_order_changed_or_cancelled_after_the_invoice_refuses_the_payment(tg):
    shop, order, ivan = await billed_order(tg)
    invoice = await invoice_of(tg, ivan, order)
    # the shop changes the delivery cost after the invoice was sent
    owner = await ref(tg, shop.owner)
    await tg.container.orders.change_delivery(order.id, owner, method="courier", cost=50_000)

    paying = await tg.emulator.pay(ivan, invoice)

    assert paying.status == "refused"
    assert "changed" in paying.error_message
    assert (await fresh(tg, order.id)).status == "awaiting_payment"
    # a new invoice is for the new amount; cancelled before it is paid: refused too
    await tg.deliver()
    again = await invoice_of(tg, ivan, order)
    assert again.invoice.total_amount == (await fresh(tg, order.id)).total
    await tg.container.orders.apply(
        order.id, await ref(tg, shop.manager), "cancel", {"reason": "out_of_stock"}
    )
    paying = await tg.emulator.pay(ivan, again)
    assert paying.status == "refused"
    assert "no longer waiting" in paying.error_message
    cancelled = await fresh(tg, order.id)
    assert (cancelled.status, cancelled.amount_paid) == ("cancelled", 0)


async def test_the_buyer_pays_from_the_order_card_itself(tg):
    _shop, order, ivan = await billed_order(tg)
    card = card_of(tg, ivan, order.number)
    assert "Status: Awaiting payment" in card.text
    assert "💳 Pay" in labels(tg, card) and "💳 How to pay" in labels(tg, card)
    before = {m.message_id for m in tg.emulator.messages(ivan) if m.invoice is not None}

    await tg.tap(ivan, card, text="💳 Pay")
    invoice = await tg.emulator.wait_for_message(
        ivan, lambda m: m.invoice is not None and m.message_id not in before
    )
    assert invoice.invoice.total_amount == order.total
    paying = await tg.emulator.pay(ivan, invoice)
    await tg.settle()
    await tg.deliver()

    assert paying.paid
    assert (await fresh(tg, order.id)).status == "preparing_shipment"
    # paid: the card is redrawn in place without the button
    card = card_of(tg, ivan, order.number)
    assert "Awaiting payment" not in card.text
    assert "💳 Pay" not in labels(tg, card)


async def test_no_token_no_pay_button(tg):
    shop = await open_shop(tg, SHOP)
    order = await place_order(tg, shop.id)
    ivan = await buyer_via_link(tg, order)
    await tg.container.orders.apply(order.id, await ref(tg, shop.manager), "confirm")
    await tg.deliver()
    heading = f"Order #{order.number} at Cats & Dogs: Awaiting payment"
    news = [m for m in tg.emulator.messages(ivan) if m.outgoing and m.content.startswith(heading)]
    assert news and not any("💳 Pay" in row for row in tg.emulator.buttons(news[0]))
    assert "💳 Pay" not in labels(tg, card_of(tg, ivan, order.number))


@pytest.fixture
async def yookassa(monkeypatch):
    """The fake YooKassa on loopback, the bot's YOOKASSA_API_URL pointing at it (set before
    `tg` builds the bot: ask for this fixture first)."""
    fake = await FakeYooKassa().start()
    monkeypatch.setenv("YOOKASSA_API_URL", fake.url)
    yield fake
    await fake.stop()


async def test_pay_by_card_opens_yookassa_and_its_notification_marks_the_order_paid(yookassa, tg):
    shop = await open_shop(tg, SHOP)
    owner_id = (await db_user(tg, shop.owner)).id
    await tg.container.payment_settings.set_yookassa(shop.id, owner_id, "506751 test_secret")
    order = await place_order(tg, shop.id)
    ivan = await buyer_via_link(tg, order)
    await tg.container.orders.apply(order.id, await ref(tg, shop.manager), "confirm")
    await tg.deliver()

    # YooKassa refusing the shop's key: the buyer is told, nothing is sent
    yookassa.fail_next("unauthorized")
    tapped = await tg.tap_offered(ivan, "💳 Pay by card")
    assert tg.answer(tapped).startswith("The payment service is not answering")
    assert not yookassa.payments
    # the buyer taps "💳 Pay by card" and gets the link to YooKassa's page
    await tg.tap_offered(ivan, "💳 Pay by card")
    page = message_starting(tg, ivan, "Pay on YooKassa's secure page")
    [[button]] = page.reply_markup["inline_keyboard"]
    assert button["url"].startswith("https://yoomoney.ru/")
    [payment_id] = yookassa.payments
    assert yookassa.payments[payment_id]["metadata"]["order_id"] == str(order.id)

    # the buyer pays there; YooKassa's notification reaches the bot's web server
    yookassa.succeed(payment_id)
    received = await tg.container.yookassa_payments.notified(
        shop.id, yookassa.notification("payment.succeeded", payment_id)
    )
    assert received.value == "applied"
    assert (await fresh(tg, order.id)).status == "preparing_shipment"
    await tg.deliver()
    assert message_starting(tg, ivan, f"Order #{order.number} at Cats & Dogs: Preparing")
    assert message_starting(tg, shop.owner, f"💳 Order #{order.number}: the buyer paid")


async def test_forged_yookassa_notifications_reach_the_owner_once(yookassa, tg):
    shop = await open_shop(tg, SHOP)
    owner_id = (await db_user(tg, shop.owner)).id
    await tg.container.payment_settings.set_yookassa(shop.id, owner_id, "506751 test_secret")
    order = await place_order(tg, shop.id)

    forged = json.dumps(
        {"type": "notification", "event": "payment.succeeded", "object": {"id": "forged-id"}}
    ).encode()
    for _ in range(3):
        received = await tg.container.yookassa_payments.notified(shop.id, forged)
        assert received.value == "ignored"
    await tg.deliver()

    warning = "⚠️ YooKassa: a payment notification for your shop could not be confirmed"
    told = [m for m in tg.emulator.messages(shop.owner) if m.outgoing and warning in m.text]
    assert len(told) == 1
    assert not [m for m in tg.emulator.messages(shop.manager) if warning in (m.text or "")]
    fresh_order = await fresh(tg, order.id)
    assert (fresh_order.status, fresh_order.amount_paid) == (order.status, 0)
