"""The order service end to end on a real database: creation, transitions, the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.orders.actors import ActorRef, Channel
from services.refusals import OrderRefused, Problem
from storage.models import OrderEvent, OutboxMessage, Timer
from tests.factories import bind_buyer, draft, item, make_order, make_shop


async def events_of(services, order_id):
    async with services.sessions() as session:
        return list(
            await session.scalars(
                select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
            )
        )


async def timers_of(services, order_id, state="pending"):
    async with services.sessions() as session:
        return list(
            await session.scalars(
                select(Timer).where(Timer.order_id == order_id, Timer.state == state)
            )
        )


async def outbox_of(services, order_id):
    async with services.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.order_id == order_id)
                .order_by(OutboxMessage.id)
            )
        )


async def test_mixed_order_is_split_by_availability(services):
    # given a shop and a cart with goods in stock and made to order
    shop = await make_shop(services)
    cart = draft(
        item("A", 2, 1500),
        item("B", 1, 9900, availability="made_to_order"),
        item("C", 1, 500),
        delivery_cost=3000,
    )
    # when the storefront sends it
    orders = await services.orders.create_orders(
        shop.id, cart, ActorRef.system(Channel.API), source="api"
    )
    # then two orders exist: in stock first with the delivery cost, made to order apart
    assert [o.availability for o in orders] == ["in_stock", "made_to_order"]
    assert [o.number for o in orders] == [1, 2]
    assert [i.sku for i in orders[0].items] == ["A", "C"]
    assert (orders[0].items_total, orders[0].delivery_cost, orders[0].total) == (3500, 3000, 6500)
    assert (orders[1].items_total, orders[1].delivery_cost, orders[1].total) == (9900, 0, 9900)
    assert orders[0].buyer_id == orders[1].buyer_id
    assert orders[0].buyer_token != orders[1].buyer_token
    # and each has its creation in the audit log and a new-order notice for the shop
    for order in orders:
        actions = [e.action for e in await events_of(services, order.id)]
        assert actions == ["create", "split_by_availability"]
        topics = {(m.audience, m.channel, m.topic) for m in await outbox_of(services, order.id)}
        assert ("shop", "telegram", "new_order") in topics
        assert ("shop", "email", "new_order") in topics
        assert ("buyer", "email", "order_created") in topics


async def test_order_numbers_are_per_shop(services):
    first, second = await make_shop(services), await make_shop(services)
    a1 = await make_order(services, first)
    b1 = await make_order(services, second)
    a2 = await make_order(services, first)
    assert (a1.number, a2.number, b1.number) == (1, 2, 1)


@pytest.mark.parametrize(
    ("phone", "accepted"),
    [
        ("+7 916 123-45-67", "+79161234567"),
        ("8 (916) 123-45-67", "+79161234567"),
        ("12345", None),
        ("not a phone", None),
    ],
)
async def test_phone_is_validated_and_normalized(services, phone, accepted):
    shop = await make_shop(services)
    if accepted is None:
        with pytest.raises(OrderRefused) as refused:
            await make_order(services, shop, phone=phone)
        assert refused.value.code is Problem.INVALID
        assert refused.value.params == {"field": "buyer.phone"}
    else:
        order = await make_order(services, shop, phone=phone)
        assert order.buyer.phone == accepted


async def test_same_external_id_is_a_duplicate(services):
    shop = await make_shop(services)
    await make_order(services, shop, external_id="web-1")
    with pytest.raises(OrderRefused) as refused:
        await make_order(services, shop, external_id="web-1")
    assert refused.value.code is Problem.DUPLICATE


async def test_only_staff_create_orders_by_hand(services):
    shop = await make_shop(services)
    order = await services.orders.create_orders(shop.id, draft(), ActorRef.user(shop.packer.id))
    assert order[0].source == "manual"
    with pytest.raises(OrderRefused) as refused:
        await services.orders.create_orders(shop.id, draft(), ActorRef.user(shop.stranger.id))
    assert refused.value.code is Problem.FORBIDDEN


async def test_marketplace_lifecycle_through_the_service(services):
    # given a new in-stock order paid by card and sent by post
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await bind_buyer(services, order, shop.buyer_user)
    manager, accountant, packer = (
        ActorRef.user(u.id) for u in (shop.manager, shop.accountant, shop.packer)
    )
    buyer = ActorRef.user(shop.buyer_user.id)

    # when the manager confirms: awaiting payment, with its reminder and deadline
    result = await services.orders.apply(order.id, manager, "confirm")
    assert result.order.status == "awaiting_payment"
    due = {t.code: t.due_at for t in await timers_of(services, order.id)}
    assert due == {
        "payment_reminder": services.clock.now() + timedelta(days=2),
        "payment_deadline": services.clock.now() + timedelta(days=3),
    }

    # when the accountant marks it paid: paid, then automatically preparing for shipment
    services.clock.advance(timedelta(hours=5))
    result = await services.orders.apply(order.id, accountant, "mark_paid")
    assert [(s.from_status, s.to_status) for s in result.decision.steps] == [
        ("awaiting_payment", "paid"),
        ("paid", "preparing_shipment"),
    ]
    assert await timers_of(services, order.id) == []
    assert len(await timers_of(services, order.id, "cancelled")) == 2

    # then the buyer may not cancel any more (000: only before payment)
    with pytest.raises(OrderRefused) as refused:
        await services.orders.apply(order.id, buyer, "cancel", {"reason": "changed_mind"})
    assert refused.value.code is Problem.NOT_AVAILABLE

    # when the packer ships with a carrier and a track code
    result = await services.orders.apply(
        order.id, packer, "ship", {"carrier": "Почта России", "track_code": "ra 1234-5678"}
    )
    assert (result.order.status, result.order.carrier, result.order.track_code) == (
        "shipped",
        "Почта России",
        "RA1234-5678",
    )
    assert [t.code for t in await timers_of(services, order.id)] == ["auto_receive"]

    # when the buyer confirms receipt
    result = await services.orders.apply(order.id, buyer, "confirm_receipt")
    assert result.order.status == "received"
    assert result.decision.effects == ("credit_income", "request_review")

    # then the audit log holds one event per change, by whom and in which capacity
    log = [
        (e.action, e.from_status, e.to_status, e.actor_kind, e.actor_role)
        for e in await events_of(services, order.id)
    ]
    assert log == [
        ("create", None, "awaiting_confirmation", "system", None),
        ("confirm", "awaiting_confirmation", "awaiting_payment", "staff", "manager"),
        ("mark_paid", "awaiting_payment", "paid", "staff", "accountant"),
        ("start_preparing", "paid", "preparing_shipment", "system", None),
        ("ship", "preparing_shipment", "shipped", "staff", "packer"),
        ("confirm_receipt", "shipped", "received", "buyer", None),
    ]
    # and the buyer was told of each visible status, on both channels
    told = [
        (m.channel, m.payload["status"])
        for m in await outbox_of(services, order.id)
        if m.topic == "status_changed"
    ]
    assert ("telegram", "received") in told and ("email", "shipped") in told


async def test_cash_on_delivery_is_paid_at_once(services):
    shop = await make_shop(services)
    order = await make_order(services, shop, payment="cash_on_delivery")
    result = await services.orders.apply(order.id, ActorRef.user(shop.manager.id), "confirm")
    assert result.order.status == "preparing_shipment"
    assert [s.to_status for s in result.decision.steps] == [
        "awaiting_payment",
        "paid",
        "preparing_shipment",
    ]


async def test_strangers_and_wrong_roles_change_nothing(services):
    shop = await make_shop(services)
    other_shop = await make_shop(services)
    order = await make_order(services, shop)
    cases = [
        (ActorRef.user(shop.stranger.id), Problem.NOT_FOUND),
        (ActorRef.user(other_shop.owner.id), Problem.NOT_FOUND),
        (ActorRef.user(other_shop.manager.id), Problem.NOT_FOUND),
        (ActorRef.user(shop.packer.id), Problem.FORBIDDEN),
        (ActorRef.user(shop.buyer_user.id), Problem.NOT_FOUND),  # not bound to this order
        (ActorRef.buyer(order.buyer_id + 999), Problem.NOT_FOUND),
    ]
    for actor, problem in cases:
        with pytest.raises(OrderRefused) as refused:
            await services.orders.apply(order.id, actor, "confirm")
        assert refused.value.code is problem, actor
    # then the order is untouched
    fresh = await services.orders.get(order.id, ActorRef.user(shop.owner.id))
    assert (fresh.status, fresh.version) == ("awaiting_confirmation", order.version)
    assert [e.action for e in await events_of(services, order.id)] == ["create"]


async def test_unknown_order_is_not_found(services):
    shop = await make_shop(services)
    with pytest.raises(OrderRefused) as refused:
        await services.orders.apply(424242, ActorRef.user(shop.owner.id), "confirm")
    assert refused.value.code is Problem.NOT_FOUND


async def test_double_tap_is_already_done(services):
    shop = await make_shop(services)
    order = await make_order(services, shop, payment="cash_on_delivery")
    manager = ActorRef.user(shop.manager.id)
    await services.orders.apply(order.id, manager, "confirm")
    with pytest.raises(OrderRefused) as refused:
        await services.orders.apply(order.id, manager, "confirm")
    assert refused.value.code is Problem.ALREADY_DONE


async def test_a_stale_card_changes_nothing(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    owner = ActorRef.user(shop.owner.id)
    await services.orders.change_delivery(order.id, owner, method="courier", cost=500)
    with pytest.raises(OrderRefused) as refused:
        await services.orders.apply(order.id, owner, "confirm", expected_version=order.version)
    assert refused.value.code is Problem.STALE


async def test_buyer_with_an_email_link_acts_without_telegram(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    link_buyer = ActorRef.buyer(order.buyer_id, Channel.EMAIL)
    result = await services.orders.apply(
        order.id, link_buyer, "cancel", {"reason": "other", "comment": "Ordered twice"}
    )
    assert result.order.status == "cancelled"
    event = (await events_of(services, order.id))[-1]
    assert (event.actor_kind, event.channel, event.comment) == ("buyer", "email", "Ordered twice")
    assert event.payload["inputs"] == {"reason": "other", "comment": "Ordered twice"}


async def test_cancel_reason_other_needs_a_comment(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    manager = ActorRef.user(shop.manager.id)
    with pytest.raises(OrderRefused) as refused:
        await services.orders.apply(order.id, manager, "cancel", {"reason": "other"})
    assert refused.value.code is Problem.INPUT_MISSING
    with pytest.raises(OrderRefused) as refused:
        await services.orders.apply(order.id, manager, "cancel", {"reason": "changed_mind"})
    assert refused.value.code is Problem.INPUT_INVALID  # a buyer's reason, not the shop's
    result = await services.orders.apply(order.id, manager, "cancel", {"reason": "out_of_stock"})
    assert result.order.status == "cancelled"


async def test_system_applies_timer_transitions_only(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await services.orders.apply(order.id, ActorRef.user(shop.manager.id), "confirm")
    with pytest.raises(OrderRefused) as refused:
        await services.orders.apply(order.id, ActorRef.user(shop.owner.id), "expire_payment")
    assert refused.value.code is Problem.FORBIDDEN
    result = await services.orders.apply(order.id, ActorRef.system(), "expire_payment")
    assert result.order.status == "not_paid"
    event = (await events_of(services, order.id))[-1]
    assert (event.actor_kind, event.channel) == ("system", "scheduler")


async def test_counts_match_after_many_orders(services):
    shop = await make_shop(services)
    for _ in range(5):
        await make_order(services, shop)
    async with services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OrderEvent)) == 5


async def test_a_taps_redrawing_runs_in_the_taps_own_transaction(services):
    # given an order awaiting confirmation, and a chat layer that remembers the redrawn card
    shop = await make_shop(services)
    order = await make_order(services, shop)
    owner = ActorRef.user(shop.owner.id)
    seen = []

    async def remembered(session, view):
        seen.append(view.order.status)
        raise RuntimeError("the card could not be remembered")

    # when remembering fails, the tap's change is not kept either: one transaction
    with pytest.raises(RuntimeError):
        await services.orders.tap(
            order.id, owner, "confirm", expected_version=order.version, redrawing=remembered
        )
    assert seen == ["awaiting_payment"]  # called with the card as it is after the change
    assert (await services.orders.get(order.id, owner)).status == order.status
    assert [e.action for e in await events_of(services, order.id)] == ["create"]

    # and a tap that only asks for more (a reason to cancel) draws nothing
    tapped = await services.orders.tap(
        order.id, owner, "cancel", expected_version=order.version, redrawing=remembered
    )
    assert tapped.needs_more and seen == ["awaiting_payment"]
