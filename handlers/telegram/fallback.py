"""Catch-alls, last in the router list: a button or message nothing else understood."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _


async def unknown_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    # Old menus, forged or malformed data: say so, change nothing.
    callback_answer.text = _("This button is no longer valid. Send /start for the menu.")
    callback_answer.show_alert = True


async def unknown_message(message: Message) -> None:
    await message.answer(_("I did not understand that. Send /help to see what I can do."))


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(unknown_button)
    router.message.register(unknown_message, F.chat.type == "private")
    return router
