"""The shop's own workflow (issue 16): an edit, an edit + save, and moving N open orders
(bench/RESULTS.md).

SQLite file database (PostgreSQL too with --postgres, on TEST_POSTGRES_URL). One marketplace
shop with N open orders (card, post; confirmed, so they wait in "awaiting payment"). Timed:
- `change` (one rename into the draft) and `change` + `save` (a new version, validated), p50
  and p99 over R rounds;
- `move_open_orders`: all N orders to the newest version, in one transaction; beside it, the
  same N orders taken through one `apply` each (`mark_paid`), as the floor a per-order change
  costs on the same database.

Run: `.venv/bin/python bench/bench_workflow_edit.py [--orders 1000] [--rounds 50] [--postgres]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.orders.actors import ActorRef, Channel  # noqa: E402
from services.orders.drafts import BuyerDraft, ItemDraft, OrderDraft  # noqa: E402
from services.orders.service import OrderService  # noqa: E402
from services.orders.work import OrderWork  # noqa: E402
from services.shops.service import ShopService  # noqa: E402
from services.time.clock import SystemClock  # noqa: E402
from services.workflow.editing import WorkflowEditor  # noqa: E402
from services.workflow.store import WorkflowStore  # noqa: E402
from storage.database import create_engine, create_session_factory  # noqa: E402
from storage.migrate import upgrade  # noqa: E402


def draft(n: int) -> OrderDraft:
    return OrderDraft(
        buyer=BuyerDraft(name=f"Buyer {n}", phone=f"+7916{n:07d}", email=None, language="ru"),
        items=[ItemDraft("CAT-1", "Cat house", 1, 150_000, "in_stock")],
        payment_method="card",
        delivery_method="post",
        delivery_address="Moscow",
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(url: str, label: str, count: int, rounds: int) -> None:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url, pool_size=10)
    sessions = create_session_factory(engine)
    clock, workflows = SystemClock(), WorkflowStore()
    orders = OrderService(OrderWork(sessions, clock, workflows))
    shops = ShopService(sessions, clock, workflows)
    editor = WorkflowEditor(sessions, clock, workflows, orders)
    created = await shops.create_shop(name="Bench", owner_telegram_id=1, preset="marketplace")
    shop_id, owner = created.shop.id, created.owner.id
    manager = ActorRef.user((await shops.add_staff(shop_id, 2, "manager")).id)
    ids = []
    for n in range(count):
        [order] = await orders.create_orders(
            shop_id, draft(n), ActorRef.system(Channel.API), source="api"
        )
        await orders.apply(order.id, manager, "confirm")
        ids.append(order.id)

    edits, saves = [], []
    for n in range(rounds):
        started = time.perf_counter()
        await editor.change(shop_id, owner, "rename_status", "paid", "en", f"Paid {n}")
        edits.append(time.perf_counter() - started)
        started = time.perf_counter()
        await editor.change(shop_id, owner, "rename_status", "paid", "uk", f"Оплачено {n}")
        await editor.save(shop_id, owner)
        saves.append(time.perf_counter() - started)

    started = time.perf_counter()
    moved = await editor.move_open_orders(shop_id, owner)
    move_seconds = time.perf_counter() - started
    assert moved == count, moved

    started = time.perf_counter()
    for order_id in ids:
        await orders.apply(order_id, manager, "mark_paid")
    apply_seconds = time.perf_counter() - started
    await engine.dispose()

    ms = 1000
    print(f"## {label}: {count} open orders, {rounds} rounds")
    print(
        f"edit (one rename into the draft): p50 {percentile(edits, 0.5) * ms:.1f} ms, "
        f"p99 {percentile(edits, 0.99) * ms:.1f} ms"
    )
    print(
        f"edit + save (a new version):      p50 {percentile(saves, 0.5) * ms:.1f} ms, "
        f"p99 {percentile(saves, 0.99) * ms:.1f} ms"
    )
    print(
        f"move {count} open orders: {move_seconds:.2f} s, "
        f"{move_seconds / count * ms:.2f} ms per order"
    )
    print(
        f"floor, {count} x apply(mark_paid): {apply_seconds:.2f} s, "
        f"{apply_seconds / count * ms:.2f} ms per order; move/floor "
        f"{move_seconds / apply_seconds:.2f}x"
    )


async def postgres_run(count: int, rounds: int) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    base = os.environ.get(
        "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    name = f"shopbot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
        await run(url, "PostgreSQL", count, rounds)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="shopbot-bench-"))
    url = f"sqlite+aiosqlite:///{folder}/bench.db"
    asyncio.run(run(url, "SQLite (file, WAL)", args.orders, args.rounds))
    if args.postgres:
        asyncio.run(postgres_run(args.orders, args.rounds))


if __name__ == "__main__":
    main()
