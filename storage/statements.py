"""Statements on the hot paths built once and cached by SQLAlchemy.

`insert(...).on_conflict_do_nothing(...)` of SQLAlchemy's SQLite and PostgreSQL dialects has
no cache key: it is compiled again in every transaction that runs it (the profile of
`OrderService.apply` showed the outbox insert compiled each time). `INSERT ... ON CONFLICT
(...) DO NOTHING` is the same SQL in both databases (SQLite since 3.24), so a text statement
with typed parameters says it once and is compiled once per dialect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Executable, Table, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter, TextClause


@cache
def insert_ignoring(
    table: Table, columns: Sequence[str], conflict: Sequence[str], returning: str | None = None
) -> TextClause:
    """`INSERT INTO table (columns) VALUES (:columns) ON CONFLICT (conflict) DO NOTHING`,
    its parameters typed as the table's columns (JSON, dates and sealed values are converted
    as the ORM would); with `returning`, that column of the row inserted (no row: it was
    there already; SQLite since 3.35). Pass tuples (the statement is kept per arguments).

    Names are quoted: a column may be called as an SQL keyword (`key`)."""
    names = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join(f":{c}" for c in columns)
    keys = ", ".join(f'"{c}"' for c in conflict)
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({values}) ON CONFLICT ({keys}) DO NOTHING'
    if returning is not None:
        sql += f' RETURNING "{returning}"'
    statement = text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns))
    if returning is not None:
        statement = statement.columns(table.c[returning])
    return statement


# Several writes in one statement (PostgreSQL's data-modifying CTEs join a change's writes
# into fewer round trips, issue 15), with several rows built once per count: row i's column
# `name` is the parameter `r<i>_<name>` (another prefix than `r` for a second table's rows).


def joins_writes(session: AsyncSession) -> bool:
    """Whether the session's database runs writes as CTEs of another statement (PostgreSQL;
    SQLite's WITH takes only a SELECT)."""
    return session.get_bind().dialect.name == "postgresql"


def numbered_row(
    table: Table, columns: Sequence[str], i: int, prefix: str = "r"
) -> dict[str, BindParameter]:
    """Row `i`'s parameters, typed as the table's columns (`prefix`: another statement's
    rows in the same statement are named apart)."""
    return {name: bindparam(f"{prefix}{i}_{name}", type_=table.c[name].type) for name in columns}


def numbered(rows: Sequence[Mapping[str, Any]], prefix: str = "r") -> dict[str, Any]:
    """The rows' values under the names `numbered_row` gives them."""
    return {
        f"{prefix}{i}_{name}": value for i, row in enumerate(rows) for name, value in row.items()
    }


@dataclass(frozen=True)
class Along:
    """Writes to go along with another statement as its data-modifying CTEs (PostgreSQL).

    `statements` are built once (the statement they join is kept per them, by identity);
    `parameters` are theirs, named apart from the other statement's. They see the tables
    as they were before the statement, as it does: never send them along with a statement
    that reads or writes their tables."""

    statements: tuple[Executable, ...]
    parameters: Mapping[str, Any]
