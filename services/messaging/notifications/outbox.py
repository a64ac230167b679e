"""Writing notifications into the outbox, inside the transaction of the change causing them.

A pump (the Telegram and e-mail senders) delivers them later, retrying with backoff. Each
row has a dedupe key derived from the change that caused it; a row whose key exists is
skipped, so a change retried after a lost race never notifies twice.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from storage import direct
from storage.models import OutboxMessage
from storage.statements import Along, insert_ignoring, numbered, numbered_row

_COLUMNS = (
    "dedupe_key",
    "shop_id",
    "order_id",
    "channel",
    "audience",
    "topic",
    "payload",
    "state",
    "attempts",
    "next_attempt_at",
    "created_at",
)


class Outbox:
    """The notifications of one transaction, written together in one statement."""

    def __init__(self, now: datetime):
        self._now = now
        self._rows: dict[str, dict[str, Any]] = {}

    def add(
        self,
        *,
        key: str,
        channel: str,
        audience: str,
        topic: str,
        shop_id: int | None = None,
        order_id: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        self._rows.setdefault(
            key,
            {
                "dedupe_key": key,
                "shop_id": shop_id,
                "order_id": order_id,
                "channel": channel,
                "audience": audience,
                "topic": topic,
                "payload": payload or {},
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": self._now,
                "created_at": self._now,
            },
        )

    @property
    def keys(self) -> list[str]:
        return list(self._rows)

    async def write(self, session: AsyncSession, *, along: Along | None = None) -> None:
        """Write the rows. `along`: other writes to send with them as CTEs of their insert
        (PostgreSQL only; the caller has none otherwise), in one round trip."""
        rows = list(self._rows.values())
        if along is not None:
            if not rows:
                raise ValueError("nothing to send the writes along with")
            statement = _inserted_with(along.statements, tuple(rows[0]), len(rows))
            await direct.execute(session, statement, {**along.parameters, **numbered(rows, "o")})
        elif rows:
            # One constant statement, executed for many rows, compiled once per dialect (the
            # dialects' on_conflict_do_nothing cannot be cached: storage/statements.py).
            statement = insert_ignoring(OutboxMessage.__table__, _COLUMNS, ("dedupe_key",))
            await direct.execute(session, statement, rows)
        self._rows.clear()


@cache
def _inserted_with(along: tuple[Executable, ...], columns: tuple[str, ...], count: int):
    """PostgreSQL: `WITH a0 AS (...), a1 AS (...) INSERT INTO outbox VALUES <count rows>
    ON CONFLICT (dedupe_key) DO NOTHING`, the rows' parameters `o<i>_<column>`. Kept per
    shape: storage.direct compiles it once."""
    table = OutboxMessage.__table__
    statement = (
        postgresql.insert(table)
        .values([numbered_row(table, columns, i, "o") for i in range(count)])
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    for index, write in enumerate(along):
        statement = statement.add_cte(write.cte(f"a{index}"))
    return statement
