"""/language (C7): each person picks Russian, Ukrainian or English for themselves.

Until they pick, the bot speaks their Telegram app's language when it knows it
(services.shops.users.pick_language); a pick is theirs from then on, whatever Telegram says.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.start import send_menu
from services.shops.users import Person, UserService
from services.vocabulary import LANGUAGES

# Each language is named in itself, so everyone finds theirs whatever the bot speaks now.
NATIVE_NAMES = {"ru": "Русский", "uk": "Українська", "en": "English"}


class LanguageCB(CallbackData, prefix="lg"):
    code: str


def languages_keyboard(current: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code in LANGUAGES:
        mark = "✓ " if code == current else ""
        builder.button(
            text=mark + NATIVE_NAMES.get(code, code),
            callback_data=LanguageCB(code=code).pack(),
        )
    builder.adjust(3)
    return builder.as_markup()


async def choose_language(message: Message, i18n: I18n) -> None:
    await message.answer(
        _("Choose your language:"), reply_markup=languages_keyboard(i18n.current_locale)
    )


async def language_chosen(
    query: CallbackQuery, callback_data: LanguageCB, users: UserService, user: Person, i18n: I18n
) -> None:
    user = await users.set_language(user.id, callback_data.code)  # others: "not valid"
    # The rest of this update speaks the new language already: the answer and the menu.
    i18n.current_locale = user.language
    await query.message.edit_text(
        _("Done: I speak English with you now. /language changes it again.")
    )
    if query.message.chat.type == "private":
        await send_menu(query.message, users, user)


def router() -> Router:
    router = Router(name=__name__)
    router.message.register(choose_language, Command("language"))
    router.callback_query.register(language_chosen, LanguageCB.filter())
    return router
