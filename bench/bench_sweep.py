"""Sweep time for the same 1,000 due timers with 10,000, 100,000 and 1,000,000 orders.

The target (the issue): the 1,000,000-order sweep takes at most 1.5x the 10,000-order one, on
each backend. For each backend (SQLite: a file database in WAL mode in a temporary directory;
PostgreSQL: a fresh database `shopbot_bench_<random>` created from --postgres-url, default
TEST_POSTGRES_URL or the local server, and dropped at the end) and each size, each in a
database of its own, all of them seeded before the first sweep:

1. migrate with storage.migrate.upgrade;
2. seed with bench.seeding.seed_orders (not timed here; its time is printed): one real order
   of the `marketplace` preset moved to `awaiting_payment`, cloned with plain SQL into SIZE
   orders, each with its item, events, outbox rows and two timers; every timer is due a month
   from NOW except the `payment_deadline` of exactly 1,000 orders spread over the table, due
   a minute before NOW (their reminders done). Then PostgreSQL `VACUUM ANALYZE` / SQLite
   `ANALYZE`;
3. a new engine (storage.database.create_engine; SQLite connections read the statistics when
   they open) and the services as bot/container.py builds them, with a FrozenClock at NOW;
4. the claim alone: one `TimerSweep._claim(NOW)` to warm up and capture its SQL, its timers
   released (`claimed_until` back to NULL), then a second call, timed ("claim ms"), released
   again; the captured statement is EXPLAINed and the plan printed after the table
   (PostgreSQL: EXPLAIN (ANALYZE, BUFFERS) in a transaction rolled back, for these values and
   as a generic plan, which a statement asyncpg prepared may switch to; SQLite: EXPLAIN QUERY
   PLAN);
5. timed, size after size: ONE `TimerSweep(...).run_once()` with its defaults (batches of
   200; 4 timers fired at once on PostgreSQL, 1 on SQLite) that fires the 1,000 due timers,
   each an `expire_payment` transition through `OrderService.fire_timer` in its own
   transaction. This first sweep is the figure ("sweep s", "timers/s", "ratio to smallest");
6. checked: the report says 1,000 applied and no errors; exactly the 1,000 due orders are
   `not_paid`, each with one `expire_payment` event; their 1,000 timers are done at NOW; no
   other timer was touched (pending count, nothing else finished at NOW, no claim left);
7. with --repeat N (default 3), N - 1 more rounds over the sizes, each sweeping the same
   timers again after re-arming them (orders back to `awaiting_payment`, deadlines pending,
   the sweep's events and outbox rows deleted), checked the same way: on a shared machine,
   rounds spread the noise over all sizes, and their spread shows how large it is.

Also printed: the event loop's lag during each timed sweep (bench/loop_lag.py: how late a
5 ms timer on the sweep's loop wakes up), p99 and max in ms, of the first sweep and the worst
of the re-armed ones; issue 15's other targets: >= 400 timers/s, lag p99 <= 20 ms.

--profile: the time the first sweep spent per kind of SQL statement (wall time per statement,
so with 4 timers in flight it includes waiting for the event loop). --explain-fire: the plan
of every statement that firing one timer runs (PostgreSQL: EXPLAIN (ANALYZE, BUFFERS)).
Prints a Markdown table. Run: `.venv/bin/python bench/bench_sweep.py` (or `make bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy
from sqlalchemy import delete, event, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if __package__ in (None, ""):  # run as a script: the checkout holds `bench`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loop_lag import TARGET_P99_MS, LagReport, LoopLag
from bench.seeding import DEADLINE, seed_orders
from bot import heap
from services.orders.service import OrderService
from services.orders.work import OrderWork
from services.time.clock import FrozenClock
from services.time.sweep import TimerSweep
from services.workflow.store import WorkflowStore
from storage.database import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import Order, OrderEvent, OutboxMessage, Timer

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
DUE = 1_000
TARGET_RATIO = 1.5
TARGET_RATE = 400  # timers/s (issue 15)
NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # a Tuesday morning in Moscow


@dataclass
class Result:
    backend: str
    orders: int
    seed_seconds: float
    sweep_seconds: float
    fired: int
    claim_ms: float
    plan: list[str]
    profile: dict[str, list[float]] = field(default_factory=dict)
    repeats: list[float] = field(default_factory=list)  # sweeps of the same timers, re-armed
    fire_plans: list[str] = field(default_factory=list)
    lag: LagReport | None = None  # the event loop's lag during the first sweep
    repeat_lags: list[LagReport] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.fired / self.sweep_seconds


@dataclass(frozen=True)
class Options:
    profile: bool  # time per statement kind, in the first sweep
    repeat: int  # sweeps per size
    explain_fire: bool  # the plans of the statements firing one timer


class Statements:
    """Captures the SQL an engine runs, with its parameters and how long each took."""

    def __init__(self, engine: AsyncEngine):
        self._engine = engine.sync_engine
        self.seen: list[tuple[str, object]] = []
        self.times: dict[str, list[float]] = defaultdict(list)
        self._started: dict[int, float] = {}

    def _before(self, _conn, cursor, statement, parameters, _context, _many) -> None:
        self.seen.append((statement, parameters))
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, _conn, cursor, statement, _parameters, _context, _many) -> None:
        started = self._started.pop(id(cursor), None)
        if started is not None:
            self.times[kind_of(statement)].append(time.perf_counter() - started)

    @contextmanager
    def watching(self) -> Iterator[Statements]:
        event.listen(self._engine, "before_cursor_execute", self._before)
        event.listen(self._engine, "after_cursor_execute", self._after)
        try:
            yield self
        finally:
            event.remove(self._engine, "before_cursor_execute", self._before)
            event.remove(self._engine, "after_cursor_execute", self._after)


def kind_of(statement: str) -> str:
    """A statement's kind for the profile: its verb, table and first condition."""
    flat = " ".join(statement.split())
    verb = flat.split(" ", 1)[0].upper()
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", flat, re.IGNORECASE)
    where = re.search(r"\bWHERE\s+(.{0,60})", flat, re.IGNORECASE)
    conflict = " ON CONFLICT" if " ON CONFLICT " in flat.upper() else ""
    return (
        f"{verb} {table.group(1) if table else '?'}{conflict}"
        f"{' WHERE ' + where.group(1) if where else ''}"
    )


