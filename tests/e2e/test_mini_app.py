"""Opening the Mini App from the chat (K1): "📊 Open the table" for staff, the buyer's own
orders for everyone else, the menu button, and /web's single-use browser link."""

from __future__ import annotations

import re

from bot.sandbox.webapp import open_web_app
from bot.telegram import build_bot, set_app_button
from services.desk.launch import verify
from tests.e2e.conftest import BOT_TOKEN
from tests.e2e.shops import ShopRecipe, open_shop

SHOP = ShopRecipe(staff=("manager", "packer"), preset="marketplace")


async def test_staff_open_the_table_and_buyers_their_orders(tg):
    people = await open_shop(tg, SHOP)
    buyer = tg.emulator.user("Ivan", language_code="en")
    await tg.say(buyer, "/start")
    for person, button in ((people.owner, "📊 Open the table"), (buyer, "📦 My orders")):
        # when
        await tg.say(person, "/table")
        # then: a web_app button, and opening it proves who they are to the Mini App
        message = tg.last(person)
        assert tg.emulator.buttons(message) == [[button]]
        opened = open_web_app(tg.emulator.world, person, message, text=button)
        assert opened.url.startswith("http://127.0.0.1:8080/app/#tgWebAppData=")
        launch = verify(opened.init_data, BOT_TOKEN, tg.emulator.world.clock.now())
        assert launch.telegram_id == person.id


async def test_web_gives_a_link_that_signs_in_once(tg):
    people = await open_shop(tg, SHOP)
    await tg.say(people.owner, "/web")
    text = tg.last(people.owner).text
    link = re.search(r"http://127\.0\.0\.1:8080/app/login/(\S+)", text)
    assert link, text
    assert "10 minutes" in text
    owner = await tg.container.users.touch(people.owner.id, name="Olga")
    signed = await tg.container.desk_login.sign_in(link.group(1))
    assert signed is not None and signed.user_id == owner.id
    assert await tg.container.desk_login.sign_in(link.group(1)) is None


async def test_the_menu_button_opens_the_mini_app(tg):
    people = await open_shop(tg, SHOP)
    bot = build_bot(BOT_TOKEN, tg.emulator.url)
    try:
        assert not await set_app_button(bot, "http://shop.example")  # Telegram needs HTTPS
        assert await set_app_button(bot, "http://127.0.0.1:8080")
    finally:
        await bot.session.close()
    opened = open_web_app(tg.emulator.world, people.packer)  # the menu button of their chat
    assert (
        verify(opened.init_data, BOT_TOKEN, tg.emulator.world.clock.now()).telegram_id
        == people.packer.id
    )
    menu = tg.emulator.world.menu_buttons[None]
    assert menu["text"] == "Заказы"  # the default language's
