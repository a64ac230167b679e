"""Replicas starting together migrate the database once: the second waits for the first's
lock, then finds the schema new (storage/migration_lock.py). Real processes, as replicas are."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.migrate import head_revision
from storage.migration_lock import ADVISORY_LOCK_KEY
from tests.conftest import (
    NO_POSTGRES,
    POSTGRES_URL,
    create_postgres_database,
    drop_postgres_database,
    sqlite_url,
)

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0  # seconds for a process's progress (real time: nothing to advance)


async def migrate(url: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "migrate",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def until(what: str, check: Callable[[], Awaitable[bool]]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {DEADLINE} s: {what}")
        await asyncio.sleep(0.05)


async def outcomes(processes) -> list[str]:
    said = []
    try:
        for process in processes:
            out, err = await asyncio.wait_for(process.communicate(), DEADLINE)
            assert process.returncode == 0, err.decode()
            said.append(out.decode().strip())
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    return sorted(said)


def one_migrated_one_found_it_done(said: list[str]) -> None:
    head = head_revision()
    assert sum(f"to the newest schema ({head}; was empty)" in line for line in said) == 1, said
    assert sum(f"at the newest schema already ({head})" in line for line in said) == 1, said


@pytest.fixture
def empty_postgres():
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    url = create_postgres_database("shopbot_lock")
    yield url
    drop_postgres_database(url)


@pytest.mark.postgres
async def test_two_replicas_on_one_postgresql_migrate_it_once(empty_postgres):
    # given the lock held, as by a replica in the middle of migrating
    engine = create_async_engine(empty_postgres, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as holder:
            await holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})

            # when two more start together
            processes = [await migrate(empty_postgres), await migrate(empty_postgres)]

            async def both_wait() -> bool:
                waiting = await holder.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND NOT granted AND database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database())"
                    )
                )
                return waiting == 2

            # then both wait for it, and nothing was created meanwhile
            await until("both processes wait for the migration lock", both_wait)
            tables = await holder.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
            assert tables == 0
            await holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})

        # and once it is released, one migrates and the other finds nothing left to do
        one_migrated_one_found_it_done(await outcomes(processes))
        async with engine.connect() as connection:
            versions = (await connection.execute(text("SELECT * FROM alembic_version"))).all()
            held = await connection.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
            )
        assert versions == [(head_revision(),)]
        assert held == 0  # nobody keeps the lock afterwards
    finally:
        await engine.dispose()


async def test_two_processes_on_one_sqlite_file_migrate_it_once(tmp_path):
    database = tmp_path / "data" / "shopbot.db"
    database.parent.mkdir()
    lock_file = Path(f"{database}.migrate-lock")
    # given the lock file held, as by a process in the middle of migrating
    descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        processes = [await migrate(sqlite_url(database)), await migrate(sqlite_url(database))]
        pids = {str(p.pid) for p in processes}

        async def both_wait() -> bool:
            return pids <= flock_waiters()

        await until("both processes wait for the lock file", both_wait)
        with sqlite3.connect(database) as db:
            assert db.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)
    one_migrated_one_found_it_done(await outcomes(processes))


def flock_waiters() -> set[str]:
    """The pids waiting for a flock: /proc/locks lists them as "N: -> FLOCK ... <pid> ..."."""
    lines = Path("/proc/locks").read_text().splitlines()
    return {line.split()[5] for line in lines if "->" in line and "FLOCK" in line}
