"""Moving sealed credentials onto the newest SECRET_KEY after a rotation.

The vault opens a value sealed with any configured key, so a rotation needs no downtime;
this pass then re-encrypts every value that is not under the newest key yet, so the old key
can be dropped from SECRET_KEY_PREVIOUS. The columns come from the marks in the models
(storage/sealing.py). A value no configured key opens is counted and left untouched: it may
belong to a key the operator dropped too early, and destroying it would lose it for good.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, MetaData, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.outside.vault import Vault, VaultError
from storage.sealing import INFO_KEY

log = logging.getLogger(__name__)

BATCH = 200


@dataclass(frozen=True)
class SealedColumn:
    table: Table
    column: Column
    json_keys: tuple[str, ...] = ()  # empty: the whole value is sealed

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column.name}"


@dataclass(frozen=True)
class ResealReport:
    columns: tuple[str, ...]
    moved: int = 0  # re-encrypted under the newest key
    current: int = 0  # already under it
    unreadable: int = 0  # no configured key opens it: left as it was


def sealed_columns(metadata: MetaData) -> list[SealedColumn]:
    """Every column a model marked as sealed, in a stable order."""
    found = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            mark = column.info.get(INFO_KEY)
            if mark is True:
                found.append(SealedColumn(table, column))
            elif mark:
                found.append(SealedColumn(table, column, tuple(mark)))
    return found


class _Counts:
    def __init__(self) -> None:
        self.moved = self.current = self.unreadable = 0


class Resealer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vault: Vault,
        columns: Sequence[SealedColumn],
        *,
        batch: int = BATCH,
    ):
        self._sessions = sessions
        self._vault = vault
        self._columns = list(columns)
        self._batch = batch

    async def run(self) -> ResealReport:
        counts = _Counts()
        for sealed in self._columns:
            await self._column(sealed, counts)
        return ResealReport(
            tuple(c.name for c in self._columns), counts.moved, counts.current, counts.unreadable
        )

    async def _column(self, sealed: SealedColumn, counts: _Counts) -> None:
        [key] = sealed.table.primary_key.columns  # sealed tables have one-column keys
        last: Any = None
        while True:
            # One transaction per batch, rows locked while they are rewritten (a credential
            # saved meanwhile by a running bot is not overwritten with its older value).
            async with self._sessions() as session, session.begin():
                query = select(key, sealed.column).where(sealed.column.is_not(None))
                if last is not None:
                    query = query.where(key > last)
                query = query.order_by(key).limit(self._batch).with_for_update()
                rows = (await session.execute(query)).all()
                for row_key, value in rows:
                    new = self._reseal(sealed, value, counts)
                    if new is not value:
                        await session.execute(
                            update(sealed.table).where(key == row_key).values({sealed.column: new})
                        )
            if len(rows) < self._batch:
                return
            last = rows[-1][0]

    def _reseal(self, sealed: SealedColumn, value: Any, counts: _Counts) -> Any:
        """The value to write back: the same object when nothing moved."""
        if not sealed.json_keys:
            return self._one(value, sealed.name, counts)
        if not isinstance(value, dict):
            return value
        updated = dict(value)
        for name in sealed.json_keys:
            updated[name] = self._one(value.get(name), f"{sealed.name}[{name}]", counts)
        changed = any(updated[name] is not value.get(name) for name in sealed.json_keys)
        return {k: v for k, v in updated.items() if k in value} if changed else value

    def _one(self, value: Any, where: str, counts: _Counts) -> Any:
        if not isinstance(value, str) or not value:
            return value
        if self._vault.is_newest(value):
            counts.current += 1
            return value
        try:
            resealed = self._vault.reseal(value)
        except VaultError:
            log.warning("a sealed value in %s opens with no configured key: left as it is", where)
            counts.unreadable += 1
            return value
        counts.moved += 1
        return resealed


def describe(report: ResealReport) -> Iterable[str]:
    yield f"sealed columns: {', '.join(report.columns) or 'none'}"
    yield (
        f"{report.moved} value(s) moved to the newest key, {report.current} already on it, "
        f"{report.unreadable} unreadable"
    )
