"""Returns end to end (F1): the buyer asks from the order card, the shop handles the request
with its buttons, both hear of each step; refusals are clear and change nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from handlers.telegram.returns import ReturnAct, ReturnCB
from services.orders.actors import ActorRef
from storage.models import ReturnRequest
from tests.e2e.chats import card_of, labels, message_starting, sent_by_bot
from tests.e2e.shops import ShopRecipe, bound_user, open_shop, received_order, ref

SHOP = ShopRecipe()


async def requests(tg):
    async with tg.container.sessions() as session:
        return list(await session.scalars(select(ReturnRequest).order_by(ReturnRequest.id)))


async def test_return_lifecycle_through_the_buttons(tg):
    # given a received order on the buyer's card
    shop_id, _owner, max_ = await open_shop(tg, SHOP)
    order, ivan = await received_order(tg, shop_id, max_)
    card = card_of(tg, ivan, order.number)
    assert "↩️ Return items" in labels(tg, card)

    # when the buyer chooses two units of the cat (not the food: it is not returnable)
    await tg.tap(ivan, card, text="↩️ Return items")
    chooser = tg.last(ivan)
    assert "Item FOOD-1: not returnable" in chooser.text
    assert labels(tg, chooser) == ["▫️ Item CAT-1 — 0/2", "➡️ Next", "✖️ Cancel"]
    await tg.tap(ivan, chooser, text="▫️ Item CAT-1 — 0/2")
    await tg.tap(ivan, chooser, text="✅ Item CAT-1 — 1/2")
    assert labels(tg, chooser)[0] == "✅ Item CAT-1 — 2/2"
    # and gives the reason, and confirms
    await tg.tap(ivan, chooser, text="➡️ Next")
    assert "Write the reason" in tg.last(ivan).text
    await tg.say(ivan, "The cat does not like the house")
    summary = tg.last(ivan)
    assert "• Item CAT-1 × 2" in summary.text
    await tg.tap(ivan, summary, text="📨 Send the request")
    assert "Return request #1 is sent to the shop" in tg.last(ivan).text
    [request] = await requests(tg)
    assert (request.status, request.reason) == ("requested", "The cat does not like the house")

    # then the manager gets it, opens it and approves
    await tg.deliver()
    ping = message_starting(tg, max_, "↩️ Return request #1")
    assert "Reason: The cat does not like the house" in ping.text
    await tg.tap(max_, ping, text="↩️ Open the return")
    return_card = tg.last(max_)
    assert labels(tg, return_card) == ["✅ Approve", "❌ Reject"]
    await tg.tap(max_, return_card, text="✅ Approve")
    assert "approved" in return_card.text
    # a second tap on the old button (a double tap that arrives late) changes nothing
    stale = ReturnCB(act=ReturnAct.STEP, id=request.id, arg="approve").pack()
    again = await tg.forged_tap(max_, return_card, stale)
    assert tg.answer(again) == "Already done."
    # the buyer may not take the shop's steps
    forged = await tg.forged_tap(
        ivan, summary, ReturnCB(act=ReturnAct.STEP, id=request.id, arg="receive").pack()
    )
    assert tg.answer(forged) == "You may not do this."
    [request] = await requests(tg)
    assert request.status == "approved"

    # when the goods come back and the money is refunded
    await tg.tap(max_, return_card, text="📦 Goods received")
    await tg.tap(max_, return_card, text="💸 Refund made")
    assert "refunded" in return_card.text
    assert labels(tg, return_card) == []

    # then the buyer heard of every step
    await tg.deliver()
    texts = [m.text or "" for m in sent_by_bot(tg, ivan)]
    assert any(t.startswith("↩️ Your return request #1") for t in texts)
    assert any("approved your return #1" in t for t in texts)
    assert any("has received the goods of your return #1" in t for t in texts)
    assert any("has refunded your return #1" in t for t in texts)
    # and the order's history has every step
    actions = [e.action for e in await tg.container.orders.history(order.id, ActorRef.system())]
    assert actions[-4:] == [
        "return_requested",
        "return_approved",
        "return_goods_received",
        "return_refunded",
    ]


async def test_reject_with_a_reason_and_refusals(tg):
    shop_id, _owner, max_ = await open_shop(tg, SHOP)
    order, ivan = await received_order(tg, shop_id, max_, days=7)
    card = card_of(tg, ivan, order.number)
    await tg.tap(ivan, card, text="↩️ Return items")
    chooser = tg.last(ivan)
    # nothing chosen: "Next" is refused with a reason
    next_ = await tg.tap(ivan, chooser, text="➡️ Next")
    assert tg.answer(next_) == "Choose at least one item to return."
    # a forged item id is refused
    forged = await tg.forged_tap(
        ivan, chooser, ReturnCB(act=ReturnAct.PICK, id=order.id, arg="999999").pack()
    )
    assert tg.answer(forged) == "This item cannot be returned."
    await tg.tap(ivan, chooser, text="▫️ Item CAT-1 — 0/2")
    await tg.tap(ivan, chooser, text="➡️ Next")
    await tg.say(ivan, "Scratched")
    await tg.tap_offered(ivan, "📨 Send the request")
    assert [r.status for r in await requests(tg)] == ["requested"]

    # the manager rejects it, with a reason typed after the button
    await tg.deliver()
    await tg.tap(max_, message_starting(tg, max_, "↩️ Return request #1"), text="↩️ Open the return")
    await tg.tap_offered(max_, "❌ Reject")
    assert "Why do you reject return #1?" in tg.last(max_).text
    await tg.say(max_, "The scratches are from use")
    assert "rejected" in tg.last(max_).text
    await tg.deliver()
    assert "rejected your return #1 (order #1): The scratches are from use" in tg.last(ivan).text

    # the rejected unit may be asked for again; but when the week since receipt passes
    # before the buyer sends it, the request is refused naming the item, nothing is written
    await tg.tap(ivan, card, text="↩️ Return items")
    chooser = tg.last(ivan)
    await tg.tap(ivan, chooser, text="▫️ Item CAT-1 — 0/2")
    await tg.tap(ivan, chooser, text="➡️ Next")
    await tg.say(ivan, "Still scratched")
    summary = tg.last(ivan)
    tg.container.clock.advance(timedelta(days=7, minutes=1))
    await tg.tap(ivan, summary, text="📨 Send the request")
    assert tg.last(ivan).text.startswith(
        "“Item CAT-1” can no longer be returned: its return period ended on "
    )

    # and the card no longer offers a return; an old button explains why
    await tg.tap(ivan, card, text="🔄 Refresh")
    assert "↩️ Return items" not in labels(tg, card_of(tg, ivan, order.number))
    old = await tg.forged_tap(ivan, card, ReturnCB(act=ReturnAct.START, id=order.id).pack())
    assert tg.answer(old) == ""
    told = tg.last(ivan).text
    assert "Nothing from this order can be returned now." in told
    assert "Item CAT-1: the return period is over" in told
    assert "Item FOOD-1: not returnable" in told
    assert [r.status for r in await requests(tg)] == ["rejected"]


async def test_the_shop_is_alerted_in_telegram_when_it_does_not_answer(tg):
    from services.time.sweep import TimerSweep

    shop_id, owner, max_ = await open_shop(tg, SHOP)
    order, _ivan = await received_order(tg, shop_id, max_)
    container = tg.container
    returns = container.returns
    buyer = ActorRef.user(await bound_user(tg, order))
    manager = await ref(tg, max_)
    line = next(i for i in (await container.orders.get(order.id, manager)).items if i.returnable)
    request = await returns.request(order.id, buyer, {line.id: 1}, "Broken")
    await tg.deliver()

    # when the shop's business hours to answer have passed
    container.clock.set(request.answer_due_at)
    await TimerSweep(container.sessions, container.clock, container.orders).run_once()
    await tg.deliver()

    # then the owner (the admin side) and the manager are alerted, with the request a tap away
    for person in (owner, max_):
        alert = message_starting(tg, person, "⚠️ Return request #1")
        assert f"for order #{order.number} was not answered in time" in alert.text
    await tg.tap(max_, message_starting(tg, max_, "⚠️ Return request #1"), text="↩️ Open the return")
    assert labels(tg, tg.last(max_)) == ["✅ Approve", "❌ Reject"]
