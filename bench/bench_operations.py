"""What the operator's jobs cost: the daily retention sweep, a request to forget, a backup.

For each backend (SQLite file in a temporary directory; PostgreSQL in a fresh database
`shopbot_bench_<random>` from TEST_POSTGRES_URL, dropped at the end):

1. migrate; a `marketplace` shop keeping buyers' data 90 days; ORDERS orders through
   `OrderService.create_orders`, each with a dialog message from the buyer, then marked
   cancelled 100 days ago with one UPDATE (closed and past retention);
2. time `PersonalData.erase_expired` (every order's buyer data erased, audit event written)
   beside the floor: one bare `UPDATE orders SET delivery_address = ''` over the same rows;
3. time `PersonalData.forget` of one buyer with FORGET orders (one transaction);
4. SQLite only: time `backup_sqlite` of the database beside the floor: copying its file.

Prints a Markdown table. Run: `.venv/bin/python bench/bench_operations.py [--orders N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from services.messaging.dialog import DialogService
from services.operations.personal_data import PersonalData
from services.orders.actors import ActorRef, Channel
from services.orders.drafts import BuyerDraft, ItemDraft, OrderDraft
from services.orders.service import OrderService
from services.orders.work import OrderWork
from services.shops.service import ShopService
from services.time.clock import SystemClock
from services.workflow.store import WorkflowStore
from storage.backup import backup_sqlite
from storage.database import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import Order, Shop

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
FORGET = 20


def draft(index: int, buyer: int) -> OrderDraft:
    return OrderDraft(
        buyer=BuyerDraft(
            name=f"Buyer {buyer}", phone=f"+7916{buyer:07d}", email=f"b{buyer}@example.com"
        ),
        items=[ItemDraft(sku="A", name="A", quantity=1, unit_price=1999)],
        payment_method="card",
        delivery_method="post",
        delivery_address=f"Street {index}, flat {index % 97}",
        external_id=f"ext-{index}",
    )


async def measure(backend: str, url: str, n_orders: int) -> list[str]:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    rows = []
    try:
        sessions = create_session_factory(engine)
        clock, workflows = SystemClock(), WorkflowStore()
        orders = OrderService(OrderWork(sessions, clock, workflows))
        shops = ShopService(sessions, clock, workflows)
        dialog = DialogService(sessions, clock)
        personal = PersonalData(sessions, clock, workflows)
        created = await shops.create_shop(name="Bench", owner_telegram_id=1_000_003)
        shop_id = created.shop.id
        async with sessions() as session, session.begin():
            shop = await session.get(Shop, shop_id)
            shop.settings = {**shop.settings, "personal_data_retention_days": 90}
        ids = []
        for index in range(n_orders + FORGET):
            # the last FORGET orders share one buyer (same phone): the request to forget
            buyer = min(index, n_orders)
            [order] = await orders.create_orders(
                shop_id, draft(index, buyer), ActorRef.system(Channel.API), source="api"
            )
            await dialog.from_email_to_orders([order.id], sender="x@example.com", text="Hello")
            ids.append(order.id)
        old = clock.now() - timedelta(days=100)
        async with sessions() as session, session.begin():
            await session.execute(
                update(Order)
                .where(Order.id.in_(ids[:n_orders]))
                .values(status="cancelled", status_changed_at=old)
            )
        started = time.perf_counter()
        erased = await personal.erase_expired()
        sweep = time.perf_counter() - started
        assert erased == n_orders, erased
        started = time.perf_counter()
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE orders SET delivery_address = '' WHERE id <= :last"),
                {"last": ids[n_orders - 1]},
            )
        floor = time.perf_counter() - started
        rows.append(
            f"| {backend} | retention sweep, {n_orders} closed orders | {sweep:.2f} s "
            f"({n_orders / sweep:.0f} orders/s) | {floor * 1000:.0f} ms (one bare UPDATE) |"
        )
        started = time.perf_counter()
        report = await personal.forget(shop_id, phone=f"+7916{n_orders:07d}", force=True)
        forget = time.perf_counter() - started
        assert report.erased and len(report.orders) == FORGET
        rows.append(
            f"| {backend} | forget one buyer with {FORGET} orders | {forget * 1000:.0f} ms | - |"
        )
        if backend == "SQLite":
            database = Path(make_url(url).database)
            target = database.with_name("backup.db")
            started = time.perf_counter()
            made = await asyncio.to_thread(backup_sqlite, url, target)
            took = time.perf_counter() - started
            started = time.perf_counter()
            shutil.copyfile(database, database.with_name("copy.db"))
            copy = time.perf_counter() - started
            mb = made.size / 1e6
            rows.append(
                f"| {backend} | backup of {mb:.1f} MB | {took * 1000:.0f} ms "
                f"({mb / took:.0f} MB/s, integrity check included) | "
                f"{copy * 1000:.0f} ms (copying the file) |"
            )
    finally:
        await engine.dispose()
    return rows


async def main(n_orders: int) -> None:
    print("| database | job | took | floor |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as directory:
        for row in await measure("SQLite", f"sqlite+aiosqlite:///{directory}/b.db", n_orders):
            print(row)
    server = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    name = f"shopbot_bench_{secrets.token_hex(4)}"
    admin = create_async_engine(
        make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # no server: SQLite only
        print(f"(PostgreSQL skipped: {error.__class__.__name__})")
        await admin.dispose()
        return
    try:
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        for row in await measure("PostgreSQL", url, n_orders):
            print(row)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    asyncio.run(main(parser.parse_args().orders))
