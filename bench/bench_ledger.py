"""What the ledger costs: a paid transition with its postings, and /balance over a big ledger.

For each backend (SQLite file in a temporary directory; PostgreSQL in a fresh database
`shopbot_bench_<random>` from TEST_POSTGRES_URL, dropped at the end):

1. migrate and build the services as bot/container.py does; a `reseller` shop (004) with a
   12.5 % commission;
2. time `OrderService.apply(mark_paid)` (three reserve postings in the transition's
   transaction) against `ship`, a transition of the same shop with no money effect, one
   order after another: the difference is what the postings add;
3. bulk-insert ENTRIES more ledger entries for the shop (as if years of orders), then time
   `BalanceService.balance` (sums per account, the latest ten entries), as /balance calls it.

Prints a Markdown table. Run: `.venv/bin/python bench/bench_ledger.py [--orders N --entries M]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, text

from services.money.ledger.balance import BalanceService
from services.orders.actors import ActorRef, Channel
from services.orders.drafts import BuyerDraft, ItemDraft, OrderDraft
from services.orders.service import OrderService
from services.orders.work import OrderWork
from services.shops.service import ShopService
from services.time.clock import SystemClock
from services.workflow.store import WorkflowStore
from storage.database import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import LedgerEntry, Shop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's root
from bench.scratch_postgres import scratch_database

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def draft() -> OrderDraft:
    return OrderDraft(
        buyer=BuyerDraft(name="Bench Buyer", email="buyer@example.com", language="en"),
        items=[
            ItemDraft(sku="A", name="A", quantity=3, unit_price=1999, discount=7),
            ItemDraft(sku="B", name="B", quantity=1, unit_price=4550),
        ],
        payment_method="card",
        delivery_method="post",
        delivery_cost=350,
        discount=101,
    )


def ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


async def measure(backend: str, url: str, n_orders: int, n_entries: int) -> list[str]:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    try:
        sessions = create_session_factory(engine)
        clock, workflows = SystemClock(), WorkflowStore()
        orders = OrderService(OrderWork(sessions, clock, workflows))
        shops = ShopService(sessions, clock, workflows)
        created = await shops.create_shop(
            name="Bench shop", owner_telegram_id=1_000_002, preset="reseller"
        )
        shop_id, owner = created.shop.id, ActorRef.user(created.owner.id)
        async with sessions() as session, session.begin():
            shop = await session.get(Shop, shop_id)
            shop.settings = {**shop.settings, "commission_percent": "12.5"}
        ids = []
        for _ in range(n_orders + 10):
            made = await orders.create_orders(shop_id, draft(), ActorRef.system(Channel.API))
            ids += [order.id for order in made]
        paid, shipped = [], []
        for index, order_id in enumerate(ids):
            started = time.perf_counter()
            await orders.apply(order_id, owner, "mark_paid")
            middle = time.perf_counter()
            await orders.apply(order_id, owner, "ship")
            if index >= 10:  # the first ten warm up
                paid.append(middle - started)
                shipped.append(time.perf_counter() - middle)

        now = datetime.now(UTC)
        rows = [
            {
                "shop_id": shop_id,
                "order_id": None,
                "kind": "reserve_income",
                "debit_account": "reserved" if i % 2 else "available",
                "credit_account": "buyer_payments",
                "amount": 1000 + i % 977,
                "currency": "RUB",
                "dedupe_key": f"bench:{i}",
                "created_at": now,
            }
            for i in range(n_entries)
        ]
        async with sessions() as session, session.begin():
            for start in range(0, len(rows), 5000):
                await session.execute(insert(LedgerEntry), rows[start : start + 5000])
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                await connection.execute(text("ANALYZE ledger_entries"))
        balance = BalanceService(sessions, clock)
        reads = []
        for _ in range(30):
            started = time.perf_counter()
            await balance.balance(shop_id, created.owner.id)
            reads.append(time.perf_counter() - started)
        total = n_entries + 3 * len(ids)
        return [
            f"| {backend} | apply mark_paid (+3 postings) | {n_orders} | {ms(paid)[0]:.1f} "
            f"| {ms(paid)[1]:.1f} |",
            f"| {backend} | apply ship (no money effect) | {n_orders} | {ms(shipped)[0]:.1f} "
            f"| {ms(shipped)[1]:.1f} |",
            f"| {backend} | balance over {total:,} entries | 30 | {ms(reads[5:])[0]:.1f} "
            f"| {ms(reads[5:])[1]:.1f} |",
        ]
    finally:
        await engine.dispose()


async def main(n_orders: int, n_entries: int) -> None:
    lines = ["| backend | step | n | p50 ms | p99 ms |", "|---|---|---:|---:|---:|"]
    with tempfile.TemporaryDirectory(prefix="shopbot-bench-") as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        lines += await measure("SQLite", url, n_orders, n_entries)
    admin_url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    async with scratch_database(admin_url) as (url, _version):
        lines += await measure("PostgreSQL", url, n_orders, n_entries)
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--entries", type=int, default=100_000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.orders, arguments.entries))
