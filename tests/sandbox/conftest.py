"""An emulator on a free port, a real aiogram Bot pointed at it, and a way to run a Dispatcher.

Time is a FrozenClock: message dates and Telegram's flood buckets move only when a test moves
it, so nothing here sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
from aiogram import Bot, Dispatcher

from bot.sandbox import FloodLimits, TelegramEmulator
from services.time.clock import FrozenClock

TOKEN = "123456:TEST"
BOT_ID = 123456
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

RunBot = Callable[[Dispatcher], Awaitable[None]]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOON)


@pytest.fixture
def flood_limits() -> FloodLimits:
    return FloodLimits()


@pytest.fixture
async def telegram(
    clock: FrozenClock, flood_limits: FloodLimits
) -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(clock=clock, flood=flood_limits) as emulator:
        yield emulator


@pytest.fixture
async def bot(telegram: TelegramEmulator) -> AsyncIterator[Bot]:
    bot = Bot(TOKEN, session=telegram.session())
    yield bot
    await bot.session.close()


@pytest.fixture
async def run_bot(bot: Bot) -> AsyncIterator[RunBot]:
    """Start polling a Dispatcher in the background; stopped at the end of the test.

    `handle_as_tasks=False`: an update is confirmed only after its handler finished, which is
    what lets `telegram.wait_processed()` mean "the bot has reacted".
    """
    running: list[tuple[Dispatcher, asyncio.Task[None]]] = []

    async def start(dispatcher: Dispatcher) -> None:
        task = asyncio.create_task(
            dispatcher.start_polling(
                bot,
                handle_as_tasks=False,
                polling_timeout=1,
                handle_signals=False,
                close_bot_session=False,
            )
        )
        running.append((dispatcher, task))

    yield start
    for dispatcher, task in running:
        with contextlib.suppress(RuntimeError):  # "polling is not started" if it never began
            await dispatcher.stop_polling()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
