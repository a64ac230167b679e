"""Editing rules (A6), splitting (A7), opening (A5), private comments and history (A9)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.orders.actors import ActorRef
from services.refusals import OrderRefused, Problem
from storage.models import OrderEvent, Timer
from tests.factories import bind_buyer, item, make_order, make_shop


async def test_opening_a_new_order_moves_it_to_agreement(services):
    # given a platform shop's new order
    shop = await make_shop(services, "platform")
    order = await make_order(services, shop)
    assert order.status == "new"
    # when the packer opens it nothing happens: only a manager takes it on
    opened = await services.orders.open(order.id, ActorRef.user(shop.packer.id))
    assert opened.status == "new"
    # when the manager opens it
    opened = await services.orders.open(order.id, ActorRef.user(shop.manager.id))
    assert opened.status == "requires_agreement"
    assert opened.opened_at == services.clock.now()
    # then opening again changes nothing more
    again = await services.orders.open(order.id, ActorRef.user(shop.owner.id))
    assert (again.status, again.version) == ("requires_agreement", opened.version)


async def test_items_are_edited_only_while_agreement_is_needed(services):
    # given a platform order being agreed with the buyer
    shop = await make_shop(services, "platform")
    order = await make_order(services, shop, item("A", 1, 1000), delivery_cost=300)
    manager = ActorRef.user(shop.manager.id)
    with pytest.raises(OrderRefused) as refused:  # not yet opened: still "new"
        await services.orders.edit_items(order.id, manager, [item("A", 2, 1000)])
    assert refused.value.code is Problem.EDIT_NOT_ALLOWED
    await services.orders.open(order.id, manager)
    # when the manager changes the goods during the call
    edited = await services.orders.edit_items(
        order.id, manager, [item("A", 2, 1000), item("B", 1, 450)]
    )
    # then the totals follow
    assert [(i.sku, i.quantity) for i in edited.items] == [("A", 2), ("B", 1)]
    assert (edited.items_total, edited.total) == (2450, 2750)
    # when the order is confirmed, the goods can no longer change (003)
    await services.orders.apply(order.id, manager, "confirm")
    with pytest.raises(OrderRefused) as refused:
        await services.orders.edit_items(order.id, manager, [item("A", 1, 1000)])
    assert refused.value.code is Problem.EDIT_NOT_ALLOWED
    # but delivery still can, before shipping
    changed = await services.orders.change_delivery(order.id, manager, method="pickup", cost=0)
    assert (changed.delivery_method, changed.total) == ("pickup", 2450)


async def test_only_managers_edit_and_buyers_never(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await bind_buyer(services, order, shop.buyer_user)
    for user in (shop.packer, shop.courier, shop.accountant, shop.buyer_user):
        with pytest.raises(OrderRefused) as refused:
            await services.orders.change_delivery(order.id, ActorRef.user(user.id), method="pickup")
        assert refused.value.code is Problem.FORBIDDEN


async def test_delivery_change_takes_the_shops_price(services):
    shop = await make_shop(services, delivery_prices={"courier": 50_000, "pickup": 0})
    order = await make_order(services, shop, item("A", 1, 100_000), delivery="pickup")
    assert order.total == 100_000
    changed = await services.orders.change_delivery(
        order.id, ActorRef.user(shop.manager.id), method="courier", address="Lenina 5"
    )
    assert (changed.delivery_cost, changed.total, changed.delivery_address) == (
        50_000,
        150_000,
        "Lenina 5",
    )


async def test_discounts_on_the_order_and_on_lines(services):
    shop = await make_shop(services)
    order = await make_order(
        services, shop, item("A", 2, 1000), item("B", 1, 500), delivery_cost=200
    )
    a_line = order.items[0]
    changed = await services.orders.set_discount(
        order.id, ActorRef.user(shop.owner.id), order_discount=300, item_discounts={a_line.id: 150}
    )
    assert (changed.items_total, changed.discount, changed.total) == (2350, 300, 2250)
    with pytest.raises(OrderRefused) as refused:
        await services.orders.set_discount(
            order.id, ActorRef.user(shop.owner.id), item_discounts={a_line.id: 2001}
        )
    assert refused.value.code is Problem.INVALID
    # after payment the discount is fixed (marketplace preset)
    manager = ActorRef.user(shop.manager.id)
    await services.orders.apply(order.id, manager, "confirm")
    await services.orders.apply(order.id, manager, "mark_paid")
    with pytest.raises(OrderRefused) as refused:
        await services.orders.set_discount(order.id, manager, order_discount=0)
    assert refused.value.code is Problem.EDIT_NOT_ALLOWED


async def test_split_moves_goods_into_a_new_order(services):
    # given a confirmed order of three lines, one with a line discount
    shop = await make_shop(services, "platform")
    order = await make_order(
        services, shop, item("A", 3, 1000, discount=300), item("B", 1, 500), delivery_cost=400
    )
    manager = ActorRef.user(shop.manager.id)
    await services.orders.open(order.id, manager)
    await services.orders.apply(order.id, manager, "confirm")
    a_line, b_line = order.items
    # when two of A and all of B go to another warehouse
    left, new = await services.orders.split(
        order.id, manager, move={a_line.id: 2, b_line.id: 1}, reason="different_warehouses"
    )
    # then each order has its share, with the line discount shared in proportion
    assert [(i.sku, i.quantity, i.discount) for i in left.items] == [("A", 1, 100)]
    assert [(i.sku, i.quantity, i.discount) for i in new.items] == [("A", 2, 200), ("B", 1, 0)]
    assert (left.total, new.total) == (900 + 400, 1800 + 500)
    assert left.total + new.total == order.total
    assert (new.status, new.split_from_id, new.number) == ("confirmed", order.id, 2)
    # and both audit logs tell it
    async with services.sessions() as session:
        actions = {
            e.order_id: e.action
            for e in await session.scalars(select(OrderEvent).order_by(OrderEvent.id))
        }
    assert actions[order.id] == "split" and actions[new.id] == "split_from"


async def test_split_keeps_the_clock_and_refuses_emptying_an_order(services):
    shop = await make_shop(services)
    order = await make_order(services, shop, item("A", 1, 1000), item("B", 1, 1000))
    manager = ActorRef.user(shop.manager.id)
    await services.orders.apply(order.id, manager, "confirm")
    a_line, b_line = order.items
    with pytest.raises(OrderRefused) as refused:
        await services.orders.split(
            order.id, manager, move={a_line.id: 1, b_line.id: 1}, reason="different_warehouses"
        )
    assert refused.value.code is Problem.INVALID
    with pytest.raises(OrderRefused) as refused:
        await services.orders.split(order.id, manager, move={b_line.id: 1}, reason="other")
    assert refused.value.code is Problem.INPUT_MISSING
    _, new = await services.orders.split(
        order.id, manager, move={b_line.id: 1}, reason="other", comment="Second warehouse"
    )
    async with services.sessions() as session:
        timers = {
            (t.order_id, t.code): t.due_at
            for t in await session.scalars(select(Timer).where(Timer.state == "pending"))
        }
    assert timers[(new.id, "payment_deadline")] == timers[(order.id, "payment_deadline")]


async def test_private_comments_are_hidden_from_the_buyer(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await bind_buyer(services, order, shop.buyer_user)
    await services.orders.add_comment(
        order.id, ActorRef.user(shop.packer.id), "Buyer asked to call after 18:00"
    )
    with pytest.raises(OrderRefused) as refused:
        await services.orders.add_comment(order.id, ActorRef.user(shop.buyer_user.id), "hi")
    assert refused.value.code is Problem.FORBIDDEN
    staff_view = await services.orders.history(order.id, ActorRef.user(shop.owner.id))
    buyer_view = await services.orders.history(order.id, ActorRef.user(shop.buyer_user.id))
    assert [e.action for e in staff_view] == ["create", "comment"]
    assert staff_view[-1].comment == "Buyer asked to call after 18:00"
    assert [e.action for e in buyer_view] == ["create"]


async def test_buttons_are_exactly_the_persons_actions(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await bind_buyer(services, order, shop.buyer_user)

    async def codes(user):
        return [a.code for a in await services.orders.actions(order.id, ActorRef.user(user.id))]

    assert await codes(shop.manager) == ["confirm", "cancel"]
    assert await codes(shop.owner) == ["confirm", "cancel"]
    assert await codes(shop.packer) == []
    assert await codes(shop.buyer_user) == ["cancel"]
    with pytest.raises(OrderRefused):
        await codes(shop.stranger)


async def test_a_new_workflow_version_never_strands_an_order(services):
    # given an order started on the shop's first workflow
    from services.workflow.presets import preset_data

    shop = await make_shop(services)
    old = await make_order(services, shop)
    # when the shop renames a status and retires "awaiting_pickup" in a new version
    body = preset_data("marketplace")
    body["statuses"][0]["title"]["en"] = "New order"
    async with services.sessions() as session, session.begin():
        version = await services.workflows.save_version(
            session, shop.id, body, services.clock.now()
        )
    new = await make_order(services, shop)
    # then the old order keeps its version and new orders take the new one
    assert version.version == 2
    assert old.workflow_id != new.workflow_id == version.id
    result = await services.orders.apply(old.id, ActorRef.user(shop.manager.id), "confirm")
    assert result.order.workflow_id == old.workflow_id


async def test_a_broken_workflow_version_is_refused(services):
    from services.workflow.definition import WorkflowError
    from services.workflow.presets import preset_data

    shop = await make_shop(services)
    body = preset_data("marketplace")
    body["timers"][0]["status"] = "nowhere"
    with pytest.raises(WorkflowError) as error:
        async with services.sessions() as session, session.begin():
            await services.workflows.save_version(session, shop.id, body, services.clock.now())
    assert "timer 'payment_reminder': unknown status 'nowhere'" in error.value.problems
