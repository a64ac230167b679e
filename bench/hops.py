"""Counting thread hops: calls onto aiosqlite's connection threads (storage/sqlite_driver.py).

Every hop goes through aiosqlite's `Connection._execute`: commit, rollback, each step of a
statement with SQLAlchemy's stock adapter, each statement with the one-hop adapter.
"""

from __future__ import annotations

import aiosqlite.core


class HopCounter:
    def __init__(self) -> None:
        self.hops = 0
        self._original = aiosqlite.core.Connection._execute

    def __enter__(self) -> HopCounter:
        original = self._original

        def counted(connection, fn, *args, **kwargs):
            self.hops += 1
            return original(connection, fn, *args, **kwargs)

        aiosqlite.core.Connection._execute = counted
        return self

    def __exit__(self, *_exc) -> None:
        aiosqlite.core.Connection._execute = self._original
