"""Tracking sweep cost: 1,000 parcels due among 10,000 and 100,000 followed (issue 18).

The target: the sweep's time is flat from 10^4 to 10^5 parcels followed (it claims the due
ones through ix_parcel_trackings_due), and the carriers are asked as few times as their
batches allow. For each backend (SQLite: a WAL file database in a temporary directory;
PostgreSQL: a fresh database `shopbot_bench_<random>` created from --postgres-url, default
TEST_POSTGRES_URL or the local server, dropped at the end) and each size:

1. migrate; seed 1,000 orders with bench.seeding.seed_orders (real orders of the
   `marketplace` preset, cloned); the shop gets an account at each of the four carriers;
2. SIZE parcel_trackings rows with plain inserts, spread over the four carriers and the
   1,000 orders; exactly 1,000 of them (one per order) due a minute before NOW, the others
   due a day later; then PostgreSQL `VACUUM ANALYZE` / SQLite `ANALYZE`;
3. timed: ONE `TrackingSweep.run_once()` with its defaults at NOW. The carriers are
   in-process stand-ins with the real adapters' `max_batch` (Russian Post 1, CDEK 1,
   Boxberry 1, Nova Poshta 100 codes a request) and no pacing (`min_interval` 0), that
   answer each code with one new "in transit" checkpoint and count the requests the real
   adapter would make; so the figure is ShopBot's own cost (claim, credentials, recording
   checkpoints, rescheduling), not the carriers' latency or their rate limits;
4. then REPEAT - 1 more sweeps of the same 1,000 parcels (made due again, each answered
   with a newer checkpoint), timed ("repeats s"): on a shared machine their spread shows
   the noise;
5. checked: 1,000 parcels asked about, a checkpoint recorded per parcel and sweep, every
   parcel due again in the future, none claimed.

Prints a Markdown table. Run: `.venv/bin/python bench/bench_tracking.py [--sqlite-only]`.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

if __package__ in (None, ""):  # run as a script: the checkout holds `bench`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.seeding import seed_orders
from services.carriers.adapters import ADAPTERS
from services.carriers.base import Checkpoint, EventKind, Tracking
from services.deliveries.accounts import CarrierAccounts
from services.deliveries.sweep import TrackingSweep
from services.orders.service import OrderService
from services.orders.work import OrderWork
from services.outside.vault import Vault
from services.time.clock import FrozenClock
from services.workflow.store import WorkflowStore
from storage.database import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import CarrierAccount, Order, ParcelCheckpoint, ParcelTracking

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
SIZES = (10_000, 100_000)
DUE = 1_000
REPEAT = 3  # sweeps per size: the first is the figure, the others show the noise
NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
CARRIERS = tuple(ADAPTERS)
# The real adapters' batch sizes (services/carriers/*.py), read from their classes.
BATCHES = {name: ADAPTERS[name].max_batch for name in CARRIERS}


class CountingCarrier:
    """Answers every code with one new "in transit" checkpoint; counts the requests the
    real adapter would have made for the same codes (its `max_batch` per request)."""

    def __init__(self, name: str, round_: int = 0):
        self.name = name
        self.round = round_
        self.max_batch = BATCHES[name]
        self.min_interval = 0.0
        self.credential_fields = ADAPTERS[name].credential_fields
        self.requests = 0
        self.codes = 0

    async def track(self, credentials: Mapping[str, str], codes: Sequence[str]):
        self.requests += math.ceil(len(codes) / self.max_batch)
        self.codes += len(codes)
        at = NOW - timedelta(minutes=30 - self.round)  # a new checkpoint each round
        return {
            code: Tracking(code, (Checkpoint(EventKind.IN_TRANSIT, at, "Hub", "Sorted", "8"),))
            for code in codes
        }

    def valid_code(self, code: str) -> bool:
        return True


@dataclass
class Result:
    backend: str
    parcels: int
    seed_seconds: float
    sweep_seconds: float
    asked: int
    requests: Counter[str]
    repeats: list[float]

    @property
    def per_parcel(self) -> float:
        return sum(self.requests.values()) / self.asked


async def seed_parcels(url: str, parcels: int) -> tuple[float, int]:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    started = time.perf_counter()
    try:
        await seed_orders(engine, orders=DUE, due=0, now=NOW)
        async with engine.begin() as connection:
            order_ids = list(await connection.scalars(select(Order.id).order_by(Order.id)))
            shop_id = await connection.scalar(select(Order.shop_id).limit(1))
            vault = Vault(["bench"])
            await connection.execute(
                insert(CarrierAccount),
                [
                    {
                        "shop_id": shop_id,
                        "carrier": name,
                        "credentials": vault.seal(
                            '{"login": "x", "password": "y", '
                            '"client_id": "x", "client_secret": "y", "token": "x", "api_key": "x"}'
                        ),
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for name in CARRIERS
                ],
            )
        rows = []
        later = NOW + timedelta(days=1)
        for index in range(parcels):
            due = index < DUE
            rows.append(
                {
                    "order_id": order_ids[index % len(order_ids)],
                    "shop_id": shop_id,
                    "carrier": CARRIERS[index % len(CARRIERS)],
                    "track_code": f"BENCH{index:09d}",
                    "state": "active",
                    "due_at": NOW - timedelta(minutes=1) if due else later,
                    "polls": 0,
                    "failures": 0,
                    "moved_at": NOW - timedelta(days=1),
                    "created_at": NOW - timedelta(days=1),
                }
            )
            if len(rows) == 10_000:
                async with engine.begin() as connection:
                    await connection.execute(insert(ParcelTracking), rows)
                rows = []
        if rows:
            async with engine.begin() as connection:
                await connection.execute(insert(ParcelTracking), rows)
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text("VACUUM ANALYZE"))
        else:
            async with engine.begin() as connection:
                await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return time.perf_counter() - started, shop_id


async def sweep_once(backend: str, url: str, parcels: int) -> Result:
    seed_seconds, _shop = await seed_parcels(url, parcels)
    engine = create_engine(url)
    try:
        sessions = create_session_factory(engine)
        clock = FrozenClock(NOW)
        workflows = WorkflowStore()
        orders = OrderService(OrderWork(sessions, clock, workflows))
        carriers = {name: CountingCarrier(name) for name in CARRIERS}
        accounts = CarrierAccounts(sessions, clock, Vault(["bench"]), carriers)
        sweep = TrackingSweep(sessions, clock, orders, accounts, carriers, workflows)
        started = time.perf_counter()
        report = await sweep.run_once()
        seconds = time.perf_counter() - started
        repeats = []
        for round_ in range(1, REPEAT):
            # the same 1,000 due again, their checkpoints seen anew (a later time each round)
            async with engine.begin() as connection:
                await connection.execute(
                    update(ParcelTracking)
                    .where(ParcelTracking.polls > 0)
                    .values(due_at=NOW - timedelta(minutes=1))
                )
            carriers_round = {name: CountingCarrier(name, round_) for name in CARRIERS}
            again = TrackingSweep(sessions, clock, orders, accounts, carriers_round, workflows)
            started = time.perf_counter()
            await again.run_once()
            repeats.append(time.perf_counter() - started)
        async with sessions() as session:
            recorded = await session.scalar(select(func.count()).select_from(ParcelCheckpoint))
            still_due = await session.scalar(
                select(func.count()).select_from(ParcelTracking).where(ParcelTracking.due_at <= NOW)
            )
            claimed = await session.scalar(
                select(func.count())
                .select_from(ParcelTracking)
                .where(ParcelTracking.claimed_until.is_not(None))
            )
        if (report.parcels, recorded, still_due, claimed) != (DUE, DUE * REPEAT, 0, 0):
            raise RuntimeError(
                f"asked {report.parcels}, recorded {recorded}, due {still_due}, claimed {claimed}"
            )
        return Result(
            backend,
            parcels,
            seed_seconds,
            seconds,
            report.parcels,
            Counter({name: c.requests for name, c in carriers.items()}),
            repeats,
        )
    finally:
        await engine.dispose()


async def run_sqlite() -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as directory:
        for size in SIZES:
            url = f"sqlite+aiosqlite:///{directory}/tracking_{size}.db"
            results.append(await sweep_once("SQLite", url, size))
    return results


async def run_postgres(admin_url: str) -> list[Result]:
    results = []
    for size in SIZES:
        name = f"shopbot_bench_{secrets.token_hex(4)}"
        admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            results.append(await sweep_once("PostgreSQL", url, size))
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()
    return results


def table(results: list[Result]) -> str:
    lines = [
        "| backend | parcels followed | due | sweep s | ratio to 10k | repeats s "
        "| requests | per parcel |",
        "|---|---:|---:|---:|---:|---|---|---:|",
    ]
    first: dict[str, float] = {}
    for r in results:
        base = first.setdefault(r.backend, r.sweep_seconds)
        requests = ", ".join(f"{name} {n}" for name, n in sorted(r.requests.items()))
        lines.append(
            f"| {r.backend} | {r.parcels:,} | {r.asked:,} | {r.sweep_seconds:.2f} | "
            f"{r.sweep_seconds / base:.2f} | {', '.join(f'{x:.2f}' for x in r.repeats)} | "
            f"{requests} | {r.per_parcel:.3f} |"
        )
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres-url", default=os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    )
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    results = await run_sqlite()
    if not args.sqlite_only:
        results += await run_postgres(args.postgres_url)
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
