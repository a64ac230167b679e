"""The buyer end to end (C5, A4, A8): the order link, the buyer's card through the whole
`marketplace` and `platform` journeys, /my across shops, and every way a buyer may try what is
not theirs to do."""

from __future__ import annotations

from handlers.telegram.callbacks import OrderAct, OrderCB
from handlers.telegram.dialog import BuyerAct, BuyerCB
from handlers.telegram.order_edit.menu import EditAct, EditCB
from services.orders.actors import ActorRef
from tests.e2e.chats import card_of, labels
from tests.e2e.shops import (
    ShopRecipe,
    bound_user,
    buyer_via_link,
    open_shop,
    place_order,
    ref,
    status_of,
)

SHOP = ShopRecipe(speaks="ru")


async def test_the_link_binds_the_buyer_and_shows_their_card(tg):
    # given an order from the storefront
    shop_id, _owner, _manager = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    ivan = tg.emulator.user("Ivan", language_code="en")

    # when the buyer opens the link from the confirmation page
    await tg.say(ivan, f"/start {order.buyer_token}")

    # then the order is theirs, and its card is in their chat with the buyer's buttons only
    assert await bound_user(tg, order) is not None
    texts = [m.text for m in tg.emulator.messages(ivan) if m.outgoing]
    assert texts[0].startswith(f"✅ Order #{order.number} from Cats & Dogs is linked to this chat")
    card = card_of(tg, ivan, order.number)
    assert "Status: Awaiting confirmation" in card.text
    assert "Total: 3,300.00" in card.text.replace("RUB", "").replace("₽", "")
    # the invoice is the buyer's from the moment the order is placed (seed 002)
    expected = ["Cancel the order", "💬 Write to the shop", "📄 Invoice", "🔄 Refresh"]
    assert labels(tg, card) == expected
    assert "/my" in tg.last(ivan).text


async def test_marketplace_journey_cancel_only_before_payment_then_receipt(tg):
    # given a shop whose payment instructions are set, and the buyer holding the order's card
    instructions = {"payment_instructions": "Card 4276 0000 1111 2222, <Sberbank>"}
    shop_id, _owner, max_ = await open_shop(tg, SHOP, settings=instructions)
    manager = await ref(tg, max_)
    order = await place_order(tg, shop_id)
    ivan = await buyer_via_link(tg, order)
    card = card_of(tg, ivan, order.number)
    assert "Cancel the order" in labels(tg, card)
    assert "💳 How to pay" not in labels(tg, card)

    # when the shop confirms and bills, the buyer's card is redrawn in place
    await tg.container.orders.apply(order.id, manager, "confirm")
    await tg.deliver()
    assert "Status: Awaiting payment" in card.text
    assert labels(tg, card)[:3] == ["Cancel the order", "💬 Write to the shop", "💳 How to pay"]
    # and "How to pay" shows the shop's own instructions
    await tg.tap(ivan, card, text="💳 How to pay")
    how = tg.last(ivan).text
    assert f"How to pay for order #{order.number}" in how
    assert "Card 4276 0000 1111 2222, <Sberbank>" in how

    # when the shop confirms the payment: no "Cancel" for the buyer any more (000)
    await tg.container.orders.apply(order.id, manager, "mark_paid")
    await tg.deliver()
    assert "Status: Preparing for shipment" in card.text
    assert labels(tg, card) == ["💬 Write to the shop", "📄 Invoice", "🔄 Refresh"]

    # when the shop ships: the buyer confirms receipt, with a confirmation first
    await tg.container.orders.apply(
        order.id, manager, "ship", {"carrier": "СДЭК", "track_code": "RA123456789RU"}
    )
    await tg.deliver()
    assert "RA123456789RU" in card.text
    await tg.tap(ivan, card, text="I have received it")
    assert await status_of(tg, order.id) == "shipped"
    await tg.tap(ivan, card, text="✅ Yes")
    assert await status_of(tg, order.id) == "received"
    assert "Status: Received" in card.text
    events = await tg.container.orders.history(order.id, ActorRef.system())
    assert (events[-1].action, events[-1].actor_kind) == ("confirm_receipt", "buyer")


