"""Money after splits, edits, payments with an amount and cash on delivery (issue 14).

The issue's cases as they were found: a split after payment credited the shop twice (the
buyer paid 200.00, `available` became 300.00 after both parts were received), and an edit
after payment moved the total with nothing recorded (total 120.00, 105.00 paid).
"""

from __future__ import annotations

import pytest

from services.money.ledger.balance import BalanceService, account_balances
from services.orders.actors import ActorRef, Channel
from services.refusals import OrderRefused, Problem
from tests.factories import bind_buyer, item, make_order, make_shop
from tests.services.ledger_helpers import balances, entries, load_order

INPUTS = {"carrier": "CDEK", "track_code": "RA123456789RU"}


async def shop_balances(services, shop_id: int) -> dict[str, int]:
    async with services.sessions() as session:
        return await account_balances(session, shop_id)


async def paid_marketplace_order(services, *items, delivery_cost=0):
    """A marketplace order (no commission) confirmed and paid, its buyer bound."""
    shop = await make_shop(services, "marketplace")
    order = await make_order(services, shop, *items, delivery_cost=delivery_cost)
    await bind_buyer(services, order, shop.buyer_user)
    manager = ActorRef.user(shop.manager.id)
    await services.orders.apply(order.id, manager, "confirm")
    await services.orders.apply(order.id, ActorRef.user(shop.accountant.id), "mark_paid")
    return shop, await load_order(services, order.id), manager


async def receive(services, shop, order_id, manager) -> None:
    await services.orders.apply(order_id, manager, "ship", INPUTS)
    await services.orders.apply(order_id, ActorRef.user(shop.buyer_user.id), "confirm_receipt")


async def test_a_split_after_payment_moves_the_money_with_the_goods(services):
    # given an order of two goods the buyer paid 200.00 for
    shop, order, manager = await paid_marketplace_order(
        services, item("A", price=10_000), item("B", price=10_000)
    )
    assert (order.status, order.amount_paid) == ("preparing_shipment", 20_000)
    view = await services.orders.view(order.id, manager)
    [line_b] = [line for line in view.order.items if line.sku == "B"]

    # when the shop splits B off (different warehouses) and both parts are received
    kept, new = await services.orders.split(
        order.id, manager, move={line_b.id: 1}, reason="different_warehouses"
    )
    # then the new order is paid with the money its goods brought along, nothing owed
    kept, new = await load_order(services, kept.id), await load_order(services, new.id)
    assert (kept.total, kept.amount_paid, kept.balance_due) == (10_000, 10_000, 0)
    assert (new.total, new.amount_paid, new.balance_due) == (10_000, 10_000, 0)
    held = balances(await entries(services, new.id))
    assert held == {"buyer_payments": -10_000, "reserved": 10_000}
    await receive(services, shop, kept.id, manager)
    await receive(services, shop, new.id, manager)

    # and the shop has what the buyer paid: 200.00, not 300.00
    money = await shop_balances(services, shop.id)
    assert money["available"] == 20_000
    assert money["buyer_payments"] == -20_000
    assert money["reserved"] == money["amount_due"] == money["refund_due"] == 0


async def test_an_edit_after_payment_records_what_the_buyer_owes_then_its_payment(services):
    # given an order paid 105.00 (goods 100.00, delivery 5.00)
    shop, order, manager = await paid_marketplace_order(
        services, item("A", price=10_000), delivery_cost=500
    )
    assert (order.total, order.amount_paid, order.balance_due) == (10_500, 10_500, 0)

    # when the shop raises the delivery to 20.00 (the total becomes 120.00)
    await services.orders.change_delivery(order.id, manager, method="post", cost=2_000)

    # then the 15.00 the buyer owes is recorded, on the order and in the ledger
    order = await load_order(services, order.id)
    assert (order.total, order.amount_paid, order.balance_due) == (12_000, 10_500, 1_500)
    held = balances(await entries(services, order.id))
    assert held["amount_due"] == 1_500
    assert held["reserved"] + held["delivery_reserved"] == 10_500  # only what was paid
    # and the owner's /balance says what buyers still owe
    balance = await BalanceService(services.sessions, services.clock).balance(
        shop.id, shop.owner.id
    )
    assert (balance.reserved, balance.owed_by_buyers, balance.owed_to_buyers) == (10_500, 1_500, 0)

    # when the accountant records the buyer's payment of the difference
    recorded = await services.orders.record_payment(order.id, ActorRef.user(shop.accountant.id))

    # then nothing is owed and the whole 120.00 is reserved
    assert recorded == 1_500
    order = await load_order(services, order.id)
    assert (order.amount_paid, order.balance_due) == (12_000, 0)
    held = balances(await entries(services, order.id))
    assert (held["reserved"], held["delivery_reserved"]) == (10_000, 2_000)
    assert "amount_due" not in held
    # and a second tap has nothing left to record
    with pytest.raises(OrderRefused) as refused:
        await services.orders.record_payment(order.id, ActorRef.user(shop.accountant.id))
    assert refused.value.code is Problem.ALREADY_DONE


