"""Running the bot: its services, the notification pumps, the timer sweep and the web server
(one-click e-mail links, the storefront API, health and metrics), with Telegram updates
taken by long polling (the default) or, with WEBHOOK_URL set, posted to the web server.

Several instances may run on one PostgreSQL (and Redis for the conversation state): each
pump and the sweep claim their rows, webhook updates are taken once through the shared
update log, so nothing is done twice whichever instance gets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import timedelta

from aiogram import Bot, Dispatcher

from bot import heap, mail
from bot.container import Container, build_container
from bot.i18n import build_i18n
from bot.pumps import build_connector_pump, build_pump, build_refund_pump, build_webhook_pump
from bot.scheduler import (
    add_retention_job,
    add_tracking_job,
    build_scheduler,
    build_sweep,
    build_tracking,
)
from bot.settings import Settings
from bot.telegram import build_bot, build_dispatcher, poll, set_app_button, set_commands
from bot.web import (
    build_api_app,
    build_carriers_app,
    build_connectors_app,
    build_mini_app,
    build_payments_app,
    build_web_app,
    start_web,
)
from handlers.http.telegram_webhook import TelegramWebhook, webhook_path
from services.messaging.telegram_updates import UpdateLog
from storage.migrate import upgrade_async

log = logging.getLogger(__name__)

# How long a stopping bot lets the pumps finish their pass before cancelling them (a cancelled
# pass still records every message it sent and gives back the ones it had not).
PUMP_STOP_SECONDS = 10.0
PURGE_HOURS = 1  # forgetting old webhook update ids and storefront idempotency keys
IDEMPOTENCY_KEYS_KEPT = timedelta(hours=24)  # as Stripe keeps them


async def run(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM: long polling, or webhook mode when WEBHOOK_URL is set."""
    mail.check_secret(settings)
    await upgrade_async(settings.database_url)
    container = build_container(settings)
    token = settings.bot_token.get_secret_value()
    bot = build_bot(token, settings.telegram_api_url)
    # The pump's own bot: a 429 must come back to the pump, not be waited out in the session.
    pump_bot = build_bot(token, settings.telegram_api_url, wait_out_floods=False)
    dispatcher = build_dispatcher(container)
    updates = UpdateLog(container.sessions, container.clock)
    stop = asyncio.Event()
    background = [asyncio.create_task(build_pump(container, pump_bot).run(stop), name="pump")]
    scheduler = build_scheduler(build_sweep(container), settings.timer_sweep_seconds)
    scheduler.add_job(updates.purge, "interval", hours=PURGE_HOURS, id="purge_updates")

    async def prune_idempotency_keys() -> None:
        await container.idempotency.prune(container.clock.now() - IDEMPOTENCY_KEYS_KEPT)

    scheduler.add_job(prune_idempotency_keys, "interval", hours=PURGE_HOURS, id="prune_keys")
    add_retention_job(scheduler, container)
    tracking = build_tracking(container)  # one sweep: the job's and the webhooks'
    add_tracking_job(scheduler, tracking, settings.tracking_sweep_seconds)
    scheduler.start()
    web = receiver = None
    try:
        me = await bot.get_me()
        background += _storefront_pumps(container, stop)
        app = build_web_app(
            container,
            mail.signer_of(settings),
            bot_username=me.username,
            subapps={
                **_storefront_apps(container, me.username),
                "/carriers": build_carriers_app(tracking),  # CDEK's webhooks (issue 18)
            },
        )
        if settings.webhook_url:
            secret = settings.webhook_secret.get_secret_value()  # required with WEBHOOK_URL
            webhook = TelegramWebhook(dispatcher, bot, updates, secret, i18n=build_i18n())
            app.add_routes([webhook.route(webhook_path(settings.webhook_url))])
        web = await start_web(app, settings.http_host, settings.http_port)
        if settings.smtp_host:
            mailing = mail.build_mail_pump(container, settings, bot_username=me.username)
            background.append(asyncio.create_task(mailing.run(stop), name="mail"))
            receiver = await mail.start_reply_receiver(container, settings)
            if settings.imap_host:
                poller = mail.mailbox_poller(container, settings)
                polling = poller.run(stop, settings.imap_poll_seconds)
                background.append(asyncio.create_task(polling, name="mailbox"))
        await set_commands(bot)
        await set_app_button(bot, settings.public_url)
        heap.settle()  # everything that lives as long as the process exists now
        if settings.webhook_url:
            await _serve_webhook(bot, dispatcher, settings, me.username)
        else:
            log.info("running as @%s with long polling", me.username)
            await poll(dispatcher, bot, max_in_flight=settings.telegram_max_in_flight)
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
        await dispatcher.storage.close()
        await pump_bot.session.close()
        await bot.session.close()
        await container.close()


async def _serve_webhook(
    bot: Bot, dispatcher: Dispatcher, settings: Settings, username: str | None
) -> None:
    """Point Telegram at WEBHOOK_URL and serve until a signal.

    Every instance sets the same webhook (the call is idempotent), and none deletes it on
    the way out: the other instances behind the same address go on receiving updates.
    """
    assert settings.webhook_url and settings.webhook_secret
    await bot.set_webhook(
        settings.webhook_url,
        secret_token=settings.webhook_secret.get_secret_value(),
        allowed_updates=dispatcher.resolve_used_update_types(),
    )
    log.info("running as @%s with the webhook %s", username, settings.webhook_url)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    log.info("stopping")


def _storefront_apps(container: Container, bot_username: str | None) -> dict:
    """The storefront API under /api, the platforms' webhooks under /connectors, the Mini App
    under /app."""
    return {
        "/api": build_api_app(
            container,
            bot_username=bot_username,
            max_body_bytes=container.settings.api_max_body_bytes,
        ),
        "/connectors": build_connectors_app(container),
        "/payments": build_payments_app(container),
        "/app": build_mini_app(container),
    }


def _storefront_pumps(container: Container, stop: asyncio.Event) -> list[asyncio.Task]:
    """The pump of signed webhooks to storefronts, and of statuses back to the platforms."""
    return [
        asyncio.create_task(build_webhook_pump(container).run(stop), name="webhooks"),
        asyncio.create_task(build_connector_pump(container).run(stop), name="connectors"),
        asyncio.create_task(build_refund_pump(container).run(stop), name="refunds"),
    ]