async def test_marketplace_buyer_cancels_before_payment_with_their_reason(tg):
    shop_id, _owner, _manager = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    ivan = await buyer_via_link(tg, order)
    card = card_of(tg, ivan, order.number)

    await tg.tap(ivan, card, text="Cancel the order")

    # the buyer's reasons, not the shop's
    reasons = labels(tg, card)
    assert reasons == ["Changed my mind", "Found it cheaper", "Other", "↩️ Back"]
    await tg.tap(ivan, card, text="Found it cheaper")
    assert await status_of(tg, order.id) == "cancelled"
    assert "Status: Cancelled" in card.text
    events = await tg.container.orders.history(order.id, ActorRef.system())
    assert events[-1].payload["inputs"] == {"reason": "found_cheaper"}
    assert events[-1].actor_kind == "buyer"


async def test_platform_buyer_cancels_with_a_reason_until_received(tg):
    # given a platform order already handed to the carrier
    shop_id, _owner, max_ = await open_shop(tg, SHOP, preset="platform")
    manager = await ref(tg, max_)
    order = await place_order(tg, shop_id)
    for action, inputs in (
        ("accept", {}),
        ("confirm", {}),
        ("pack", {}),
        ("ship", {"carrier": "Nova Poshta", "track_code": "20450000000001"}),
    ):
        await tg.container.orders.apply(order.id, manager, action, inputs)
    ivan = await buyer_via_link(tg, order)
    card = card_of(tg, ivan, order.number)
    assert "Status: Being delivered" in card.text
    # then the buyer may still cancel (003: until received), with their own reasons
    await tg.tap(ivan, card, text="Cancel the order")
    assert labels(tg, card) == [
        "Changed my mind",
        "Found it cheaper",
        "Delivery takes too long",
        "Other reasons",
        "↩️ Back",
    ]
    # "Other reasons" needs a comment
    await tg.tap(ivan, card, text="Other reasons")
    assert "needs a comment" in tg.last(ivan).text
    assert await status_of(tg, order.id) == "delivering"
    await tg.say(ivan, "Ordered the wrong size")
    assert await status_of(tg, order.id) == "cancelled"
    events = await tg.container.orders.history(order.id, ActorRef.system())
    assert events[-1].payload["inputs"] == {"reason": "other", "comment": "Ordered the wrong size"}

    # and once an order is received, there is nothing left to cancel
    second = await place_order(tg, shop_id)
    for action in ("accept", "confirm", "pack", "ship", "deliver"):
        inputs = (
            {"carrier": "Nova Poshta", "track_code": "20450000000002"} if action == "ship" else {}
        )
        await tg.container.orders.apply(second.id, manager, action, inputs)
    await tg.say(ivan, f"/start {second.buyer_token}")  # each order by its own link
    await tg.say(ivan, "/my")
    await tg.tap_offered(ivan, f"#{second.number} · Cats & Dogs")
    received = card_of(tg, ivan, second.number)
    assert "Status: Received" in received.text
    assert "Cancel the order" not in labels(tg, received)


async def test_my_lists_the_buyers_orders_in_every_shop(tg):
    # given a buyer with orders in two shops, each opened by its link
    cats_id, *_ = await open_shop(tg, SHOP, name="Cats")
    dogs_id, *_ = await open_shop(tg, SHOP, preset="platform", name="Dogs")
    first = await place_order(tg, cats_id)
    tg.container.clock.advance(__import__("datetime").timedelta(minutes=5))
    second = await place_order(tg, dogs_id)
    other_people = await place_order(tg, cats_id, phone="+79160000009", email="x@example.com")
    ivan = tg.emulator.user("Ivan", language_code="en")
    for order in (first, second):
        await tg.say(ivan, f"/start {order.buyer_token}")

    # when they send /my
    await tg.say(ivan, "/my")

    # then both orders are there, newest first, and nobody else's
    listing = tg.last(ivan)
    lines = listing.text.splitlines()
    assert lines[0] == "Your orders"
    assert lines[1].startswith(f"#{second.number} · Dogs · ")
    assert lines[2].strip().startswith("New · ")
    assert lines[3].startswith(f"#{first.number} · Cats · ")
    assert lines[4].strip().startswith("Awaiting confirmation · ")
    assert f"#{other_people.number} · Cats" not in labels(tg, listing)[2:]
    assert labels(tg, listing) == [f"#{second.number} · Dogs", f"#{first.number} · Cats"]
    # and a button opens the order's card
    await tg.tap(ivan, listing, text=f"#{second.number} · Dogs")
    card = card_of(tg, ivan, second.number)
    assert "Dogs" in card.text and "Status: New" in card.text

    # a person without orders is told how to get them here
    anna = tg.emulator.user("Anna", language_code="en")
    await tg.say(anna, "/my")
    assert "You have no orders here yet" in tg.last(anna).text


# -- security ------------------------------------------------------------------------------


