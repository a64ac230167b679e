"""Building the Bot and the Dispatcher (no global objects: the composition root calls these)."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import DisabledEventIsolation, MemoryStorage
from aiogram.utils.callback_answer import CallbackAnswerMiddleware

from bot.container import Container
from bot.i18n import build_i18n
from bot.telegram_responses import pin_response_classes
from bot.telegram_session import JsonBodySession
from handlers.telegram import get_routers
from handlers.telegram.card_memory import CardMemoryMiddleware
from handlers.telegram.command_menus import set_default_menus
from handlers.telegram.middlewares import IdentityMiddleware, LanguageMiddleware, RefusalMiddleware
from handlers.telegram.update_metrics import UpdateTracking
from services.vocabulary import DEFAULT_LANGUAGE

log = logging.getLogger(__name__)


class WaitOutFloodControl(BaseRequestMiddleware):
    """A direct answer that hits Telegram's flood control waits `retry_after` and goes again.

    Handlers answer a person at once; when Telegram says "too many requests" the answer is
    late rather than lost. (The notification pump paces itself and uses a bot without this.)
    """

    def __init__(self, attempts: int = 3, sleep=asyncio.sleep):
        self.attempts = attempts
        self.sleep = sleep  # injected by tests, which do not wait for real

    async def __call__(self, make_request, bot, method):
        for attempt in range(1, self.attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as flood:
                if attempt == self.attempts:
                    raise
                log.info(
                    "flood control on %s: waiting %s s", type(method).__name__, flood.retry_after
                )
                await self.sleep(flood.retry_after)
        raise AssertionError("unreachable")


def build_bot(token: str, api_url: str, *, wait_out_floods: bool = True) -> Bot:
    pin_response_classes()  # aiogram would rebuild its answer classes on every call
    session = JsonBodySession(api=TelegramAPIServer.from_base(api_url))
    if wait_out_floods:
        session.middleware(WaitOutFloodControl())
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def build_fsm_storage(redis_url: str | None) -> BaseStorage:
    """Conversation state: in memory for one instance, Redis for several (G2)."""
    if not redis_url:
        return MemoryStorage()
    from aiogram.fsm.storage.redis import RedisStorage

    return RedisStorage.from_url(redis_url)


def build_events_isolation(storage: BaseStorage) -> BaseEventIsolation:
    """With Redis, one person's updates are handled one at a time across all instances (a
    double tap that reaches two instances is still two taps in a row); in memory, no lock."""
    from aiogram.fsm.storage.redis import RedisStorage

    if isinstance(storage, RedisStorage):
        return storage.create_isolation()
    return DisabledEventIsolation()


def build_dispatcher(container: Container, storage: BaseStorage | None = None) -> Dispatcher:
    storage = storage or build_fsm_storage(container.settings.redis_url)
    dispatcher = Dispatcher(
        storage=storage,
        events_isolation=build_events_isolation(storage),
        # Long-lived objects handlers receive by name.
        settings=container.settings,
        clock=container.clock,
        orders=container.orders,
        shops=container.shops,
        users=container.users,
        staff=container.staff,
        shop_settings=container.shop_settings,
        workflow_editor=container.workflow_editor,
        order_queries=container.order_queries,
        cards=container.cards,
        buyers=container.buyers,
        customers=container.customers,
        dialog=container.dialog,
        returns=container.returns,
        reviews=container.reviews,
        documents=container.documents,
        balance=container.balance,
        api_tokens=container.api_tokens,
        webhook_settings=container.webhook_settings,
        # The storefront both ways (H4): one-click buy, the webhook log, the platforms.
        callbacks=container.callbacks,
        webhook_log=container.webhook_log,
        connections=container.connections,
        carrier_accounts=container.carrier_accounts,
        # The Mini App's desktop sign-in (/web).
        desk_login=container.desk_login,
        products=container.products,  # issue 19
        # Payments (issue 17): how buyers pay, the providers' credentials.
        payment_settings=container.payment_settings,
        telegram_payments=container.telegram_payments,
        yookassa_payments=container.yookassa_payments,
    )
    dispatcher.update.outer_middleware(UpdateTracking())
    dispatcher.update.outer_middleware(IdentityMiddleware())
    dispatcher.update.outer_middleware(CardMemoryMiddleware())
    LanguageMiddleware(build_i18n()).setup(dispatcher)
    for observer in (dispatcher.message, dispatcher.callback_query):
        observer.middleware(CallbackAnswerMiddleware())
        observer.middleware(RefusalMiddleware())
    dispatcher.include_routers(*get_routers())
    return dispatcher


async def poll(
    dispatcher: Dispatcher, bot: Bot, *, max_in_flight: int, handle_signals: bool = True
) -> None:
    """Long polling until stopped: each update handled in a task of its own, at most
    `max_in_flight` at once; the rest of a getUpdates batch waits in order, and the next
    getUpdates is not asked until there is room (Telegram keeps what is not asked for).

    Unbounded, polling fetched batch after batch while the earlier ones still ran: 1,000
    taps queued at once ran together on the one event loop, late by 48-56 ms at p99 on
    SQLite and 223-228 ms on PostgreSQL for every timer and request on it; one batch at once
    (100) kept the rate and cut that by a third and by half (bench/bench_burst.py, issue 15).
    Not a small bound: a tap waits on Telegram across the network (its edit and its answer),
    and four at once took 43 taps/s where the CPU takes some 240 (the same bench, every Bot
    API call answered 80 ms later)."""
    await dispatcher.start_polling(
        bot, handle_signals=handle_signals, tasks_concurrency_limit=max_in_flight
    )


async def set_commands(bot: Bot) -> None:
    """The buyer's and the groups' command menus and the bot's description, in ru/uk/en."""
    await set_default_menus(bot, build_i18n())


async def set_app_button(bot: Bot, public_url: str) -> bool:
    """The menu button opens the Mini App (K1), labelled in the default language."""
    from handlers.telegram.mini_app import set_menu_button

    text = build_i18n().gettext("Orders", locale=DEFAULT_LANGUAGE)
    try:
        return await set_menu_button(bot, public_url, text)
    except TelegramBadRequest as error:  # the bot still works without it
        log.warning("the Mini App menu button was not set: %s", error.message)
        return False
