"""Two bot instances, two OS processes, one PostgreSQL and one Redis (G2).

Both run `python -m bot run` in webhook mode behind one address (tests/webhook_balancer.py),
each with its notification pump, its storefront webhook pump, its timer sweep and its web
server. To make races certain rather than likely, every call goes to both instances at once:
the balancer hands each Telegram update to both (as Telegram's redelivery of a slow update
would), and the storefront sends each order to both with one Idempotency-Key. The test then
drives the orders: new orders pinged to the manager, every order opened and confirmed by taps,
the payment deadline of half of them made due so both sweeps race for it. Each order,
transition, timer, Telegram message and storefront webhook must happen exactly once."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from bot.sandbox.emulator import TelegramEmulator
from bot.sandbox.limits import FloodLimits
from services.shops.service import ShopService
from services.storefront.tokens import ApiTokenService
from services.storefront.webhook_settings import WebhookSettings
from services.time.clock import SystemClock
from services.workflow.store import WorkflowStore
from storage.database import create_engine, create_session_factory
from storage.models import Order, OrderEvent, OutboxMessage, TelegramUpdate, Timer
from tests.webhook_balancer import WebhookBalancer

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL")
BOT_TOKEN = "123456:TWO-INSTANCES"
SECRET = "two-instances-secret"
ORDERS = 12
OPEN = "📂 Open the order"
CONFIRM = "Confirm and bill"
WAIT = 90.0  # seconds: generous for a loaded CI machine; each wait ends as soon as it holds

pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="TEST_REDIS_URL is not set: several instances share Redis"
)


def order_body(n: int) -> dict:
    return {
        "external_id": f"web-{n}",
        "buyer": {"name": "Ivan Petrov", "phone": f"+7916123{n:04d}", "language": "ru"},
        "items": [
            {
                "sku": "TEA-1",
                "name": "Tea",
                "quantity": 1,
                "unit_price": "100.00",
                "availability": "in_stock",
                "returnable": False,
                "return_days": 0,
            }
        ],
        "delivery": {"method": "post", "address": "Moscow, Tverskaya 1", "cost": "0"},
        "payment": {"method": "card"},
        "comment": "",
    }


class Storefront:
    """The storefront's webhook endpoint: keeps every event it is sent."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        async def receive(request: web.Request) -> web.Response:
            self.events.append(await request.json())
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/hooks", receive)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}/hooks"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def wait_until(
    what: str,
    check: Callable[[], Awaitable[bool]],
    timeout: float = WAIT,  # noqa: ASYNC109 - a deadline, so the error can name what is late
) -> None:
    """Poll another process's progress (its work is real time: nothing to advance here)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.1)


async def start_instance(
    database_url: str, emulator_url: str, webhook_url: str, port: int, log: Path
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_URL": emulator_url,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "WEBHOOK_URL": webhook_url,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "WEBHOOK_SECRET": SECRET,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "TIMER_SWEEP_SECONDS": "0.5",
        # The storefront is this test's server on loopback: the pumps may reach inward.
        "WEBHOOKS_TO_PRIVATE_ADDRESSES": "true",
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",  # the log is read if the test fails
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=asyncio.subprocess.STDOUT,
    )


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


async def answers(http: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with http.get(url) as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def metrics_of(http: aiohttp.ClientSession, base: str) -> dict[tuple, float]:
    async with http.get(f"{base}/metrics") as response:
        text = await response.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def updates_counted(metrics: dict[tuple, float], outcome: str) -> float:
    return sum(
        value
        for (name, labels), value in metrics.items()
        if name == "shopbot_updates_total" and ("outcome", outcome) in labels
    )


async def test_two_instances_do_everything_exactly_once(fresh_postgres, tmp_path):
    engine = create_engine(fresh_postgres)
    sessions = create_session_factory(engine)
    clock, workflows = SystemClock(), WorkflowStore()
    emulator = TelegramEmulator(flood=FloodLimits.off())
    await emulator.start()
    balancer = WebhookBalancer([], duplicate=True)
    webhook_url = await balancer.start("/telegram")
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    balancer.backends = [f"{base}/telegram" for base in bases]
    processes: list[asyncio.subprocess.Process] = []
    storefront: Storefront | None = None
    http = aiohttp.ClientSession()
    try:
        # a shop whose manager and owner use Telegram
        owner = emulator.user("Olga", language_code="en")
        manager = emulator.user("Max", language_code="en")
        shops = ShopService(sessions, clock, workflows)
        shop = (await shops.create_shop(name="Tea", owner_telegram_id=owner.id)).shop
        await shops.add_staff(shop.id, manager.id, "manager")

        for number, port in enumerate(ports):
            log = tmp_path / f"instance-{number}.log"
            processes.append(
                await start_instance(fresh_postgres, emulator.url, webhook_url, port, log)
            )
        for base in bases:
            await wait_until(f"{base}/readyz", lambda base=base: answers(http, f"{base}/readyz"))
        await wait_until("the webhook is set", _async(lambda: emulator.world.webhook.url))

        emulator.send(owner, "/start")
        emulator.send(manager, "/start")
        await emulator.wait_processed(timeout=WAIT)

        # when the storefront sends its orders at once, each call twice (a retry with the same
        # Idempotency-Key), one copy to each instance
        token = (await ApiTokenService(sessions, clock).create(shop.id, "web")).token
        storefront = Storefront()
        await WebhookSettings(sessions, clock, allow_private=True).set_url(
            shop.id, await storefront.start()
        )

        async def place(n: int, base: str) -> tuple[int, dict]:
            async with http.post(
                f"{base}/api/v1/orders",
                json=order_body(n),
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"key-{n}"},
            ) as response:
                return response.status, await response.json()

        replies = await asyncio.gather(*(place(n, base) for n in range(ORDERS) for base in bases))
        placed = {}
        for status, body in replies:
            assert status in (201, 409), body  # 409: the copy arrived while the first ran
            if status == 201:
                placed.setdefault(body["orders"][0]["number"], body)
        for n in range(ORDERS):  # a 409'd copy is retried later, as Stripe's clients do
            status, body = await place(n, bases[n % 2])
            assert status == 201, body
            assert placed[body["orders"][0]["number"]] == body  # the first answer, replayed
        numbers = sorted(placed)
        async with sessions() as session:
            created = [
                [order] for order in await session.scalars(select(Order).order_by(Order.number))
            ]
        assert [order.number for [order] in created] == numbers
        assert len(numbers) == ORDERS

        def with_button(label: str) -> list:
            return [
                m
                for m in emulator.messages(manager)
                if m.outgoing and any(label in row for row in emulator.buttons(m))
            ]

        await wait_until("a ping per new order", _async(lambda: len(with_button(OPEN)) >= ORDERS))
        # the manager opens every order from its ping and confirms it on its card; each tap
        # reaches both instances at once
        for ping in with_button(OPEN):
            emulator.tap(manager, ping, text=OPEN)
        await emulator.wait_processed(timeout=WAIT)
        await wait_until("a card per order", _async(lambda: len(with_button(CONFIRM)) >= ORDERS))
        for card in with_button(CONFIRM):
            emulator.tap(manager, card, text=CONFIRM)
        await emulator.wait_processed(timeout=WAIT)

        async def statuses() -> Counter[str]:
            async with sessions() as session:
                rows = await session.execute(
                    select(Order.status, func.count()).group_by(Order.status)
                )
                return Counter(dict(rows.all()))

        await wait_until(
            "every order confirmed",
            lambda: _holds(statuses(), lambda s: s["awaiting_payment"] == ORDERS),
        )

        # and the payment deadline of half of them passes: both sweeps see it due
        late = [order.id for [order] in created[: ORDERS // 2]]
        async with sessions() as session, session.begin():
            await session.execute(
                update(Timer)
                .where(Timer.order_id.in_(late), Timer.state == "pending")
                .values(due_at=clock.now() - timedelta(minutes=1))
            )
        await wait_until(
            "the late orders expired",
            lambda: _holds(statuses(), lambda s: s["not_paid"] == ORDERS // 2),
        )

        async def delivered() -> bool:
            async with sessions() as session:
                waiting = await session.scalar(
                    select(func.count()).where(
                        OutboxMessage.channel.in_(["telegram", "webhook"]),
                        OutboxMessage.state == "pending",
                    )
                )
            return waiting == 0

        await wait_until("every notification delivered", delivered)
        await emulator.wait_processed(timeout=WAIT)

        # then: one event per transition and timer
        async with sessions() as session:
            events = Counter(
                (order_id, action)
                for order_id, action in await session.execute(
                    select(OrderEvent.order_id, OrderEvent.action)
                )
            )
            handled = dict(
                (await session.execute(select(TelegramUpdate.update_id, TelegramUpdate.state)))
                .tuples()
                .all()
            )
        for [order] in created:
            assert events[(order.id, "confirm")] == 1
            assert events[(order.id, "expire_payment")] == (1 if order.id in late else 0)
        # each update handled once, by one of the two instances that both received it
        update_ids = [u["update_id"] for u in balancer.received]
        assert len(update_ids) == len(set(update_ids)) == 2 + 2 * ORDERS
        assert handled == dict.fromkeys(update_ids, "done")
        both = [await metrics_of(http, base) for base in bases]
        assert sum(updates_counted(m, "duplicate") for m in both) == len(update_ids)
        assert sum(updates_counted(m, "handled") for m in both) == len(update_ids)
        # one signed webhook per event of every order reached the storefront (H4): created,
        # each status change, and "cancelled" beside an order's end unfulfilled
        ended = [order.number for [order] in created if order.id in late]
        await wait_until(
            "the webhooks sent",
            _async(lambda: len(storefront.events) >= 2 * ORDERS + 2 * len(ended)),
        )
        assert Counter((e["number"], e["event"], e["status"]) for e in storefront.events) == (
            Counter(
                [(number, "order.created", "awaiting_confirmation") for number in numbers]
                + [(number, "order.status_changed", "awaiting_payment") for number in numbers]
                + [(number, "order.status_changed", "not_paid") for number in ended]
                + [(number, "order.cancelled", "not_paid") for number in ended]
            )
        )
        assert len({e["id"] for e in storefront.events}) == len(storefront.events)
        # one new-order ping per order in the manager's chat, no doubles
        pinged = Counter(
            int(match.group(1))
            for m in with_button(OPEN)
            if (match := re.search(r"New order #(\d+)", m.text or ""))
        )
        assert sorted(pinged) == numbers
        assert set(pinged.values()) == {1}
        for process in processes:
            assert process.returncode is None, "an instance died"
    finally:
        if storefront is not None:
            await storefront.stop()
        print("--- the manager's chat ---\n" + emulator.transcript(manager)[-3000:])
        await http.close()
        for process in processes:
            await stop(process)
        await balancer.stop()
        await emulator.stop()
        await engine.dispose()
        for log in sorted(tmp_path.glob("instance-*.log")):
            text = log.read_text(errors="replace")
            if '"level": "ERROR"' in text or "Traceback" in text:
                print(f"--- {log.name} ---\n{text[-5000:]}")


def _async(check: Callable[[], object]) -> Callable[[], Awaitable[bool]]:
    async def wrapped() -> bool:
        return bool(check())

    return wrapped


async def _holds(value: Awaitable, predicate: Callable[[object], bool]) -> bool:
    return predicate(await value)
