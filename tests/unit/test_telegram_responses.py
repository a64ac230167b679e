"""aiogram's answer classes are built once: `Response[T]` is then the same class every call."""

from __future__ import annotations

import gc

from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage
from aiogram.methods.base import Response

from bot.telegram import build_bot
from bot.telegram_responses import pin_response_classes


async def test_the_bot_pins_every_answer_class():
    bot = build_bot("123456:TEST", "http://127.0.0.1:9")
    try:
        assert pin_response_classes() > 10
        for method in (SendMessage, EditMessageText, AnswerCallbackQuery):
            first = Response[method.__returning__]
            gc.collect()  # unpinned, pydantic would let the class go here
            assert Response[method.__returning__] is first
    finally:
        await bot.session.close()
