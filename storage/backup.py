"""Backups of the database: SQLite's online backup to a file; PostgreSQL's own pg_dump.

SQLite: `sqlite3`'s backup API copies the database page by page inside one read
transaction, so the copy is one consistent moment even while the bot writes (WAL lets the
writers go on), and it includes what still sits in the WAL file, which copying `shopbot.db`
alone would miss. The copy is written beside the target and renamed into place only after
an integrity check, so a failed backup never leaves a half file under the target's name.

PostgreSQL: a dump belongs to the server's own tools (they know its versions, its large
objects, its permissions), so the bot prints the pg_dump command instead of running one.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """A backup that was not made; the message says why, for the operator."""


@dataclass(frozen=True)
class SqliteBackup:
    path: Path
    size: int  # bytes
    tables: int


def backup_sqlite(database_url: str, target: Path) -> SqliteBackup:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupError("not a SQLite database")
    source = Path(url.database or "")
    if not url.database or url.database == ":memory:" or not source.is_file():
        raise BackupError(f"no SQLite database file at {source}")
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target} exists already: choose a new file name")
    if target.resolve() == source.resolve():
        raise BackupError("the backup cannot be the database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with _connect(source) as from_db, _connect(partial) as to_db:
            from_db.backup(to_db)  # every page in one step: one consistent snapshot
            # One self-contained file, whatever the journal mode of the original.
            to_db.execute("PRAGMA journal_mode=DELETE")
            (verdict,) = to_db.execute("PRAGMA integrity_check").fetchone()
            if verdict != "ok":
                raise BackupError(f"the copy failed its integrity check: {verdict}")
            (tables,) = to_db.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return SqliteBackup(target, target.stat().st_size, tables)


class _connect:
    """A sqlite3 connection closed on exit (sqlite3's own context manager only commits)."""

    def __init__(self, path: Path):
        self._connection = sqlite3.connect(path, timeout=30)

    def __enter__(self) -> sqlite3.Connection:
        return self._connection

    def __exit__(self, *exc) -> None:
        self._connection.close()


def pg_dump_command(database_url: str, target: str | Path) -> str:
    """The pg_dump command for a PostgreSQL URL; the password is left to PGPASSWORD or
    ~/.pgpass, never printed."""
    url = make_url(database_url)
    parts = ["pg_dump", "--format=custom", "--no-owner", f"--file={target}"]
    if url.host:
        parts.append(f"--host={url.host}")
    if url.port:
        parts.append(f"--port={url.port}")
    if url.username:
        parts.append(f"--username={url.username}")
    parts.append(url.database or "")
    return shlex.join(parts)


def pg_restore_command(database_url: str, source: str | Path) -> str:
    url = make_url(database_url)
    parts = ["pg_restore", "--clean", "--if-exists", "--no-owner"]
    if url.host:
        parts.append(f"--host={url.host}")
    if url.port:
        parts.append(f"--port={url.port}")
    if url.username:
        parts.append(f"--username={url.username}")
    parts += [f"--dbname={url.database or ''}", str(source)]
    return shlex.join(parts)
