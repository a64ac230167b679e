"""The shop's money terms in its settings, and the income the order list shows (004)."""

from __future__ import annotations

import pytest

from services.orders.actors import ActorRef
from services.orders.queries import OrderQueries
from services.refusals import Reason, Refused
from services.shops.settings import ShopSettingsService
from storage.models import Shop
from tests.factories import item, make_order, make_shop


@pytest.fixture
def settings(services) -> ShopSettingsService:
    return ShopSettingsService(services.sessions, services.clock, services.workflows)


async def shop_settings_of(services, shop_id) -> dict:
    async with services.sessions() as session:
        return (await session.get(Shop, shop_id)).settings


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("12.5", "12.5"), ("12,5", "12.5"), ("7 %", "7"), ("0", "0"), ("100", "100"), ("3.10", "3.1")],
)
async def test_the_owner_sets_the_commission(services, settings, typed, stored):
    shop = await make_shop(services, "reseller")
    await settings.update(shop.id, shop.owner.id, "commission_percent", typed)
    assert (await shop_settings_of(services, shop.id))["commission_percent"] == stored


@pytest.mark.parametrize("typed", ["-1", "100.01", "12.345", "abc", "", "1e2", "nan"])
async def test_a_bad_commission_is_refused_and_changes_nothing(services, settings, typed):
    shop = await make_shop(services, "reseller", commission_percent="5")
    with pytest.raises(Refused) as caught:
        await settings.update(shop.id, shop.owner.id, "commission_percent", typed)
    assert caught.value.code is Reason.INVALID
    assert "write a number from 0 to 100" in caught.value.message
    assert (await shop_settings_of(services, shop.id))["commission_percent"] == "5"


async def test_the_kind_and_the_late_cancellation_fee(services, settings):
    shop = await make_shop(services, "reseller")
    await settings.update(shop.id, shop.owner.id, "commission_kind", "distributor_discount")
    await settings.update(shop.id, shop.owner.id, "late_cancel_fee", "on")
    stored = await shop_settings_of(services, shop.id)
    assert stored["commission_kind"] == "distributor_discount"
    assert stored["late_cancel_fee"] is True
    with pytest.raises(Refused, match="unknown kind 'tip'"):
        await settings.update(shop.id, shop.owner.id, "commission_kind", "tip")
    with pytest.raises(Refused, match="use on or off"):
        await settings.update(shop.id, shop.owner.id, "late_cancel_fee", "maybe")


async def test_only_owner_and_admins_change_the_terms(services, settings):
    shop = await make_shop(services, "reseller")
    with pytest.raises(Refused) as caught:
        await settings.update(shop.id, shop.accountant.id, "commission_percent", "1")
    assert caught.value.code is Reason.FORBIDDEN


async def test_the_order_list_shows_each_orders_income(services):
    # given a shop with a 12.5 % commission and an order of goods 50.68 after discounts
    shop = await make_shop(services, "reseller", commission_percent="12.5")
    await make_order(
        services,
        shop,
        item("A", quantity=3, price=1000, discount=100),
        item("B", quantity=1, price=2501),
        discount=333,
        delivery_cost=350,
    )
    queries = OrderQueries(services.sessions, services.clock, services.workflows)

    page = await queries.list_orders(shop.id, shop.owner.id)

    # then its income is the goods minus the commission: 50.68 - 6.34
    [row] = page.rows
    assert (row.total, row.income) == (5418, 4434)


async def test_a_paid_orders_income_stays_what_was_reserved(services, settings):
    # given an order paid at 12.5 %, and one not paid yet
    shop = await make_shop(services, "reseller", commission_percent="12.5")
    paid = await make_order(services, shop, item("A", price=10_000), delivery_cost=0)
    await make_order(services, shop, item("A", price=10_000), delivery_cost=0)
    await services.orders.apply(paid.id, ActorRef.user(shop.accountant.id), "mark_paid")

    # when the commission changes to 20 %
    await settings.update(shop.id, shop.owner.id, "commission_percent", "20")

    # then the paid order keeps its income, the unpaid one shows today's terms
    queries = OrderQueries(services.sessions, services.clock, services.workflows)
    rows = {row.id: row.income for row in (await queries.list_orders(shop.id, shop.owner.id)).rows}
    assert rows.pop(paid.id) == 8750
    assert list(rows.values()) == [8000]
