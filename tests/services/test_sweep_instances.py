"""Several scheduler instances on one database: every due timer applied exactly once (B3).

Each instance is its own OS process with its own engine, as two bot replicas would be:
`python -m bench.seeding sweep` runs one `TimerSweep.run_once` with a frozen clock once it
reads a line on stdin, so both start together. The orders come from `bench.seeding`: one real
order awaiting payment, cloned; the due ones have their `payment_deadline` a minute overdue
(firing it is the `expire_payment` transition) and their reminder done.

With the normal lease, claims keep the instances off each other's timers. With a lease of
zero, every claim is over at once and both instances fire the same timers: only the
per-timer check (the timer is taken only if still pending, under the order's lock) keeps
each applied once.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.seeding import DEADLINE, seed_orders
from storage.database import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import Order, OrderEvent, OutboxMessage, Timer
from tests.conftest import (
    NO_POSTGRES,
    POSTGRES_URL,
    sqlite_url,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
NORMAL_LEASE = 300.0  # seconds: TimerSweep's default, five minutes
NO_LEASE = 0.0


async def seed(url: str, *, orders: int, due: int) -> list[int]:
    engine = create_engine(url)
    try:
        return await seed_orders(engine, orders=orders, due=due, now=NOW)
    finally:
        await engine.dispose()


async def sweep_in_processes(url: str, instances: int, *, batch: int, lease: float) -> list[dict]:
    """Start the instances, wait until each is connected, let them all go, collect reports."""
    command = [
        *(sys.executable, "-m", "bench.seeding", "sweep", "--url", url),
        *("--now", NOW.isoformat(), "--batch", str(batch), "--lease-seconds", str(lease)),
    ]
    pipe = asyncio.subprocess.PIPE
    processes: list[asyncio.subprocess.Process] = []
    try:
        for _ in range(instances):
            processes.append(
                await asyncio.create_subprocess_exec(
                    *command, cwd=ROOT, stdin=pipe, stdout=pipe, stderr=pipe
                )
            )
        for process in processes:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
            if line != b"ready\n":
                error = await process.stderr.read()
                pytest.fail(f"an instance did not start: {line!r}\n{error.decode()[-3000:]}")
        for process in processes:
            process.stdin.write(b"go\n")
        await asyncio.gather(*(process.stdin.drain() for process in processes))
        outputs = await asyncio.wait_for(
            asyncio.gather(*(process.communicate() for process in processes)), timeout=600
        )
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    reports = []
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()[-3000:]
        reports.append(json.loads(out.decode().splitlines()[-1]))
    return reports


async def assert_each_applied_once(url: str, *, orders: int, due_ids: list[int]) -> None:
    """The due orders' deadlines fired once each, with all they write; nothing else moved."""
    due = set(due_ids)
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            fired = (
                await session.execute(
                    select(Timer.order_id, Timer.state, Timer.outcome).where(
                        Timer.code == DEADLINE, Timer.finished_at == NOW
                    )
                )
            ).all()
            timer_states = dict(
                (await session.execute(select(Timer.state, func.count()).group_by(Timer.state)))
                .tuples()
                .all()
            )
            claimed = await session.scalar(
                select(func.count()).select_from(Timer).where(Timer.claimed_until.is_not(None))
            )
            events = (
                await session.execute(
                    select(OrderEvent.order_id, OrderEvent.action).where(
                        OrderEvent.created_at == NOW
                    )
                )
            ).all()
            statuses = dict(
                (await session.execute(select(Order.status, func.count()).group_by(Order.status)))
                .tuples()
                .all()
            )
            not_paid = set(
                await session.scalars(select(Order.id).where(Order.status == "not_paid"))
            )
            outbox = (
                await session.execute(
                    select(OutboxMessage.order_id, OutboxMessage.topic).where(
                        OutboxMessage.created_at == NOW
                    )
                )
            ).all()
    finally:
        await engine.dispose()

    # every due deadline done, by the transition, once; no other timer touched
    assert Counter(order_id for order_id, _, _ in fired) == dict.fromkeys(due, 1)
    assert {(state, outcome) for _, state, outcome in fired} == {("done", "applied")}
    assert timer_states == {"pending": 2 * (orders - len(due)), "done": 2 * len(due)}
    assert claimed == 0
    # one expire_payment event per due order, and no other event
    assert Counter(events) == {(order_id, "expire_payment"): 1 for order_id in due}
    assert not_paid == due
    assert statuses == {"not_paid": len(due), "awaiting_payment": orders - len(due)}
    # one outbox row per order and topic, the same topics for every order
    assert set(Counter(outbox).values()) == {1}
    topics: dict[int, set[str]] = {}
    for order_id, topic in outbox:
        topics.setdefault(order_id, set()).add(topic)
    assert set(topics) == due
    assert len({frozenset(t) for t in topics.values()}) == 1
    assert "refresh_cards" in topics[due_ids[0]]


def assert_reports(
    reports: list[dict], due: int, *, overlapping: bool, both_apply: bool = True
) -> None:
    """`both_apply`: each instance applied some timers (PostgreSQL, where their claims run
    side by side). On one SQLite file there is one writer at a time and the operating system
    decides which process gets the lock next: a fast sweep may claim and apply every batch
    before the other instance's first claim gets in, so there only the totals are checked
    (each timer applied exactly once is checked in the database by the caller)."""
    assert [r["errors"] for r in reports] == [0] * len(reports)
    assert sum(r["outcomes"].get("applied", 0) for r in reports) == due
    if both_apply:
        assert all(r["outcomes"].get("applied", 0) > 0 for r in reports), reports
    outcomes = set().union(*(r["outcomes"] for r in reports))
    if overlapping:
        # Where both fired the same timers, the loser of each found it taken ("gone").
        assert outcomes <= {"applied", "gone"} and "applied" in outcomes, reports
        if both_apply:
            assert outcomes == {"applied", "gone"}, reports
    else:
        assert outcomes == {"applied"}, reports


@pytest.mark.parametrize(
    ("lease", "orders", "due", "batch"),
    [
        pytest.param(NORMAL_LEASE, 12_000, 10_000, 100, id="10000-due"),
        pytest.param(NO_LEASE, 1_500, 1_000, 50, id="same-timers-1000-due"),
    ],
)
@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)
async def test_two_instances_on_postgres_apply_each_due_timer_once(
    fresh_postgres, lease, orders, due, batch
):
    due_ids = await seed(fresh_postgres, orders=orders, due=due)
    assert len(due_ids) == due

    reports = await sweep_in_processes(fresh_postgres, 2, batch=batch, lease=lease)

    assert_reports(reports, due, overlapping=lease == NO_LEASE)
    await assert_each_applied_once(fresh_postgres, orders=orders, due_ids=due_ids)


@pytest.mark.parametrize("lease", [NORMAL_LEASE, NO_LEASE], ids=["normal-lease", "no-lease"])
async def test_two_instances_on_one_sqlite_file_apply_each_due_timer_once(tmp_path, lease):
    url = sqlite_url(tmp_path / "shopbot.db")
    await asyncio.to_thread(upgrade, url)
    orders, due = 600, 500
    due_ids = await seed(url, orders=orders, due=due)

    reports = await sweep_in_processes(url, 2, batch=20, lease=lease)

    assert_reports(reports, due, overlapping=lease == NO_LEASE, both_apply=False)
    await assert_each_applied_once(url, orders=orders, due_ids=due_ids)
