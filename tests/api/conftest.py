"""The storefront API over real HTTP on loopback (aiohttp's test server), the real container
and database: SQLite always, PostgreSQL when TEST_POSTGRES_URL is set."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.container import Container, build_container
from bot.settings import Settings
from bot.web import build_api_app, build_web_app
from services.messaging.email.links import LinkSigner
from services.storefront.tokens import ApiTokenService
from storage.models import Order
from tests.factories import Shop, make_shop

BOT_USERNAME = "cats_shop_bot"
MAX_BODY = 16 * 1024

ORDER: dict[str, Any] = {
    "external_id": "web-1001",
    "buyer": {
        "name": "Ivan Petrov",
        "phone": "+7 916 123-45-67",
        "email": "ivan@example.com",
        "language": "ru",
    },
    "items": [
        {
            "sku": "CAT-BED",
            "name": "Cat bed",
            "quantity": 2,
            "unit_price": "1500.50",
            "availability": "in_stock",
            "returnable": True,
            "return_days": 14,
        }
    ],
    "delivery": {"method": "courier", "address": "Moscow, Tverskaya 1", "cost": "300.00"},
    "payment": {"method": "card"},
    "comment": "Ring twice",
}


def order_body(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(ORDER)
    body.update(changes)
    return body


@dataclass
class Api:
    container: Container
    client: TestClient
    shop: Shop  # with its staff
    token: str
    tokens: ApiTokenService

    @property
    def shop_id(self) -> int:
        return self.shop.id

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def post(self, body: Any, *, token: str | None = None, key: str | None = None):
        headers = self.auth(token)
        if key is not None:
            headers["Idempotency-Key"] = key
        async with self.client.post("/api/v1/orders", json=body, headers=headers) as response:
            return response.status, await response.json(), response.headers

    async def get(self, number: Any, *, token: str | None = None):
        async with self.client.get(f"/api/v1/orders/{number}", headers=self.auth(token)) as r:
            return r.status, await r.json()

    async def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        token: str | None = None,
    ):
        """Any request to /api; returns (status, JSON answer, headers)."""
        headers = self.auth(token)
        if key is not None:
            headers["Idempotency-Key"] = key
        async with self.client.request(method, f"/api{path}", json=body, headers=headers) as r:
            return r.status, await r.json(), r.headers

    async def order_count(self) -> int:
        async with self.container.sessions() as session:
            return await session.scalar(select(func.count()).select_from(Order))


async def start_api(
    database_url: str,
    clock,
    *,
    bot_username: str | None = BOT_USERNAME,
    shop=None,
    **settings_given: Any,
) -> Api:
    """The API on its own test server; `shop`: one made before (another instance of the
    same bot), `settings_given`: settings beside the test defaults (no rate limit)."""
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        secret_key="api-tests",
        **{"api_rate_limit": 0, **settings_given},
    )
    container = build_container(settings, clock=clock)
    app = build_web_app(
        container,
        LinkSigner("api-tests"),
        bot_username=bot_username,
        subapps={
            "/api": build_api_app(container, bot_username=bot_username, max_body_bytes=MAX_BODY)
        },
    )
    client = TestClient(TestServer(app))
    await client.start_server()
    tokens = ApiTokenService(container.sessions, container.clock)
    if shop is not None:
        return Api(container, client, shop, "", tokens)
    shop = await make_shop(container)
    created = await tokens.create(shop.id, "storefront")
    return Api(container, client, shop, created.token, tokens)


@pytest.fixture
async def api(database_url, engine, clock):
    # `engine` empties the PostgreSQL database first (a fresh SQLite file needs nothing).
    api = await start_api(database_url, clock)
    try:
        yield api
    finally:
        await api.client.close()
        await api.container.close()
