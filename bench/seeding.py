"""Many orders with timers, fast: one real order cloned in bulk with plain SQL.

`seed_orders` makes, in a migrated database, one shop (`ShopService.create_shop`, preset
`marketplace`) and ONE order through `OrderService.create_orders`, moved to
`awaiting_payment` by `confirm`: so its rows (the order, its item, its events, its outbox rows
and its two pending timers, `payment_reminder` and `payment_deadline`) are exactly what the
services write. That order is then copied, row for row, into `orders - 1` more with
INSERT ... SELECT (PostgreSQL: `generate_series`; SQLite: a recursive CTE, in chunks), each
copy with its own id, per-shop `number`, `buyer_token` (derived from the id; `external_id`
stays NULL), buyer (a copy of the template's), item, events and outbox rows (marked sent:
history) and its two timers. The
copies are consistent by construction, so their foreign-key checks are skipped (SQLite
`foreign_keys = OFF` on the seeding connection; PostgreSQL, as a superuser,
`session_replication_role = replica` in the copying transactions).

Every copied timer is due in the future (a month after `now`, spread over a day), except on
exactly `due` copies spread evenly over the id range: their `payment_deadline` is due at
`now - 1 minute` and their reminder is already `done`. The ids of those orders are returned.
The database is then analysed (PostgreSQL `VACUUM ANALYZE`, SQLite `ANALYZE` and a WAL
checkpoint) so the plans are those of a database in use.

Also a small command line, used by the multi-process sweep test:

    python -m bench.seeding seed --url URL --orders N --due D --now ISO
    python -m bench.seeding sweep --url URL --now ISO [--batch B] [--lease-seconds S] [--workers W]

`sweep` builds its own engine, prints `ready`, waits for a line on stdin, runs ONE
`TimerSweep.run_once` with a frozen clock at `now` and prints its report as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from services.orders.actors import ActorRef, Channel
from services.orders.drafts import BuyerDraft, ItemDraft, OrderDraft
from services.orders.service import OrderService
from services.orders.work import OrderWork
from services.shops.service import ShopService
from services.time.clock import FrozenClock
from services.workflow.store import WorkflowStore
from storage.database import create_engine, create_session_factory
from storage.models import Buyer, Order, OrderEvent, OrderItem, OutboxMessage, Shop, Timer
from storage.types import UTCDateTime

# The order cloned was created this long before `now`: its own timers are still in the future.
TEMPLATE_AGE = timedelta(days=1)
DUE_AGO = timedelta(minutes=1)  # the due deadlines
REMINDED_AGO = timedelta(days=1)  # the reminders of the due orders, done
FUTURE_SHIFT_DAYS = 28  # copied timers: the template's due time + 28 days + up to a day
REMINDER, DEADLINE = "payment_reminder", "payment_deadline"
CHUNK = {"postgresql": 250_000, "sqlite": 50_000}
SQLITE_SEED_CACHE_KIB = 512 * 1024  # page cache while seeding; back to the default after


def bench_draft() -> OrderDraft:
    return OrderDraft(
        buyer=BuyerDraft(name="Bench Buyer", email="buyer@example.com", language="en"),
        items=[ItemDraft(sku="SKU-1", name="Bench item", quantity=1, unit_price=1999)],
        payment_method="card",
        delivery_method="post",
        delivery_address="1 Bench Street",
    )


def _engine_of(target: AsyncEngine | async_sessionmaker[AsyncSession]) -> AsyncEngine:
    return target if isinstance(target, AsyncEngine) else target.kw["bind"]


def due_indexes(copies: int, due: int) -> list[int]:
    """Which copies (1..copies) get a due deadline: every `step`-th, `due` of them."""
    if not 0 <= due <= copies:
        raise ValueError(f"{due} due orders asked of {copies} copies")
    if due == 0:
        return []
    step = copies // due
    return [step * k for k in range(1, due + 1)]


class _Dialect:
    """The few expressions that differ between PostgreSQL and SQLite."""

    def __init__(self, name: str):
        self.name = name

    def sequence(self) -> str:
        """`FROM` source of the copy numbers `s.i`, :lo to :hi."""
        if self.name == "postgresql":
            return "generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) AS s(i)"
        return "s"

    def with_clause(self) -> str:
        if self.name == "postgresql":
            return ""
        return "WITH RECURSIVE s(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM s WHERE i < :hi) "

    def token(self, order_id: str) -> str:
        """32 hex characters: a scrambled prefix (spread over the index), then the id itself."""
        if self.name == "postgresql":
            return (
                f"lpad(to_hex((CAST({order_id} AS bigint) * 2654435761) % 4294967296), 8, '0')"
                f" || lpad(to_hex(CAST({order_id} AS bigint)), 24, '0')"
            )
        return f"printf('%08x%024x', ({order_id} * 2654435761) % 4294967296, {order_id})"

    def later(self, column: str, days: int, minutes: str) -> str:
        """`column` + `days` days + `minutes` minutes, stored as the column type stores it."""
        if self.name == "postgresql":
            return f"{column} + interval '{days} days' + ({minutes}) * interval '1 minute'"
        # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff'.
        return (
            f"strftime('%Y-%m-%d %H:%M:%f', {column}, '+{days} days', "
            f"'+' || ({minutes}) || ' minutes') || '000'"
        )


def _copy(
    dialect: _Dialect,
    table: Table,
    where: str,
    overrides: dict[str, str],
    *,
    keep_id: bool = False,
) -> str:
    """INSERT ... SELECT: every column of the template rows `t`, once per copy number `s.i`."""
    columns = [c.name for c in table.columns if keep_id or c.name != "id"]
    values = [overrides.get(name, f"t.{name}") for name in columns]
    unknown = set(overrides) - set(columns)
    if unknown:
        raise ValueError(f"no columns {unknown} in {table.name}")
    return (
        f"{dialect.with_clause()}INSERT INTO {table.name} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM {dialect.sequence()} CROSS JOIN {table.name} AS t "
        f"WHERE {where}"
    )


def _ids(values: Iterable[int]) -> str:
    return ", ".join(str(int(v)) for v in values)


async def seed_orders(
    target: AsyncEngine | async_sessionmaker[AsyncSession],
    *,
    orders: int,
    due: int,
    now: datetime,
    chunk: int | None = None,
    owner_telegram_id: int = 1_000_001,
    progress: Callable[[str], None] | None = None,
) -> list[int]:
    """Make `orders` orders awaiting payment, `due` of them with a due payment deadline.

    Returns the ids of those `due` orders, ascending. See the module docstring.
    """
    if orders < 1:
        raise ValueError("at least one order")
    copies = orders - 1
    chosen = due_indexes(copies, due)
    engine = _engine_of(target)
    dialect = _Dialect(engine.dialect.name)
    chunk = chunk or CHUNK.get(dialect.name, 50_000)
    say = progress or (lambda _message: None)
    started = time.perf_counter()

    # The template: one real order, written by the services.
    sessions = create_session_factory(engine)
    clock = FrozenClock(now - TEMPLATE_AGE)
    workflows = WorkflowStore()
    order_service = OrderService(OrderWork(sessions, clock, workflows))
    created = await ShopService(sessions, clock, workflows).create_shop(
        name="Bench shop",
        owner_telegram_id=owner_telegram_id,
        preset="marketplace",
        email="shop@example.com",
    )
    (template,) = await order_service.create_orders(
        created.shop.id, bench_draft(), ActorRef.system(Channel.API), source="api"
    )
    await order_service.apply(template.id, ActorRef.user(created.owner.id), "confirm")

    async with sessions() as session:
        base = await session.scalar(select(func.max(Order.id)))
        buyer_base = await session.scalar(select(func.max(Buyer.id)))
        item_ids = list(
            await session.scalars(select(OrderItem.id).where(OrderItem.order_id == template.id))
        )
        event_ids = list(
            await session.scalars(select(OrderEvent.id).where(OrderEvent.order_id == template.id))
        )
        outbox_ids = list(
            await session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.order_id == template.id)
            )
        )
        pending = {
            code: timer_id
            for timer_id, code in await session.execute(
                select(Timer.id, Timer.code).where(
                    Timer.order_id == template.id, Timer.state == "pending"
                )
            )
        }
    if set(pending) != {REMINDER, DEADLINE} or not item_ids or not event_ids:
        raise RuntimeError(f"the template order is not as expected: timers {sorted(pending)}")

    new_id = ":base + s.i"
    is_due = "(s.i <= :last_due AND s.i % :step = 0)"
    statements = [
        _copy(
            dialect,
            Buyer.__table__,
            "t.id = :template_buyer",
            {"id": ":buyer_base + s.i"},
            keep_id=True,
        ),
        _copy(
            dialect,
            Order.__table__,
            "t.id = :template",
            {
                "id": new_id,
                "number": "t.number + s.i",
                "buyer_id": ":buyer_base + s.i",
                "buyer_token": dialect.token(new_id),
            },
            keep_id=True,
        ),
        _copy(dialect, OrderItem.__table__, f"t.id IN ({_ids(item_ids)})", {"order_id": new_id}),
        _copy(dialect, OrderEvent.__table__, f"t.id IN ({_ids(event_ids)})", {"order_id": new_id}),
        _copy(
            dialect,
            OutboxMessage.__table__,
            f"t.id IN ({_ids(outbox_ids)})",
            {
                "order_id": new_id,
                "dedupe_key": f"replace(t.dedupe_key, :key_prefix, 'order:' || ({new_id}) || ':')",
                "state": "'sent'",
                "attempts": "1",
                "sent_at": "t.created_at",
            },
        )
        if outbox_ids
        else None,
        _copy(
            dialect,
            Timer.__table__,
            f"t.id IN ({_ids(pending.values())})",
            {
                "order_id": new_id,
                "due_at": (
                    f"CASE WHEN {is_due} AND t.code = :deadline THEN :past "
                    f"WHEN {is_due} THEN :reminded "
                    f"ELSE {dialect.later('t.due_at', FUTURE_SHIFT_DAYS, 's.i % 1440')} END"
                ),
                "state": f"CASE WHEN {is_due} AND t.code = :reminder THEN 'done' ELSE t.state END",
                "finished_at": (
                    f"CASE WHEN {is_due} AND t.code = :reminder THEN :reminded "
                    "ELSE t.finished_at END"
                ),
                "outcome": (
                    f"CASE WHEN {is_due} AND t.code = :reminder THEN 'sent' ELSE t.outcome END"
                ),
            },
        ),
    ]
    step = chosen[0] if chosen else 1
    params = {
        "base": base,
        "template": template.id,
        "buyer_base": buyer_base,
        "template_buyer": template.buyer_id,
        "key_prefix": f"order:{template.id}:",
        "last_due": chosen[-1] if chosen else 0,
        "step": step,
        "reminder": REMINDER,
        "deadline": DEADLINE,
        "past": now - DUE_AGO,
        "reminded": now - REMINDED_AGO,
    }
    times = [bindparam("past", type_=UTCDateTime()), bindparam("reminded", type_=UTCDateTime())]
    compiled = [
        text(s).bindparams(*[b for b in times if f":{b.key}" in s]) for s in statements if s
    ]

    async with engine.connect() as connection:
        await _seeding_pragmas(connection, on=True)
        try:
            skip_foreign_keys = await _may_skip_foreign_keys(connection)
            for lo in range(1, copies + 1, chunk):
                hi = min(lo + chunk - 1, copies)
                async with connection.begin():
                    if skip_foreign_keys:
                        await connection.execute(
                            text("SET LOCAL session_replication_role = replica")
                        )
                    for statement in compiled:
                        await connection.execute(statement, {**params, "lo": lo, "hi": hi})
                say(f"copied orders {lo}..{hi} of {copies} ({time.perf_counter() - started:.1f} s)")
            async with connection.begin():
                await connection.execute(
                    text(
                        "INSERT INTO order_counters (shop_id, last_number) VALUES (:shop, :last) "
                        "ON CONFLICT (shop_id) DO UPDATE SET last_number = :last"
                    ),
                    {"last": template.number + copies, "shop": created.shop.id},
                )
                for table in ("orders", "buyers") if dialect.name == "postgresql" else ():
                    await connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))"
                        )
                    )
        finally:
            await _seeding_pragmas(connection, on=False)
    await analyze(engine)
    say(f"seeded and analysed ({time.perf_counter() - started:.1f} s)")
    return [base + i for i in chosen]


async def _may_skip_foreign_keys(connection: AsyncConnection) -> bool:
    """PostgreSQL as a superuser: no foreign-key triggers on the copies.

    The copies are consistent by construction, and their foreign-key checks are more than
    half of the copying time; `session_replication_role = replica` skips them.
    """
    if connection.dialect.name != "postgresql":
        return False
    async with connection.begin():
        return await connection.scalar(text("SELECT current_setting('is_superuser')")) == "on"


async def _seeding_pragmas(connection: AsyncConnection, *, on: bool) -> None:
    """SQLite: a big page cache and no foreign-key checks while copying; as before after."""
    if connection.dialect.name != "sqlite":
        return
    size = -SQLITE_SEED_CACHE_KIB if on else -2000
    await _sqlite_pragma(connection, f"PRAGMA cache_size = {size}")
    await _sqlite_pragma(connection, f"PRAGMA foreign_keys = {'OFF' if on else 'ON'}")


async def _sqlite_pragma(connection: AsyncConnection, pragma: str) -> None:
    """A PRAGMA outside any transaction (the engine opens each with BEGIN IMMEDIATE)."""
    raw = await connection.get_raw_connection()
    cursor = await raw.driver_connection.execute(pragma)
    await cursor.fetchall()
    await cursor.close()


async def analyze(engine: AsyncEngine) -> None:
    """Statistics for the planner, as a database in use has them."""
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
            return
        async with connection.begin():
            await connection.execute(text("ANALYZE"))
        await _sqlite_pragma(connection, "PRAGMA wal_checkpoint(TRUNCATE)")


# -- command line ---------------------------------------------------------------------------


async def _seed_command(args: argparse.Namespace) -> dict:
    engine = create_engine(args.url)
    try:
        ids = await seed_orders(
            engine,
            orders=args.orders,
            due=args.due,
            now=datetime.fromisoformat(args.now),
            progress=lambda message: print(message, file=sys.stderr, flush=True),
        )
    finally:
        await engine.dispose()
    return {"due_order_ids": ids}


async def _sweep_command(args: argparse.Namespace) -> dict:
    from services.time.sweep import TimerSweep

    engine = create_engine(args.url)
    try:
        sessions = create_session_factory(engine)
        clock = FrozenClock(datetime.fromisoformat(args.now))
        sweep = TimerSweep(
            sessions,
            clock,
            OrderService(OrderWork(sessions, clock, WorkflowStore())),
            batch=args.batch,
            lease=timedelta(seconds=args.lease_seconds),
            workers=args.workers,
        )
        async with sessions() as session:  # connected and warm before saying so
            await session.scalar(select(func.count()).select_from(Shop))
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        started = time.perf_counter()
        report = await sweep.run_once()
        seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    return {
        "outcomes": dict(report.outcomes),
        "fired": report.fired,
        "errors": report.errors,
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    seed = commands.add_parser("seed", help="seed a migrated database")
    seed.add_argument("--url", required=True)
    seed.add_argument("--orders", type=int, required=True)
    seed.add_argument("--due", type=int, required=True)
    seed.add_argument("--now", required=True, help="ISO time with a zone, e.g. 2026-11-24T07:00Z")
    sweep = commands.add_parser("sweep", help="one TimerSweep.run_once after a line on stdin")
    sweep.add_argument("--url", required=True)
    sweep.add_argument("--now", required=True)
    sweep.add_argument("--batch", type=int, default=200)
    sweep.add_argument("--lease-seconds", type=float, default=300)
    sweep.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    command = _seed_command if args.command == "seed" else _sweep_command
    print(json.dumps(asyncio.run(command(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