async def claim_alone(
    engine: AsyncEngine, sweep: TimerSweep, statements: Statements
) -> tuple[float, list[str]]:
    """One warm `_claim` call, timed, and the plan of its statement; leaves nothing claimed."""

    async def release(claimed: list[list[tuple[int, int]]]) -> None:
        ids = [timer_id for group in claimed for timer_id, _order_id in group]
        async with engine.begin() as connection:
            await connection.execute(
                update(Timer).where(Timer.id.in_(ids)).values(claimed_until=None)
            )

    with statements.watching():
        claimed = await sweep._claim(NOW)
    await release(claimed)
    started = time.perf_counter()
    claimed = await sweep._claim(NOW)
    claim_seconds = time.perf_counter() - started
    await release(claimed)
    taken = sum(len(group) for group in claimed)
    if taken != min(DUE, sweep._batch):
        raise RuntimeError(f"the claim took {taken} timers")
    statement, parameters = next(
        (s, p)
        for s, p in statements.seen
        if "claimed_until" in s and s.lstrip().startswith("UPDATE")
    )
    if engine.dialect.name == "postgresql":
        plan = await postgres_plans(engine, statement, parameters)
    else:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            rows = await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            depth = {0: -1}
            plan = []
            for row_id, parent, _, detail in rows.all():  # id, parent, notused, detail
                depth[row_id] = depth.get(parent, -1) + 1
                plan.append("  " * depth[row_id] + detail)
            await transaction.rollback()
    return claim_seconds, [" ".join(statement.split()), *plan]


