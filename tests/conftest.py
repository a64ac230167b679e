"""Databases for tests: SQLite always, PostgreSQL when TEST_POSTGRES_URL is set.

Migrations run once per test session (a migrated SQLite file is copied per test; the
PostgreSQL database is emptied per test), so every test starts from `alembic upgrade head`
without paying for it each time.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from services.orders.service import OrderService
from services.orders.work import OrderWork
from services.shops.service import ShopService
from services.time.clock import FrozenClock
from services.workflow.store import WorkflowStore
from storage.database import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import Base

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
NO_POSTGRES = "TEST_POSTGRES_URL is not set: PostgreSQL tests need a server to run against"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=[pytest.mark.postgres, pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)],
    ),
]

# A Tuesday morning in Moscow: inside working hours.
START = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def _admin(url: str, statement: str) -> None:
    admin_url = make_url(url).set(database="postgres")
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def create_postgres_database(prefix: str = "shopbot_test") -> str:
    """A new empty database on the TEST_POSTGRES_URL server; returns its URL."""
    assert POSTGRES_URL
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(sqlite_url(path))
    return path


@pytest.fixture(scope="session")
def postgres_database():
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    url = create_postgres_database()
    upgrade(url)
    yield url
    drop_postgres_database(url)


@pytest.fixture
def fresh_postgres():
    """A database of its own, migrated, for tests whose other processes need committed data
    in a real database (several bot instances, several sweeps)."""
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    url = create_postgres_database("shopbot_multi")
    try:
        upgrade(url)
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(request, backend, tmp_path) -> str:
    if backend == "sqlite":
        path = tmp_path / "shopbot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return sqlite_url(path)
    return request.getfixturevalue("postgres_database")


@pytest.fixture
async def engine(database_url, backend) -> AsyncEngine:
    engine = create_engine(database_url, pool_size=20)
    if backend == "postgres":
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@dataclass
class Services:
    sessions: async_sessionmaker[AsyncSession]
    clock: FrozenClock
    workflows: WorkflowStore
    orders: OrderService
    shops: ShopService


@pytest.fixture
def services(sessions, clock) -> Services:
    workflows = WorkflowStore()
    return Services(
        sessions=sessions,
        clock=clock,
        workflows=workflows,
        orders=OrderService(OrderWork(sessions, clock, workflows)),
        shops=ShopService(sessions, clock, workflows),
    )


@pytest.fixture
def shops_cache() -> dict:
    """Shops made once per test and reused by its hypothesis examples."""
    return {}


# -- the run's summary ---------------------------------------------------------------------
# Skips are reported as one count with their reasons grouped (pyproject's `-r` leaves them
# out): hundreds of "SKIPPED [1] ... TEST_POSTGRES_URL is not set" lines buried the result.


def pytest_terminal_summary(terminalreporter) -> None:
    from collections import Counter

    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons: Counter[str] = Counter()
    for report in skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    terminalreporter.section(f"{len(skipped)} skipped, by reason", sep="-")
    for reason, count in reasons.most_common():
        terminalreporter.line(f"{count:6d}  {reason}")
