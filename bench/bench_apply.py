"""How many order transitions per second `OrderService.apply` takes, against a floor.

For each backend (SQLite file database in WAL mode in a temporary directory; PostgreSQL in a
fresh database `shopbot_bench_<random>` created from TEST_POSTGRES_URL and dropped at the end):

1. migrate with storage.migrate.upgrade and build the services as bot/container.py does;
2. create a shop with the `marketplace` preset and the orders (one in-stock item, card, post,
   a buyer with an e-mail address), created through the storefront API path;
3. warm up, then time the floor: a bare one-row `UPDATE bench_floor SET n = n + 1 WHERE id = 1`,
   one transaction per update, through the same engine (storage.database.create_engine);
4. time `apply` for every order, sequentially: `confirm` as the owner, then `mark_paid`
   (which chains automatically to preparing_shipment). Each apply call counts as one transition;
5. then as many orders again side by side with the floor, order by order (its two applies, two
   floor updates, the next order's...): the ratio of the time spent in each, without the
   machine's drift between the blocks of 3 and 4 (printed under the table).

On SQLite it also counts thread hops (calls onto aiosqlite's connection thread) per apply and
per floor update; `--sqlite-adapter both` measures SQLAlchemy's stock aiosqlite adapter and
storage/sqlite_driver.py's one-hop adapter one after the other in the same process.

The event loop's lag during the timed applies (bench/loop_lag.py: how late a 5 ms timer on
the same loop wakes up) is printed beside them: p99 and max in ms.

Prints a Markdown table. Run: `.venv/bin/python bench/bench_apply.py` (or `make bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.orders.actors import ActorRef, Channel
from services.orders.drafts import BuyerDraft, ItemDraft, OrderDraft
from services.orders.service import OrderService
from services.orders.work import OrderWork
from services.shops.service import ShopService
from services.time.clock import SystemClock
from services.workflow.store import WorkflowStore
from storage.database import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import Order

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.hops import HopCounter
from bench.loop_lag import TARGET_P99_MS, LagReport, LoopLag
from bot import heap

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
TARGET_RATE = 400  # transitions/s on each backend (issue 15)
TARGET_RATIO = 3.0  # apply within this factor of the bare update (issue 15)
FINAL_STATUS = "preparing_shipment"


@dataclass
class Result:
    backend: str
    transitions: int
    apply_seconds: float
    updates: int
    floor_seconds: float
    apply_statements: int = 0  # round trips during the timed applies (BEGIN/COMMIT not counted)
    apply_cpu: float = 0.0  # process CPU seconds (all threads) during the timed applies
    floor_cpu: float = 0.0
    apply_hops: int = 0  # calls onto aiosqlite's connection thread (SQLite only)
    floor_hops: int = 0
    lag: LagReport | None = None  # the event loop's lag during the timed applies
    # The same, then taken side by side: an order's two applies, its two floor updates, the
    # next order's... (seconds of each in all): the ratio without the machine's drift.
    side_apply_seconds: float = 0.0
    side_floor_seconds: float = 0.0

    @property
    def apply_rate(self) -> float:
        return self.transitions / self.apply_seconds

    @property
    def floor_rate(self) -> float:
        return self.updates / self.floor_seconds

    @property
    def ratio(self) -> float:
        return self.floor_rate / self.apply_rate

    @property
    def side_ratio(self) -> float | None:
        if not self.side_floor_seconds:
            return None
        return self.side_apply_seconds / self.side_floor_seconds


def draft(index: int) -> OrderDraft:
    return OrderDraft(
        buyer=BuyerDraft(name="Bench Buyer", email="buyer@example.com", language="en"),
        items=[ItemDraft(sku=f"SKU-{index % 50}", name="Bench item", quantity=1, unit_price=1999)],
        payment_method="card",
        delivery_method="post",
        delivery_address="1 Bench Street",
    )


async def make_orders(orders: OrderService, shop_id: int, count: int) -> list[int]:
    ids = []
    for index in range(count):
        created = await orders.create_orders(
            shop_id, draft(index), ActorRef.system(Channel.API), source="api"
        )
        ids.extend(order.id for order in created)
    return ids


async def apply_all(orders: OrderService, owner: ActorRef, order_ids: list[int]) -> int:
    transitions = 0
    for order_id in order_ids:
        await orders.apply(order_id, owner, "confirm")
        result = await orders.apply(order_id, owner, "mark_paid")
        if result.order.status != FINAL_STATUS:
            raise RuntimeError(f"order {order_id} ended in {result.order.status!r}")
        transitions += 2
    return transitions


async def side_by_side(
    orders: OrderService, owner: ActorRef, engine: AsyncEngine, order_ids: list[int]
) -> tuple[float, float]:
    """Each order's two applies, then two floor updates, and on: the seconds spent in each.
    This machine drifts by tens of percent within seconds; measured side by side both see
    the same machine."""
    applying = flooring = 0.0
    for order_id in order_ids:
        started = time.perf_counter()
        await apply_all(orders, owner, [order_id])
        middle = time.perf_counter()
        await floor_updates(engine, 2)
        applying, flooring = applying + middle - started, flooring + time.perf_counter() - middle
    return applying, flooring


async def floor_updates(engine: AsyncEngine, count: int) -> None:
    statement = text("UPDATE bench_floor SET n = n + 1 WHERE id = 1")
    for _ in range(count):
        async with engine.begin() as connection:
            await connection.execute(statement)


async def measure(
    backend: str, url: str, n_orders: int, warmup_orders: int, one_hop: bool | None = None
) -> Result:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url, one_hop=one_hop)
    try:
        sessions = create_session_factory(engine)
        clock = SystemClock()
        workflows = WorkflowStore()
        orders = OrderService(OrderWork(sessions, clock, workflows))
        shops = ShopService(sessions, clock, workflows)

        async with engine.begin() as connection:
            await connection.execute(
                text("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
            )
            await connection.execute(text("INSERT INTO bench_floor (id, n) VALUES (1, 0)"))

        created = await shops.create_shop(
            name="Bench shop", owner_telegram_id=1_000_001, preset="marketplace"
        )
        owner = ActorRef.user(created.owner.id)
        shop_id = created.shop.id
        warm_ids = await make_orders(orders, shop_id, warmup_orders)
        order_ids = await make_orders(orders, shop_id, n_orders)
        side_ids = await make_orders(orders, shop_id, n_orders)

        # Warm up: connections in the pool, the workflow cache, the statement caches.
        await floor_updates(engine, 2 * warmup_orders)
        await apply_all(orders, owner, warm_ids)
        heap.settle()  # the heap built so far out of full collections, as the bot's (bot/heap.py)

        updates = 2 * n_orders
        with HopCounter() as floor_hops:
            cpu = time.process_time()
            started = time.perf_counter()
            await floor_updates(engine, updates)
            floor_seconds = time.perf_counter() - started
            floor_cpu = time.process_time() - cpu

        statements = 0

        def count(*_args) -> None:
            nonlocal statements
            statements += 1

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        with HopCounter() as apply_hops:
            async with LoopLag() as lag:
                cpu = time.process_time()
                started = time.perf_counter()
                transitions = await apply_all(orders, owner, order_ids)
                apply_seconds = time.perf_counter() - started
                apply_cpu = time.process_time() - cpu
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        side_apply, side_floor = await side_by_side(orders, owner, engine, side_ids)

        async with sessions() as session:
            done = await session.scalar(
                select(func.count()).select_from(Order).where(Order.status == FINAL_STATUS)
            )
            floor_n = (await session.execute(text("SELECT n FROM bench_floor"))).scalar_one()
        if (
            done != 2 * n_orders + warmup_orders
            or floor_n != 2 * (warmup_orders + n_orders) + updates
        ):
            raise RuntimeError(f"{backend}: {done} orders finished, floor counter {floor_n}")
        return Result(
            backend,
            transitions,
            apply_seconds,
            updates,
            floor_seconds,
            statements,
            apply_cpu,
            floor_cpu,
            apply_hops.hops,
            floor_hops.hops,
            lag.report(),
            side_apply,
            side_floor,
        )
    finally:
        await engine.dispose()


async def run_sqlite(n_orders: int, warmup_orders: int, one_hop: bool | None = None) -> Result:
    adapter = {None: "", True: ", one hop", False: ", stock aiosqlite"}[one_hop]
    with tempfile.TemporaryDirectory(prefix="shopbot-bench-") as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        return await measure(f"SQLite (file, WAL{adapter})", url, n_orders, warmup_orders, one_hop)


async def postgres_version(admin: AsyncEngine) -> str:
    async with admin.connect() as connection:
        return (await connection.execute(text("SHOW server_version"))).scalar_one()


async def run_postgres(admin_url: str, n_orders: int, warmup_orders: int) -> Result:
    name = f"shopbot_bench_{secrets.token_hex(4)}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        version = await postgres_version(admin)
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            return await measure(f"PostgreSQL {version}", url, n_orders, warmup_orders)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def table(results: list[Result]) -> str:
    lines = [
        "| backend | apply calls | transitions/s | floor updates | floor updates/s | floor/apply "
        "| statements/apply | CPU ms/apply | CPU ms/floor update "
        "| hops/apply | hops/floor update | loop lag p99 / max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        hops = (
            f"{r.apply_hops / r.transitions:.1f} | {r.floor_hops / r.updates:.1f}"
            if r.apply_hops
            else "- | -"
        )
        lines.append(
            f"| {r.backend} | {r.transitions} | {r.apply_rate:,.0f} | {r.updates} "
            f"| {r.floor_rate:,.0f} | {r.ratio:.1f}x | {r.apply_statements / r.transitions:.1f} "
            f"| {r.apply_cpu / r.transitions * 1000:.2f} | {r.floor_cpu / r.updates * 1000:.2f} "
            f"| {hops} | {r.lag.cells() if r.lag else '-'} |"
        )
    return "\n".join(lines)


def verdict(results: list[Result]) -> str:
    lines = []
    for r in results:
        rate_ok = r.apply_rate >= TARGET_RATE
        ratio_ok = r.ratio <= TARGET_RATIO
        lines.append(
            f"- {r.backend}: {r.apply_rate:,.0f} transitions/s "
            f"({'meets' if rate_ok else 'misses'} >= {TARGET_RATE}/s), "
            f"{r.ratio:.1f}x the floor ({'meets' if ratio_ok else 'misses'} <= {TARGET_RATIO:g}x)"
        )
        if r.side_ratio is not None:
            lines.append(f"  side by side, order by order: {r.side_ratio:.1f}x the floor")
        if r.lag:
            lines.append(
                f"  loop lag p99 {r.lag.p99_ms:.1f} ms "
                f"({'meets' if r.lag.met else 'misses'} <= {TARGET_P99_MS:g} ms)"
            )
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--orders",
        type=int,
        default=250,
        help="orders to take through confirm + mark_paid (2 applies each)",
    )
    parser.add_argument("--warmup", type=int, default=20, help="orders used to warm up")
    parser.add_argument("--backend", choices=("all", "sqlite", "postgres"), default="all")
    parser.add_argument(
        "--sqlite-adapter",
        choices=("default", "both"),
        default="default",
        help="both: SQLAlchemy's stock aiosqlite adapter, then the one-hop one, in this process",
    )
    args = parser.parse_args()
    postgres_url = os.environ.get("TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL

    print(
        f"python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, {platform.platform()}",
        file=sys.stderr,
    )
    results = []
    failures = []
    if args.backend in ("all", "sqlite"):
        if args.sqlite_adapter == "both":
            results.append(await run_sqlite(args.orders, args.warmup, one_hop=False))
            results.append(await run_sqlite(args.orders, args.warmup, one_hop=True))
        else:
            results.append(await run_sqlite(args.orders, args.warmup))
    if args.backend in ("all", "postgres"):
        try:
            results.append(await run_postgres(postgres_url, args.orders, args.warmup))
        except (OSError, OperationalError, InterfaceError) as error:
            safe = make_url(postgres_url).render_as_string(hide_password=True)
            failures.append(f"PostgreSQL at {safe} is unreachable: {error}")
    print(table(results))
    print()
    print(verdict(results))
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
