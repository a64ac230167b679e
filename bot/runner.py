"""Running the bot: long polling (the default) with its services, the notification pump, the
timer sweep, the web server (one-click e-mail links, health) and, with SMTP_HOST set, the
e-mail pump and the receiver of buyers' replies."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot import mail
from bot.container import build_container
from bot.notifier import build_pump
from bot.scheduler import build_scheduler, build_sweep
from bot.settings import Settings
from bot.telegram import build_bot, build_dispatcher, set_commands
from bot.web import build_web_app, start_web
from storage.migrate import upgrade_async

log = logging.getLogger(__name__)

# How long a stopping bot lets the pump finish its pass before cancelling it (a cancelled
# pass still records every message it sent and gives back the ones it had not).
PUMP_STOP_SECONDS = 10.0


async def run_polling(settings: Settings) -> None:
    mail.check_secret(settings)
    await upgrade_async(settings.database_url)
    container = build_container(settings)
    token = settings.bot_token.get_secret_value()
    bot = build_bot(token, settings.telegram_api_url)
    # The pump's own bot: a 429 must come back to the pump, not be waited out in the session.
    pump_bot = build_bot(token, settings.telegram_api_url, wait_out_floods=False)
    dispatcher = build_dispatcher(container)
    stop = asyncio.Event()
    pumping = asyncio.create_task(build_pump(container, pump_bot).run(stop), name="pump")
    scheduler = build_scheduler(build_sweep(container), settings.timer_sweep_seconds)
    scheduler.start()
    background = [pumping]
    web = receiver = None
    try:
        me = await bot.get_me()
        web = await start_web(
            build_web_app(container, mail.signer_of(settings), bot_username=me.username),
            settings.http_host,
            settings.http_port,
        )
        if settings.smtp_host:
            mailing = mail.build_mail_pump(container, settings, bot_username=me.username)
            background.append(asyncio.create_task(mailing.run(stop), name="mail"))
            receiver = await mail.start_reply_receiver(container, settings)
        log.info("running as @%s with long polling", me.username)
        await set_commands(bot)
        await dispatcher.start_polling(bot, handle_signals=True)
    finally:
        scheduler.shutdown(wait=False)
        stop.set()
        if receiver is not None:
            receiver.close()
            await receiver.wait_closed()
        if web is not None:
            await web.cleanup()
        for task in background:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, PUMP_STOP_SECONDS)
        await pump_bot.session.close()
        await bot.session.close()
        await container.close()
