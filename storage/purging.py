"""Old rows deleted a batch per transaction.

A periodic purge may find a day's worth of rows (Telegram updates, idempotency keys). One
DELETE of them all would hold SQLite's only write lock, and on SQLite run on the event loop's
thread (storage/sqlite_driver.py), for as long as it takes; a batch per transaction keeps
each turn short and lets other writers in between.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

PURGE_BATCH = 1000  # rows per transaction: a few milliseconds of SQLite work


async def delete_in_batches(
    sessions: async_sessionmaker[AsyncSession],
    key: ColumnElement,
    *where: ColumnElement[bool],
    batch: int = PURGE_BATCH,
) -> int:
    """Delete the rows of `key`'s table matching `where`, `batch` at a time; how many."""
    table = key.table
    removed = 0
    while True:
        chosen = select(key).where(*where).limit(batch).scalar_subquery()
        async with sessions() as session, session.begin():
            count = (await session.execute(delete(table).where(key.in_(chosen)))).rowcount
        removed += count
        if count < batch:
            return removed
