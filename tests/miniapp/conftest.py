"""The Mini App over real HTTP on loopback (aiohttp's test server), the real container and
database: SQLite always, PostgreSQL when TEST_POSTGRES_URL is set.

initData is signed as Telegram signs it (the emulator's `sign_init_data`), with the bot
token the server checks against; forged, stale and absent ones are the tests' own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.container import Container, build_container
from bot.sandbox.webapp import sign_init_data
from bot.settings import Settings
from bot.web import build_mini_app, build_web_app
from services.messaging.email.links import LinkSigner
from storage.models import Order, OrderEvent
from tests.factories import Shop, make_shop

BOT_TOKEN = "123456:MINI-APP-TEST"


def init_data(user, *, token: str = BOT_TOKEN, auth_date: int | None = None, **extra) -> str:
    """initData for a Telegram user (a `User` row or a plain id), as Telegram makes it."""
    telegram_id = user if isinstance(user, int) else user.telegram_id
    fields = {
        "auth_date": str(auth_date if auth_date is not None else 1_795_000_000),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps({"id": telegram_id, "first_name": "Test", "language_code": "en"}),
        **extra,
    }
    return sign_init_data(token, fields)


@dataclass
class Desk:
    container: Container
    client: TestClient
    shop: Shop

    def tma(self, user, **kwargs) -> dict[str, str]:
        if "auth_date" not in kwargs:
            kwargs["auth_date"] = int(self.container.clock.now().timestamp())
        return {"Authorization": "tma " + init_data(user, **kwargs)}

    async def get(self, path: str, user=None, headers: dict | None = None, **kwargs):
        headers = {**(self.tma(user) if user is not None else {}), **(headers or {})}
        return await self.client.get(path, headers=headers, **kwargs)

    async def post(self, path: str, body: Any, user=None, headers: dict | None = None):
        headers = {**(self.tma(user) if user is not None else {}), **(headers or {})}
        return await self.client.post(path, json=body, headers=headers)

    async def snapshot(self) -> tuple:
        """What a refused request must leave as it was: the orders and their history."""
        async with self.container.sessions() as session:
            orders = tuple(
                await session.execute(
                    select(Order.id, Order.status, Order.version).order_by(Order.id)
                )
            )
            events = await session.scalar(select(func.count()).select_from(OrderEvent))
        return orders, events


async def start_desk(database_url: str, clock, *, public_url: str = "http://127.0.0.1:8080"):
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        bot_token=BOT_TOKEN,
        secret_key="mini-app-tests",
        public_url=public_url,
    )
    container = build_container(settings, clock=clock)
    app = build_web_app(
        container,
        LinkSigner("mini-app-tests"),
        bot_username="shop_test_bot",
        subapps={"/app": build_mini_app(container)},
    )
    client = TestClient(TestServer(app))
    await client.start_server()
    return container, client


@pytest.fixture
async def desk(database_url, engine, clock):
    # `engine` empties the PostgreSQL database first (a fresh SQLite file needs nothing).
    container, client = await start_desk(database_url, clock)
    try:
        shop = await make_shop(container, preset="marketplace")
        yield Desk(container, client, shop)
    finally:
        await client.close()
        await container.close()
