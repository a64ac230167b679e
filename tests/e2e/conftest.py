"""End-to-end: the real dispatcher polling the built-in Telegram emulator, a real database.

`tg` gives a running bot on a fresh SQLite database (PostgreSQL too where a test asks for
`backend`), the emulator to act as people, and the services to arrange and inspect state.
Waiting is by the emulator's confirmation that the bot handled an update, never by sleeping.
The shops, people and orders tests arrange come from `tests/e2e/shops.py`; reading the chats
(a card, a button offered, a message by its text) from `tests/e2e/chats.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NamedTuple

import pytest

from bot.container import Container, build_container
from bot.pumps import build_pump
from bot.sandbox.emulator import TelegramEmulator
from bot.sandbox.limits import FloodLimits
from bot.settings import Settings
from bot.telegram import build_bot, build_dispatcher
from services.messaging.notifications.pump import OutboxPump, RateLimits

BOT_TOKEN = "123456:TEST-TOKEN"
NOT_MODIFIED = "message is not modified"
# Edits Telegram refused as changing nothing, over the e2e tests run in this process: a card
# redrawn with nothing new on it is a wasted call (issue 14). Printed at the end of the run.
wasted_edits: dict[str, int] = {}


def moving_sleep(clock):
    """A sleep for the pump that moves the test's FrozenClock instead of waiting."""

    async def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)

    return sleep


@dataclass
class Harness:
    emulator: TelegramEmulator
    container: Container
    dispatcher: Any = None  # the bot's aiogram Dispatcher (its FSM storage, for state tests)
    _pump: OutboxPump | None = field(default=None, repr=False)
    _pump_bot: Any = field(default=None, repr=False)

    @property
    def pump(self) -> OutboxPump:
        """The notification pump, built on first use. No flood pacing here: feature tests
        send faster than people could (pacing has its own tests); its sleeps move the
        FrozenClock."""
        if self._pump is None:
            self._pump_bot = build_bot(BOT_TOKEN, self.emulator.url, wait_out_floods=False)
            self._pump = build_pump(
                self.container,
                self._pump_bot,
                sleep=moving_sleep(self.container.clock),
                limits=RateLimits.off(),
            )
        return self._pump

    async def deliver(self, horizon: timedelta = timedelta(minutes=10)) -> int:
        """Run the notification pump, as the running bot does in the background (pings, the
        buyer's news, cards redrawn, dialog messages relayed), until nothing is due within
        `horizon`: the FrozenClock moves on to what is due later (a retry after a 429 or an
        error), as time would pass. Returns how many outbox rows and deliveries it handled."""
        pump, clock = self.pump, self.container.clock
        until = clock.now() + horizon
        handled = 0
        while clock.now() <= until:
            done = await pump.run_once(100)
            handled += done
            if done:
                continue
            due = await pump.next_due()
            if due is None or due > until:
                break
            # Due later, or due now in a chat that waits out flood control.
            clock.set(max(due, clock.now() + timedelta(seconds=1)))
        return handled

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

    async def offering(self, chat, label: str):
        """The bot's newest message in the chat that carries the button `label`, waited for
        when none has come since someone last wrote there. What a test means by "the question
        just asked", where "the chat's last message" could be a notification relayed in
        between."""

        def offers(message) -> bool:
            return any(label in row for row in self.emulator.buttons(message))

        await self.emulator.wait_for_message(chat, offers)
        return next(
            message
            for message in reversed(self.emulator.messages(chat))
            if message.outgoing and not message.deleted and offers(message)
        )

    async def tap_offered(self, user, label: str, *, chat=None):
        """A person taps the button `label` on the message `offering` it in the chat (their
        private chat by default); returns the callback after the bot handled it."""
        offer = await self.offering(user if chat is None else chat, label)
        return await self.tap(user, offer, text=label)

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


class TelegramWorld(NamedTuple):
    emulator: TelegramEmulator
    container: Container


@contextlib.asynccontextmanager
async def telegram_world(
    database_url: str,
    clock,
    *,
    flood: FloodLimits = FloodLimits.off(),
    telegram_clock=None,
) -> AsyncIterator[TelegramWorld]:
    """The emulator serving the Bot API and the bot's container on the test's database, no
    dispatcher yet. Flood limits are off unless a test studies them; `telegram_clock` moves
    Telegram's dates and flood buckets with the test's (real time by default)."""
    emulator = TelegramEmulator(flood=flood, clock=telegram_clock)
    await emulator.start()
    settings = Settings(
        _env_file=None,
        bot_token=BOT_TOKEN,
        telegram_api_url=emulator.url,
        database_url=database_url,
    )
    container = build_container(settings, clock=clock)
    try:
        yield TelegramWorld(emulator, container)
    finally:
        await container.close()
        await emulator.stop()


@pytest.fixture
async def tg(request, database_url, engine, clock):
    # `engine` empties the PostgreSQL database first (a fresh SQLite file needs nothing).
    # Feature tests send faster than a person could; flood control has its own tests.
    async with telegram_world(database_url, clock) as (emulator, container):
        bot = build_bot(BOT_TOKEN, emulator.url)
        dispatcher = build_dispatcher(container)
        polling = asyncio.create_task(
            dispatcher.start_polling(
                bot, handle_as_tasks=False, polling_timeout=1, handle_signals=False
            )
        )
        harness = Harness(emulator, container, dispatcher)
        try:
            yield harness
        finally:
            if harness._pump_bot is not None:
                await harness._pump_bot.session.close()
            with contextlib.suppress(RuntimeError):
                await dispatcher.stop_polling()
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
            await bot.session.close()
            wasted = sum(NOT_MODIFIED in text for _, text in emulator.world.api_errors)
            if wasted:
                wasted_edits[request.node.nodeid] = wasted


def pytest_terminal_summary(terminalreporter) -> None:
    if wasted_edits:
        terminalreporter.write_line(
            f"e2e: {sum(wasted_edits.values())} '{NOT_MODIFIED}' answers in "
            f"{len(wasted_edits)} tests"
        )
        for test, count in sorted(wasted_edits.items()):
            terminalreporter.write_line(f"  {count:3} {test}")
