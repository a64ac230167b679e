"""Ratings and reviews end to end (F3): asked on receipt, stars then words, the shop's one
answer reaching the buyer, the average in /settings; bad or repeated taps change nothing."""

from __future__ import annotations

from sqlalchemy import select

from handlers.telegram.reviews import ReviewAct, ReviewCB
from storage.models import Review
from tests.e2e.chats import labels, message_starting, open_settings
from tests.e2e.shops import ShopRecipe, open_shop, received_order

SHOP = ShopRecipe()


async def reviews(tg):
    async with tg.container.sessions() as session:
        return list(await session.scalars(select(Review)))


async def test_rate_write_and_get_the_shops_answer(tg):
    # given an order the buyer has just received
    shop_id, owner, max_ = await open_shop(tg, SHOP)
    order, ivan = await received_order(tg, shop_id, max_)

    # then the buyer is asked for stars
    ask = message_starting(tg, ivan, f"How was your order #{order.number} at Cats & Dogs?")
    assert labels(tg, ask) == ["1⭐", "2⭐", "3⭐", "4⭐", "5⭐"]

    # when they give four stars and a few words
    await tg.tap(ivan, ask, text="4⭐")
    assert ask.text.startswith("Thank you! ★★★★☆")
    await tg.say(ivan, "A fine cat house, the box was dented")
    assert "Thank you for your review" in tg.last(ivan).text
    [review] = await reviews(tg)
    assert (review.stars, review.text) == (4, "A fine cat house, the box was dented")

    # bad and repeated stars are refused and change nothing
    for stars, answer in ((9, "Give from 1 to 5 stars."), (5, "This order is rated already.")):
        tap = await tg.forged_tap(
            ivan, ask, ReviewCB(act=ReviewAct.STAR, id=order.id, arg=stars).pack()
        )
        assert tg.answer(tap).startswith(answer)
    [review] = await reviews(tg)
    assert review.stars == 4

    # the manager is told and answers
    await tg.deliver()
    told = message_starting(tg, max_, f"⭐ Review of order #{order.number}: ★★★★☆")
    assert "the box was dented" in told.text
    await tg.tap(max_, told, text="💬 Answer")
    await tg.say(max_, "Sorry about the box, we changed the courier")
    assert "Your answer is sent to the buyer." in tg.last(max_).text
    # once only
    again = await tg.tap(max_, told, text="💬 Answer")
    assert tg.answer(again) == "The review has been answered already."

    # the buyer gets the answer
    await tg.deliver()
    assert tg.last(ivan).text == (
        f"💬 Cats & Dogs answered your review of order #{order.number}: "
        "Sorry about the box, we changed the courier"
    )

    # the buyer may not answer it
    forged = await tg.forged_tap(ivan, ask, ReviewCB(act=ReviewAct.ANSWER, id=order.id).pack())
    assert tg.answer(forged) == "The review has been answered already."
    forged = await tg.forged_tap(ivan, ask, ReviewCB(act=ReviewAct.SHOW, id=order.id).pack())
    assert "💬 Answer" not in labels(tg, tg.last(ivan))

    # and the owner sees the average in /settings
    await tg.tap(owner, await open_settings(tg, owner), text="⭐ Rating and reviews")
    assert "Average rating: 4.0 from 1 reviews" in tg.last(owner).text


async def test_the_card_shows_the_review_to_staff(tg):
    shop_id, _owner, max_ = await open_shop(tg, SHOP)
    order, ivan = await received_order(tg, shop_id, max_)
    ask = message_starting(tg, ivan, f"How was your order #{order.number}")
    await tg.tap(ivan, ask, text="5⭐")
    await tg.tap(ivan, ask, text="Skip")
    assert "Thank you for your rating!" in tg.last(ivan).text
    # the words may not come after "Skip" as a review: the message is no longer a review
    [review] = await reviews(tg)
    assert (review.stars, review.text) == (5, "")

    # the manager opens the order's card and taps "⭐ Review"
    ping = message_starting(tg, max_, f"🆕 New order #{order.number}")
    await tg.tap(max_, ping, text="📂 Open the order")
    card = message_starting(tg, max_, f"Order #{order.number} · ")
    assert ["↩️ Returns", "⭐ Review"] == [
        x for x in labels(tg, card) if x in ("↩️ Returns", "⭐ Review")
    ]
    await tg.tap(max_, card, text="⭐ Review")
    shown = tg.last(max_)
    assert shown.text.startswith(f"⭐ Review of order #{order.number}: ★★★★★")
    assert labels(tg, shown) == ["💬 Answer"]
    # a stranger's forged tap learns nothing
    stranger = tg.emulator.user("Eve", language_code="en")
    await tg.say(stranger, "/start")
    tap = await tg.forged_tap(
        stranger, tg.last(stranger), ReviewCB(act=ReviewAct.SHOW, id=order.id).pack()
    )
    assert tg.answer(tap) == "Order not found."
