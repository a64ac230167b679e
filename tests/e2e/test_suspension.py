"""A suspended shop's staff read why in the bot's menu, and a status button answers with the
same notice and changes nothing; once resumed, the same button works."""

from __future__ import annotations

from services.operations.shops import ShopOperations
from services.orders.actors import ActorRef, Channel
from tests.factories import draft, item

NOTICE = "The shop is suspended by the operator: orders cannot be changed until it is resumed."


async def test_staff_see_the_suspension_and_their_taps_change_nothing(tg):
    # given a shop whose manager has an order's card open
    emulator, container = tg.emulator, tg.container
    owner = emulator.user("Olga", language_code="en")
    manager = emulator.user("Max", language_code="en")
    created = await container.shops.create_shop(
        name="Cats & Dogs", owner_telegram_id=owner.id, preset="marketplace", owner_name="Olga"
    )
    shop_id = created.shop.id
    await container.shops.add_staff(shop_id, manager.id, "manager", name="Max")
    [order] = await container.orders.create_orders(
        shop_id, draft(item("CAT-1", 1, 150_000)), ActorRef.system(Channel.API), source="api"
    )
    await tg.say(manager, f"/order {order.number}")
    card = tg.last(manager)

    # when the operator suspends the shop
    await ShopOperations(container.sessions, container.clock).suspend(shop_id, "unpaid invoice")

    # then the menu says so, with the reason
    await tg.say(owner, "/start")
    menu = tg.last(owner).text
    assert "The shop is suspended" in menu and "unpaid invoice" in menu
    # and a status button answers with the notice and changes nothing
    tapped = await tg.tap(manager, card, text="Confirm and bill")
    assert tg.answer(tapped) == NOTICE
    assert (await container.orders.get(order.id, ActorRef.system())).status == (
        "awaiting_confirmation"
    )

    # when resumed, the notice is gone and the button works
    await ShopOperations(container.sessions, container.clock).resume(shop_id)
    await tg.say(owner, "/start")
    assert "suspended" not in tg.last(owner).text
    await tg.say(manager, f"/order {order.number}")
    await tg.tap(manager, tg.last(manager), text="Confirm and bill")
    assert (await container.orders.get(order.id, ActorRef.system())).status == "awaiting_payment"
