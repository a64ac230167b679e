"""Provider notification -> order paid -> outbox written: the latency of one YooKassa
notification through the bot's own web server, beside `OrderService.apply`'s (issue 17).

For each backend (SQLite file database in WAL mode; PostgreSQL in a fresh database created from
TEST_POSTGRES_URL and dropped at the end): migrate, build the container as the bot does, with
YOOKASSA_API_URL pointing at the fake YooKassa on loopback (tests/outside/fakes/yookassa.py), and
the web app with /payments mounted, served on loopback by aiohttp's test server. Then, for each
order: confirm it (awaiting payment), make its payment link through the fake and let the buyer
pay there (not timed), and time one `POST /payments/yookassa/<shop>` from sending to its 200:
parse, fetch the payment back over HTTP, keep the payment row, apply `mark_paid` with its
ledger postings and outbox rows in one transaction, mark the row. Beside it, on the same
database, the time of one `apply(mark_paid)` by the shop's accountant (the manual way).

Prints p50/p99 in milliseconds. Run: `.venv/bin/python bench/bench_payments.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.container import build_container
from bot.settings import Settings
from bot.web import build_payments_app, build_web_app
from services.messaging.email.links import LinkSigner
from services.orders.actors import ActorRef, Channel
from services.orders.drafts import BuyerDraft, ItemDraft, OrderDraft
from storage.migrate import upgrade
from storage.models import Order, OutboxMessage

# The fake YooKassa lives with the tests; the repository's root is where they import from.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.scratch_postgres import scratch_database
from tests.outside.fakes.yookassa import FakeYooKassa

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
SHOP_ID, SECRET = "506751", "test_secret"


def draft(index: int) -> OrderDraft:
    return OrderDraft(
        buyer=BuyerDraft(name="Bench Buyer", email="buyer@example.com", language="en"),
        items=[ItemDraft(sku=f"SKU-{index % 50}", name="Bench item", quantity=1, unit_price=1999)],
        payment_method="card",
        delivery_method="post",
        delivery_address="1 Bench Street",
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure(backend: str, url: str, n: int, warmup: int) -> dict:
    await asyncio.to_thread(upgrade, url)
    fake = await FakeYooKassa(shops={SHOP_ID: SECRET}).start()
    settings = Settings(_env_file=None, database_url=url, yookassa_api_url=fake.url)
    container = build_container(settings)
    app = build_web_app(
        container, LinkSigner("b"), bot_username=None,
        subapps={"/payments": build_payments_app(container)},
    )  # fmt: skip
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        created = await container.shops.create_shop(
            name="Bench shop", owner_telegram_id=1_000_001, preset="marketplace"
        )
        shop_id, owner = created.shop.id, ActorRef.user(created.owner.id)
        accountant = await container.shops.add_staff(shop_id, 1_000_002, "accountant")
        await container.payment_settings.set_yookassa(
            shop_id, created.owner.id, f"{SHOP_ID} {SECRET}"
        )

        async def billed(index: int) -> Order:
            [order] = await container.orders.create_orders(
                shop_id, draft(index), ActorRef.system(Channel.API), source="api"
            )
            await container.orders.apply(order.id, owner, "confirm")
            return order

        async def notified(index: int) -> float:
            order = await billed(index)
            link = await container.yookassa_payments.payment_link(
                order.id, ActorRef.buyer(order.buyer_id), "Bench"
            )
            fake.succeed(link.payment_id)
            body = fake.notification("payment.succeeded", link.payment_id)
            started = time.perf_counter()
            async with client.post(f"/payments/yookassa/{shop_id}", data=body) as response:
                assert response.status == 200, await response.text()
            return time.perf_counter() - started

        async def by_hand(index: int) -> float:
            order = await billed(index)
            started = time.perf_counter()
            await container.orders.apply(order.id, ActorRef.user(accountant.id), "mark_paid")
            return time.perf_counter() - started

        for index in range(warmup):
            await notified(index)
            await by_hand(index)
        notifications = [await notified(warmup + i) for i in range(n)]
        applies = [await by_hand(warmup + n + i) for i in range(n)]
        async with container.sessions() as session:
            paid = await session.scalar(
                select(func.count()).select_from(Order).where(Order.amount_paid > 0)
            )
            told = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.topic == "payment_notice")
            )
        if paid != 2 * (n + warmup) or told != n + warmup:
            raise RuntimeError(f"{backend}: {paid} orders paid, {told} shops told")
        ms = 1000.0
        return {
            "backend": backend,
            "n": n,
            "notify_p50": percentile(notifications, 0.5) * ms,
            "notify_p99": percentile(notifications, 0.99) * ms,
            "apply_p50": percentile(applies, 0.5) * ms,
            "apply_p99": percentile(applies, 0.99) * ms,
            "mean_ratio": statistics.mean(notifications) / statistics.mean(applies),
        }
    finally:
        await client.close()
        await container.close()
        await fake.stop()


async def run_postgres(admin_url: str, n: int, warmup: int) -> dict:
    async with scratch_database(admin_url) as (url, version):
        return await measure(f"PostgreSQL {version}", url, n, warmup)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--backend", choices=("all", "sqlite", "postgres"), default="all")
    args = parser.parse_args()
    results = []
    if args.backend in ("all", "sqlite"):
        with tempfile.TemporaryDirectory(prefix="shopbot-bench-") as directory:
            url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
            results.append(await measure("SQLite (file, WAL)", url, args.orders, args.warmup))
    if args.backend in ("all", "postgres"):
        admin = os.environ.get("TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
        results.append(await run_postgres(admin, args.orders, args.warmup))
    print(
        "| backend | n | notification -> paid p50 | p99 | apply(mark_paid) p50 | p99 | mean ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['backend']} | {r['n']} | {r['notify_p50']:.1f} ms | {r['notify_p99']:.1f} ms "
            f"| {r['apply_p50']:.1f} ms | {r['apply_p99']:.1f} ms | {r['mean_ratio']:.1f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
