"""The Mini App's table and board (K1), timed on a shop with 100,000 orders.

The shop and its orders come from bench/seeding.py (one real order, cloned with plain SQL);
the copies are then spread over time (newest ids newest, 30 s apart: about five weeks) and
over statuses as a shop's history looks: all but the newest 2,000 closed (received, every
tenth cancelled), the newest 2,000 open across four statuses (awaiting confirmation,
awaiting payment, preparing for shipment, shipped).

The bot's web server (the real app: /app with initData checked on every request) serves on
loopback; one client asks one request at a time, after a warm-up:
  - the table's first page as the owner opens it (open orders, newest first, 50 rows, with
    the count of matching orders): GET /app/api/orders
  - the same for every order ("all"), and a search by phone digits
  - the board: GET /app/api/board (2,000 open orders, 100 cards per column drawn)
  - the floors: GET /healthz, and GET /app/api/me (the same initData check, one read).
Times are the server's (its access-log time: from the request read to the answer sent), and
the client's round trip beside them.

Run: .venv/bin/python bench/bench_desk.py [--orders 100000] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiohttp.abc import AbstractAccessLogger  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bench.seeding import seed_orders  # noqa: E402
from bot.container import build_container  # noqa: E402
from bot.sandbox.webapp import sign_init_data  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.web import build_mini_app, build_web_app  # noqa: E402
from services.messaging.email.links import LinkSigner  # noqa: E402
from storage.database import create_engine  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from storage.models import Order, User  # noqa: E402

POSTGRES = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
TOKEN = "424242:BENCH-DESK"
OPEN = 2_000
OPEN_STATUSES = ("awaiting_confirmation", "awaiting_payment", "preparing_shipment", "shipped")
SERVER_TIMES: dict[str, list[float]] = {}


class Timing(AbstractAccessLogger):
    """The server's own time per request, by path (what the access log would print)."""

    def log(self, request, response, time: float) -> None:
        SERVER_TIMES.setdefault(request.path, []).append(time)


def spread_sql(dialect: str) -> list[str]:
    """Statements that date the copies and give them their statuses (see the docstring)."""
    if dialect == "postgresql":
        created = "now() - (m.top - orders.id) * interval '30 seconds'"
        frm = "FROM (SELECT max(id) AS top FROM orders) AS m"
        return [
            f"UPDATE orders SET created_at = {created}, status_changed_at = {created} {frm}",
            "UPDATE orders SET status = CASE WHEN id % 10 = 0 THEN 'cancelled' ELSE 'received' END"
            f" WHERE id <= (SELECT max(id) FROM orders) - {OPEN}",
            "UPDATE orders SET status = (ARRAY['"
            + "','".join(OPEN_STATUSES)
            + f"'])[id % 4 + 1] WHERE id > (SELECT max(id) FROM orders) - {OPEN}",
        ]
    created = (
        "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (((SELECT max(id) FROM orders) - id) * 30)"
        " || ' seconds') || '000'"
    )
    cases = " ".join(f"WHEN {n} THEN '{s}'" for n, s in enumerate(OPEN_STATUSES))
    return [
        f"UPDATE orders SET created_at = {created}, status_changed_at = {created}",
        "UPDATE orders SET status = CASE WHEN id % 10 = 0 THEN 'cancelled' ELSE 'received' END"
        f" WHERE id <= (SELECT max(id) FROM orders) - {OPEN}",
        f"UPDATE orders SET status = CASE id % 4 {cases} END"
        f" WHERE id > (SELECT max(id) FROM orders) - {OPEN}",
    ]


