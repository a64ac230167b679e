"""What one statement costs through the session and run straight on the driver (storage/direct.py).

Statements of a status change are a millisecond's worth of small pieces; the apply bench's
pairs are too noisy (the machine's speed drifts by 10% within minutes) to show a change of a
few tens of microseconds in one of them. This bench times the pieces themselves, both ways
in turn inside one write transaction of one process, so the drift falls on both alike:

1. a read of five rows (text and numbers, as the ledger's read of an order's entries):
   `session.execute` vs `direct.rows`;
2. an outbox row with two instants written by `direct.execute`: the change's clock reading
   (the same datetime object in every row, as a change writes it) vs an equal instant made
   anew for every row (converted every time).

For each backend: SQLite file database in WAL mode in a temporary directory; PostgreSQL in a
fresh database `shopbot_bench_<random>` from TEST_POSTGRES_URL, dropped at the end. Prints
CPU µs per statement (median of the rounds). Run: `.venv/bin/python bench/bench_direct.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import bindparam, insert, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch_postgres import scratch_database  # noqa: E402
from storage import direct  # noqa: E402
from storage.database import create_engine, create_session_factory  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402

POSTGRES = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
_outbox = OutboxMessage.__table__
_READ = (
    select(_outbox.c.dedupe_key, _outbox.c.topic, _outbox.c.attempts, _outbox.c.state)
    .where(_outbox.c.id <= bindparam("upto"))  # by its key: the rows written next are not read
    .order_by(_outbox.c.id)
)
_INSERT = insert(_outbox)


def row(key: str, at: datetime) -> dict:
    return {
        "dedupe_key": key,
        "channel": "telegram",
        "audience": "shop",
        "topic": "status_changed",
        "payload": {"status": "paid"},
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
    }


async def cpu_us(step: Callable[[int], Awaitable[object]], start: int, count: int) -> float:
    cpu = time.process_time()
    for index in range(start, start + count):
        await step(index)
    return (time.process_time() - cpu) / count * 1e6


async def measure(url: str, rounds: int, per_round: int) -> dict[str, float]:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    now = datetime.now(UTC)
    timings: dict[str, list[float]] = {}
    try:
        async with sessions() as session, session.begin():
            await session.execute(text("SELECT 1"))  # the transaction begun, as a change's load
            for index in range(5):
                await direct.execute(session, _INSERT, row(f"read-{index}", now))
            wanted = {"upto": 5}

            async def through_session(_index: int) -> object:
                return [tuple(r) for r in await session.execute(_READ, wanted)]

            async def here(_index: int) -> object:
                return await direct.rows(session, _READ, wanted)

            async def same_instant(index: int) -> object:
                return await direct.execute(session, _INSERT, row(f"same-{index}", now))

            async def new_instant(index: int) -> object:
                at = now + timedelta(0)  # equal, but another object: converted again
                return await direct.execute(session, _INSERT, row(f"new-{index}", at))

            steps = {
                "read of 5 rows, through the session": through_session,
                "read of 5 rows, direct.rows": here,
                "outbox row, instants made anew": new_instant,
                "outbox row, the change's instant": same_instant,
            }
            for step in steps.values():  # warm: compiled, prepared
                await cpu_us(step, 0, per_round)
            for number in range(1, rounds + 1):
                for name, step in steps.items():
                    took = await cpu_us(step, number * per_round, per_round)
                    timings.setdefault(name, []).append(took)
            await session.rollback()
    finally:
        await engine.dispose()
    return {name: statistics.median(values) for name, values in timings.items()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=500)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    results = {}
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="shopbot-bench-") as folder:
                url = f"sqlite+aiosqlite:///{folder}/bench.db"
                results["SQLite"] = await measure(url, args.rounds, args.per_round)
        else:
            async with scratch_database(POSTGRES) as (url, _version):
                results["PostgreSQL"] = await measure(url, args.rounds, args.per_round)
    print("| statement | " + " | ".join(f"{b} CPU µs" for b in results) + " |")
    print("|---|" + "---:|" * len(results))
    for name in next(iter(results.values())):
        print(f"| {name} | " + " | ".join(f"{r[name]:.1f}" for r in results.values()) + " |")
    print(
        f"\nmedian of {args.rounds} rounds of {args.per_round} statements each way, "
        "interleaved in one write transaction"
    )


if __name__ == "__main__":
    asyncio.run(main())
