"""The order card end to end: status buttons, confirmation, reasons, track code, history,
comments, the call script, and every way a tap can be wrong (C3, A5, A9, A10)."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.telegram.callbacks import OrderAct, OrderCB
from services.orders.actors import ActorRef
from tests.e2e.chats import open_card
from tests.e2e.shops import ShopRecipe, open_shop, place_order, ref, status_of
from tests.factories import item

SHOP = ShopRecipe(staff=("manager", "packer"), speaks="ru")


async def test_the_card_shows_the_order_and_exactly_the_persons_buttons(tg):
    shop_id, _owner, manager, packer = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    card = await open_card(tg, manager, order.number)
    # then the card has the order's data
    assert "Cats &amp; Dogs" in card.text or "Cats & Dogs" in card.text
    assert f"#{order.number}" in card.text
    text = card.text.replace("\xa0", " ").replace("\u202f", " ")
    assert "Item CAT-1 × 2 — 3 000,00 ₽" in text
    assert "3 300,00 ₽" in text  # 2 × 1500 + 300 delivery
    buttons = [b for row in tg.emulator.buttons(card) for b in row]
    assert buttons[:2] == ["Подтвердить и выставить счёт", "Отменить заказ"]
    # the packer sees no status buttons here: nothing is theirs to do yet
    packer_card = await open_card(tg, packer, order.number)
    packer_buttons = [b for row in tg.emulator.buttons(packer_card) for b in row]
    assert "Подтвердить и выставить счёт" not in packer_buttons


async def test_statuses_move_by_buttons_with_confirmation_and_track_code(tg):
    shop_id, _owner, manager, packer = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    card = await open_card(tg, manager, order.number)
    # when the manager confirms
    await tg.tap(manager, card, text="Подтвердить и выставить счёт")
    assert await status_of(tg, order.id) == "awaiting_payment"
    card = await open_card(tg, manager, order.number)
    # when payment is marked: first a confirmation, nothing changes until "Yes"
    await tg.tap(manager, card, text="Оплачен")
    assert await status_of(tg, order.id) == "awaiting_payment"
    await tg.tap(manager, card, text="✅ Да")
    assert await status_of(tg, order.id) == "preparing_shipment"
    # when the packer ships: carrier from buttons, then a code, a bad one re-asked
    card = await open_card(tg, packer, order.number)
    await tg.tap(packer, card, text="Отправить")
    question = tg.last(packer)
    await tg.tap(packer, question, text="СДЭК")
    await tg.say(packer, "no!")
    assert await status_of(tg, order.id) == "preparing_shipment"
    assert "Это не трек-код" in tg.last(packer).text
    await tg.say(packer, "1234 5678 90")
    fresh = await tg.container.orders.get(order.id, ActorRef.system())
    assert (fresh.status, fresh.carrier, fresh.track_code) == ("shipped", "СДЭК", "1234567890")


async def test_a_conversation_can_be_cancelled_at_any_step(tg):
    shop_id, _owner, manager, packer = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    manager_ref = await ref(tg, manager)
    await tg.container.orders.apply(order.id, manager_ref, "confirm")
    await tg.container.orders.apply(order.id, manager_ref, "mark_paid")
    card = await open_card(tg, packer, order.number)
    await tg.tap(packer, card, text="Отправить")
    await tg.tap_offered(packer, "СДЭК")
    await tg.tap_offered(packer, "✖️ Отмена")
    # then a code typed now is not taken as a track code
    await tg.say(packer, "RA123456789RU")
    assert await status_of(tg, order.id) == "preparing_shipment"


async def test_cancel_with_a_reason_that_needs_a_comment(tg):
    shop_id, _owner, manager, _packer = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    card = await open_card(tg, manager, order.number)
    await tg.tap(manager, card, text="Отменить заказ")
    card = card
    reasons = [b for row in tg.emulator.buttons(card) for b in row]
    assert "Нет в наличии" in reasons and "Передумал" not in reasons  # buyer's, not the shop's
    await tg.tap(manager, card, text="Другое")
    assert await status_of(tg, order.id) == "awaiting_confirmation"
    await tg.say(manager, "Buyer asked to cancel by phone")
    assert await status_of(tg, order.id) == "cancelled"
    events = await tg.container.orders.history(order.id, ActorRef.system())
    assert events[-1].payload["inputs"] == {
        "reason": "other",
        "comment": "Buyer asked to cancel by phone",
    }


async def test_opening_a_platform_order_moves_it_to_agreement(tg):
    shop_id, _owner, manager, _packer = await open_shop(tg, SHOP, preset="platform")
    order = await place_order(tg, shop_id)
    await open_card(tg, manager, order.number)
    assert await status_of(tg, order.id) == "requires_agreement"


async def test_history_comments_and_call_script(tg):
    shop_id, _owner, manager, _packer = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    card = await open_card(tg, manager, order.number)
    await tg.tap(manager, card, text="💬 Комментарий")
    await tg.say(manager, "Call after 18:00")
    await tg.tap(manager, card, text="📜 История")
    history = tg.last(manager).text
    assert "🔒 Call after 18:00" in history
    assert "внутренний комментарий" in history  # named, not the raw "comment" code
    await tg.tap(manager, card, text="📞 Сценарий")
    script = tg.last(manager).text
    assert "Cats &amp; Dogs" in script or "Cats & Dogs" in script
    assert "Ivan Petrov" in script and "+7 916 123-45-67" in script


async def test_double_tap_makes_one_transition(tg):
    shop_id, _owner, manager, _packer = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    card = await open_card(tg, manager, order.number)
    # two taps of the same button arrive before the bot handles the first
    first = tg.emulator.tap(manager, card, text="Подтвердить и выставить счёт")
    second = tg.emulator.tap(manager, card, text="Подтвердить и выставить счёт")
    await tg.settle()
    assert await status_of(tg, order.id) == "awaiting_payment"
    events = await tg.container.orders.history(order.id, ActorRef.system())
    assert [e.action for e in events].count("confirm") == 1
    answers = [tg.answer(first), tg.answer(second)]
    assert any("Уже сделано" in a or "Заказ изменился" in a for a in answers)


@pytest.mark.parametrize("who", ["other_shop_owner", "packer", "stranger"])
async def test_forged_taps_change_nothing(tg, who):
    shop_id, _owner, _manager, packer = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    intruder = {"packer": packer}.get(who)
    if intruder is None:
        intruder = tg.emulator.user("Eve")
        await tg.say(intruder, "/start")
        if who == "other_shop_owner":
            await tg.container.shops.create_shop(name="Rival", owner_telegram_id=intruder.id)
    card = await tg.say(intruder, "/start")
    data = OrderCB(act=OrderAct.DO, id=order.id, arg="confirm", v=order.version).pack()
    callback = await tg.forged_tap(intruder, tg.last(intruder), data)
    assert tg.answer(callback)
    assert await status_of(tg, order.id) == "awaiting_confirmation"
    assert card is not None


async def test_a_stale_card_is_refused_and_redrawn(tg):
    shop_id, owner, manager, _packer = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    old_card = await open_card(tg, manager, order.number)
    owner_card = await open_card(tg, owner, order.number)
    await tg.tap(owner, owner_card, text="Подтвердить и выставить счёт")
    # the manager's card still shows "confirm"; its tap is refused and the card redrawn
    callback = await tg.tap(manager, old_card, text="Подтвердить и выставить счёт")
    assert tg.answer(callback) in ("Уже сделано.", "Заказ изменился; вот его актуальная карточка.")
    redrawn = old_card
    assert "Оплачен" in [b for row in tg.emulator.buttons(redrawn) for b in row]
    events = await tg.container.orders.history(order.id, ActorRef.system())
    assert [e.action for e in events].count("confirm") == 1


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.one_of(
        st.text(max_size=64),
        st.builds(
            lambda act, arg, v: f"o:{act}:{{id}}:{arg}::{v}",
            st.sampled_from([*OrderAct, "zz"]),
            st.text(alphabet="abcdefghijk_:", max_size=20),
            st.integers(-5, 10**12),
        ),
    )
)
async def test_random_callback_data_never_breaks_or_changes_anything(tg, caplog, data):
    if not hasattr(tg, "arranged"):
        tg.arranged = await open_shop(tg, SHOP)
        tg.order = await place_order(tg, tg.arranged.id)
    _shop_id, _owner, _manager, packer = tg.arranged
    caplog.set_level(logging.ERROR)
    payload = data.replace("{id}", str(tg.order.id)).encode()[:64].decode("utf-8", "ignore")
    if not payload:
        return
    before = await tg.container.orders.get(tg.order.id, ActorRef.system())
    callback = await tg.forged_tap(packer, tg.last(packer), payload)
    after = await tg.container.orders.get(tg.order.id, ActorRef.system())
    assert (after.status, after.version) == (before.status, before.version)
    assert tg.emulator.callback_answer(callback) is not None  # every tap is answered
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_huge_order_still_fits_one_card(tg):
    # given an order of 200 lines with the longest names the API accepts
    shop_id, _owner, manager, _packer = await open_shop(tg, SHOP)
    lines = [item(f"SKU-{n}", 1, 100) for n in range(200)]
    for line in lines:
        line.name = "Очень длинное название товара " * 8 + line.sku
    order = await place_order(tg, shop_id, *lines)
    # when the manager opens it
    card = await open_card(tg, manager, order.number)
    # then the card is one message within Telegram's limit, saying what is not shown
    assert len(card.text) <= 4096
    assert "… и ещё" in card.text


@pytest.mark.parametrize("tool", [OrderAct.SCRIPT, OrderAct.COMMENT])
async def test_a_buyer_cannot_use_staff_tools_by_a_forged_button(tg, tool):
    # given a buyer bound to their order
    shop_id, _owner, _manager, _packer = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    buyer = tg.emulator.user("Ivan")
    tg.emulator.start_bot(buyer, order.buyer_token)
    await tg.settle()
    # when they forge the staff-only button
    data = OrderCB(act=tool, id=order.id, v=order.version).pack()
    callback = await tg.forged_tap(buyer, tg.last(buyer), data)
    # then they are refused and got neither the script nor a comment prompt
    assert tg.answer(callback) == "У вас нет прав на это действие."
    assert "+7 916 123-45-67" not in tg.last(buyer).text
    await tg.say(buyer, "a private note")
    events = await tg.container.orders.history(order.id, ActorRef.system())
    assert "comment" not in [e.action for e in events]
