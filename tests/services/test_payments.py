"""Payments a provider confirmed (issue 17): the order paid by itself, once per provider id
however often and however concurrently it is reported; money that does not fit changes
nothing of the order's money, flags it and tells the shop."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.i18n import build_i18n
from handlers.telegram.return_notices import render_notice
from services.messaging.notifications.content import Notice
from services.orders.actors import ActorRef, Channel
from services.orders.payments import ProviderOutcome
from services.payments.service import Confirmed, PaymentService
from storage.models import (
    LedgerEntry,
    Order,
    OrderEvent,
    OutboxMessage,
    Payment,
    PaymentRefund,
    Shop,
)
from tests.factories import bind_buyer, mail_reader, make_order, make_shop
from tests.returns_factories import return_service, returnable


async def awaiting_payment(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await services.orders.apply(order.id, ActorRef.user(shop.manager.id), "confirm")
    return shop, order


def paid(order, payment_id="pay-1", amount=None, currency=None, provider="yookassa"):
    return Confirmed(
        provider=provider,
        payment_id=payment_id,
        order_id=order.id,
        amount=order.total if amount is None else amount,
        currency=currency or order.currency,
        raw={"id": payment_id},
    )


async def count(services, model, *where):
    async with services.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def read(services, order_id) -> Order:
    async with services.sessions() as session:
        return await session.get(Order, order_id)


async def test_twenty_concurrent_confirmations_make_one_transition_and_one_posting(services):
    _shop, order = await awaiting_payment(services)
    payments = PaymentService(services.sessions, services.clock, services.orders)

    results = await asyncio.gather(*(payments.confirmed(paid(order)) for _ in range(20)))

    outcomes = [r.outcome for r in results]
    assert outcomes.count(ProviderOutcome.PAID) == 1
    assert set(outcomes) == {ProviderOutcome.PAID, ProviderOutcome.DUPLICATE}
    fresh = await read(services, order.id)
    assert fresh.status == "preparing_shipment"
    assert fresh.amount_paid == order.total
    marked = await count(
        services, OrderEvent, OrderEvent.order_id == order.id, OrderEvent.action == "mark_paid"
    )
    assert marked == 1
    async with services.sessions() as session:
        event = await session.scalar(
            select(OrderEvent).where(
                OrderEvent.order_id == order.id, OrderEvent.action == "mark_paid"
            )
        )
        assert event.channel == Channel.PAYMENT
    # the buyer's money came in once, under the provider's id
    payments_in = await count(
        services,
        LedgerEntry,
        LedgerEntry.order_id == order.id,
        LedgerEntry.dedupe_key.like(f"payment:{order.id}:yookassa:pay-1:%"),
    )
    assert payments_in >= 1
    reserves = await count(
        services,
        LedgerEntry,
        LedgerEntry.order_id == order.id,
        LedgerEntry.kind == "reserve_income",
    )
    assert reserves == 1
    [row] = await payments.payments_of(order.id)
    assert (row.provider, row.provider_id, row.amount, row.outcome) == (
        "yookassa",
        "pay-1",
        order.total,
        "paid",
    )
    # the shop heard of it once
    received = await count(
        services,
        OutboxMessage,
        OutboxMessage.order_id == order.id,
        OutboxMessage.topic == "payment_notice",
    )
    assert received == 1


async def test_a_wrong_amount_is_not_applied_the_order_is_flagged_and_the_shop_told(services):
    shop, order = await awaiting_payment(services)
    payments = PaymentService(services.sessions, services.clock, services.orders)

    results = await asyncio.gather(
        *(payments.confirmed(paid(order, amount=order.total - 100)) for _ in range(5))
    )

    assert {r.outcome for r in results} <= {ProviderOutcome.MISMATCH, ProviderOutcome.DUPLICATE}
    fresh = await read(services, order.id)
    assert fresh.status == "awaiting_payment"
    assert fresh.amount_paid == 0
    assert (fresh.problem, fresh.problem_reason) == (True, "payment")
    assert await count(services, LedgerEntry, LedgerEntry.order_id == order.id) == 0
    told = await count(
        services,
        OutboxMessage,
        OutboxMessage.order_id == order.id,
        OutboxMessage.topic == "payment_notice",
    )
    assert told == 1
    [row] = await payments.payments_of(order.id)
    assert row.outcome == "mismatch" and "amount" in row.reason
    # the shop checks it and marks the order paid by hand: the flag goes with the step
    await services.orders.apply(order.id, ActorRef.user(shop.accountant.id), "mark_paid")
    assert (await read(services, order.id)).problem is False


async def test_another_currency_or_a_cancelled_order_is_not_applied(services):
    shop, order = await awaiting_payment(services)
    payments = PaymentService(services.sessions, services.clock, services.orders)
    result = await payments.confirmed(paid(order, "pay-usd", currency="USD"))
    assert result.outcome is ProviderOutcome.MISMATCH
    await services.orders.apply(
        order.id, ActorRef.user(shop.manager.id), "cancel", {"reason": "out_of_stock"}
    )
    result = await payments.confirmed(paid(order, "pay-late"))
    assert result.outcome is ProviderOutcome.MISMATCH
    fresh = await read(services, order.id)
    assert fresh.status == "cancelled" and fresh.amount_paid == 0


async def test_the_same_payment_id_for_another_order_changes_nothing(services):
    shop, order = await awaiting_payment(services)
    other = await make_order(services, shop)
    await services.orders.apply(other.id, ActorRef.user(shop.manager.id), "confirm")
    payments = PaymentService(services.sessions, services.clock, services.orders)
    await payments.confirmed(paid(order, "pay-1"))
    result = await payments.confirmed(paid(other, "pay-1"))
    assert result.outcome is ProviderOutcome.MISMATCH
    assert (await read(services, other.id)).status == "awaiting_payment"
    assert await count(services, Payment) == 1


async def test_a_refunded_return_of_an_order_paid_through_yookassa_is_owed_back_there(services):
    shop = await make_shop(services)
    payments = PaymentService(services.sessions, services.clock, services.orders)
    order = await make_order(services, shop, returnable("A", 3, 1000))
    await bind_buyer(services, order, shop.buyer_user)
    manager, buyer = ActorRef.user(shop.manager.id), ActorRef.user(shop.buyer_user.id)
    await services.orders.apply(order.id, manager, "confirm")
    assert (await payments.confirmed(paid(order, "yk-ret"))).outcome is ProviderOutcome.PAID
    await services.orders.apply(order.id, manager, "ship", {"carrier": "CDEK", "track_code": "AB1"})
    await services.orders.apply(order.id, buyer, "confirm_receipt")
    order = await services.orders.get(order.id, manager)
    returns = return_service(services)

    request = await returns.request(order.id, buyer, {order.items[0].id: 2}, "Wrong size")
    for step in (returns.approve, returns.goods_received, returns.refund):
        request = await step(request.id, manager)

    async with services.sessions() as session:
        [refund] = list(
            await session.scalars(select(PaymentRefund).where(PaymentRefund.order_id == order.id))
        )
    assert (refund.key, refund.amount, refund.status) == (f"return:{request.id}", 2000, "pending")


async def test_a_telegram_payment_of_a_cancelled_order_is_the_shops_to_give_back(services):
    shop = await make_shop(services, preset="reseller")  # cancellable after payment
    order = await make_order(services, shop)
    payments = PaymentService(services.sessions, services.clock, services.orders)
    result = await payments.confirmed(paid(order, "tg-1", provider="telegram"))
    assert result.outcome is ProviderOutcome.PAID

    await services.orders.apply(
        order.id, ActorRef.user(shop.manager.id), "cancel", {"reason": "out_of_stock"}
    )

    assert await count(services, PaymentRefund, PaymentRefund.order_id == order.id) == 0
    async with services.sessions() as session:
        kinds = list(
            await session.scalars(
                select(OutboxMessage.payload["kind"].as_string()).where(
                    OutboxMessage.order_id == order.id, OutboxMessage.topic == "payment_notice"
                )
            )
        )
    assert sorted(kinds) == ["received", "refund_by_hand"]


async def test_returned_goods_the_buyer_still_owed_for_come_off_the_debt_not_out_of_the_till(
    services,
):
    # given an order paid in full through YooKassa, whose delivery then cost 5.00 more that
    # the buyer never paid (owed: 5.00), received
    shop = await make_shop(services)
    payments = PaymentService(services.sessions, services.clock, services.orders)
    order = await make_order(services, shop, returnable("A", 3, 1000), email="buyer@example.com")
    await bind_buyer(services, order, shop.buyer_user)
    manager, buyer = ActorRef.user(shop.manager.id), ActorRef.user(shop.buyer_user.id)
    await services.orders.apply(order.id, manager, "confirm")
    assert (await payments.confirmed(paid(order, "yk-part"))).outcome is ProviderOutcome.PAID
    await services.orders.change_delivery(
        order.id, manager, method=order.delivery_method, cost=order.delivery_cost + 500
    )
    assert (await read(services, order.id)).balance_due == 500
    await services.orders.apply(order.id, manager, "ship", {"carrier": "CDEK", "track_code": "AB1"})
    await services.orders.apply(order.id, buyer, "confirm_receipt")
    returns = return_service(services)

    # when two units (20.00) come back and the shop refunds the return
    request = await returns.request(order.id, buyer, {order.items[0].id: 2}, "Wrong size")
    for step in (returns.approve, returns.goods_received, returns.refund):
        request = await step(request.id, manager)

    # then the 5.00 owed is written off and only 15.00 goes back, through YooKassa
    after = await read(services, order.id)
    assert (after.balance_due, after.amount_paid) == (0, order.total - 1500)
    async with services.sessions() as session:
        [refund] = list(
            await session.scalars(select(PaymentRefund).where(PaymentRefund.order_id == order.id))
        )
        told = await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.order_id == order.id,
                OutboxMessage.topic == "return_to_buyer",
                OutboxMessage.channel == "email",
                OutboxMessage.payload["step"].as_string() == "refunded",
            )
        )
        shop_row = await session.get(Shop, shop.id)
    assert refund.amount == 1500
    # and the buyer is told both: what came back, and what came off their debt (Russian)
    assert (told.payload["refunded"], told.payload["off_due"]) == (1500, 500)
    mail = await mail_reader(services).read(told, services.clock.now())
    assert "вернул деньги по вашему возврату #1: 15,00\xa0₽." in mail.text
    assert "5,00\xa0₽ зачтено в счёт вашего долга по заказу." in mail.text
    # and in Telegram
    i18n = build_i18n()
    notice = Notice(language="en", order=after, shop=shop_row, workflow=None, dialog=None)
    with i18n.context(), i18n.use_locale("en"):
        text, _buttons = render_notice("return_to_buyer", told.payload, notice)
    assert "refunded your return #1 (order #1): 15.00\xa0RUB; 5.00\xa0RUB came off what" in text
