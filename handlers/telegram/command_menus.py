"""The "/" command menus Telegram shows, per language and per role, and the bot's profile texts.

Telegram picks a person's menu from the most specific scope that has one: their own private
chat (`BotCommandScopeChat`), else all private chats, else the default, each in their app's
language when a list was set for it (`language_code`), else the list set without one.
So: everyone starts with the buyer's menu, in ru/uk/en (set at start-up); a person who works in
a shop gets their own list for their roles, in the language they use, each time the main menu
is sent to them (/start, joining a shop, creating one, /language); one who works nowhere any
more has theirs deleted and falls back to the buyer's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
)
from aiogram.utils.i18n import I18n

from services.money.ledger.balance import BALANCE_ROLES
from services.vocabulary import DEFAULT_LANGUAGE, LANGUAGES, SUPERVISOR_ROLES

log = logging.getLogger(__name__)


def __(text: str) -> str:
    """Marks a text for the catalogs; it is translated when a menu is built for a language."""
    return text


DESCRIPTIONS = {
    "start": __("main menu"),
    "orders": __("orders, with filters and search"),
    "queue": __("orders waiting for me"),
    "problems": __("orders past their time limit"),
    "new": __("a new order taken by phone"),
    "products": __("products and stock"),
    "balance": __("the shop's balance"),
    "settings": __("shop settings"),
    "staff": __("staff and invite links"),
    "table": __("the orders table and board"),
    "web": __("a sign-in link for a browser"),
    "my": __("my orders"),
    "language": __("language"),
    "help": __("help"),
    "bind": __("send the shop's order pings to this group"),
    "unbind": __("stop sending them here"),
}

BUYER_COMMANDS = ("start", "my", "language", "help")
GROUP_COMMANDS = ("bind", "unbind", "help")
# Every staff role; /balance, /settings and /staff only for the roles that may use them.
STAFF_COMMANDS = ("start", "orders", "queue", "problems", "new", "products", "table", "web", "my")
BALANCE_COMMANDS = ("balance",)
SUPERVISOR_COMMANDS = ("settings", "staff")
LAST_COMMANDS = ("language", "help")

BOT_DESCRIPTION = __(
    "I manage a shop's orders in Telegram and e-mail: new-order pings for the staff, status "
    "buttons, invoices, and a dialog with each buyer.\n\n"
    "Bought something? Open the link the shop sent you, or tap /my."
)
BOT_SHORT_DESCRIPTION = __("A shop's orders in Telegram: for the staff and for the buyers.")


def commands_for_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """The commands a person with these roles (in their current shop) sees; none: a buyer's."""
    roles = frozenset(roles)
    if not roles:
        return BUYER_COMMANDS
    names = STAFF_COMMANDS
    if roles & BALANCE_ROLES:
        names += BALANCE_COMMANDS
    if roles & SUPERVISOR_ROLES:
        names += SUPERVISOR_COMMANDS
    return names + LAST_COMMANDS


def bot_commands(names: Iterable[str], i18n: I18n, language: str) -> list[BotCommand]:
    return [
        BotCommand(command=name, description=i18n.gettext(DESCRIPTIONS[name], locale=language))
        for name in names
    ]


async def set_default_menus(bot: Bot, i18n: I18n) -> None:
    """At start-up: the buyer's menu in private chats, the group's, and the profile texts, in
    each language and (for Telegram apps in another language) in the default one."""
    for language in (*LANGUAGES, ""):
        locale = language or DEFAULT_LANGUAGE
        await bot.set_my_commands(
            bot_commands(BUYER_COMMANDS, i18n, locale),
            scope=BotCommandScopeAllPrivateChats(),
            language_code=language or None,
        )
        await bot.set_my_commands(
            bot_commands(GROUP_COMMANDS, i18n, locale),
            scope=BotCommandScopeAllGroupChats(),
            language_code=language or None,
        )
        await bot.set_my_description(
            i18n.gettext(BOT_DESCRIPTION, locale=locale), language_code=language or None
        )
        await bot.set_my_short_description(
            i18n.gettext(BOT_SHORT_DESCRIPTION, locale=locale), language_code=language or None
        )


async def show_menu_for(
    bot: Bot, chat_id: int, roles: Iterable[str], i18n: I18n, language: str
) -> None:
    """The person's own menu in their private chat: their roles', or none (the buyer's)."""
    roles = frozenset(roles)
    scope = BotCommandScopeChat(chat_id=chat_id)
    try:
        if roles:
            commands = bot_commands(commands_for_roles(roles), i18n, language)
            await bot.set_my_commands(commands, scope=scope)
        else:
            await bot.delete_my_commands(scope=scope)
    except TelegramAPIError as error:  # the bot works without the menu; the next /start retries
        log.warning("the command menu of chat %s was not set: %s", chat_id, error)
