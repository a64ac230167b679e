"""Buyers in Telegram (C5): the order link binds an account once; /my lists their orders."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.buyers.service import BuyerOrder, BuyerService
from services.orders.actors import ActorRef
from services.refusals import Reason, Refused
from storage.models import Buyer, OrderEvent
from tests.factories import add_user, make_order, make_shop


@pytest.fixture
def buyers(services) -> BuyerService:
    return BuyerService(services.sessions, services.clock, services.workflows)


async def refusal(awaitable) -> Refused:
    with pytest.raises(Refused) as caught:
        await awaitable
    return caught.value


async def buyer_row(services, buyer_id: int) -> Buyer:
    async with services.sessions() as session:
        return await session.get(Buyer, buyer_id)


async def link_events(services, order_id: int) -> list[OrderEvent]:
    async with services.sessions() as session:
        rows = await session.scalars(
            select(OrderEvent).where(
                OrderEvent.order_id == order_id, OrderEvent.action == "buyer_linked"
            )
        )
        return list(rows)


async def test_the_link_binds_its_own_order_only(services, buyers):
    # given two orders in a shop with the same phone: two claims, not one person (issue 14)
    shop = await make_shop(services)
    first = await make_order(services, shop)
    second = await make_order(services, shop)
    assert first.buyer_id != second.buyer_id

    # when they open the first order's link
    order = await buyers.bind(first.buyer_token, shop.buyer_user.id, language="uk")

    # then the order's buyer is their Telegram account, with their language
    assert order.id == first.id
    buyer = await buyer_row(services, first.buyer_id)
    assert (buyer.user_id, buyer.telegram_id) == (shop.buyer_user.id, shop.buyer_user.telegram_id)
    assert buyer.language == "uk"
    # and they act as the buyer of that order, not of the other one
    me = ActorRef.user(shop.buyer_user.id)
    view = await services.orders.view(first.id, me)
    assert view.who.actor.is_buyer and not view.who.is_staff
    with pytest.raises(Exception, match="not_found"):
        await services.orders.view(second.id, me)
    # and the audit log says who took the link, once, and by which proof
    [event] = await link_events(services, first.id)
    assert (event.actor_kind, event.actor_user_id, event.channel, event.payload) == (
        "buyer",
        shop.buyer_user.id,
        "telegram",
        {"proof": "link"},
    )


async def test_opening_ones_own_link_again_is_fine(services, buyers):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await buyers.bind(order.buyer_token, shop.buyer_user.id)
    # when the same person opens it again
    again = await buyers.bind(order.buyer_token, shop.buyer_user.id)
    # then nothing changes and nothing new is logged
    assert again.id == order.id
    assert len(await link_events(services, order.id)) == 1


async def test_a_link_opened_by_a_second_person_is_refused_and_changes_nothing(services, buyers):
    # given an order its buyer has opened
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await buyers.bind(order.buyer_token, shop.buyer_user.id)

    # when someone else opens the same link (forwarded, leaked)
    caught = await refusal(buyers.bind(order.buyer_token, shop.stranger.id))

    # then they are refused and the order stays its buyer's
    assert caught.code is Reason.USED
    buyer = await buyer_row(services, order.buyer_id)
    assert buyer.user_id == shop.buyer_user.id
    assert len(await link_events(services, order.id)) == 1


async def test_another_buyers_order_cannot_be_taken_with_its_link(services, buyers):
    # given two buyers, each with their own bound order
    shop = await make_shop(services)
    mine = await make_order(services, shop)
    theirs = await make_order(services, shop, phone="+79160000001", email="other@example.com")
    other_person = await add_user(services, 77_001)
    await buyers.bind(mine.buyer_token, shop.buyer_user.id)
    await buyers.bind(theirs.buyer_token, other_person.id)

    # when the first buyer opens the other buyer's link
    caught = await refusal(buyers.bind(theirs.buyer_token, shop.buyer_user.id))

    # then it is refused and not bound to them; they still do not see that order
    assert caught.code is Reason.USED
    assert (await buyer_row(services, theirs.buyer_id)).user_id == other_person.id
    with pytest.raises(Exception, match="not_found"):
        await services.orders.view(theirs.id, ActorRef.user(shop.buyer_user.id))


@pytest.mark.parametrize(
    "token",
    ["", "x", "A" * 22, "../../etc/passwd", "inv_" + "a" * 20, "' OR 1=1 --", "a" * 200],
)
async def test_unknown_and_malformed_links_are_not_found(services, buyers, token):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    caught = await refusal(buyers.bind(token, shop.buyer_user.id))
    assert caught.code is Reason.NOT_FOUND
    assert (await buyer_row(services, order.buyer_id)).user_id is None


async def test_a_buyer_the_shop_knows_by_telegram_is_only_that_accounts(services, buyers):
    # given an order whose buyer the shop recorded with a Telegram id
    shop = await make_shop(services)
    order = await make_order(services, shop)
    async with services.sessions() as session, session.begin():
        (await session.get(Buyer, order.buyer_id)).telegram_id = shop.buyer_user.telegram_id

    # when another account opens the link, it is refused
    assert (await refusal(buyers.bind(order.buyer_token, shop.stranger.id))).code is Reason.USED
    # and the recorded account binds it
    await buyers.bind(order.buyer_token, shop.buyer_user.id)
    assert (await buyer_row(services, order.buyer_id)).user_id == shop.buyer_user.id


async def test_two_people_opening_one_link_at_once_exactly_one_wins(services, buyers):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    first, second = shop.buyer_user, shop.stranger

    outcomes = await asyncio.gather(
        buyers.bind(order.buyer_token, first.id),
        buyers.bind(order.buyer_token, second.id),
        return_exceptions=True,
    )

    refused = [o for o in outcomes if isinstance(o, Refused)]
    assert [r.code for r in refused] == [Reason.USED]
    winner = first if not isinstance(outcomes[0], Exception) else second
    assert (await buyer_row(services, order.buyer_id)).user_id == winner.id
    assert len(await link_events(services, order.id)) == 1


async def test_one_person_opening_their_link_twice_at_once_is_bound_once(services, buyers):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    outcomes = await asyncio.gather(
        *(buyers.bind(order.buyer_token, shop.buyer_user.id) for _ in range(3)),
        return_exceptions=True,
    )
    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert len(await link_events(services, order.id)) == 1


async def test_my_orders_lists_every_shop_newest_first(services, buyers):
    # given a person who bought in two shops
    cats = await make_shop(services)
    dogs = await make_shop(services, preset="platform")
    person = cats.buyer_user
    old = await make_order(services, cats)
    services.clock.advance(timedelta(hours=1))
    newer = await make_order(services, dogs, phone="+79165550000")
    services.clock.advance(timedelta(hours=1))
    newest = await make_order(services, cats, phone="+79165550001", email="b@example.com")
    # and someone else's order, not theirs
    await make_order(services, dogs, phone="+79165550002", email="c@example.com")
    for order in (old, newer, newest):
        await buyers.bind(order.buyer_token, person.id)
    # an order of theirs that is over
    manager = ActorRef.user(cats.manager.id)
    await services.orders.apply(old.id, manager, "cancel", {"reason": "out_of_stock"})

    mine = await buyers.my_orders(person.id)

    assert [o.id for o in mine] == [newest.id, newer.id, old.id]
    top = mine[0]
    assert isinstance(top, BuyerOrder)
    assert (top.number, top.shop_name, top.status, top.total, top.currency) == (
        newest.number,
        "Shop marketplace",
        "awaiting_confirmation",
        newest.total,
        "RUB",
    )
    assert top.title("en") == "Awaiting confirmation"
    assert top.title("uk") == "Очікує підтвердження"
    assert top.created_at == newest.created_at
    assert [o.shop_name for o in mine] == ["Shop marketplace", "Shop platform", "Shop marketplace"]
    # open orders are those the shops still work on
    assert [o.id for o in await buyers.open_orders(person.id)] == [newest.id, newer.id]
    # and a person who bought nothing has nothing
    assert await buyers.my_orders(cats.stranger.id) == []
