"""Seed 004's money scenarios through the order service, the real database and the sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.money.ledger.postings import post_return_refund
from services.orders.actors import ActorRef, Channel
from services.refusals import OrderRefused
from services.time.sweep import TimerSweep
from storage.models import LedgerEntry, Order, OrderEvent
from tests.services.ledger_helpers import (
    DELIVERY,
    FEE,
    GOODS,
    INCOME,
    LINE_A,
    LINE_B,
    act,
    balances,
    entries,
    example_order,
    example_shop,
    load_order,
    order_items,
    postings,
)
from tests.sql_log import statements_of

PAID = [
    ("reserve_income", "buyer_payments", "reserved", INCOME),
    ("reserve_delivery", "buyer_payments", "delivery_reserved", DELIVERY),
    ("reserve_fee", "buyer_payments", "fee_reserved", FEE),
]
CREDITED = [
    ("credit_income", "reserved", "available", INCOME),
    ("credit_delivery", "delivery_reserved", "available", DELIVERY),
    ("earn_fee", "fee_reserved", "platform_fee", FEE),
]


async def test_paid_then_confirmed_by_the_buyer_is_credited_with_the_delivery(services):
    # given a paid reseller order (004: "the sum is reserved as expected income")
    shop = await example_shop(services)
    order = await example_order(services, shop)
    assert await entries(services, order.id) == []  # nothing before the payment
    await act(services, shop, order, shop.accountant, "mark_paid")
    assert postings(await entries(services, order.id)) == PAID
    assert balances(await entries(services, order.id))["reserved"] == INCOME

    # when it is shipped and the buyer confirms receipt
    await act(services, shop, order, shop.packer, "ship")
    await act(services, shop, order, shop.buyer_user, "confirm_receipt")

    # then the income and the delivery cost are credited, the platform earns its commission
    rows = await entries(services, order.id)
    assert postings(rows) == PAID + CREDITED
    assert balances(rows) == {
        "buyer_payments": -(GOODS + DELIVERY),
        "available": INCOME + DELIVERY,
        "platform_fee": FEE,
    }
    confirm = rows[-1]
    async with services.sessions() as session:
        event = await session.get(OrderEvent, confirm.event_id)
    assert event.action == "confirm_receipt"  # each entry points at the change that made it


async def test_fulfilled_then_completed_by_the_sweep_after_15_days_is_credited(services):
    # given a paid order marked fulfilled
    shop = await example_shop(services)
    order = await example_order(services, shop, delivery="courier")
    await act(services, shop, order, shop.accountant, "mark_paid")
    await act(services, shop, order, shop.courier, "fulfil")
    sweep = TimerSweep(services.sessions, services.clock, services.orders)

    # when 15 days less a minute pass, nothing is credited yet
    services.clock.advance(timedelta(days=15) - timedelta(minutes=1))
    await sweep.run_once()
    assert postings(await entries(services, order.id)) == PAID

    # when the protection period is over, the sweep completes the order
    services.clock.advance(timedelta(minutes=1))
    await sweep.run_once()

    # then it is completed and credited, income plus delivery
    assert (await load_order(services, order.id)).status == "completed"
    rows = await entries(services, order.id)
    assert postings(rows) == PAID + CREDITED
    assert balances(rows)["available"] == INCOME + DELIVERY


async def test_cancelled_after_shipping_refunds_the_goods_not_the_delivery(services):
    # given a paid, shipped order
    shop = await example_shop(services)
    order = await example_order(services, shop)
    await act(services, shop, order, shop.accountant, "mark_paid")
    await act(services, shop, order, shop.packer, "ship")

    # when the buyer cancels it
    await act(services, shop, order, shop.buyer_user, "cancel", reason="changed_mind")

    # then the buyer gets the goods' price back (commission included) but not the delivery,
    # and the shop is compensated its delivery cost
    rows = await entries(services, order.id)
    assert postings(rows) == [
        *PAID,
        ("refund_goods", "reserved", "refunds", INCOME),
        ("refund_fee", "fee_reserved", "refunds", FEE),
        ("compensate_delivery", "delivery_reserved", "available", DELIVERY),
    ]
    assert balances(rows) == {
        "buyer_payments": -(GOODS + DELIVERY),
        "refunds": GOODS,
        "available": DELIVERY,
    }


async def test_cancelled_before_shipping_refunds_goods_and_delivery(services):
    shop = await example_shop(services)
    order = await example_order(services, shop)
    await act(services, shop, order, shop.accountant, "mark_paid")

    await act(services, shop, order, shop.manager, "cancel", reason="out_of_stock")

    rows = await entries(services, order.id)
    assert balances(rows) == {"buyer_payments": -(GOODS + DELIVERY), "refunds": GOODS + DELIVERY}
    assert "available" not in balances(rows)


async def test_cancelled_unpaid_moves_no_money(services):
    shop = await example_shop(services)
    order = await example_order(services, shop)
    await act(services, shop, order, shop.buyer_user, "cancel", reason="changed_mind")
    assert await entries(services, order.id) == []


async def return_lines(services, order_id, return_id, **quantities):
    items = await order_items(services, order_id)
    async with services.sessions() as session, session.begin():
        order = await session.get(Order, order_id)
        await post_return_refund(
            session,
            order=order,
            lines=[(items[sku], quantity) for sku, quantity in quantities.items()],
            return_id=return_id,
            now=services.clock.now(),
        )


async def test_a_returned_line_after_crediting_is_reversed_from_available(services):
    # given a confirmed (credited) order
    shop = await example_shop(services)
    order = await example_order(services, shop)
    await act(services, shop, order, shop.accountant, "mark_paid")
    await act(services, shop, order, shop.packer, "ship")
    await act(services, shop, order, shop.buyer_user, "confirm_receipt")
    credited = len(await entries(services, order.id))

    # when line B comes back
    await return_lines(services, order.id, 1, B=1)

    # then its income leaves the balance, its commission the platform's, both to the buyer
    rows = await entries(services, order.id)
    assert postings(rows[credited:]) == [
        ("return_income", "available", "refunds", LINE_B["income"]),
        ("return_fee", "platform_fee", "refunds", LINE_B["fee"]),
    ]
    assert balances(rows) == {
        "buyer_payments": -(GOODS + DELIVERY),
        "available": INCOME + DELIVERY - LINE_B["income"],
        "platform_fee": FEE - LINE_B["fee"],
        "refunds": LINE_B["goods"],
    }


async def test_a_return_before_crediting_comes_from_reserved_and_units_add_up(services):
    # given a fulfilled order, not yet completed
    shop = await example_shop(services)
    order = await example_order(services, shop, delivery="courier")
    await act(services, shop, order, shop.accountant, "mark_paid")
    await act(services, shop, order, shop.courier, "fulfil")

    # when the three units of line A come back one by one
    for return_id in (1, 2, 3):
        await return_lines(services, order.id, return_id, A=1)

    # then the buyer got a third of the line's 27.21 each time (9.07), of which the commission
    # 1.13, 1.13, then the 1.14 left; exactly line A's income went back, from reserved
    rows = await entries(services, order.id)
    returned = [r for r in rows if r.kind == "return_income"]
    fees = [r for r in rows if r.kind == "return_fee"]
    assert [r.amount for r in fees] == [113, 113, 114]
    assert [r.amount for r in returned] == [794, 794, 793]
    assert {r.credit_account for r in returned} == {"reserved"}
    assert sum(r.amount for r in rows if r.kind == "return_fee") == LINE_A["fee"]
    assert balances(rows)["reserved"] == INCOME - LINE_A["income"]

    # and completing the order credits what is left
    await act(services, shop, order, shop.buyer_user, "confirm_receipt")
    final = balances(await entries(services, order.id))
    assert final["available"] == INCOME - LINE_A["income"] + DELIVERY
    assert "reserved" not in final


async def test_returning_more_than_was_bought_is_refused_and_posts_nothing(services):
    shop = await example_shop(services)
    order = await example_order(services, shop)
    await act(services, shop, order, shop.accountant, "mark_paid")
    before = await entries(services, order.id)

    with pytest.raises(ValueError, match="cannot return 4 of 3"):
        await return_lines(services, order.id, 1, A=4)
    await return_lines(services, order.id, 2, A=3)
    with pytest.raises(ValueError, match="3 returned already"):
        await return_lines(services, order.id, 3, A=1)
    assert len(await entries(services, order.id)) == len(before) + 2


async def test_the_same_return_is_never_posted_twice(services):
    shop = await example_shop(services)
    order = await example_order(services, shop)
    await act(services, shop, order, shop.accountant, "mark_paid")
    await return_lines(services, order.id, 7, B=1)
    count = len(await entries(services, order.id))
    await return_lines(services, order.id, 7, B=1)  # a retried call for return 7
    assert len(await entries(services, order.id)) == count


async def test_entries_roll_back_with_a_refused_change(services):
    # a change that fails after the ledger was written leaves no entries behind
    shop = await example_shop(services)
    order = await example_order(services, shop)
    async with services.sessions() as session:
        count = await session.scalar(select(func.count(LedgerEntry.id)))

    with pytest.raises(OrderRefused):
        await act(services, shop, order, shop.packer, "mark_paid")  # not the packer's
    assert len(await entries(services)) == count


async def test_a_payment_writes_its_entries_and_the_orders_totals_in_one_go(
    services, engine, backend
):
    # given an unpaid reseller order
    shop = await example_shop(services)
    order = await example_order(services, shop)

    # when it is marked paid
    with statements_of(engine) as seen:
        await act(services, shop, order, shop.accountant, "mark_paid")

    # then its three entries and its totals went out in one statement on PostgreSQL (CTEs
    # of the transaction's last statement, the totals in the status change's UPDATE of the
    # order: storage.held), in two on SQLite
    inserts = [s for s in seen if "INSERT INTO ledger_entries" in s]
    totals = [s for s in seen if "UPDATE orders SET" in s and "amount_paid=" in s]
    assert len(inserts) == 1 and len(totals) == 1
    assert (inserts == totals) is (backend == "postgres")
    # and what was written is what the book counted: entries and the totals they make
    assert postings(await entries(services, order.id)) == PAID
    stored = await load_order(services, order.id)
    assert (stored.amount_paid, stored.balance_due) == (GOODS + DELIVERY, 0)


async def partly_paid_and_received(services, paid: int):
    """The example order: `paid` of its 54.18 paid (a provider's payment with an amount),
    then marked paid, shipped and received: credited, the rest still owed."""
    shop = await example_shop(services)
    order = await example_order(services, shop)
    provider = ActorRef.system(Channel.PAYMENT)
    assert await services.orders.record_payment(order.id, provider, paid, reference="p-1") == paid
    for who, action in ((shop.accountant, "mark_paid"), (shop.packer, "ship")):
        await act(services, shop, order, who, action)
    await act(services, shop, order, shop.buyer_user, "confirm_receipt")
    return shop, order


async def test_goods_returned_from_a_partly_paid_order_come_off_the_debt_first(services):
    # given the example order with 10.00 of its 54.18 paid, received: the 10.00 paid the
    # commission (6.34) first, then the delivery (3.50), then 0.16 of the income; 44.18 owed
    _shop, order = await partly_paid_and_received(services, 1000)
    assert balances(await entries(services, order.id)) == {
        "buyer_payments": -(GOODS + DELIVERY),
        "amount_due": GOODS + DELIVERY - 1000,
        "available": 1000 - FEE,
        "platform_fee": FEE,
    }
    before = len(await entries(services, order.id))

    # when line B (23.47) comes back: the buyer paid nothing of it
    await return_lines(services, order.id, 1, B=1)

    # then it comes off the debt, nobody is paid back; the commission now asked of the
    # 10.00 is line A's 3.40 only, so B's 2.94 goes to the shop
    rows = await entries(services, order.id)
    assert postings(rows[before:]) == [
        ("return_due", "amount_due", "buyer_payments", LINE_B["goods"]),
        ("return_income", "available", "refunds", 0),  # the memo of the units
        ("fee_released", "platform_fee", "available", LINE_B["fee"]),
    ]
    fresh = await load_order(services, order.id)
    assert (fresh.amount_paid, fresh.balance_due) == (
        1000,
        GOODS + DELIVERY - 1000 - LINE_B["goods"],
    )

    # when line A (27.21) comes back too: 20.71 was still owed, so 6.50 is paid back, of it
    # A's whole commission (the platform holds nothing of goods all returned)
    await return_lines(services, order.id, 2, A=3)

    rows = await entries(services, order.id)
    owed = GOODS + DELIVERY - 1000 - LINE_B["goods"]
    assert postings(rows[before + 3 :]) == [
        ("return_due", "amount_due", "buyer_payments", owed),
        ("return_income", "available", "refunds", LINE_A["goods"] - owed - LINE_A["fee"]),
        ("return_fee", "platform_fee", "refunds", LINE_A["fee"]),
    ]
    # the buyer paid 10.00 and got 6.50 back: they kept no goods, so they paid the delivery
    assert balances(rows) == {
        "buyer_payments": -1000,
        "available": DELIVERY,
        "refunds": 1000 - DELIVERY,
    }
    fresh = await load_order(services, order.id)
    assert (fresh.amount_paid, fresh.balance_due) == (DELIVERY, 0)


async def test_late_payments_after_credit_fill_the_commission_once(services):
    # given the example order with 3.00 of its 54.18 paid, credited: the platform has 3.00
    # of its 6.34 commission
    shop, order = await partly_paid_and_received(services, 300)
    accountant = ActorRef.user(shop.accountant.id)

    # when the buyer pays 2.00, then 2.00 more of what they owe
    for reference in ("late-1", "late-2"):
        await services.orders.record_payment(
            order.id, ActorRef.system(Channel.PAYMENT), 200, reference=reference
        )

    # then the commission got 2.00, then the 1.34 it still lacked; the shop the rest
    held = balances(await entries(services, order.id))
    assert held["platform_fee"] == FEE
    assert held["available"] == 700 - FEE
    # and what is left is owed; paying it all goes to the shop
    await services.orders.record_payment(order.id, accountant)
    held = balances(await entries(services, order.id))
    assert (held["platform_fee"], held["available"]) == (FEE, GOODS + DELIVERY - FEE)
