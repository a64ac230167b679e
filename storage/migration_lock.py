"""One migration at a time per database, so replicas starting together migrate it once.

Every replica runs the migrations at start-up (`python -m bot run`) and docker-compose's
one-off `migrate` may run beside them. Without a lock two of them read the same old
revision and both try to create the same tables. With it, the second waits, then reads the
revision the first wrote, and finds nothing left to do.

PostgreSQL: a session-level advisory lock on the migrating connection (released by unlock,
or by the server when the connection dies, so a killed replica never leaves it held).
SQLite: an exclusive `flock` on a file beside the database (released when the process
exits); an in-memory database has one process and needs none.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger(__name__)

# Any fixed 64-bit number, the same in every replica: "ShopBot migrations".
ADVISORY_LOCK_KEY = 0x5B0_7_0019


@asynccontextmanager
async def migration_lock(connection: AsyncConnection, url: str) -> AsyncIterator[None]:
    if connection.dialect.name == "postgresql":
        async with _advisory_lock(connection):
            yield
        return
    database = make_url(url).database
    if not database or database == ":memory:":
        yield
        return
    async with _file_lock(Path(f"{database}.migrate-lock")):
        yield


@asynccontextmanager
async def _advisory_lock(connection: AsyncConnection) -> AsyncIterator[None]:
    await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    await connection.commit()  # the lock is the session's; the migrations begin afresh
    try:
        yield
    finally:
        if connection.in_transaction():
            await connection.rollback()  # a failed migration leaves its transaction open
        await connection.execute(
            text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
        )
        await connection.commit()


@asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        # Waiting blocks a thread, not the event loop (a replica may wait for minutes).
        await asyncio.to_thread(fcntl.flock, descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)