async def postgres_plans(engine: AsyncEngine, statement: str, parameters) -> list[str]:
    """The claim's plan for its values (as run), then its generic plan (EXPLAIN ANALYZE, rolled
    back): asyncpg prepares statements, and PostgreSQL may switch a prepared statement to its
    generic plan after five runs on a connection."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        explain = "EXPLAIN (ANALYZE, BUFFERS) "
        custom = await connection.exec_driver_sql(explain + statement, parameters)
        plan = ["-- custom plan (these values):", *(row[0] for row in custom.all())]
        await transaction.rollback()
        transaction = await connection.begin()
        await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        await connection.exec_driver_sql("PREPARE bench_claim AS " + statement)
        values = ", ".join(sql_literal(value) for value in parameters)
        generic = await connection.exec_driver_sql(f"{explain}EXECUTE bench_claim({values})")
        plan += ["-- generic plan (prepared, plan_cache_mode = force_generic_plan):"]
        plan += [row[0] for row in generic.all()]
        await transaction.rollback()
    return plan


def sql_literal(value: object) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"no literal for {value!r}")


async def check(engine: AsyncEngine, orders: int, due_ids: list[int], report) -> None:
    """Exactly the due timers fired, once each, and nothing else was touched."""
    problems = []
    if report.errors or dict(report.outcomes) != {"applied": DUE}:
        problems.append(f"report {dict(report.outcomes)}, {report.errors} errors")
    sessions = create_session_factory(engine)
    async with sessions() as session:
        not_paid = set(await session.scalars(select(Order.id).where(Order.status == "not_paid")))
        expired = dict(
            (
                await session.execute(
                    select(OrderEvent.order_id, func.count())
                    .where(OrderEvent.action == "expire_payment")
                    .group_by(OrderEvent.order_id)
                )
            ).all()
        )
        states = dict(
            (await session.execute(select(Timer.state, func.count()).group_by(Timer.state))).all()
        )
        finished_now = set(
            await session.scalars(select(Timer.order_id).where(Timer.finished_at == NOW))
        )
        claims = await session.scalar(
            select(func.count()).select_from(Timer).where(Timer.claimed_until.is_not(None))
        )
    if not_paid != set(due_ids):
        problems.append(f"{len(not_paid)} orders not_paid, {len(not_paid ^ set(due_ids))} wrong")
    if expired != dict.fromkeys(due_ids, 1):
        problems.append(f"expire_payment events on {len(expired)} orders, not once each")
    expected = {"pending": 2 * (orders - DUE), "done": 2 * DUE}
    if states != expected:
        problems.append(f"timer states {states}, expected {expected}")
    if finished_now != set(due_ids) or claims:
        problems.append(f"timers finished now on {len(finished_now)} orders, {claims} claimed")
    if problems:
        raise RuntimeError("; ".join(problems))


@dataclass
class Setup:
    """One size, seeded and ready to sweep."""

    engine: AsyncEngine
    orders: OrderService
    sweep: TimerSweep
    due_ids: list[int]
    before: Before
    result: Result


async def prepare(backend: str, url: str, orders: int) -> Setup:
    """Migrate, seed, reconnect, time the claim alone."""
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        due_ids = await seed_orders(
            engine,
            orders=orders,
            due=DUE,
            now=NOW,
            progress=lambda message: print(f"  {backend} {orders:,}: {message}", file=sys.stderr),
        )
        seed_seconds = time.perf_counter() - started
    finally:
        await engine.dispose()

    engine = create_engine(url)
    sessions = create_session_factory(engine)
    clock = FrozenClock(NOW)
    orders_service = OrderService(OrderWork(sessions, clock, WorkflowStore()))
    sweep = TimerSweep(sessions, clock, orders_service)
    claim_seconds, plan = await claim_alone(engine, sweep, Statements(engine))
    before = await snapshot(engine, due_ids[0])
    result = Result(backend, orders, seed_seconds, 0.0, 0, claim_seconds * 1000, plan)
    return Setup(engine, orders_service, sweep, due_ids, before, result)


async def measure(
    backend: str, sized_urls: list[tuple[int, str]], options: Options
) -> list[Result]:
    """Seed every size, then sweep them in rounds: noise on a shared machine hits all sizes."""
    setups: list[Setup] = []
    try:
        for orders, url in sized_urls:
            setups.append(await prepare(backend, url, orders))
        for run in range(options.repeat):
            for setup in setups:
                if run:
                    await rearm(setup.engine, setup.due_ids, setup.before)
                statements = Statements(setup.engine)
                # What is built so far out of full collections, as the bot does (bot/heap.py):
                # unfrozen, this process's full passes (26-91 ms each) were the sweep's max lag.
                heap.settle()
                with statements.watching() if options.profile and not run else _nothing():
                    async with LoopLag() as lag:
                        started, cpu = time.perf_counter(), time.process_time()
                        report = await setup.sweep.run_once()
                        seconds = time.perf_counter() - started
                        cpu = time.process_time() - cpu  # this process's threads, not the server's
                await check(setup.engine, setup.result.orders, setup.due_ids, report)
                result = setup.result
                if run:
                    result.repeats.append(seconds)
                    result.repeat_lags.append(lag.report())
                else:
                    result.sweep_seconds, result.fired = seconds, report.fired
                    result.profile = dict(statements.times)
                    result.lag = lag.report()
                print(
                    f"{backend}, {result.orders:,} orders, sweep {run + 1}: {seconds:.2f} s, "
                    f"CPU {cpu * 1000 / max(report.fired, 1):.2f} ms per timer, "
                    f"loop lag p99 / max {lag.report().cells()} ms",
                    file=sys.stderr,
                    flush=True,
                )
        if options.explain_fire:
            for setup in setups:
                setup.result.fire_plans = await explain_fire(
                    setup.engine, setup.orders, setup.due_ids, setup.before
                )
        return [setup.result for setup in setups]
    finally:
        for setup in setups:
            await setup.engine.dispose()


async def explain_fire(
    engine: AsyncEngine, orders_service: OrderService, due_ids: list[int], before: Before
) -> list[str]:
    """The plan of every statement firing one due timer runs (after the timed sweeps).

    The timers are re-armed, one is fired alone with its statements captured, re-armed again;
    then the captured statements run again in order, each under EXPLAIN (PostgreSQL: ANALYZE,
    BUFFERS; SQLite: QUERY PLAN), in one transaction rolled back.
    """
    await rearm(engine, due_ids, before)
    async with create_session_factory(engine)() as session:
        timer_id = await session.scalar(
            select(Timer.id).where(Timer.order_id == due_ids[0], Timer.code == DEADLINE)
        )
    statements = Statements(engine)
    with statements.watching():
        outcome = await orders_service.fire_timer(timer_id, due_ids[0])  # as the sweep does
    if outcome != "applied":
        raise RuntimeError(f"firing timer {timer_id} alone: {outcome}")
    await rearm(engine, due_ids, before)
    postgres = engine.dialect.name == "postgresql"
    explain = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    lines = []
    async with engine.connect() as connection:
        transaction = await connection.begin()
        for statement, parameters in statements.seen:
            if statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
                continue
            if isinstance(parameters, list):  # executemany: the first row shows the plan
                parameters = parameters[0]
            rows = (await connection.exec_driver_sql(explain + statement, parameters)).all()
            lines.append(f"-- {kind_of(statement)}")
            lines += [row[0] if postgres else f"  {row[-1]}" for row in rows]
        await transaction.rollback()
    return lines


@dataclass(frozen=True)
class Before:
    """What a sweep changes, as it was: to put the due orders back for another run."""

    event_id: int
    outbox_id: int
    order: dict


async def snapshot(engine: AsyncEngine, due_order_id: int) -> Before:
    columns = [Order.status, Order.version, Order.status_changed_at, Order.updated_at]
    columns += [Order.last_action, Order.problem, Order.problem_reason]
    async with create_session_factory(engine)() as session:
        order = (await session.execute(select(*columns).where(Order.id == due_order_id))).one()
        return Before(
            event_id=await session.scalar(select(func.max(OrderEvent.id))),
            outbox_id=await session.scalar(select(func.max(OutboxMessage.id))),
            order=dict(order._mapping),
        )


async def rearm(engine: AsyncEngine, due_ids: list[int], before: Before) -> None:
    """Undo a sweep: the due orders awaiting payment again, their deadlines pending again, and
    the events and outbox rows it wrote deleted (by id: everything above the snapshot's)."""
    async with create_session_factory(engine)() as session, session.begin():
        await session.execute(delete(OrderEvent).where(OrderEvent.id > before.event_id))
        await session.execute(delete(OutboxMessage).where(OutboxMessage.id > before.outbox_id))
        for start in range(0, len(due_ids), 500):
            ids = due_ids[start : start + 500]
            await session.execute(
                update(Order)
                .where(Order.id.in_(ids))
                .values(before.order)
                .execution_options(synchronize_session=False)
            )
            await session.execute(
                update(Timer)
                .where(Timer.order_id.in_(ids), Timer.code == DEADLINE)
                .values(state="pending", finished_at=None, outcome=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


async def run_sqlite(sizes: list[int], options: Options) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="shopbot-bench-") as directory:
        urls = [
            (size, f"sqlite+aiosqlite:///{Path(directory) / f'bench{size}.db'}") for size in sizes
        ]
        return await measure(f"SQLite {sqlite3.sqlite_version}", urls, options)


async def run_postgres(admin_url: str, sizes: list[int], options: Options) -> list[Result]:
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    names: list[str] = []
    try:
        async with admin.connect() as connection:
            version = (await connection.execute(text("SHOW server_version"))).scalar_one()
            for _ in sizes:
                names.append(f"shopbot_bench_{secrets.token_hex(4)}")
                await connection.execute(text(f'CREATE DATABASE "{names[-1]}"'))
        urls = [
            (size, make_url(admin_url).set(database=name).render_as_string(hide_password=False))
            for size, name in zip(sizes, names, strict=True)
        ]
        return await measure(f"PostgreSQL {version.split()[0]}", urls, options)
    finally:
        async with admin.connect() as connection:
            for name in names:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def table(results: list[Result]) -> str:
    lines = [
        f"| backend | orders | seed s | sweep s ({DUE:,} timers) | timers/s | ratio to smallest "
        "| re-armed sweeps s | their median's ratio | claim ms "
        "| loop lag p99 / max ms | re-armed: worst |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    first: dict[str, Result] = {}
    for r in results:
        base = first.setdefault(r.backend, r)
        again = ", ".join(f"{t:.2f}" for t in r.repeats) or "-"
        median_ratio = (
            f"{statistics.median(r.repeats) / statistics.median(base.repeats):.2f}x"
            if r.repeats and base.repeats
            else "-"
        )
        lines.append(
            f"| {r.backend} | {r.orders:,} | {r.seed_seconds:.1f} | {r.sweep_seconds:.2f} "
            f"| {r.rate:,.0f} | {r.sweep_seconds / base.sweep_seconds:.2f}x | {again} "
            f"| {median_ratio} | {r.claim_ms:.1f} | {r.lag.cells() if r.lag else '-'} "
            f"| {LagReport.worst(r.repeat_lags).cells() if r.repeat_lags else '-'} |"
        )
    return "\n".join(lines)


def verdict(results: list[Result]) -> str:
    lines = []
    for backend in dict.fromkeys(r.backend for r in results):
        rows = [r for r in results if r.backend == backend]
        smallest, largest = rows[0], rows[-1]
        slowest = min(rows, key=lambda r: r.rate)
        lines.append(
            f"- {backend}: slowest first sweep {slowest.rate:,.0f} timers/s "
            f"({'meets' if slowest.rate >= TARGET_RATE else 'misses'} >= {TARGET_RATE}/s)"
        )
        lags = [lag for r in rows for lag in (r.lag, *r.repeat_lags) if lag]
        if lags:
            worst = LagReport.worst(lags)
            lines.append(
                f"- {backend}: loop lag p99 at most {worst.p99_ms:.1f} ms in any sweep "
                f"({'meets' if worst.p99_ms <= TARGET_P99_MS else 'misses'} "
                f"<= {TARGET_P99_MS:g} ms), max {worst.max_ms:.1f} ms"
            )
        if smallest is largest:
            continue
        ratio = largest.sweep_seconds / smallest.sweep_seconds
        lines.append(
            f"- {backend}: {largest.orders:,} orders {ratio:.2f}x the {smallest.orders:,}-order "
            f"sweep ({'meets' if ratio <= TARGET_RATIO else 'misses'} <= {TARGET_RATIO:g}x)"
        )
    return "\n".join(lines)


def plans(results: list[Result]) -> str:
    lines = []
    for r in results:
        statement, *plan = r.plan
        if r is next(x for x in results if x.backend == r.backend):
            lines += [f"{r.backend}, the claim: `{statement}`", ""]
        lines += [f"{r.backend}, {r.orders:,} orders, the claim:", "```", *plan, "```", ""]
    return "\n".join(lines)


def profiles(results: list[Result]) -> str:
    lines = []
    for r in results:
        if not r.profile:
            continue
        lines += [
            f"{r.backend}, {r.orders:,} orders: sweep time per statement kind",
            "",
            "| statement | count | total ms | mean ms |",
            "|---|---:|---:|---:|",
        ]
        for kind, times in sorted(r.profile.items(), key=lambda item: -sum(item[1])):
            lines.append(
                f"| `{kind}` | {len(times)} | {sum(times) * 1000:,.0f} "
                f"| {sum(times) / len(times) * 1000:.2f} |"
            )
        lines.append("")
    return "\n".join(lines)


def fire_plans(results: list[Result]) -> str:
    lines = []
    for r in results:
        lines += [f"{r.backend}, {r.orders:,} orders: firing one timer", "```", *r.fire_plans]
        lines += ["```", ""]
    return "\n".join(lines)


def sizes_of(value: str) -> list[int]:
    sizes = [int(part.replace("_", "")) for part in value.split(",") if part.strip()]
    if not sizes or min(sizes) <= DUE:
        raise argparse.ArgumentTypeError(f"sizes above {DUE:,}, comma-separated")
    return sizes


def backends_of(value: str) -> list[str]:
    backends = [part.strip() for part in value.split(",") if part.strip()]
    if not backends or set(backends) - {"sqlite", "postgres"}:
        raise argparse.ArgumentTypeError("sqlite and/or postgres, comma-separated")
    return backends


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=sizes_of, default=list(DEFAULT_SIZES))
    parser.add_argument("--backends", type=backends_of, default=["sqlite", "postgres"])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL,
        help="a server URL; the bench creates and drops its own database there",
    )
    parser.add_argument("--profile", action="store_true", help="time per SQL statement kind")
    parser.add_argument(
        "--explain-fire",
        action="store_true",
        help="the plan of every statement firing one timer runs (EXPLAIN ANALYZE on PostgreSQL)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="sweeps per size: the first is the figure; the others re-arm the same timers",
    )
    args = parser.parse_args()
    options = Options(profile=args.profile, repeat=args.repeat, explain_fire=args.explain_fire)
    print(
        f"python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, {platform.platform()}",
        file=sys.stderr,
    )
    results: list[Result] = []
    failures = []
    for backend in args.backends:
        if backend == "sqlite":
            results += await run_sqlite(args.sizes, options)
            continue
        try:
            results += await run_postgres(args.postgres_url, args.sizes, options)
        except (OSError, OperationalError, InterfaceError) as error:
            safe = make_url(args.postgres_url).render_as_string(hide_password=True)
            failures.append(f"PostgreSQL at {safe} is unreachable: {error}")
    print(table(results))
    print()
    print(verdict(results))
    print()
    print(plans(results))
    if args.profile:
        print(profiles(results))
    if args.explain_fire:
        print(fire_plans(results))
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
