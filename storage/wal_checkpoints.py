"""SQLite's write-ahead log moved into the database file beside the write path, not on it.

Left to itself SQLite checkpoints when a COMMIT finds the WAL over 1,000 pages: that commit
copies the pages into the database file and syncs the disk before it returns. A status
change writes about ten pages, so about one commit in a hundred took 16-24 ms instead of
0.5 ms here, and every other writer of the process waited behind it in the writers' queue
(storage/write_queue.py): it was the status tap's p99 (issue 15, measured by timing every
commit of bench/bench_tap.py).

Instead, connections made through storage/sqlite_driver.py checkpoint only as a safety net
(`SAFETY_NET_PAGES`, for a WAL that grows faster than this keeps up with, or a process
whose checkpoints never run), and after every `CHECKPOINT_EVERY` write commits of an engine
a PASSIVE checkpoint runs on a thread of its own, on a connection of its own. PASSIVE takes
no write lock and waits for nobody: writers go on committing meanwhile, and frames a reader
still needs stay for the next one. One runs at a time (one worker thread per process); a
commit that finds its engine's last one still queued or running skips its turn.

The thread is a plain worker, not the event loop's executor: nothing here is awaited, so a
checkpoint neither holds up a request nor outlives a loop as a pending task.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

# Write commits of one engine between two checkpoints: ~1,000 pages of status changes,
# SQLite's own default threshold.
CHECKPOINT_EVERY = 100
# The connections' own threshold (pages), only reached when checkpoints here fall behind.
SAFETY_NET_PAGES = 10_000

_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-checkpoint")


class WalCheckpoints:
    """The checkpoints of one engine's database file."""

    def __init__(self) -> None:
        self._file: tuple[str, bool] | None = None  # the engine's database, and whether a URI
        self._commits = 0
        self.running: Future | None = None  # the checkpoint under way, or the last one

    def opened(self, args: tuple, kwargs: dict[str, Any]) -> None:
        """The engine opened a connection with these sqlite3.connect arguments."""
        database = str(args[0] if args else kwargs.get("database", ""))
        if self._file is None and _on_disk(database):
            self._file = (database, bool(kwargs.get("uri", False)))

    def committed(self) -> None:
        """A write transaction committed: start a checkpoint when one is due."""
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY or self._file is None:
            return
        if self.running is not None and not self.running.done():
            return  # the one under way takes these pages too
        self.running = _worker.submit(_checkpoint, *self._file)


def _on_disk(database: str) -> bool:
    """A file database (an in-memory one has no WAL, and a second connection would not
    even see it)."""
    return bool(database) and database != ":memory:" and "mode=memory" not in database


def _checkpoint(database: str, uri: bool) -> None:
    """On the checkpoint thread: as much of the WAL as no reader still needs, into the file."""
    if not uri and not os.path.exists(database):
        return  # gone (a test's directory cleaned up): connecting would create it anew
    try:
        # Waiting is harmless on this thread: only for opening the file under a brief lock
        # (PASSIVE itself never waits).
        connection = sqlite3.connect(database, timeout=1.0, isolation_level=None, uri=uri)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()
    except sqlite3.Error:
        # Busy or gone: the next one, or SQLite's own safety net, takes these pages.
        log.warning("sqlite WAL checkpoint failed", exc_info=True)
