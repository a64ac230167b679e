"""F4 (seed 003): a shop cancelling an order past its time limit pays the fee as if fulfilled."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.time.sweep import TimerSweep
from tests.services.ledger_helpers import FEE, act, balances, entries, example_order, example_shop

WEEK = timedelta(days=7)  # far past the 3 working hours a new platform order has


async def test_a_shop_cancelling_past_the_time_limit_pays_the_fee(services):
    # given a platform shop that charges late cancellations, and a new order left too long
    shop = await example_shop(services, "platform", late_cancel_fee=True)
    order = await example_order(services, shop)
    services.clock.advance(WEEK)

    # when the manager cancels it
    await act(services, shop, order, shop.manager, "cancel", reason="cannot_reach_buyer")

    # then the shop is charged the commission the fulfilled order would have paid
    rows = await entries(services, order.id)
    assert [(r.kind, r.credit_account, r.debit_account, r.amount) for r in rows] == [
        ("penalty", "available", "platform_fee", FEE)
    ]
    assert balances(rows) == {"available": -FEE, "platform_fee": FEE}


@pytest.mark.parametrize(
    ("late_cancel_fee", "wait", "who", "reason"),
    [
        pytest.param(False, WEEK, "manager", "cannot_reach_buyer", id="setting-off"),
        pytest.param(True, timedelta(minutes=30), "manager", "cannot_reach_buyer", id="in-time"),
        pytest.param(True, WEEK, "buyer_user", "changed_mind", id="buyer-cancels"),
    ],
)
async def test_no_fee_otherwise(services, late_cancel_fee, wait, who, reason):
    shop = await example_shop(services, "platform", late_cancel_fee=late_cancel_fee)
    order = await example_order(services, shop)
    services.clock.advance(wait)

    await act(services, shop, order, getattr(shop, who), "cancel", reason=reason)

    assert await entries(services, order.id) == []


async def test_the_system_cancelling_for_the_shop_past_the_limit_pays_the_fee(services):
    # given a shop that has late orders cancelled automatically, and charges for it
    shop = await example_shop(services, "platform", late_cancel_fee=True, sla_auto_cancel=True)
    order = await example_order(services, shop)

    # when the time limit passes and the sweep cancels the order
    services.clock.advance(WEEK)
    await TimerSweep(services.sessions, services.clock, services.orders).run_once()

    # then the fee is charged once
    rows = await entries(services, order.id)
    assert [(r.kind, r.amount) for r in rows] == [("penalty", FEE)]


async def test_a_paid_order_cancelled_late_is_refunded_and_the_shop_still_pays(services):
    # given a stages shop: a paid order out for delivery, its time there long over
    shop = await example_shop(services, "stages", late_cancel_fee=True)
    order = await example_order(services, shop, delivery="post", payment="card")
    await act(services, shop, order, shop.manager, "take")
    await act(services, shop, order, shop.manager, "confirm")
    await act(services, shop, order, shop.packer, "pack")
    await act(services, shop, order, shop.accountant, "mark_paid")
    services.clock.advance(timedelta(days=60))

    # when the shop cancels it
    await act(services, shop, order, shop.manager, "cancel", reason="buyer_refused")

    # then the buyer gets the goods back, the shop keeps the delivery, and pays the fee
    rows = await entries(services, order.id)
    final = balances(rows)
    assert final["refunds"] == 5068
    assert final["available"] == 350 - FEE
    assert final["platform_fee"] == FEE
    # and the buyer's payment is all there is besides: nothing held any more
    assert final["buyer_payments"] == -(5068 + 350)
    assert set(final) == {"refunds", "available", "platform_fee", "buyer_payments"}
