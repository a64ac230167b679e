"""Languages end to end (C7): each person picks Russian, Ukrainian or English with /language;
until they do, the bot speaks their Telegram app's language when it knows it."""

from __future__ import annotations

from sqlalchemy import select

from handlers.telegram.language import LanguageCB
from services.orders.actors import ActorRef
from storage.models import User
from tests.e2e.chats import labels
from tests.e2e.shops import place_order
from tests.factories import item

MENU = {
    "ru": "Здравствуйте! Я веду заказы магазина в Telegram",
    "uk": "Вітаю! Я веду замовлення магазину в Telegram",
    "en": "Hello! I manage a shop's orders in Telegram",
}


async def chosen_language(tg, person) -> str | None:
    async with tg.container.sessions() as session:
        return await session.scalar(select(User.language).where(User.telegram_id == person.id))


async def test_a_russian_user_switches_to_english_and_back(tg):
    anna = tg.emulator.user("Anna", language_code="ru")
    await tg.say(anna, "/start")
    assert tg.last(anna).text.startswith(MENU["ru"])

    # when she asks for the languages, each is named in itself, hers marked
    await tg.say(anna, "/language")
    picker = tg.last(anna)
    assert picker.text == "Выберите язык:"
    assert labels(tg, picker) == ["✓ Русский", "Українська", "English"]

    # when she picks English: the answer is in English already, and so is the menu
    await tg.tap(anna, picker, text="English")
    assert picker.text == "Done: I speak English with you now. /language changes it again."
    assert tg.last(anna).text.startswith(MENU["en"])
    assert await chosen_language(tg, anna) == "en"
    await tg.say(anna, "/help")
    assert tg.last(anna).text.startswith("/start — main menu")

    # and back to Russian
    await tg.say(anna, "/language")
    picker = tg.last(anna)
    assert picker.text == "Choose your language:"
    assert labels(tg, picker) == ["Русский", "Українська", "✓ English"]
    await tg.tap(anna, picker, text="Русский")
    assert picker.text == "Готово: теперь я говорю с вами по-русски. Сменить язык: /language."
    assert tg.last(anna).text.startswith(MENU["ru"])
    assert await chosen_language(tg, anna) == "ru"


async def test_a_ukrainian_telegram_user_is_answered_in_ukrainian_until_they_pick(tg):
    # given a buyer whose Telegram app is in Ukrainian
    created = await tg.container.shops.create_shop(
        name="Коти", owner_telegram_id=tg.emulator.user("Olga").id, preset="marketplace"
    )
    order = await place_order(tg, created.shop.id, item())
    taras = tg.emulator.user("Taras", language_code="uk")

    # then the bot speaks Ukrainian to them, their order card included
    await tg.say(taras, "/start")
    assert tg.last(taras).text.startswith(MENU["uk"])
    await tg.say(taras, f"/start {order.buyer_token}")
    card = tg.emulator.messages(taras)[-2]
    assert "Статус: Очікує підтвердження" in card.text
    assert labels(tg, card)[:2] == ["Скасувати замовлення", "💬 Написати магазину"]
    assert await chosen_language(tg, taras) is None  # Telegram's, not a choice

    # when they pick English, their choice wins over Telegram's
    await tg.say(taras, "/language")
    assert tg.last(taras).text == "Оберіть мову:"
    await tg.tap_offered(taras, "English")
    await tg.say(taras, "/start")
    assert tg.last(taras).text.startswith(MENU["en"])
    await tg.say(taras, "/my")
    assert tg.last(taras).text.startswith("Your orders")
    # and the shop's news reach them in English too
    manager = await tg.container.shops.add_staff(created.shop.id, 4242, "manager")
    await tg.container.orders.apply(order.id, ActorRef.user(manager.id), "confirm")
    await tg.deliver()
    assert any(
        "Awaiting payment" in (m.text or "") for m in tg.emulator.messages(taras) if m.outgoing
    )


async def test_a_language_the_bot_does_not_speak_falls_back_to_russian(tg):
    for code in ("de", None, "ukr", ""):
        person = tg.emulator.user(f"P{code}", language_code=code)
        await tg.say(person, "/start")
        assert tg.last(person).text.startswith(MENU["ru"]), code


async def test_a_forged_language_is_refused(tg):
    anna = tg.emulator.user("Anna", language_code="en")
    await tg.say(anna, "/language")
    for code in ("de", "xx", "", "ru' --"):
        callback = await tg.forged_tap(anna, tg.last(anna), LanguageCB(code=code).pack())
        assert tg.answer(callback) in (
            "That value is not valid.",
            "This button is no longer valid. Send /start for the menu.",
        )
    assert await chosen_language(tg, anna) is None
    assert tg.last(anna).text == "Choose your language:"
