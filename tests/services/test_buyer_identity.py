"""Buyer identity (issue 14, item 1): contact details on an order are claims nobody checked.

An order's phone or e-mail never merges it with another buyer's orders nor changes another
order's buyer; a Telegram account gets an order through the order's own link or through its
phone as Telegram vouches for it ("share contact"); staff group a customer's orders by those
proofs only.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.buyers.customers import CustomerService
from services.buyers.service import BuyerService
from services.orders.actors import ActorRef, Channel
from services.refusals import OrderRefused, Problem, Reason, Refused
from storage.models import Buyer, OrderEvent, User
from tests.factories import add_user, draft, item, make_order, make_shop

VERA_PHONE = "+7 903 555-12-34"
VERA_E164 = "+79035551234"


@pytest.fixture
def buyers(services) -> BuyerService:
    return BuyerService(services.sessions, services.clock, services.workflows)


async def buyer_row(services, buyer_id) -> Buyer:
    async with services.sessions() as session:
        return await session.get(Buyer, buyer_id)


async def vera_and_mallory(services, shop):
    """Vera's order, then Mallory's through the storefront with Vera's phone, written the
    way people type it, and Mallory's own e-mail."""
    vera = await make_order(services, shop, phone=VERA_PHONE, email="vera@example.com")
    mallory = await make_order(services, shop, phone="89035551234", email="mallory@example.com")
    return vera, mallory


async def test_an_order_with_someone_elses_phone_gets_its_own_buyer(services, buyers):
    # given Vera's order and an order Mallory placed with Vera's phone
    shop = await make_shop(services)
    vera, mallory = await vera_and_mallory(services, shop)

    # then they are two buyers, and Vera's contacts are untouched
    assert vera.buyer_id != mallory.buyer_id
    assert (await buyer_row(services, vera.buyer_id)).email == "vera@example.com"
    assert (await buyer_row(services, mallory.buyer_id)).phone == VERA_E164

    # when Mallory opens her order's link in Telegram
    mallory_tg = await add_user(services, 66_601)
    await buyers.bind(mallory.buyer_token, mallory_tg.id)

    # then /my shows her order only, and Vera's order stays hidden from her
    assert [o.id for o in await buyers.my_orders(mallory_tg.id)] == [mallory.id]
    me = ActorRef.user(mallory_tg.id)
    for attempt in (
        services.orders.view(vera.id, me),
        services.orders.apply(vera.id, me, "cancel", {"reason": "changed_mind"}),
    ):
        with pytest.raises(OrderRefused) as refused:
            await attempt
        assert refused.value.code is Problem.NOT_FOUND
    assert (await services.orders.get(vera.id, ActorRef.system())).status == (
        "awaiting_confirmation"
    )
    # and a later order with the same e-mail does not find her either
    third = await make_order(services, shop, phone=None, email="mallory@example.com")
    assert third.buyer_id not in (vera.buyer_id, mallory.buyer_id)
    assert (await buyer_row(services, third.buyer_id)).user_id is None


async def test_a_shared_contact_claims_the_orders_placed_with_that_phone(services, buyers):
    # given two of Vera's orders in two shops, and one Mallory placed with Vera's phone and
    # has opened already
    shop, other_shop = await make_shop(services), await make_shop(services)
    vera_order, mallory_order = await vera_and_mallory(services, shop)
    elsewhere = await make_order(services, other_shop, phone=VERA_PHONE, email=None)
    vera = await add_user(services, 77_701)
    mallory = await add_user(services, 77_702)
    await buyers.bind(mallory_order.buyer_token, mallory.id)

    # when Vera shares her own contact (Telegram sets its user_id to hers)
    verified = await buyers.share_contact(
        vera.id, phone="79035551234", contact_user_id=77_701, sender_telegram_id=77_701
    )

    # then her phone is verified and her unclaimed orders are hers, Mallory's stays Mallory's
    assert (verified.phone, verified.claimed) == (VERA_E164, 2)
    mine = {o.id for o in await buyers.my_orders(vera.id)}
    assert mine == {vera_order.id, elsewhere.id}
    assert (await buyer_row(services, mallory_order.buyer_id)).user_id == mallory.id
    async with services.sessions() as session:
        proofs = list(
            await session.scalars(
                select(OrderEvent.payload).where(
                    OrderEvent.order_id == vera_order.id, OrderEvent.action == "buyer_linked"
                )
            )
        )
    assert proofs == [{"proof": "phone"}]

    # and an order placed later with her phone comes to /my when she asks for it
    later = await make_order(services, shop, phone=VERA_PHONE, email=None)
    assert await buyers.claim_verified(vera.id) == 1
    assert later.id in {o.id for o in await buyers.my_orders(vera.id)}


