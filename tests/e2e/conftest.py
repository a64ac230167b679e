"""End-to-end: the real dispatcher polling the built-in Telegram emulator, a real database.

`tg` gives a running bot on a fresh SQLite database (PostgreSQL too where a test asks for
`backend`), the emulator to act as people, and the services to arrange and inspect state.
Waiting is by the emulator's confirmation that the bot handled an update, never by sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import pytest

from bot.container import Container, build_container
from bot.sandbox.emulator import TelegramEmulator
from bot.sandbox.limits import FloodLimits
from bot.settings import Settings
from bot.telegram import build_bot, build_dispatcher

BOT_TOKEN = "123456:TEST-TOKEN"


@dataclass
class Harness:
    emulator: TelegramEmulator
    container: Container

    async def settle(self) -> None:
        """Wait until the bot has handled everything injected so far."""
        await self.emulator.wait_processed()

    async def say(self, user, text: str, **kwargs):
        """A person sends a message; returns after the bot handled it."""
        sent = self.emulator.send(user, text, **kwargs)
        await self.settle()
        return sent

    async def tap(self, user, message, **kwargs):
        """A person taps a button on a message; returns the callback after the bot handled it."""
        callback = self.emulator.tap(user, message, **kwargs)
        await self.settle()
        return callback

    async def forged_tap(self, user, message, data: str):
        """A modified client sends any callback data; returns it after the bot handled it."""
        callback = self.emulator.forged_tap(user, message, data)
        await self.settle()
        return callback

    def answer(self, callback) -> str:
        """The text the bot answered a callback with ('' when none)."""
        answer = self.emulator.callback_answer(callback)
        return (answer.text or "") if answer is not None else ""

    def last(self, chat):
        return self.emulator.last(chat)


@pytest.fixture
async def tg(database_url, engine, clock):
    # `engine` empties the PostgreSQL database first (a fresh SQLite file needs nothing).
    # Feature tests send faster than a person could; flood control has its own tests.
    emulator = TelegramEmulator(flood=FloodLimits.off())
    await emulator.start()
    settings = Settings(
        _env_file=None,
        bot_token=BOT_TOKEN,
        telegram_api_url=emulator.url,
        database_url=database_url,
    )
    container = build_container(settings, clock=clock)
    bot = build_bot(BOT_TOKEN, emulator.url)
    dispatcher = build_dispatcher(container)
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot, handle_as_tasks=False, polling_timeout=1, handle_signals=False
        )
    )
    try:
        yield Harness(emulator, container)
    finally:
        with contextlib.suppress(RuntimeError):
            await dispatcher.stop_polling()
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await bot.session.close()
        await container.close()
        await emulator.stop()
        # The feature routers are module-level objects and a router has one parent: detach
        # them so the next test's dispatcher can include them again.
        for router in dispatcher.sub_routers:
            router._parent_router = None
        dispatcher.sub_routers.clear()
