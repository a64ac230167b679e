"""The per-order dialog end to end (C6): a buyer with two open orders writes from a card, by
replying and without any context; the shop's staff answer by replying in their group or in
private; the notification pump relays both ways; every message lands on its own order."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import DialogRelay
from tests.e2e.chats import bot_messages, open_card, open_from_my
from tests.e2e.shops import ShopRecipe, dialog_of, open_shop, place_order
from tests.factories import item
from tests.images import png

SHOP = ShopRecipe(group=True)


async def buyer_with_orders(tg, shop_id, count=2):
    """Ivan with `count` open orders in the shop, each opened by its own link."""
    orders = [await place_order(tg, shop_id, item(f"SKU-{n}", 1, 150_000)) for n in range(count)]
    ivan = tg.emulator.user("Ivan", language_code="en")
    for order in orders:
        await tg.say(ivan, f"/start {order.buyer_token}")
    await tg.deliver()  # the new-order pings, so what follows is the dialog's
    return ivan, orders


async def test_the_dialog_both_ways_with_two_open_orders(tg):
    shop_id, _owner, manager, group = await open_shop(tg, SHOP)
    ivan, (first, second) = await buyer_with_orders(tg, shop_id)

    # when the buyer writes from the first order's card: text, then a photo with a caption
    card = await open_from_my(tg, ivan, first)
    await tg.tap(ivan, card, text="💬 Write to the shop")
    assert f"about order #{first.number}" in tg.last(ivan).text
    await tg.say(ivan, "Is the blue one in stock?")
    assert tg.last(ivan).text == f"Sent to the shop, order #{first.number}."
    tg.emulator.send_photo(ivan, png(), caption="Like this one")
    await tg.settle()
    assert tg.last(ivan).text == f"Sent to the shop, order #{first.number}."
    await tg.tap_offered(ivan, "✅ Done")

    # and replies to the second order's card
    second_card = await open_from_my(tg, ivan, second)
    await tg.say(ivan, "Deliver after 6 pm, please", reply_to=second_card)
    assert tg.last(ivan).text == f"Sent to the shop, order #{second.number}."

    # and then writes with no context at all: asked which order, never guessed
    await tg.say(ivan, "And gift wrapping?")
    question = tg.last(ivan)
    assert (
        question.text == "Which order is this about? Choose it, and your message goes to that shop."
    )
    choices = [label for row in tg.emulator.buttons(question) for label in row]
    assert [c.split(" · ")[0] for c in choices] == [f"#{second.number}", f"#{first.number}"]
    assert await dialog_of(tg, second.id) == [("to_shop", "Deliver after 6 pm, please")]
    await tg.tap(ivan, question, text=choices[0])
    assert question.text.startswith(f"Sent to the shop, order #{second.number}.")

    # then each message is stored on its own order
    assert await dialog_of(tg, first.id) == [
        ("to_shop", "Is the blue one in stock?"),
        ("to_shop", "Like this one"),
    ]
    assert await dialog_of(tg, second.id) == [
        ("to_shop", "Deliver after 6 pm, please"),
        ("to_shop", "And gift wrapping?"),
    ]

    # when the pump relays them, the staff group gets each tagged with its order
    await tg.deliver()
    about_first = bot_messages(tg, group, f"💬 #{first.number} ·")
    about_second = bot_messages(tg, group, f"💬 #{second.number} ·")
    assert [m.content.split(": ", 1)[1] for m in about_first] == [
        "Is the blue one in stock?",
        "Like this one",
    ]
    assert about_first[1].photo  # the photo itself, not a description of it
    assert len(about_second) == 2

    # when the manager answers the first order's question by replying to it in the group
    await tg.say(manager, "Yes, we have it", chat=group, reply_to=about_first[0])
    confirmation = tg.last(group)
    assert confirmation.text == "Sent to the buyer."
    assert confirmation.reply_to.sender.id == manager.id
    # and answers the second order's photo-less question too
    await tg.say(manager, "Wrapping is free", chat=group, reply_to=about_second[1])

    # then the answers are on their orders
    assert (await dialog_of(tg, first.id))[-1] == ("to_buyer", "Yes, we have it")
    assert (await dialog_of(tg, second.id))[-1] == ("to_buyer", "Wrapping is free")

    # when the pump relays them, the buyer gets each tagged with its order
    await tg.deliver()
    answer_first = bot_messages(tg, ivan, f"💬 Order #{first.number} · Cats & Dogs: ")
    answer_second = bot_messages(tg, ivan, f"💬 Order #{second.number} · Cats & Dogs: ")
    assert [m.text.split(": ", 1)[1] for m in answer_first] == ["Yes, we have it"]
    assert [m.text.split(": ", 1)[1] for m in answer_second] == ["Wrapping is free"]

    # and the buyer's reply to the answer about the first order goes to the first order
    await tg.say(ivan, "Great, I will pay today", reply_to=answer_first[0])
    assert tg.last(ivan).text == f"Sent to the shop, order #{first.number}."
    assert (await dialog_of(tg, first.id))[-1] == ("to_shop", "Great, I will pay today")
    assert len(await dialog_of(tg, second.id)) == 3


async def test_staff_answer_from_their_private_chat_when_the_shop_has_no_group(tg):
    shop_id, _owner, manager = await open_shop(tg, SHOP, group=False)
    ivan, (order,) = await buyer_with_orders(tg, shop_id, count=1)
    card = await open_from_my(tg, ivan, order)
    await tg.say(ivan, "Can I pick it up?", reply_to=card)

    # the responsible manager gets it in private, and answers by replying there
    await tg.deliver()
    [relayed] = bot_messages(tg, manager, f"💬 #{order.number} ·")
    await tg.say(manager, "Yes, from 10 to 18", reply_to=relayed)
    assert tg.last(manager).text == "Sent to the buyer."
    assert await dialog_of(tg, order.id) == [
        ("to_shop", "Can I pick it up?"),
        ("to_buyer", "Yes, from 10 to 18"),
    ]
    await tg.deliver()
    [answer] = bot_messages(tg, ivan, f"💬 Order #{order.number}")
    assert answer.text.endswith(": Yes, from 10 to 18")


async def test_one_open_order_is_still_asked_for(tg):
    shop_id, *_ = await open_shop(tg, SHOP, group=False)
    ivan, (order,) = await buyer_with_orders(tg, shop_id, count=1)
    await tg.say(ivan, "Hello?")
    question = tg.last(ivan)
    assert [label.split(" · ")[0] for row in tg.emulator.buttons(question) for label in row] == [
        f"#{order.number}"
    ]
    assert await dialog_of(tg, order.id) == []
    # messages sent while choosing wait for the choice too
    await tg.say(ivan, "Anyone there?")
    await tg.tap(ivan, tg.last(ivan), text=tg.emulator.buttons(tg.last(ivan))[0][0])
    assert await dialog_of(tg, order.id) == [
        ("to_shop", "Hello?"),
        ("to_shop", "Anyone there?"),
    ]
    # and the conversation stays on that order until "Done"
    await tg.say(ivan, "One more thing")
    assert tg.last(ivan).text == f"Sent to the shop, order #{order.number}."
    await tg.tap_offered(ivan, "✅ Done")
    await tg.say(ivan, "And another")
    assert tg.last(ivan).text.startswith("Which order is this about?")
    assert len(await dialog_of(tg, order.id)) == 3


async def test_someone_without_orders_is_not_asked(tg):
    anna = tg.emulator.user("Anna", language_code="en")
    await tg.say(anna, "Hello?")
    assert tg.last(anna).text == "I did not understand that. Send /help to see what I can do."


async def test_a_stranger_replying_to_a_relayed_message_stores_nothing(tg):
    shop_id, _owner, _manager, group = await open_shop(tg, SHOP)
    ivan, (order, _other) = await buyer_with_orders(tg, shop_id)
    card = await open_from_my(tg, ivan, order)
    await tg.say(ivan, "Is it in stock?", reply_to=card)
    await tg.deliver()
    [relayed] = bot_messages(tg, group, f"💬 #{order.number} ·")

    # when a group member who is not the shop's staff replies to it
    eve = next(u for u in tg.emulator.world.users.values() if u.first_name == "Eve")
    await tg.say(eve, "I am the shop, pay me", chat=group, reply_to=relayed)

    # then nothing is stored or sent, and they are told so
    assert tg.last(group).text == "Only the shop's staff can answer the buyer; nothing was sent."
    assert await dialog_of(tg, order.id) == [("to_shop", "Is it in stock?")]
    await tg.deliver()
    assert not bot_messages(tg, ivan, "💬 Order")

    # and a reply to a bot message that is no relay (a ping) goes nowhere either
    ping = bot_messages(tg, group, "🆕")[0]
    await tg.say(_owner_of(tg), "ok", chat=group, reply_to=ping)
    assert await dialog_of(tg, order.id) == [("to_shop", "Is it in stock?")]


def _owner_of(tg):
    return next(u for u in tg.emulator.world.users.values() if u.first_name == "Olga")


async def test_the_card_shows_the_orders_dialog_to_staff(tg):
    shop_id, _owner, manager, group = await open_shop(tg, SHOP)
    ivan, (order, _other) = await buyer_with_orders(tg, shop_id)
    card = await open_from_my(tg, ivan, order)
    await tg.say(ivan, "Is it <really> in stock?", reply_to=card)
    await tg.deliver()
    [relayed] = bot_messages(tg, group, f"💬 #{order.number} ·")
    await tg.say(manager, "Yes", chat=group, reply_to=relayed)

    staff_card = await open_card(tg, manager, order.number)
    await tg.tap(manager, staff_card, text="💬 Dialog")
    shown = tg.last(manager).text.splitlines()
    assert shown[0] == f"Dialog of order #{order.number}"
    assert shown[1].endswith("· Buyer (Ivan): Is it <really> in stock?")
    assert shown[2].endswith("· Shop (Max): Yes")
    # the buyer's card has no such staff tool, and a stranger cannot read it
    assert "💬 Dialog" not in [b for row in tg.emulator.buttons(card) for b in row]
    stranger = tg.emulator.user("Mallory", language_code="en")
    await tg.say(stranger, "/start")
    from handlers.telegram.dialog import DialogCB

    callback = await tg.forged_tap(stranger, tg.last(stranger), DialogCB(id=order.id).pack())
    assert tg.answer(callback) == "Order not found."


async def test_relays_are_recorded_where_they_were_sent(tg):
    shop_id, _owner, _manager, group = await open_shop(tg, SHOP)
    ivan, (order, _other) = await buyer_with_orders(tg, shop_id)
    card = await open_from_my(tg, ivan, order)
    await tg.say(ivan, "Hi", reply_to=card)
    await tg.deliver()
    [relayed] = bot_messages(tg, group, f"💬 #{order.number} ·")
    async with tg.container.sessions() as session:
        relays = list(await session.scalars(select(DialogRelay)))
    assert [(r.order_id, r.chat_id, r.message_id) for r in relays] == [
        (order.id, group.id, relayed.message_id)
    ]


async def test_overlong_messages_and_forged_choices_store_nothing(tg):
    from handlers.telegram.dialog import BuyerAct, BuyerCB

    shop_id, *_ = await open_shop(tg, SHOP, group=False)
    ivan, (order, other) = await buyer_with_orders(tg, shop_id)
    # a message longer than the dialog takes, asked about or written from the card
    await tg.say(ivan, "x" * 4050)
    assert tg.last(ivan).text == "A message is 1 to 4000 characters. Please send it shorter."
    card = await open_from_my(tg, ivan, order)
    await tg.tap(ivan, card, text="💬 Write to the shop")
    await tg.say(ivan, "y" * 4050)
    assert tg.last(ivan).text == "A message is 1 to 4000 characters. Please send it shorter."
    await tg.tap_offered(ivan, "✅ Done")
    # a choice of an order that was not offered, or with no question open
    await tg.say(ivan, "Hello?")
    question = tg.last(ivan)
    for order_id in (other.id + 1000, 0):
        forged = BuyerCB(act=BuyerAct.PICK, id=order_id).pack()
        callback = await tg.forged_tap(ivan, question, forged)
        assert tg.answer(callback) == "That question is no longer open; send your message again."
    assert await dialog_of(tg, order.id) == [] and await dialog_of(tg, other.id) == []
