"""The "/" command menus per language and role, and the bot's description (issue 22)."""

from __future__ import annotations

import json

from bot.telegram import build_bot, set_commands
from tests.e2e.chats import labels
from tests.e2e.conftest import BOT_TOKEN
from tests.e2e.shops import ShopRecipe, open_shop

SHOP = ShopRecipe(staff=("manager", "packer", "accountant"))
BUYER_MENU = ["start", "my", "language", "help"]


async def set_default_menus(tg) -> None:
    bot = build_bot(BOT_TOKEN, tg.emulator.url)
    try:
        await set_commands(bot)
    finally:
        await bot.session.close()


def descriptions(tg, scope: dict, language: str) -> dict[str, str]:
    key = (json.dumps(scope, sort_keys=True), language)
    return {entry["command"]: entry["description"] for entry in tg.emulator.commands[key]}


async def test_buyers_see_the_buyers_menu_in_their_language(tg):
    await set_default_menus(tg)
    ivan = tg.emulator.user("Ivan", language_code="ru")
    john = tg.emulator.user("John", language_code="en")
    pierre = tg.emulator.user("Pierre", language_code="fr")  # a language the bot doesn't speak

    for buyer in (ivan, john, pierre):
        await tg.say(buyer, "/start")
        assert tg.emulator.menu_of(buyer) == BUYER_MENU

    private = {"type": "all_private_chats"}
    assert descriptions(tg, private, "ru")["my"] == "мои заказы"
    assert descriptions(tg, private, "uk")["my"] == "мої замовлення"
    assert descriptions(tg, private, "en")["my"] == "my orders"
    assert descriptions(tg, private, "")["my"] == "мои заказы"  # the default language's
    assert list(descriptions(tg, {"type": "all_group_chats"}, "en")) == ["bind", "unbind", "help"]


async def test_the_bot_describes_itself_in_each_language(tg):
    await set_default_menus(tg)
    emulator = tg.emulator
    assert emulator.profile_text("description", "en").startswith("I manage a shop's orders")
    assert emulator.profile_text("description", "ru").startswith("Я веду заказы магазина")
    assert emulator.profile_text("description", "uk").startswith("Я веду замовлення магазину")
    assert emulator.profile_text("description", "") == emulator.profile_text("description", "ru")
    for language in ("ru", "uk", "en"):
        short = emulator.profile_text("short_description", language)
        assert 0 < len(short) <= 120  # Telegram's limit


async def test_each_role_sees_the_commands_it_may_use(tg):
    await set_default_menus(tg)
    people = await open_shop(tg, SHOP)

    staff_menu = ["start", "orders", "queue", "problems", "new", "products", "table", "web", "my"]
    tail = ["language", "help"]
    assert tg.emulator.menu_of(people.owner) == [*staff_menu, "balance", "settings", "staff", *tail]
    assert tg.emulator.menu_of(people.manager) == [*staff_menu, *tail]
    assert tg.emulator.menu_of(people.accountant) == [*staff_menu, "balance", *tail]
    assert tg.emulator.menu_of(people.packer) == [*staff_menu, *tail]

    # the packer's main menu doesn't offer to create a shop; the owner's does
    assert "🏪 Create a shop" not in labels(tg, tg.last(people.packer))
    assert "🏪 Create a shop" in labels(tg, tg.last(people.owner))


async def test_a_language_change_retranslates_the_persons_menu(tg):
    people = await open_shop(tg, SHOP)
    chat = {"type": "chat", "chat_id": people.packer.id}
    assert descriptions(tg, chat, "")["queue"] == "orders waiting for me"

    await tg.say(people.packer, "/language")
    await tg.tap(people.packer, tg.last(people.packer), text="Українська")

    assert descriptions(tg, chat, "")["queue"] == "замовлення, що чекають на мене"
