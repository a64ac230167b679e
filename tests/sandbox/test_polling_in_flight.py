"""Long polling handles at most TELEGRAM_MAX_IN_FLIGHT updates at once (bot/telegram.py `poll`)."""

from __future__ import annotations

import asyncio

from aiogram import Bot, Dispatcher, Router
from aiogram.types import Message

from bot.sandbox.emulator import TelegramEmulator
from bot.telegram import poll


async def test_updates_beyond_the_limit_wait_for_a_free_place(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    gate, two_in, all_done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    running = most = 0
    handled: list[str] = []
    router = Router()

    @router.message()
    async def slow(message: Message) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        if running == 2:
            two_in.set()
        await gate.wait()
        running -= 1
        handled.append(message.text or "")
        if len(handled) == 6:
            all_done.set()

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    ann = telegram.user("Ann")
    for number in range(6):
        telegram.send(ann, f"message {number}")
    # One getUpdates hands all six over; unbounded, aiogram starts a task for each at once
    # and all six would be in the handler before the test wakes up.
    polling = asyncio.create_task(poll(dispatcher, bot, max_in_flight=2, handle_signals=False))
    try:
        await asyncio.wait_for(two_in.wait(), 5)
        assert most == 2
        assert handled == []
        gate.set()
        await asyncio.wait_for(all_done.wait(), 5)
    finally:
        await dispatcher.stop_polling()
        await polling
    assert most == 2
    assert sorted(handled) == [f"message {number}" for number in range(6)]
