"""Mini Apps in the emulator, as the Bot API documents them: the menu button
(setChatMenuButton/getChatMenuButton), web_app buttons (private chats only, HTTPS), and a user
opening a Mini App with initData signed as Telegram signs it."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonCommands,
    MenuButtonWebApp,
    WebAppInfo,
)
from aiogram.utils.web_app import safe_parse_webapp_init_data

from bot.sandbox import TelegramEmulator
from bot.sandbox.webapp import open_web_app
from tests.sandbox.conftest import TOKEN

APP = "https://shop.example/app/"


def app_button(url: str = APP) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="📊 Open", web_app=WebAppInfo(url=url))]]
    )


async def test_the_menu_button_is_kept_per_chat_and_by_default(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    ivan = telegram.user("Ivan")
    telegram.start(ivan)
    assert (await bot.get_chat_menu_button()).type == "default"
    await bot.set_chat_menu_button(
        menu_button=MenuButtonWebApp(text="Orders", web_app=WebAppInfo(url=APP))
    )
    mine = await bot.get_chat_menu_button(chat_id=ivan.id)
    assert (mine.type, mine.text, mine.web_app.url) == ("web_app", "Orders", APP)
    await bot.set_chat_menu_button(chat_id=ivan.id, menu_button=MenuButtonCommands())
    assert (await bot.get_chat_menu_button(chat_id=ivan.id)).type == "commands"
    assert (await bot.get_chat_menu_button()).type == "web_app"  # the default stays
    await bot.set_chat_menu_button()  # no button: back to Telegram's default
    assert (await bot.get_chat_menu_button()).type == "default"


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://shop.example/app/", True),
        ("http://127.0.0.1:8080/app/", True),  # the emulator's allowance for a local bot
        ("http://shop.example/app/", False),
        ("ftp://shop.example/", False),
    ],
)
async def test_web_app_urls_must_be_https(telegram: TelegramEmulator, bot: Bot, url, accepted):
    ivan = telegram.user("Ivan")
    telegram.start(ivan)
    menu = MenuButtonWebApp(text="Orders", web_app=WebAppInfo(url=url))
    if accepted:
        await bot.set_chat_menu_button(menu_button=menu)
        await bot.send_message(ivan.id, "Open", reply_markup=app_button(url))
        return
    with pytest.raises(TelegramBadRequest, match="Only HTTPS links are allowed"):
        await bot.set_chat_menu_button(menu_button=menu)
    with pytest.raises(TelegramBadRequest, match="Only HTTPS links are allowed"):
        await bot.send_message(ivan.id, "Open", reply_markup=app_button(url))


async def test_web_app_buttons_only_in_private_chats(telegram: TelegramEmulator, bot: Bot) -> None:
    olga = telegram.user("Olga")
    group = telegram.group("Staff", olga)
    telegram.add_bot_to_group(group, olga)
    with pytest.raises(TelegramBadRequest, match="BUTTON_TYPE_INVALID"):
        await bot.send_message(group.id, "Open", reply_markup=app_button())
    with pytest.raises(TelegramBadRequest, match="menu button can be set only in private chats"):
        await bot.set_chat_menu_button(
            chat_id=group.id, menu_button=MenuButtonWebApp(text="x", web_app=WebAppInfo(url=APP))
        )


async def test_opening_a_mini_app_passes_signed_init_data(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    ivan = telegram.user("Ivan", username="ivan", language_code="uk")
    telegram.start(ivan)
    sent = await bot.send_message(ivan.id, "Open", reply_markup=app_button())
    message = telegram.chat(ivan).find(sent.message_id)
    # when: Ivan taps the web_app button
    opened = open_web_app(telegram.world, ivan, message, text="📊 Open")
    # then: the app's URL with Telegram's launch parameters in the fragment
    url = urlsplit(opened.url)
    assert url._replace(fragment="").geturl() == APP
    launch = dict(parse_qsl(url.fragment))
    assert launch["tgWebAppData"] == opened.init_data
    assert launch["tgWebAppPlatform"] == "sandbox" and "bg_color" in launch["tgWebAppThemeParams"]
    # and aiogram's check of Telegram's signature accepts it, for Ivan
    data = safe_parse_webapp_init_data(TOKEN, opened.init_data)
    assert (data.user.id, data.user.username, data.user.language_code) == (ivan.id, "ivan", "uk")
    assert data.auth_date.timestamp() == telegram.world.now()


async def test_the_control_api_opens_the_menu_button(telegram: TelegramEmulator, bot: Bot) -> None:
    ivan = telegram.user("Ivan")
    telegram.start(ivan)
    async with aiohttp.ClientSession(base_url=telegram.url) as http:
        async with http.post("/sandbox/webapp", json={"user_id": ivan.id}) as response:
            assert response.status == 400  # no Mini App behind the menu button yet
            assert "opens no Mini App" in (await response.json())["error"]
        await bot.set_chat_menu_button(
            menu_button=MenuButtonWebApp(text="Orders", web_app=WebAppInfo(url=APP))
        )
        async with http.post("/sandbox/webapp", json={"user_id": ivan.id}) as response:
            opened = await response.json()
    assert opened["url"].startswith(APP + "#tgWebAppData=")
    assert (
        unquote(opened["url"].split("tgWebAppData=")[1].split("&tgWebAppVersion")[0])
        == opened["init_data"]
    )
    assert safe_parse_webapp_init_data(TOKEN, opened["init_data"]).user.id == ivan.id
