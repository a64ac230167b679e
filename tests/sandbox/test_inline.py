"""Inline mode in the emulator: a query typed in a chat reaches the bot, its answer is kept,
a chosen result is sent as the user's message `via_bot`, and a query is answered once."""

from __future__ import annotations

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
)

from bot.sandbox import TelegramEmulator
from bot.sandbox.state import SandboxError
from tests.sandbox.conftest import BOT_ID, RunBot


async def test_an_inline_query_is_answered_and_a_result_chosen(
    telegram: TelegramEmulator, run_bot: RunBot, bot: Bot
) -> None:
    seen: list[tuple[str, int | None]] = []
    dispatcher = Dispatcher()

    @dispatcher.inline_query()
    async def search(query: InlineQuery) -> None:
        await query.answer(
            [
                InlineQueryResultArticle(
                    id="1",
                    title=f"Cat bed for {query.query}",
                    input_message_content=InputTextMessageContent(message_text="🛒 Cat bed"),
                )
            ],
            cache_time=0,
        )

    @dispatcher.message(F.via_bot)
    async def picked(message: Message) -> None:
        seen.append((message.text, message.via_bot.id))

    await run_bot(dispatcher)
    olga = telegram.user("Olga")
    telegram.start_bot(olga)
    await telegram.wait_processed()
    # a button that starts "@bot " in the chat is accepted, even with no query text
    await bot.send_message(
        olga.id,
        "Pick",
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text="Find", switch_inline_query_current_chat="")]
            ]
        ),
    )

    inline = telegram.inline_query(olga, "ivan")
    await telegram.wait_processed()
    assert [r["title"] for r in inline.results] == ["Cat bed for ivan"]
    with pytest.raises(SandboxError, match="no inline result titled 'Dog bed'"):
        telegram.choose_inline(olga, inline, title="Dog bed")
    message = telegram.choose_inline(olga, inline, title="Cat bed for ivan")
    await telegram.wait_processed()
    assert seen == [("🛒 Cat bed", BOT_ID)]
    assert message.to_api()["via_bot"]["id"] == BOT_ID
    # a query is answered once
    with pytest.raises(TelegramBadRequest):
        await bot.answer_inline_query(inline.id, [], cache_time=0)
