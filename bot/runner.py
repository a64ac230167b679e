"""Running the bot: long polling (the default) with its services."""

from __future__ import annotations

import logging

from bot.container import build_container
from bot.settings import Settings
from bot.telegram import build_bot, build_dispatcher, set_commands
from storage.migrate import upgrade_async

log = logging.getLogger(__name__)


async def run_polling(settings: Settings) -> None:
    await upgrade_async(settings.database_url)
    container = build_container(settings)
    bot = build_bot(settings.bot_token.get_secret_value(), settings.telegram_api_url)
    dispatcher = build_dispatcher(container)
    try:
        me = await bot.get_me()
        log.info("running as @%s with long polling", me.username)
        await set_commands(bot)
        await dispatcher.start_polling(bot, handle_signals=True)
    finally:
        await bot.session.close()
        await container.close()
