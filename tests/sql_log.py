"""The SQL an engine runs while a test looks, for tests that count statements (issue 15)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event


@contextmanager
def statements_of(engine) -> Iterator[list[str]]:
    """The SQL the engine runs meanwhile, each flattened to one line."""
    seen: list[str] = []

    def before(_conn, _cursor, statement, _parameters, _context, _many) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)
