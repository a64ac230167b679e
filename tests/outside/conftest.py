"""Outside systems against fakes of their own on loopback, through the real aiohttp transport:
YooKassa (a client with a recorded sleep) and each carrier adapter.

Time never passes by itself: the carrier adapters get a FrozenClock and a sleep that only
moves that clock and records how long it was asked to wait.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.outbound import AiohttpTransport
from services.carriers.base import CarrierAdapter
from services.carriers.boxberry import BoxberryAdapter
from services.carriers.cdek import CdekAdapter
from services.carriers.nova_poshta import NovaPoshtaAdapter
from services.carriers.russian_post import RussianPostAdapter
from services.payments.yookassa import YooKassaClient, YooKassaCredentials
from services.time.clock import FrozenClock
from tests.outside.fakes.carriers import (
    FakeBoxberry,
    FakeCarrier,
    FakeCdek,
    FakeNovaPoshta,
    FakeRussianPost,
)
from tests.outside.fakes.yookassa import FakeYooKassa

# Seconds a request to a fake may take before the adapter gives up: generous, since CI runs
# two test workers on two loaded cores; a test of the fake's "timeout" (which holds the
# request) asks for a short one by parametrizing `time_limit`.
TIME_LIMIT = 5.0


@pytest.fixture
def time_limit() -> float:
    return TIME_LIMIT


@dataclass
class Sleeper:
    """An injected sleep: records each wait and moves the clock instead of waiting."""

    clock: FrozenClock
    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


@dataclass
class Rig:
    """One carrier's adapter wired to its fake, and codes of each kind for it."""

    name: str
    fake: FakeCarrier
    adapter: CarrierAdapter
    credentials: dict[str, str]
    wrong_credentials: dict[str, str]
    known: str  # a code with a recorded journey
    unknown: str  # well-formed, but the carrier knows nothing of it
    malformed_code: str  # not of this carrier's format
    sleeper: Sleeper


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 24, 7, 0, tzinfo=UTC))


@pytest.fixture
def sleeper(clock: FrozenClock) -> Sleeper:
    return Sleeper(clock)


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    transport = AiohttpTransport()
    yield transport
    await transport.close()


async def _started(fake: FakeCarrier):
    await fake.start()
    return fake


@pytest.fixture
async def russian_post(transport, clock, sleeper, time_limit):
    fake = await _started(FakeRussianPost())
    adapter = RussianPostAdapter(
        transport, f"{fake.url}/rtm34", sleep=sleeper, clock=clock, time_limit=time_limit
    )
    yield Rig(
        "russian_post",
        fake,
        adapter,
        {"login": fake.login, "password": fake.password},
        {"login": fake.login, "password": "wrong"},
        known="RA123456785RU",
        unknown="RA000000014RU",
        malformed_code="RA123456789RU",  # S10 with a wrong check digit
        sleeper=sleeper,
    )
    await fake.stop()


@pytest.fixture
async def cdek(transport, clock, sleeper, time_limit):
    fake = await _started(FakeCdek())
    adapter = CdekAdapter(transport, fake.url, sleep=sleeper, clock=clock, time_limit=time_limit)
    yield Rig(
        "cdek",
        fake,
        adapter,
        {"client_id": fake.client_id, "client_secret": fake.client_secret},
        {"client_id": fake.client_id, "client_secret": "wrong"},
        known="1106207236",
        unknown="1999999999",
        malformed_code="CDEK-12",
        sleeper=sleeper,
    )
    await fake.stop()


@pytest.fixture
async def boxberry(transport, clock, sleeper, time_limit):
    fake = await _started(FakeBoxberry())
    adapter = BoxberryAdapter(
        transport, f"{fake.url}/json.php", sleep=sleeper, clock=clock, time_limit=time_limit
    )
    yield Rig(
        "boxberry",
        fake,
        adapter,
        {"token": fake.token},
        {"token": "wrong"},
        known="AAP298792807",
        unknown="AAP000000001",
        malformed_code="12-AAP",
        sleeper=sleeper,
    )
    await fake.stop()


@pytest.fixture
async def nova_poshta(transport, clock, sleeper, time_limit):
    fake = await _started(FakeNovaPoshta())
    adapter = NovaPoshtaAdapter(
        transport, f"{fake.url}/v2.0/json/", sleep=sleeper, clock=clock, time_limit=time_limit
    )
    yield Rig(
        "nova_poshta",
        fake,
        adapter,
        {"api_key": fake.api_key},
        {"api_key": "wrong"},
        known="59000000000001",
        unknown="20400000000000",
        malformed_code="2040004879900",  # 13 digits
        sleeper=sleeper,
    )
    await fake.stop()


CARRIER_RIGS = ["russian_post", "cdek", "boxberry", "nova_poshta"]


@pytest.fixture(params=CARRIER_RIGS)
def rig(request) -> Rig:
    """Each carrier in turn, for what every adapter must do alike."""
    return request.getfixturevalue(request.param)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


Maker = Callable[..., Rig]


# -- YooKassa ----------------------------------------------------------------------------

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
