"""A fake YooKassa on loopback, the real HTTP transport, and a client with a recorded sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.outbound import AiohttpTransport
from services.payments.yookassa import YooKassaClient, YooKassaCredentials
from tests.outside.fakes.yookassa import FakeYooKassa

SHOP = "506751"
SECRET = "test_Fh8hUAVVBGUGbjmlzba6TB0iyUbos_lueTHE-axOwM0"
CREDENTIALS = YooKassaCredentials(SHOP, SECRET)
RETURN_URL = "https://shop.example/orders/A-1042"


class RecordedSleep:
    """A sleep that records how long it was asked to wait and returns at once."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


@pytest.fixture
async def yookassa() -> AsyncIterator[FakeYooKassa]:
    async with FakeYooKassa({SHOP: SECRET}) as fake:
        yield fake


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    transport = AiohttpTransport()
    yield transport
    await transport.close()


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def client(
    transport: AiohttpTransport, yookassa: FakeYooKassa, sleep: RecordedSleep
) -> YooKassaClient:
    return YooKassaClient(transport, yookassa.url, sleep=sleep)


async def create(client: YooKassaClient, key: str = "order-42-pay-1", **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "amount_minor": 123450,
        "currency": "RUB",
        "description": "Заказ A-1042",
        "return_url": RETURN_URL,
        "metadata": {"order_id": "42", "shop_id": "7"},
        "idempotence_key": key,
    }
    fields.update(overrides)
    return await client.create_payment(CREDENTIALS, **fields)