async def test_an_edit_lowering_a_paid_total_owes_the_difference_back_until_refunded(services):
    # given an order paid 105.00
    shop, order, manager = await paid_marketplace_order(
        services, item("A", price=10_000), delivery_cost=500
    )

    # when the buyer switches to pickup: the delivery is free
    await services.orders.change_delivery(order.id, manager, method="post", cost=0)

    # then the shop owes the buyer 5.00, held apart from its income
    order = await load_order(services, order.id)
    assert (order.total, order.amount_paid, order.balance_due) == (10_000, 10_500, -500)
    held = balances(await entries(services, order.id))
    assert (held["reserved"], held["refund_due"]) == (10_000, 500)
    assert "delivery_reserved" not in held

    # a packer may not say the refund was made; the owner may
    with pytest.raises(OrderRefused) as refused:
        await services.orders.record_refund(order.id, ActorRef.user(shop.packer.id))
    assert refused.value.code is Problem.FORBIDDEN
    assert await services.orders.record_refund(order.id, ActorRef.user(shop.owner.id)) == 500

    order = await load_order(services, order.id)
    assert (order.amount_paid, order.balance_due) == (10_000, 0)
    assert balances(await entries(services, order.id))["refunds"] == 500


async def test_a_free_order_marked_paid_owes_what_an_edit_adds(services):
    # given an order that costs nothing (its one line wholly discounted, no delivery cost),
    # confirmed and marked paid
    shop, order, manager = await paid_marketplace_order(
        services, item("A", price=100, discount=100)
    )
    assert (order.total, order.amount_paid, order.balance_due) == (0, 0, 0)

    # when the shop sets a delivery cost of 3.00
    await services.orders.change_delivery(order.id, manager, method="post", cost=300)

    # then the buyer owes it, as for any paid order whose total went up (found by the
    # ledger's property test: the payment of nothing had left no trace, so nobody owed it)
    order = await load_order(services, order.id)
    assert (order.total, order.amount_paid, order.balance_due) == (300, 0, 300)
    held = balances(await entries(services, order.id))
    assert held == {"buyer_payments": -300, "amount_due": 300}
    # and once it is paid, the order is settled
    assert await services.orders.record_payment(order.id, ActorRef.user(shop.accountant.id)) == 300
    order = await load_order(services, order.id)
    assert (order.amount_paid, order.balance_due) == (300, 0)


async def test_cash_on_delivery_reserves_nothing_before_the_cash_is_collected(services):
    # given a cash-on-delivery order the shop accepted: "paid" at once, by the workflow (000)
    shop = await make_shop(services, "marketplace")
    order = await make_order(services, shop, payment="cash_on_delivery", delivery_cost=500)
    await bind_buyer(services, order, shop.buyer_user)
    manager = ActorRef.user(shop.manager.id)
    await services.orders.apply(order.id, manager, "confirm")
    order = await load_order(services, order.id)
    assert order.status == "preparing_shipment"

    # then no money is reserved as paid, nothing is shown as paid
    assert await entries(services, order.id) == []
    assert (order.amount_paid, order.balance_due) == (0, 0)
    await services.orders.apply(order.id, manager, "ship", INPUTS)
    assert await entries(services, order.id) == []

    # when the buyer has the goods (the courier took the cash)
    await services.orders.apply(order.id, ActorRef.user(shop.buyer_user.id), "confirm_receipt")

    # then the payment is booked and credited at once
    order = await load_order(services, order.id)
    assert order.amount_paid == order.total == 10_500
    held = balances(await entries(services, order.id))
    assert held == {"buyer_payments": -10_500, "available": 10_500}