@pytest.mark.parametrize(
    ("contact_user_id", "phone"),
    [
        (None, VERA_E164),  # a number typed into a contact card: Telegram vouches for nothing
        (77_702, VERA_E164),  # someone else's contact from the address book
        (77_701, "not a phone"),
        (77_701, "+7" + "9" * 40),
    ],
)
async def test_a_contact_that_is_not_the_senders_own_proves_nothing(
    services, buyers, contact_user_id, phone
):
    # given Vera's order and Mallory in Telegram
    shop = await make_shop(services)
    vera_order = await make_order(services, shop, phone=VERA_PHONE)
    mallory = await add_user(services, 77_701)

    # when Mallory sends a contact that is not her own as Telegram knows it
    with pytest.raises(Refused) as refused:
        await buyers.share_contact(
            mallory.id, phone=phone, contact_user_id=contact_user_id, sender_telegram_id=77_701
        )
    # then it is refused and nothing changed
    assert refused.value.code is Reason.INVALID
    assert (await buyer_row(services, vera_order.buyer_id)).user_id is None
    async with services.sessions() as session:
        assert (await session.get(User, mallory.id)).phone is None
    assert await buyers.my_orders(mallory.id) == []


async def test_staff_see_a_customer_by_proven_identity_only(services, buyers):
    # given Vera's two orders, both opened by her Telegram account, and Mallory's with her phone
    shop = await make_shop(services)
    first, mallory_order = await vera_and_mallory(services, shop)
    second = await make_order(services, shop, phone=VERA_PHONE, email="vera@example.com")
    vera = await add_user(services, 88_801)
    for order in (first, second):
        await buyers.bind(order.buyer_token, vera.id)
    customers = CustomerService(services.sessions)

    # when the manager looks at the customer of the first order
    customer = await customers.of_order(first.id, ActorRef.user(shop.manager.id))

    # then both of Vera's orders are there, not the one that only typed her phone
    assert customer.by_telegram and customer.verified
    assert {o.id for o in customer.orders} == {first.id, second.id}

    # and the buyer side never gets in through it
    for outsider in (ActorRef.user(vera.id), ActorRef.user(shop.stranger.id)):
        with pytest.raises(OrderRefused) as refused:
            await customers.of_order(first.id, outsider)
        assert refused.value.code is Problem.NOT_FOUND
    # an unproven buyer is a customer of one order
    alone = await customers.of_order(mallory_order.id, ActorRef.user(shop.owner.id))
    assert not alone.verified and [o.id for o in alone.orders] == [mallory_order.id]


async def test_an_email_link_used_proves_the_address_for_the_customer_view(services):
    # given two e-mail-only orders with one address, and a third that only claims it
    shop = await make_shop(services)
    orders = [
        await make_order(services, shop, phone=None, email="anna@example.com") for _ in range(3)
    ]
    customers = CustomerService(services.sessions)
    owner = ActorRef.user(shop.owner.id)
    assert [o.id for o in (await customers.of_order(orders[0].id, owner)).orders] == [orders[0].id]

    # when Anna uses the links e-mailed for the first two (cancel with a reason)
    for order, nonce in ((orders[0], "n-1"), (orders[1], "n-2")):
        await services.orders.apply(
            order.id,
            ActorRef.buyer(order.buyer_id, Channel.EMAIL),
            "cancel",
            {"reason": "changed_mind"},
            link_nonce=nonce,
        )

    # then the staff see those two together; the third still stands alone
    customer = await customers.of_order(orders[0].id, owner)
    assert customer.verified_email == "anna@example.com"
    assert {o.id for o in customer.orders} == {orders[0].id, orders[1].id}
    assert [o.id for o in (await customers.of_order(orders[2].id, owner)).orders] == [orders[2].id]


async def test_both_halves_of_one_order_share_their_buyer(services, buyers):
    # given one storefront order of in-stock and made-to-order goods: two orders (000)
    shop = await make_shop(services)
    first, second = await services.orders.create_orders(
        shop.id,
        draft(item("A"), item("B", availability="made_to_order")),
        ActorRef.system(Channel.API),
        source="api",
    )
    # then they are one buyer's, and one link opens both
    assert first.buyer_id == second.buyer_id
    person = await add_user(services, 99_901)
    await buyers.bind(first.buyer_token, person.id)
    assert {o.id for o in await buyers.my_orders(person.id)} == {first.id, second.id}
