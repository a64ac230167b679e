"""The order list (C4) and each person's queue (C2): filters, search, pages."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from services.orders.actors import ActorRef
from services.orders.queries import OrderPage, OrderQueries
from services.refusals import Reason, Refused
from services.shops.settings import ShopSettingsService
from storage.models import Order
from tests.factories import item, make_order, make_shop


@pytest.fixture
def queries(services) -> OrderQueries:
    return OrderQueries(services.sessions, services.clock, services.workflows)


async def refusal(awaitable) -> Refused:
    with pytest.raises(Refused) as caught:
        await awaitable
    return caught.value


def numbers(page: OrderPage) -> list[int]:
    return [row.number for row in page.rows]


async def move(services, shop, order, *steps: tuple[str, str]) -> None:
    """Take workflow actions as the named staff members: ("manager", "confirm")."""
    for who, action in steps:
        inputs = {"reason": "out_of_stock"} if action == "cancel" else None
        await services.orders.apply(order.id, ActorRef.user(getattr(shop, who).id), action, inputs)


async def test_pages_of_23_orders(services, queries):
    # given 23 orders
    shop = await make_shop(services)
    for _ in range(23):
        await make_order(services, shop)

    # when the owner leafs through pages of 10
    pages = [await queries.list_orders(shop.id, shop.owner.id, page=p) for p in range(4)]

    # then newest first: 10, 10, 3, then nothing
    assert numbers(pages[0]) == list(range(23, 13, -1))
    assert numbers(pages[1]) == list(range(13, 3, -1))
    assert numbers(pages[2]) == [3, 2, 1]
    assert numbers(pages[3]) == []
    assert {p.total for p in pages} == {23}
    assert (pages[0].pages, pages[0].has_previous, pages[0].has_next) == (3, False, True)
    assert (pages[2].has_previous, pages[2].has_next) == (True, False)


async def test_a_row_carries_what_the_list_shows(services, queries):
    # given
    shop = await make_shop(services)
    order = await make_order(services, shop, item("A", 2, 1500), delivery_cost=300)

    # when
    page = await queries.list_orders(shop.id, shop.packer.id)

    # then
    [row] = page.rows
    assert (row.id, row.number, row.created_at) == (order.id, 1, services.clock.now())
    assert (row.buyer_name, row.buyer_phone) == ("Ivan Petrov", "+79161234567")
    assert (row.total, row.currency) == (3300, "RUB")
    assert row.status == "awaiting_confirmation"
    assert row.status_title["en"] == "Awaiting confirmation"
    assert row.status_title["ru"] == "Ожидает подтверждения"
    assert row.problem is False


async def test_final_orders_are_left_out_unless_asked_for(services, queries):
    # given an open order and a cancelled one
    shop = await make_shop(services)
    open_order = await make_order(services, shop)
    cancelled = await make_order(services, shop)
    await move(services, shop, cancelled, ("manager", "cancel"))

    # when the list is read plainly, by the final status, and by the number
    plain = await queries.list_orders(shop.id, shop.owner.id)
    by_status = await queries.list_orders(shop.id, shop.owner.id, status="cancelled")
    by_number = await queries.list_orders(shop.id, shop.owner.id, search=f"#{cancelled.number}")

    # then only the open order is listed plainly; asking finds the cancelled one
    assert numbers(plain) == [open_order.number]
    assert numbers(by_status) == [cancelled.number]
    assert by_status.rows[0].status_title["en"] == "Cancelled"
    assert numbers(by_number) == [cancelled.number]


async def test_status_filter(services, queries):
    # given two orders awaiting payment and one awaiting confirmation
    shop = await make_shop(services)
    orders = [await make_order(services, shop) for _ in range(3)]
    for order in orders[:2]:
        await move(services, shop, order, ("manager", "confirm"))
    # when
    page = await queries.list_orders(shop.id, shop.owner.id, status="awaiting_payment")
    # then
    assert numbers(page) == [2, 1]
    assert page.total == 2


async def test_problem_filter(services, queries):
    # given one order flagged as a problem (an SLA ran out)
    shop = await make_shop(services)
    orders = [await make_order(services, shop) for _ in range(3)]
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(Order).where(Order.id == orders[1].id).values(problem=True, version=9)
        )
    # when
    problems = await queries.list_orders(shop.id, shop.owner.id, problem=True)
    fine = await queries.list_orders(shop.id, shop.owner.id, problem=False)
    # then
    assert numbers(problems) == [2]
    assert problems.rows[0].problem is True
    assert numbers(fine) == [3, 1]


async def test_mine_follows_the_responsible_role(services, queries):
    # given orders in statuses for the manager, the accountant and the packer
    shop = await make_shop(services)
    new = await make_order(services, shop)  # awaiting confirmation: manager
    billed = await make_order(services, shop)  # awaiting payment: accountant
    await move(services, shop, billed, ("manager", "confirm"))
    packing = await make_order(services, shop)  # preparing shipment: packer
    await move(services, shop, packing, ("manager", "confirm"), ("accountant", "mark_paid"))
    cancelled = await make_order(services, shop)
    await move(services, shop, cancelled, ("manager", "cancel"))

    # when each looks at their own orders
    def mine(who):
        return queries.list_orders(shop.id, getattr(shop, who).id, mine=True)

    # then each sees their statuses; the courier has nothing now
    assert numbers(await mine("manager")) == [new.number]
    assert numbers(await mine("accountant")) == [billed.number]
    assert numbers(await mine("packer")) == [packing.number]
    assert numbers(await mine("courier")) == []
    # and the owner's "mine" is everything still under way
    assert numbers(await mine("owner")) == [packing.number, billed.number, new.number]
    assert numbers(await queries.queue(shop.id, shop.packer.id)) == [packing.number]


async def test_mine_reads_each_orders_own_workflow_version(services, queries):
    # given an order on the first version, where managers confirm new orders
    shop = await make_shop(services)
    old = await make_order(services, shop)
    # when packers are made responsible for new orders, and another order comes in
    settings = ShopSettingsService(services.sessions, services.clock, services.workflows)
    await settings.set_responsible(shop.id, shop.owner.id, "awaiting_confirmation", "packer")
    new = await make_order(services, shop)
    # then each order is in the queue its own version names
    assert numbers(await queries.queue(shop.id, shop.manager.id)) == [old.number]
    assert numbers(await queries.queue(shop.id, shop.packer.id)) == [new.number]


async def test_mine_combines_with_other_filters(services, queries):
    # given three of the manager's orders, the newest a problem
    shop = await make_shop(services)
    for _ in range(3):
        await make_order(services, shop)
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(Order).where(Order.shop_id == shop.id, Order.number == 3).values(problem=True)
        )
    # when the manager asks for their problem orders
    page = await queries.list_orders(shop.id, shop.manager.id, mine=True, problem=True)
    # then
    assert numbers(page) == [3]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("#2", [2]),
        ("# 2", [2]),
        ("2", [2]),
        ("+7 916 765-43-21", [3, 1]),
        ("8 (916) 765 43 21", [3, 1]),
        ("89167654321", [3, 1]),
        ("+79161234567", [2]),
        ("#99", []),
        ("+7 903 000-00-00", []),
    ],
)
async def test_search_by_number_or_phone(services, queries, search, expected):
    # given three orders, two of them from one buyer who wrote the phone differently
    shop = await make_shop(services)
    await make_order(services, shop, phone="+79167654321", email=None)
    await make_order(services, shop, phone="+79161234567", email=None)
    await make_order(services, shop, phone="89167654321", email=None)
    # when
    page = await queries.list_orders(shop.id, shop.manager.id, search=search)
    # then
    assert numbers(page) == expected
    assert page.total == len(expected)


async def test_digits_may_be_a_number_or_a_phone(services, queries):
    # given a Ukrainian shop, whose national numbers have nine digits, with two orders
    shop = await make_shop(services)
    settings = ShopSettingsService(services.sessions, services.clock, services.workflows)
    await settings.update(shop.id, shop.owner.id, "country", "UA")
    for _ in range(2):
        await make_order(services, shop, phone="+380501234567", email=None)
    # when the digits are searched, and the same phone with its trunk zero
    both = await queries.list_orders(shop.id, shop.owner.id, search="501234567")
    phone = await queries.list_orders(shop.id, shop.owner.id, search="050 123 45 67")
    number = await queries.list_orders(shop.id, shop.owner.id, search="1")
    # then digits find the orders of that phone, and the order with that number if any
    assert numbers(both) == [2, 1]
    assert numbers(phone) == [2, 1]
    assert numbers(number) == [1]


@pytest.mark.parametrize("search", ["hello", "#abc", "#1234567890", "12-ab"])
async def test_a_search_that_is_neither_is_refused(services, queries, search):
    # given
    shop = await make_shop(services)
    # when
    refused = await refusal(queries.list_orders(shop.id, shop.owner.id, search=search))
    # then
    assert (refused.code, refused.params) == (Reason.INVALID, {"field": "search"})


async def test_blank_search_lists_everything_open(services, queries):
    # given
    shop = await make_shop(services)
    # when
    await make_order(services, shop)
    # then
    assert numbers(await queries.list_orders(shop.id, shop.owner.id, search="  ")) == [1]


async def test_the_list_is_for_the_shops_staff_only(services, queries):
    # given two shops with an order each
    shop = await make_shop(services)
    other = await make_shop(services)
    await make_order(services, shop)
    # when a stranger and the other shop's owner ask for the list
    for user in (shop.stranger, other.owner):
        refused = await refusal(queries.list_orders(shop.id, user.id))
        # then the shop does not exist for them
        assert refused.code == Reason.NOT_FOUND
    # and the other shop's owner sees only their own orders
    assert (await queries.list_orders(other.id, other.owner.id)).total == 0


@pytest.mark.parametrize(
    ("page", "page_size", "field"), [(-1, 10, "page"), (0, 0, "page_size"), (0, 51, "page_size")]
)
async def test_bad_paging_is_refused(services, queries, page, page_size, field):
    # given
    shop = await make_shop(services)
    # when
    refused = await refusal(
        queries.list_orders(shop.id, shop.owner.id, page=page, page_size=page_size)
    )
    # then
    assert refused.params == {"field": field}


async def test_statuses_of_the_current_workflow(services, queries):
    # given
    shop = await make_shop(services)
    # when
    statuses = await queries.statuses(shop.id)
    # then in the workflow's order, with titles in every language
    assert statuses[0][0] == "awaiting_confirmation"
    assert [code for code, _ in statuses][-2:] == ["cancelled", "not_paid"]
    assert statuses[0][1] == {
        "ru": "Ожидает подтверждения",
        "uk": "Очікує підтвердження",
        "en": "Awaiting confirmation",
    }
    refused = await refusal(queries.statuses(shop.id + 1000))
    assert refused.code == Reason.NOT_FOUND
