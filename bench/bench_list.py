"""`GET /api/v1/orders`: a page of 100 orders out of 100,000, over HTTP on loopback (H4).

The database holds one shop with 100,000 orders (bench/seeding.py: one real order cloned in
bulk). The bot's web app with the storefront API runs in this process on a real port; an
aiohttp client asks, one request at a time, for:
- the first page (`?limit=100`),
- a page deep in the list (`?limit=100&cursor=...` from the middle),
- a filtered page (`?status=awaiting_payment&created_from=...&limit=100`).
Each is timed end to end (p50, p95, p99 over `--requests` requests after a warm-up).

Beside them, the floors measured in the same run: the same page's SELECT alone through the
engine (`... ORDER BY number DESC LIMIT 101`: what the database costs), and a bare aiohttp
handler on the same loop answering a canned 100-order JSON body of the same size (what HTTP
and JSON cost). The API's time is roughly the two added, plus the token check, the workflow
titles and the rendering of 100 orders.

Run: `.venv/bin/python bench/bench_list.py [--orders 100000] [--requests 300]`; PostgreSQL
runs on TEST_POSTGRES_URL's server (or the local one) in a database made and dropped here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bench.seeding import seed_orders  # noqa: E402
from bot.container import build_container  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.web import build_api_app, build_web_app, start_web  # noqa: E402
from handlers.http.api.order_list import encode_cursor  # noqa: E402
from services.messaging.email.links import LinkSigner  # noqa: E402
from services.time.clock import FrozenClock  # noqa: E402
from storage.database import create_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Order, Shop  # noqa: E402

POSTGRES = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WARMUP = 30
PAGE = 100


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(label: str, times: list[float]) -> dict:
    ms = [t * 1000 for t in times]
    return {
        "what": label,
        "p50": statistics.median(ms),
        "p95": percentile(ms, 0.95),
        "p99": percentile(ms, 0.99),
    }


async def timed(call, count: int) -> list[float]:
    for _ in range(WARMUP):
        await call()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return times


async def measure(backend: str, url: str, orders: int, requests: int) -> list[dict]:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    started = time.perf_counter()
    try:
        await seed_orders(engine, orders=orders, due=0, now=NOW)
    finally:
        await engine.dispose()
    print(
        f"  {backend}: seeded {orders:,} in {time.perf_counter() - started:.0f} s", file=sys.stderr
    )
    settings = Settings(_env_file=None, database_url=url, api_rate_limit=0, secret_key="bench")
    container = build_container(settings, clock=FrozenClock(NOW))
    async with container.sessions() as session:
        shop_id = await session.scalar(select(Shop.id))
        middle = await session.scalar(
            select(Order.number)
            .where(Order.shop_id == shop_id)
            .order_by(Order.number.desc())
            .offset(orders // 2)
            .limit(1)
        )
    token = (await container.api_tokens.create(shop_id, "bench")).token
    app = build_web_app(
        container,
        LinkSigner("bench"),
        bot_username="bench_bot",
        subapps={"/api": build_api_app(container, bot_username="bench_bot")},
    )
    runner = await start_web(app, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}/api/v1/orders"
    headers = {"Authorization": f"Bearer {token}"}
    results = []
    try:
        async with aiohttp.ClientSession() as client:
            sample: dict = {}

            async def get(query: str):
                async with client.get(base + query, headers=headers) as response:
                    assert response.status == 200, await response.text()
                    body = await response.json()
                    assert len(body["orders"]) == PAGE, len(body["orders"])
                    sample["body"] = body

            since = (NOW - timedelta(days=400)).isoformat().replace("+00:00", "Z")
            for label, query in (
                ("API: first page", f"?limit={PAGE}"),
                ("API: a page in the middle", f"?limit={PAGE}&cursor={encode_cursor(middle)}"),
                (
                    "API: filtered (status, created_from)",
                    f"?limit={PAGE}&status=awaiting_payment&created_from={since}",
                ),
            ):
                results.append(summary(label, await timed(lambda q=query: get(q), requests)))

            # Floor 1: the page's SELECT alone.
            async def select_page():
                async with container.sessions() as session:
                    rows = (
                        await session.execute(
                            select(Order.id, Order.number, Order.status, Order.total)
                            .where(Order.shop_id == shop_id)
                            .order_by(Order.number.desc())
                            .limit(PAGE + 1)
                        )
                    ).all()
                    assert len(rows) == PAGE + 1

            results.append(summary("floor: the SELECT alone", await timed(select_page, requests)))

            # Floor 2: HTTP and JSON alone, the same body from a bare handler.
            canned = json.dumps(sample["body"]).encode()

            async def bare(_request: web.Request) -> web.Response:
                return web.Response(body=canned, content_type="application/json")

            floor_app = web.Application()
            floor_app.router.add_get("/bare", bare)
            floor_runner = web.AppRunner(floor_app, access_log=None)
            await floor_runner.setup()
            await web.TCPSite(floor_runner, "127.0.0.1", 0).start()
            floor_url = f"http://127.0.0.1:{floor_runner.addresses[0][1]}/bare"

            async def get_bare():
                async with client.get(floor_url) as response:
                    await response.json()

            try:
                results.append(
                    summary("floor: bare aiohttp, same JSON", await timed(get_bare, requests))
                )
            finally:
                await floor_runner.cleanup()
    finally:
        await runner.cleanup()
        await container.close()
    for row in results:
        row["backend"] = backend
    return results


async def run_sqlite(orders: int, requests: int) -> list[dict]:
    import sqlite3

    with tempfile.TemporaryDirectory(prefix="shopbot-bench-") as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'list.db'}"
        return await measure(f"SQLite {sqlite3.sqlite_version}", url, orders, requests)


async def run_postgres(orders: int, requests: int) -> list[dict]:
    admin = create_async_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    name = f"shopbot_bench_{secrets.token_hex(4)}"
    try:
        async with admin.connect() as connection:
            version = (await connection.execute(text("SHOW server_version"))).scalar_one()
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
        return await measure(f"PostgreSQL {version.split()[0]}", url, orders, requests)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    results = await run_sqlite(args.orders, args.requests)
    if not args.no_postgres:
        try:
            results += await run_postgres(args.orders, args.requests)
        except OSError as error:
            print(f"PostgreSQL skipped: {error}", file=sys.stderr)
    print(f"\n{PAGE} orders of {args.orders:,}, {args.requests} requests each, one at a time\n")
    print("| backend | what | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---:|---:|---:|")
    for row in results:
        print(
            f"| {row['backend']} | {row['what']} | {row['p50']:.1f} | {row['p95']:.1f} "
            f"| {row['p99']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
