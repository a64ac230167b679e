"""The staff card after an edit of a paid order (issue 14, items 2 and 3): what is paid and
what is open, shown to the shop and the buyer, settled with the card's button; the dialog's
reply button; and a card is not drawn again when nothing on it changed."""

from __future__ import annotations

from handlers.telegram.callbacks import OrderAct, OrderCB
from handlers.telegram.dialog import ReplyCB
from services.orders.actors import ActorRef, Channel
from tests.e2e.chats import card_of, message_starting
from tests.e2e.conftest import NOT_MODIFIED
from tests.e2e.shops import ShopRecipe, open_shop, ref
from tests.e2e.test_buyer import labels
from tests.factories import draft, item


async def setup_shop(tg):
    """Olga's marketplace shop with its manager Max: the shop, Max as an actor, Olga, Max."""
    shop = await open_shop(tg, ShopRecipe())
    return shop.id, await ref(tg, shop.manager), shop.owner, shop.manager


async def paid_order(tg):
    """Olga's marketplace shop; Ivan's order of 100.00 + 5.00 delivery, paid, opened by him."""
    shop_id, manager, olga, max_ = await setup_shop(tg)
    [order] = await tg.container.orders.create_orders(
        shop_id,
        draft(item("CAT-1", 1, 10_000), delivery_cost=500),
        ActorRef.system(Channel.API),
        source="api",
    )
    ivan = tg.emulator.user("Ivan", language_code="en")
    await tg.say(ivan, f"/start {order.buyer_token}")
    for action in ("confirm", "mark_paid"):
        await tg.container.orders.apply(order.id, manager, action)
    await tg.deliver()
    return order, manager, olga, max_, ivan


def wasted(tg) -> int:
    return sum(NOT_MODIFIED in text for _, text in tg.emulator.world.api_errors)


async def test_a_raised_total_is_shown_owed_and_the_payment_settles_it(tg):
    # given a paid order whose card Max has open
    order, manager, _olga, max_, ivan = await paid_order(tg)
    await tg.say(max_, f"/order {order.number}")
    card = tg.last(max_)
    assert "Paid: 105.00\xa0RUB" in card.text

    # when the delivery becomes 20.00 (the total 120.00)
    await tg.container.orders.change_delivery(order.id, manager, method="post", cost=2_000)
    await tg.deliver()

    # then Max's card and Ivan's say what is still to pay, and Ivan was told
    card = card_of(tg, max_, order.number)
    assert "Still to pay" in card.text
    [button] = [label for label in labels(tg, card) if label.startswith("💰 Payment of")]
    assert "15.00" in button
    assert "Still to pay" in card_of(tg, ivan, order.number).text
    news = message_starting(tg, ivan, f"Your order #{order.number} at Cats & Dogs was changed")
    assert "Paid:" in news.text and "Still to pay" in news.text

    # when the buyer may not use the shop's button (forged), nothing is recorded
    forged = await tg.forged_tap(
        ivan,
        card_of(tg, ivan, order.number),
        OrderCB(
            act=OrderAct.MONEY, id=order.id, arg="pay", x="sure", v=card_version(tg, card)
        ).pack(),
    )
    assert tg.answer(forged) == "You may not do this."

    # when Max taps it and confirms
    asked = await tg.tap(max_, card, text=button)
    assert tg.answer(asked).startswith("Did the buyer pay 15.00\xa0RUB")
    done = await tg.tap(max_, card, text="✅ Yes")
    assert tg.answer(done) == "Recorded: the buyer paid 15.00\xa0RUB."
    await tg.deliver()

    # then nothing is open any more, on both cards
    assert "Still to pay" not in card.text and "Paid:" in card.text
    assert not any(label.startswith("💰") for label in labels(tg, card))
    assert "Still to pay" not in card_of(tg, ivan, order.number).text


def card_version(tg, card) -> int:
    for row in card.reply_markup["inline_keyboard"]:
        for button in row:
            data = button.get("callback_data", "")
            if data.startswith("o:"):
                return OrderCB.unpack(data).v
    raise AssertionError("no order button on the card")


async def test_staff_answer_the_buyer_from_the_dialog(tg):
    # given Ivan wrote about his order
    order, _manager, _olga, max_, ivan = await paid_order(tg)
    await tg.tap(ivan, card_of(tg, ivan, order.number), text="💬 Write to the shop")
    await tg.say(ivan, "When will it ship?")
    await tg.deliver()

    # when Max opens the order's dialog from the card and taps "Reply to the buyer"
    await tg.say(max_, f"/order {order.number}")
    await tg.tap(max_, tg.last(max_), text="💬 Dialog")
    shown = tg.last(max_)
    assert "When will it ship?" in shown.text
    await tg.tap(max_, shown, text="↩️ Reply to the buyer")
    await tg.say(max_, "Tomorrow morning")
    assert tg.last(max_).text == f"Sent to the buyer of order #{order.number}."
    await tg.deliver()

    # then Ivan has the answer
    assert "Tomorrow morning" in message_starting(tg, ivan, f"💬 Order #{order.number}").text
    # and the buyer cannot answer as the shop with a forged button
    forged = await tg.forged_tap(ivan, tg.last(ivan), ReplyCB(id=order.id).pack())
    assert tg.answer(forged) == "You may not do this."


async def test_a_card_redrawn_by_its_tap_is_not_drawn_again_by_the_pump(tg):
    # given an order whose card Max and Ivan both have open
    shop_id, _manager, _olga, max_ = await setup_shop(tg)
    [order] = await tg.container.orders.create_orders(
        shop_id, draft(item("CAT-1", 1, 10_000)), ActorRef.system(Channel.API), source="api"
    )
    ivan = tg.emulator.user("Ivan", language_code="en")
    await tg.say(ivan, f"/start {order.buyer_token}")
    await tg.say(max_, f"/order {order.number}")
    await tg.deliver()
    before = wasted(tg)

    # when Max confirms it from his card (redrawn in place by the tap) and the pump redraws
    # every card of the order
    card = card_of(tg, max_, order.number)
    await tg.tap(max_, card, text="Confirm and bill")
    await tg.deliver()

    # then Ivan's card changed, and Telegram was never asked to redraw a card unchanged
    assert "Awaiting payment" in card_of(tg, ivan, order.number).text
    assert "Awaiting payment" in card.text
    assert wasted(tg) == before
    # nor when a refresh finds nothing new (the tap carries the card as it shows)
    await tg.tap(max_, card, text="🔄 Refresh")
    await tg.deliver()
    assert wasted(tg) == before
