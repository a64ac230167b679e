"""Building the Bot and the Dispatcher (no global objects: the composition root calls these)."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import BotCommand
from aiogram.utils.callback_answer import CallbackAnswerMiddleware

from bot.container import Container
from bot.i18n import build_i18n
from handlers.telegram import get_routers
from handlers.telegram.middlewares import IdentityMiddleware, LanguageMiddleware, RefusalMiddleware


def build_bot(token: str, api_url: str) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def build_fsm_storage(redis_url: str | None) -> BaseStorage:
    """Conversation state: in memory for one instance, Redis for several (G2)."""
    if not redis_url:
        return MemoryStorage()
    from aiogram.fsm.storage.redis import RedisStorage

    return RedisStorage.from_url(redis_url)


def build_dispatcher(container: Container, storage: BaseStorage | None = None) -> Dispatcher:
    dispatcher = Dispatcher(
        storage=storage or build_fsm_storage(container.settings.redis_url),
        # Long-lived objects handlers receive by name.
        settings=container.settings,
        clock=container.clock,
        orders=container.orders,
        shops=container.shops,
        users=container.users,
        staff=container.staff,
        shop_settings=container.shop_settings,
        order_queries=container.order_queries,
        cards=container.cards,
    )
    dispatcher.update.outer_middleware(IdentityMiddleware())
    LanguageMiddleware(build_i18n()).setup(dispatcher)
    for observer in (dispatcher.message, dispatcher.callback_query):
        observer.middleware(CallbackAnswerMiddleware())
        observer.middleware(RefusalMiddleware())
    dispatcher.include_routers(*get_routers())
    return dispatcher


COMMANDS = {
    "start": "main menu",
    "orders": "orders",
    "queue": "my queue",
    "new": "new order by phone",
    "settings": "shop settings",
    "staff": "staff",
    "help": "help",
}


async def set_commands(bot: Bot) -> None:
    await bot.set_my_commands([BotCommand(command=c, description=d) for c, d in COMMANDS.items()])