async def test_a_buyers_forged_shop_actions_are_refused_and_change_nothing(tg):
    shop_id, _owner, _manager = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    ivan = await buyer_via_link(tg, order)
    card = card_of(tg, ivan, order.number)
    before = await tg.container.orders.get(order.id, ActorRef.system())

    forged = [
        # the shop's status buttons, as a modified client would send them
        OrderCB(act=OrderAct.DO, id=order.id, arg="confirm", v=order.version),
        OrderCB(act=OrderAct.SURE, id=order.id, arg="confirm", v=order.version),
        OrderCB(act=OrderAct.DO, id=order.id, arg="mark_paid", v=order.version),
        # a shop-only reason for the buyer's own action
        OrderCB(act=OrderAct.REASON, id=order.id, arg="out_of_stock", x="cancel", v=order.version),
        # the shop's editing
        EditCB(act=EditAct.ITEMS, id=order.id, v=order.version),
        EditCB(act=EditAct.DELIVERY, id=order.id, v=order.version),
        EditCB(act=EditAct.PAYMENT, id=order.id, v=order.version),
    ]
    for data in forged:
        callback = await tg.forged_tap(ivan, card, data.pack())
        answer = tg.answer(callback)
        assert answer, f"{data.pack()} got no answer"
        assert answer in (
            "You may not do this.",
            "Not possible in the order's current status.",
            "This does not apply to this order.",
            "That value is not valid.",
        ) or answer.startswith("This button"), (data.pack(), answer)

    after = await tg.container.orders.get(order.id, ActorRef.system())
    assert (after.status, after.version, after.total) == (
        before.status,
        before.version,
        before.total,
    )
    events = await tg.container.orders.history(order.id, ActorRef.system())
    assert [e.action for e in events] == ["create", "buyer_linked"]


async def test_another_buyers_order_link_is_refused_and_not_bound(tg):
    # given two buyers, each with their order open in Telegram
    shop_id, _owner, _manager = await open_shop(tg, SHOP)
    mine = await place_order(tg, shop_id)
    theirs = await place_order(tg, shop_id, phone="+79160000001", email="petr@example.com")
    ivan = await buyer_via_link(tg, mine)
    await buyer_via_link(tg, theirs, "Petr")
    petr_id = await bound_user(tg, theirs)

    # when Ivan opens Petr's link
    await tg.say(ivan, f"/start {theirs.buyer_token}")

    # then he is refused, the order stays Petr's, and Ivan cannot open it by id either
    assert tg.last(ivan).text.startswith("🔒 This order is linked to another Telegram account")
    assert await bound_user(tg, theirs) == petr_id
    callback = await tg.forged_tap(
        ivan, tg.last(ivan), BuyerCB(act=BuyerAct.OPEN, id=theirs.id).pack()
    )
    assert tg.answer(callback) == "Order not found."
    callback = await tg.forged_tap(
        ivan, tg.last(ivan), BuyerCB(act=BuyerAct.WRITE, id=theirs.id).pack()
    )
    assert tg.answer(callback) == "Order not found."
    await tg.say(ivan, "/my")
    assert labels(tg, tg.last(ivan)) == [f"#{mine.number} · Cats & Dogs"]


async def test_a_reused_link_is_refused_for_the_second_person(tg):
    # given an order its buyer opened
    shop_id, _owner, _manager = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    ivan = await buyer_via_link(tg, order)
    owner_id = await bound_user(tg, order)
    # when the link is forwarded and someone else opens it
    eve = tg.emulator.user("Eve", language_code="en")
    await tg.say(eve, f"/start {order.buyer_token}")
    # then they are refused and see nothing of the order
    [answer] = [m for m in tg.emulator.messages(eve) if m.outgoing]
    assert answer.text.startswith("🔒 This order is linked to another Telegram account")
    assert f"#{order.number}" not in answer.text
    assert await bound_user(tg, order) == owner_id
    # and the buyer opening it again is fine
    await tg.say(ivan, f"/start {order.buyer_token}")
    assert "is linked to this chat" in tg.emulator.messages(ivan)[-3].text


async def test_an_unknown_link_is_refused_without_a_hint(tg):
    shop_id, _owner, _manager = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    eve = tg.emulator.user("Eve", language_code="en")
    guessed = order.buyer_token[:-1] + ("A" if order.buyer_token[-1] != "A" else "B")
    for payload in (guessed, "order-42", str(order.id), "x" * 64):
        await tg.say(eve, f"/start {payload}")
        assert tg.last(eve).text.startswith("This link does not open any order.")
    assert await bound_user(tg, order) is None
