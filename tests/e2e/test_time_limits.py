"""Timers and time limits as people see them in Telegram (B1, B2): the time left on the list
and the card, the alert past the limit, /problems, and a reminder reaching the buyer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.scheduler import build_sweep
from tests.e2e.chats import bot_texts, open_card
from tests.e2e.shops import ShopRecipe, bound_buyer, open_shop, place_order, ref
from tests.factories import item

TUESDAY_18_MOSCOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
WEDNESDAY_10_MOSCOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
SHOP = ShopRecipe(staff=("manager", "packer"))


async def test_time_left_then_the_alert_then_problems_then_the_next_limit(tg):
    clock = tg.container.clock
    clock.set(TUESDAY_18_MOSCOW)
    shop = await open_shop(tg, SHOP, preset="platform")
    order = await place_order(tg, shop.id, item("CAT-1", 1, 150_000))

    # the list shows the working time left in "New": 3 h, counted in working hours
    await tg.say(shop.owner, "/orders")
    assert "⏱ 3 h 0 min" in tg.last(shop.owner).content

    # nobody opens it: at 10:00 on Wednesday the owner and the manager are alerted
    clock.set(WEDNESDAY_10_MOSCOW)
    await build_sweep(tg.container).run_once()
    await tg.deliver()
    alert = f"⚠️ Order #{order.number} is past its time limit in “New”."
    for person in (shop.owner, shop.manager):
        assert any(alert in text for text in bot_texts(tg, person)), person.first_name
    assert not any(alert in text for text in bot_texts(tg, shop.packer))

    # /problems lists it
    await tg.say(shop.owner, "/problems")
    listed = tg.last(shop.owner).content
    assert f"⚠️ <b>#{order.number}</b>" in listed or f"⚠️ #{order.number}" in listed

    # the manager opens it from the alert: accepted for processing, the problem is over and
    # the next limit (6 h) runs
    clock.advance(timedelta(minutes=5))
    card = (await open_card(tg, shop.manager, order.number)).content
    assert "Requires agreement with the buyer" in card
    assert "Problem" not in card
    assert "⏱ 6 h 0 min of working time left, until 25.11.2026 16:05" in card
    assert "excellent within 1 h 0 min" in card
    await tg.say(shop.owner, "/problems")
    assert f"#{order.number}" not in tg.last(shop.owner).content


async def test_the_card_says_when_the_limit_has_passed(tg):
    clock = tg.container.clock
    clock.set(TUESDAY_18_MOSCOW)
    shop = await open_shop(tg, SHOP, preset="stages")  # "Call to the buyer" is not taken on opening
    order = await place_order(tg, shop.id, item("CAT-1", 1, 150_000))
    clock.set(WEDNESDAY_10_MOSCOW)  # stages: a new order has 2 h (Tuesday 18:00 -> 20:00)
    await build_sweep(tg.container).run_once()
    card = (await open_card(tg, shop.owner, order.number)).content
    assert "⚠️ Problem: the time limit for this status has passed" in card
    assert "⏱ The time limit passed at 24.11.2026 20:00" in card


async def test_the_buyer_is_reminded_to_pay(tg):
    shop = await open_shop(tg, SHOP, preset="marketplace")
    order = await place_order(tg, shop.id, item("CAT-1", 1, 150_000), email=None)
    buyer = await bound_buyer(tg, order)
    await tg.container.orders.apply(order.id, await ref(tg, shop.manager), "confirm")
    await tg.deliver()
    before = len(bot_texts(tg, buyer))
    tg.container.clock.advance(timedelta(days=2))
    await build_sweep(tg.container).run_once()
    await tg.deliver()
    news = bot_texts(tg, buyer)[before:]
    assert len(news) == 1
    # in the buyer's language (Russian, as the storefront said)
    assert news == [
        f"⏰ Заказ #{order.number} в магазине «Cats & Dogs» ждёт оплаты: 1\xa0500,00\xa0₽. "
        "Откройте его через /my, там написано, как оплатить."
    ]
