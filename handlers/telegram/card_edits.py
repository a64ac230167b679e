"""A card edited in place, its answer not read back.

Telegram answers `editMessageText` with the whole edited message, and aiogram parses it into a
`Message` (the card's text, its entities, every button of its keyboard: pydantic models and
their context hooks), ~0.1 ms of a status tap's CPU, for an object nobody reads: a card is
redrawn and forgotten (issue 15). `EditCardText` is the same Bot API call; the session
(bot.telegram_session) checks its answer as for any call (errors, flood control, "message is
not modified" raise as always) and, when it says ok, hands back `True` without parsing the
message: what Telegram itself answers for an edited inline message.
"""

from __future__ import annotations

from typing import ClassVar

from aiogram import Bot
from aiogram.methods import EditMessageText
from aiogram.types import InlineKeyboardMarkup, Message


class EditCardText(EditMessageText):
    # bot.telegram_session.JsonBodySession: an ok answer is not parsed.
    reply_unread: ClassVar[bool] = True


async def edit_card(
    bot: Bot, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    """Show `text` and `markup` on the card message `message_id` in `chat_id`."""
    await bot(EditCardText(chat_id=chat_id, message_id=message_id, text=text, reply_markup=markup))


async def edit_card_message(
    message: Message, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    """The card a person tapped, redrawn (as `message.edit_text`, its answer unread)."""
    await message.bot(
        EditCardText(
            chat_id=message.chat.id,
            message_id=message.message_id,
            business_connection_id=message.business_connection_id,
            text=text,
            reply_markup=markup,
        )
    )