async def test_a_payment_with_an_amount_is_recorded_once_per_reference(services):
    # given an order awaiting payment
    shop = await make_shop(services, "marketplace")
    order = await make_order(services, shop, delivery_cost=0)
    await services.orders.apply(order.id, ActorRef.user(shop.manager.id), "confirm")
    provider = ActorRef.system(Channel.PAYMENT)

    # when a provider reports 60.00 of the 100.00, twice (a repeated notice)
    for expected in (6_000, 0):
        recorded = await services.orders.record_payment(order.id, provider, 6_000, reference="yk-1")
        assert recorded == expected

    # then 60.00 is paid once and 40.00 is owed
    order = await load_order(services, order.id)
    assert (order.amount_paid, order.balance_due) == (6_000, 4_000)
    # and the workflow's "paid" does not pay the order twice
    await services.orders.apply(order.id, ActorRef.user(shop.accountant.id), "mark_paid")
    order = await load_order(services, order.id)
    assert (order.amount_paid, order.balance_due) == (6_000, 4_000)
    # hostile amounts change nothing
    for amount in (0, -5, 10**15, True):
        with pytest.raises(OrderRefused):
            await services.orders.record_payment(order.id, provider, amount, reference="yk-2")
    with pytest.raises(OrderRefused):
        await services.orders.record_payment(order.id, provider, 100, reference="x" * 41)
    assert (await load_order(services, order.id)).amount_paid == 6_000


async def test_cancelling_gives_back_what_is_owed_and_drops_what_the_buyer_owed(services):
    # given a reseller order paid 50.00 of 100.00 by a provider
    shop = await make_shop(services, "reseller")
    order = await make_order(services, shop, delivery_cost=0)
    await services.orders.record_payment(
        order.id, ActorRef.system(Channel.PAYMENT), 5_000, reference="p-1"
    )
    assert (await load_order(services, order.id)).balance_due == 5_000

    # when the shop cancels it
    await services.orders.apply(
        order.id, ActorRef.user(shop.manager.id), "cancel", {"reason": "out_of_stock"}
    )

    # then the buyer gets back what they paid and owes nothing
    order = await load_order(services, order.id)
    assert (order.status, order.amount_paid, order.balance_due) == ("cancelled", 0, 0)
    held = balances(await entries(services, order.id))
    assert held == {"buyer_payments": -5_000, "refunds": 5_000}
    # and a cancelled order takes no payment
    with pytest.raises(OrderRefused) as refused:
        await services.orders.record_payment(
            order.id, ActorRef.system(Channel.PAYMENT), 100, reference="p-2"
        )
    assert refused.value.code is Problem.ORDER_CLOSED


async def test_a_split_off_order_paid_later_counts_as_paid_once(services):
    # given a 150.00 order paid 50.00 by a provider, whose 50.00 then went with B to a
    # split-off order, so the rest (A, 2 x 50.00) is paid in part and holds nothing
    shop = await make_shop(services, "marketplace")
    order = await make_order(
        services, shop, item("A", quantity=2, price=5_000), item("B", price=5_000), delivery_cost=0
    )
    manager = ActorRef.user(shop.manager.id)
    provider = ActorRef.system(Channel.PAYMENT)
    await services.orders.apply(order.id, manager, "confirm")
    await services.orders.record_payment(order.id, provider, 5_000, reference="p-1")
    lines = {line.sku: line for line in (await services.orders.view(order.id, manager)).order.items}
    _, with_b = await services.orders.split(
        order.id, manager, move={lines["B"].id: 1}, reason="different_warehouses"
    )
    assert (await load_order(services, with_b.id)).balance_due == 0

    # when one A is split off too (no money comes along: the buyer owes all of it)
    _, with_a = await services.orders.split(
        order.id, manager, move={lines["A"].id: 1}, reason="different_warehouses"
    )
    assert (await load_order(services, with_a.id)).balance_due == 5_000
    # and the buyer pays that order in full
    await services.orders.record_payment(with_a.id, provider, 5_000, reference="p-2")

    # then it is paid once: the workflow's "paid" does not pay it again
    await services.orders.apply(with_a.id, ActorRef.user(shop.accountant.id), "mark_paid")
    with_a = await load_order(services, with_a.id)
    assert (with_a.amount_paid, with_a.balance_due) == (5_000, 0)
    held = balances(await entries(services, with_a.id))
    assert held.get("refund_due", 0) == 0
    assert held["reserved"] + held.get("fee_reserved", 0) == 5_000