async def prepare(url: str, orders: int) -> int:
    """Seed and spread; returns the owner's Telegram id."""
    await upgrade_async(url)
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        await seed_orders(engine, orders=orders, due=0, now=datetime.now(UTC))
        async with engine.begin() as connection:
            for statement in spread_sql(engine.dialect.name):
                await connection.execute(text(statement))
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text("VACUUM ANALYZE"))
        else:
            async with engine.begin() as connection:
                await connection.execute(text("ANALYZE"))
        async with engine.connect() as connection:
            count = await connection.scalar(select(func.count()).select_from(Order))
            owner = await connection.scalar(select(User.telegram_id).order_by(User.id).limit(1))
        print(f"  seeded {count:,} orders in {time.perf_counter() - started:.0f} s", flush=True)
        return owner
    finally:
        await engine.dispose()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure(url: str, owner: int, requests: int, board_requests: int) -> list[tuple]:
    settings = Settings(_env_file=None, database_url=url, bot_token=TOKEN)
    container = build_container(settings)
    app = build_web_app(
        container,
        LinkSigner("bench"),
        bot_username=None,
        subapps={"/app": build_mini_app(container)},
    )
    runner = aiohttp.web.AppRunner(app, access_log_class=Timing)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    user = json.dumps({"id": owner, "first_name": "Owner", "language_code": "ru"})
    init = sign_init_data(TOKEN, {"auth_date": str(int(time.time())), "user": user})
    headers = {"Authorization": "tma " + init}
    cases = [
        ("floor: GET /healthz", "/healthz", requests),
        ("floor: GET /app/api/me (initData checked, one read)", "/app/api/me", requests),
        ("table, first page (open orders)", "/app/api/orders", requests),
        ("table, first page (all orders)", "/app/api/orders?view=all", requests),
        ("table, search by phone digits", "/app/api/orders?view=all&q=5550011", requests),
        ("board (2,000 open orders)", "/app/api/board", board_requests),
    ]
    results = []
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", headers=headers) as client:
            for label, path, count in cases:
                SERVER_TIMES.clear()
                for _ in range(max(5, count // 10)):  # warm-up
                    async with client.get(path) as response:
                        assert response.status == 200, await response.text()
                        await response.read()
                SERVER_TIMES.clear()
                trips = []
                for _ in range(count):
                    started = time.perf_counter()
                    async with client.get(path) as response:
                        body = await response.read()
                        assert response.status == 200
                    trips.append(time.perf_counter() - started)
                server = SERVER_TIMES[path.split("?")[0]]
                results.append(
                    (
                        label,
                        count,
                        len(body),
                        percentile(server, 0.5),
                        percentile(server, 0.95),
                        statistics.mean(trips),
                    )
                )
    finally:
        await runner.cleanup()
        await container.close()
    return results


async def run_backend(name: str, orders: int, requests: int, board_requests: int) -> None:
    if name == "sqlite":
        directory = tempfile.mkdtemp(prefix="bench_desk_")
        url = f"sqlite+aiosqlite:///{directory}/desk.db"

        async def drop() -> None:
            shutil.rmtree(directory, ignore_errors=True)

    else:
        database = f"shopbot_bench_{uuid.uuid4().hex[:8]}"
        admin = create_async_engine(
            make_url(POSTGRES).set(database="postgres"), isolation_level="AUTOCOMMIT"
        )
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{database}"'))
        url = make_url(POSTGRES).set(database=database).render_as_string(hide_password=False)

        async def drop() -> None:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE "{database}" WITH (FORCE)'))
            await admin.dispose()

    print(f"{name}:", flush=True)
    try:
        owner = await prepare(url, orders)
        rows = await measure(url, owner, requests, board_requests)
    finally:
        await drop()
    floor = rows[1][4]  # an authenticated request that reads one row
    print(
        f"| {name} | request | n | answer bytes | server p50 ms | server p95 ms | p95 / floor"
        " | round trip mean ms |"
    )
    for label, count, size, p50, p95, trip in rows:
        print(
            f"| {name} | {label} | {count} | {size:,} | {p50 * 1000:.1f} | {p95 * 1000:.1f} | "
            f"{p95 / floor:.0f}x | {trip * 1000:.1f} |",
            flush=True,
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--board-requests", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    print(f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}")
    for backend in args.backends.split(","):
        await run_backend(backend, args.orders, args.requests, args.board_requests)


if __name__ == "__main__":
    asyncio.run(main())
