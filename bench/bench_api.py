"""Orders created per second through the storefront API, over HTTP on loopback.

The script starts N server processes itself (bench/api_server.py: the bot's container and
web app with the API at /api), then a concurrent aiohttp client keeps `--concurrency`
requests in flight, spreading them round-robin over the instances as a load balancer would.
Each request is a realistic order (a buyer with phone and e-mail, two lines, courier
delivery) with its own external id and Idempotency-Key, so each makes one order with its
audit event, timers and outbox rows. After a warm-up, it counts the 201s per second and
the latency, and checks the database holds exactly one order per 201.

Beside each scenario: the event loop's lag in the server processes during the timed part
(bench/loop_lag.py, started and stopped in each server through bench/api_server.py's
/bench/lag control; with two instances the worst of the two), p99 and max in ms, against
issue 15's p99 <= 20 ms; and issue 15's targets for the rates.

Scenarios: SQLite with one instance; PostgreSQL (a fresh database on
TEST_POSTGRES_URL's server, dropped afterwards) with one and with two instances.
Run: `.venv/bin/python bench/bench_api.py [--orders 2000] [--concurrency 32]`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bench.loop_lag import TARGET_P99_MS, LagReport  # noqa: E402
from bot.container import build_container  # noqa: E402
from bot.settings import Settings  # noqa: E402
from services.storefront.tokens import ApiTokenService  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from storage.models import Order  # noqa: E402

POSTGRES = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
WARMUP = 100
TARGETS = (  # issue 15
    "targets: SQLite, 1 instance, 32 in flight: >= 150 orders/s, p99 <= 300 ms; "
    "PostgreSQL, 2 instances: >= 250 orders/s; server event-loop lag p99 <= "
    f"{TARGET_P99_MS:g} ms"
)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def order(n: int, run: str) -> dict:
    return {
        "external_id": f"{run}-{n}",
        "buyer": {
            "name": "Ivan Petrov",
            "phone": f"+7916{n % 10_000_000:07d}",
            "email": f"buyer{n}@example.com",
            "language": "ru",
        },
        "items": [
            {"sku": "CAT-BED", "name": "Cat bed", "quantity": 2, "unit_price": "1500.50"},
            {"sku": "BOWL", "name": "Bowl", "quantity": 1, "unit_price": "299.00"},
        ],
        "delivery": {"method": "courier", "address": "Moscow, Tverskaya 1", "cost": "300.00"},
        "payment": {"method": "card"},
    }


async def prepare(database_url: str) -> str:
    """A shop with a token, in a migrated database; returns the token."""
    await upgrade_async(database_url)
    container = build_container(Settings(_env_file=None, database_url=database_url))
    try:
        shop = await container.shops.create_shop(
            name="Bench shop", owner_telegram_id=777, email="shop@example.com"
        )
        made = await ApiTokenService(container.sessions, container.clock).create(
            shop.shop.id, "bench"
        )
        return made.token
    finally:
        await container.close()


async def count_orders(database_url: str) -> int:
    container = build_container(Settings(_env_file=None, database_url=database_url))
    try:
        async with container.sessions() as session:
            return await session.scalar(select(func.count()).select_from(Order))
    finally:
        await container.close()


async def wait_up(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(1200):  # a minute: imports are slow on a busy machine
        try:
            async with session.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def drive(
    urls: list[str], token: str, total: int, concurrency: int, on_start, *, keys: bool = True
) -> dict:
    run = uuid.uuid4().hex[:8]
    numbers = itertools.count()
    targets = itertools.cycle(urls)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        for url in urls:
            await wait_up(session, url)

        async def worker(limit: int, record: bool) -> None:
            while (n := next(numbers)) < limit:
                url = next(targets)
                started = time.perf_counter()
                async with session.post(
                    f"{url}/api/v1/orders",
                    json=order(n, run),
                    headers={**headers, "Idempotency-Key": f"{run}-{n}"} if keys else headers,
                ) as response:
                    await response.read()
                if record:
                    latencies.append(time.perf_counter() - started)
                    statuses[response.status] = statuses.get(response.status, 0) + 1

        await asyncio.gather(*(worker(WARMUP, False) for _ in range(concurrency)))
        numbers = itertools.count(WARMUP)
        for url in urls:  # the servers' loop-lag probes, over the timed part only
            async with session.post(f"{url}/bench/lag/start") as response:
                response.raise_for_status()
        cpu_before = on_start()
        started = time.perf_counter()
        await asyncio.gather(*(worker(WARMUP + total, True) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        lags = []
        for url in urls:
            async with session.post(f"{url}/bench/lag/stop") as response:
                response.raise_for_status()
                lags.append(LagReport.from_dict(await response.json()))
    latencies.sort()
    return {
        "cpu_before": cpu_before,
        "created": statuses.get(201, 0),
        "statuses": statuses,
        "per_second": statuses.get(201, 0) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1000,
        "lag": LagReport.worst(lags),
    }


async def scenario(
    name: str, database_url: str, instances: int, args, *, write_queue: bool = True
) -> dict:
    token = await prepare(database_url)
    ports = [free_port() for _ in range(instances)]
    servers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "bench" / "api_server.py"),
            "--database-url",
            database_url,
            "--port",
            str(port),
            *([] if write_queue else ["--no-write-queue"]),
            cwd=ROOT,
        )
        for port in ports
    ]
    try:
        result = await drive(
            [f"http://127.0.0.1:{port}" for port in ports],
            token,
            args.orders,
            args.concurrency,
            on_start=lambda: [cpu_seconds(server.pid) for server in servers],
            keys=not args.no_keys,
        )
        cpu_before = result.pop("cpu_before")
        cpu_after = [cpu_seconds(server.pid) for server in servers]
        result["server_cpu_ms"] = (
            sum(after - before for after, before in zip(cpu_after, cpu_before, strict=True))
            / result["created"]
            * 1000
        )
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            await asyncio.wait_for(server.wait(), timeout=30)
    stored = await count_orders(database_url)
    assert stored == WARMUP + result["created"], (stored, result)
    result.update(name=name, instances=instances)
    return result


async def admin(statement: str) -> None:
    engine = create_async_engine(make_url(POSTGRES), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def main(args) -> None:
    results = []
    if "sqlite" in args.backends:
        # Side by side: SQLite's busy handler alone, then the writers' FIFO (the default).
        for write_queue in (False, True):
            with tempfile.TemporaryDirectory() as directory:
                url = f"sqlite+aiosqlite:///{directory}/bench.db"
                name = "SQLite, writer FIFO" if write_queue else "SQLite, busy handler only"
                results.append(await scenario(name, url, 1, args, write_queue=write_queue))
    if "postgres" in args.backends:
        for instances in (1, 2):
            name = f"bench_api_{uuid.uuid4().hex[:8]}"
            await admin(f'CREATE DATABASE "{name}"')
            url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
            try:
                results.append(await scenario("PostgreSQL", url, instances, args))
            finally:
                await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    keys = "without" if args.no_keys else "with"
    print(
        f"{args.orders} orders, {args.concurrency} in flight, after {WARMUP} warm-up, "
        f"{keys} Idempotency-Key"
    )
    print(
        "| database | instances | orders/s | p50 ms | p99 ms | server CPU ms/order | answers "
        "| server loop lag p99 / max ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))
        print(
            f"| {r['name']} | {r['instances']} | {r['per_second']:.0f} | {r['p50_ms']:.1f} "
            f"| {r['p99_ms']:.1f} | {r['server_cpu_ms']:.1f} | {answers} "
            f"| {r['lag'].cells()} |"
        )
    print()
    print(TARGETS)
    for r in results:
        print(f"{r['name']}, {r['instances']} instance(s): {r['lag'].line('the timed part')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument(
        "--no-keys", action="store_true", help="send no Idempotency-Key (two transactions fewer)"
    )
    asyncio.run(main(parser.parse_args()))
