"""/balance and the money terms end to end through the Telegram emulator (F2, F4, C4)."""

from __future__ import annotations

from tests.e2e.chats import open_settings
from tests.e2e.shops import ShopRecipe, open_shop, place_order, ref
from tests.factories import item

SHOP = ShopRecipe(staff=("accountant", "packer"), preset="reseller")  # 004


async def test_the_owner_sets_the_commission_and_sees_reserved_then_available(tg):
    shop_id, owner, accountant, packer = await open_shop(tg, SHOP)

    # given the owner sets a 12.5 % commission in /settings
    menu = await open_settings(tg, owner)
    await tg.tap(owner, menu, text="Commission, %")
    await tg.say(owner, "12,345")  # too precise: asked again, nothing saved
    assert "Not saved" in tg.last(owner).text
    await tg.say(owner, "12.5")
    assert tg.emulator.messages(owner)[-2].text == "Saved: Commission, %."
    assert "Commission, %: 12.5 %" in tg.last(owner).text

    # and an order of goods 50.68 (after discounts) and delivery 3.50 is paid
    goods = (item("A", quantity=3, price=1000, discount=100), item("B", quantity=1, price=2501))
    order = await place_order(tg, shop_id, *goods, delivery_cost=350, discount=333)
    await tg.container.orders.apply(order.id, await ref(tg, accountant), "mark_paid")

    # when the accountant asks for the balance
    await tg.say(accountant, "/balance")
    text = tg.last(accountant).text

    # then the income (50.68 - 6.34 commission) and the delivery are reserved
    assert "Balance of Cats & Dogs" in text
    assert "Reserved: 47.84\xa0RUB" in text  # 44.34 + 3.50
    assert "Available: 0.00\xa0RUB" in text
    assert f"#{order.number} · income reserved: +44.34\xa0RUB" in text
    assert f"#{order.number} · delivery reserved: +3.50\xa0RUB" in text

    # when the order ships and is fulfilled, and the 15-day protection period ends
    await tg.container.orders.apply(order.id, await ref(tg, packer), "ship")
    await tg.container.orders.apply(order.id, await ref(tg, owner), "fulfil")
    from datetime import timedelta

    from services.time.sweep import TimerSweep

    tg.container.clock.advance(timedelta(days=15))
    await TimerSweep(tg.container.sessions, tg.container.clock, tg.container.orders).run_once()

    # then the owner sees it all available, newest entries first
    await tg.say(owner, "/balance")
    text = tg.last(owner).text
    assert "Reserved: 0.00\xa0RUB" in text
    assert "Available: 47.84\xa0RUB" in text
    assert text.index("income credited: +44.34\xa0RUB") < text.index(
        "income reserved: +44.34\xa0RUB"
    )
    assert "delivery credited: +3.50\xa0RUB" in text

    # and the order list shows the order's income
    await tg.say(owner, f"/orders #{order.number}")
    listed = tg.last(owner).text
    assert "54.18\xa0RUB · income 44.34\xa0RUB · Completed" in listed, listed


async def test_the_balance_is_not_for_packers(tg):
    _shop_id, _owner, _accountant, packer = await open_shop(tg, SHOP)
    await tg.say(packer, "/balance")
    assert tg.last(packer).text == "You may not do this."


async def test_an_empty_ledger(tg):
    _shop_id, owner, _accountant, _packer = await open_shop(tg, SHOP)
    await tg.say(owner, "/balance")
    text = tg.last(owner).text
    assert "Reserved: 0.00\xa0RUB" in text and "No entries yet." in text
