"""The bot's direct answers wait out Telegram's flood control instead of failing."""

from __future__ import annotations

import pytest
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter

from bot.sandbox.emulator import TelegramEmulator
from bot.telegram import WaitOutFloodControl, build_bot


async def test_a_429_is_waited_out_and_the_message_delivered():
    async with TelegramEmulator() as emulator:
        waits = []

        async def sleep(seconds):
            waits.append(seconds)

        bot = build_bot("123:x", emulator.url, wait_out_floods=False)
        bot.session.middleware(WaitOutFloodControl(sleep=sleep))
        user = emulator.user("Ivan")
        emulator.send(user, "/start")
        try:
            # given Telegram answers the next two sends with 429, retry after 7 s
            emulator.inject_flood(2, retry_after=7)
            # when the bot answers
            await bot.send_message(user.id, "hello")
            # then it waited twice and the message arrived once
            assert waits == [7, 7]
            assert [m.text for m in emulator.messages(user) if m.outgoing] == ["hello"]
        finally:
            await bot.session.close()


async def test_a_flood_that_lasts_is_raised():
    async with TelegramEmulator() as emulator:

        async def sleep(_seconds):
            return None

        session = AiohttpSession(api=TelegramAPIServer.from_base(emulator.url))
        session.middleware(WaitOutFloodControl(attempts=2, sleep=sleep))
        from aiogram import Bot

        bot = Bot("123:x", session=session)
        user = emulator.user("Ivan")
        emulator.send(user, "/start")
        try:
            emulator.inject_flood(5, retry_after=1)
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(user.id, "hello")
        finally:
            await bot.session.close()
