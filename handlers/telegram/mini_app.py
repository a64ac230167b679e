"""Opening the Mini App (K1) from the chat: "📊 Open the table" for staff (their buyers' own
orders for everyone else), and `/web`, a single-use sign-in link for a desktop browser.

Telegram opens Mini Apps from HTTPS addresses only, so the buttons are offered when
PUBLIC_URL is https (or on loopback, the emulator's case); `/web` works either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MenuButtonWebApp,
    Message,
    WebAppInfo,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from services.desk.login import LINK_LIFETIME, DeskLogin

if TYPE_CHECKING:
    from bot.settings import Settings
    from services.shops.users import Person, UserService

APP_PATH = "/app/"
LOGIN_PATH = "/app/login/"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def app_url(public_url: str) -> str | None:
    """The Mini App's address, when Telegram can open it from there."""
    parts = urlsplit(public_url)
    if parts.scheme == "https" or parts.hostname in LOOPBACK:
        return public_url.rstrip("/") + APP_PATH
    return None


def open_button(url: str, staff: bool) -> InlineKeyboardMarkup:
    text = _("📊 Open the table") if staff else _("📦 My orders")
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=text, web_app=WebAppInfo(url=url))]]
    )


async def table_command(
    message: Message, settings: Settings, users: UserService, user: Person
) -> None:
    url = app_url(settings.public_url)
    if url is None:
        await message.answer(
            _(
                "The app opens only from an HTTPS address; this bot's is not one yet. "
                "Use /web to open the orders in a browser."
            )
        )
        return
    staff = bool(await users.memberships(user.id))
    text = (
        _("The orders table, the board and the numbers:") if staff else _("Your orders in the app:")
    )
    await message.answer(text, reply_markup=open_button(url, staff))


async def web_command(
    message: Message, settings: Settings, desk_login: DeskLogin, user: Person
) -> None:
    token = await desk_login.issue_link(user.id)
    link = settings.public_url.rstrip("/") + LOGIN_PATH + token
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    await message.answer(
        ngettext(
            "Your sign-in link for the orders in a browser:\n{link}\n\n"
            "It works once, within {minutes} minute. Do not forward it: whoever opens it "
            "signs in as you.",
            "Your sign-in link for the orders in a browser:\n{link}\n\n"
            "It works once, within {minutes} minutes. Do not forward it: whoever opens it "
            "signs in as you.",
            minutes,
        ).format(link=link, minutes=minutes),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


async def set_menu_button(bot: Bot, public_url: str, text: str) -> bool:
    """The chat's menu button opens the Mini App, for everyone (it shows each person theirs)."""
    url = app_url(public_url)
    if url is None:
        return False
    await bot.set_chat_menu_button(
        menu_button=MenuButtonWebApp(text=text, web_app=WebAppInfo(url=url))
    )
    return True


def router() -> Router:
    router = Router(name=__name__)
    router.message.register(table_command, Command("table"), F.chat.type == "private")
    router.message.register(web_command, Command("web"), F.chat.type == "private")
    return router
