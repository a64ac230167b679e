"""Running the bot: long polling (the default) with its services and the notification pump."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.container import build_container
from bot.notifier import build_pump
from bot.settings import Settings
from bot.telegram import build_bot, build_dispatcher, set_commands
from storage.migrate import upgrade_async

log = logging.getLogger(__name__)

# How long a stopping bot lets the pump finish its pass before cancelling it (a cancelled
# pass still records every message it sent and gives back the ones it had not).
PUMP_STOP_SECONDS = 10.0


async def run_polling(settings: Settings) -> None:
    await upgrade_async(settings.database_url)
    container = build_container(settings)
    token = settings.bot_token.get_secret_value()
    bot = build_bot(token, settings.telegram_api_url)
    # The pump's own bot: a 429 must come back to the pump, not be waited out in the session.
    pump_bot = build_bot(token, settings.telegram_api_url, wait_out_floods=False)
    dispatcher = build_dispatcher(container)
    stop = asyncio.Event()
    pumping = asyncio.create_task(build_pump(container, pump_bot).run(stop), name="pump")
    try:
        me = await bot.get_me()
        log.info("running as @%s with long polling", me.username)
        await set_commands(bot)
        await dispatcher.start_polling(bot, handle_signals=True)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(pumping, PUMP_STOP_SECONDS)
        await pump_bot.session.close()
        await bot.session.close()
        await container.close()
