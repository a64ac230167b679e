"""`python -m bot backup FILE`: a consistent copy of the SQLite database made while the bot
writes, and the bot's services run on the restored copy (orders readable, a transition
applies). PostgreSQL is refused with the pg_dump command to run instead."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.container import build_container
from bot.settings import Settings
from services.orders.actors import ActorRef
from storage.backup import BackupError, backup_sqlite, pg_dump_command
from storage.migrate import upgrade_async
from tests.factories import make_order, make_shop

ROOT = Path(__file__).resolve().parents[2]


def url_of(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def a_shop_with_orders(url: str, clock, count: int = 3):
    await upgrade_async(url)
    container = build_container(Settings(_env_file=None, database_url=url), clock=clock)
    shop = await make_shop(container)
    orders = [await make_order(container, shop, external_id=f"ext-{i}") for i in range(count)]
    return container, shop, orders


async def test_the_restored_copy_runs_the_bot(tmp_path, clock):
    # given a shop whose orders are being worked on while the backup is taken
    live = tmp_path / "live" / "shopbot.db"
    container, shop, orders = await a_shop_with_orders(url_of(live), clock)
    try:
        await container.orders.apply(orders[0].id, ActorRef.user(shop.manager.id), "confirm")

        async def keep_writing():
            for i in range(3, 23):
                await make_order(container, shop, external_id=f"ext-{i}")

        writer = asyncio.create_task(keep_writing())
        # when the backup is taken (the bot's WAL holds recent writes not yet in the file)
        made = await asyncio.to_thread(backup_sqlite, url_of(live), tmp_path / "b" / "copy.db")
        await writer
    finally:
        await container.close()
    assert made.tables >= 20 and made.size > 0
    assert not list((tmp_path / "b").glob(".*partial"))  # nothing half-written is left

    # then the copy is one file that opens as a database of its own
    restored = tmp_path / "restored" / "shopbot.db"
    restored.parent.mkdir()
    shutil.copy(made.path, restored)
    with sqlite3.connect(restored) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        numbers = [n for (n,) in db.execute("SELECT number FROM orders ORDER BY number")]
    assert numbers[:3] == [1, 2, 3]  # everything committed before the copy
    assert numbers == list(range(1, len(numbers) + 1))  # and one consistent moment

    # and the bot's services work on it: the orders are readable and a transition applies
    copy = build_container(Settings(_env_file=None, database_url=url_of(restored)), clock=clock)
    try:
        manager = ActorRef.user(shop.manager.id)
        first = await copy.orders.get(orders[0].id, manager)
        assert first.status == "awaiting_payment"
        result = await copy.orders.apply(orders[1].id, manager, "confirm")
        assert result.order.status == "awaiting_payment"
        assert (await copy.orders.get(orders[1].id, manager)).status == "awaiting_payment"
    finally:
        await copy.close()


async def test_a_backup_never_overwrites_and_needs_a_database(tmp_path, clock):
    live = tmp_path / "shopbot.db"
    container, _shop, _orders = await a_shop_with_orders(url_of(live), clock, count=1)
    await container.close()
    target = tmp_path / "copy.db"
    target.write_bytes(b"yesterday's backup")
    with pytest.raises(BackupError, match="exists already"):
        backup_sqlite(url_of(live), target)
    assert target.read_bytes() == b"yesterday's backup"
    with pytest.raises(BackupError, match="cannot be the database itself"):
        backup_sqlite(url_of(live), tmp_path / "sub" / ".." / "shopbot.db")
    with pytest.raises(BackupError, match="no SQLite database file"):
        backup_sqlite(url_of(tmp_path / "missing.db"), tmp_path / "x.db")


def test_postgresql_is_refused_with_the_pg_dump_command_and_no_password(tmp_path):
    url = "postgresql+asyncpg://shopbot:s3cret@db.internal:5433/shopbot"
    command = pg_dump_command(url, "/backups/shopbot.dump")
    assert command == (
        "pg_dump --format=custom --no-owner --file=/backups/shopbot.dump "
        "--host=db.internal --port=5433 --username=shopbot shopbot"
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "backup", str(tmp_path / "x.dump")],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "pg_dump --format=custom" in result.stdout and "pg_restore" in result.stdout
    assert "s3cret" not in result.stdout + result.stderr
    assert not (tmp_path / "x.dump").exists()


def test_the_command_backs_up_the_configured_database(tmp_path):
    database = tmp_path / "data" / "shopbot.db"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_URL": url_of(database)}

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert cli("migrate").returncode == 0
    made = cli("backup", "backups/monday.db")
    assert made.returncode == 0, made.stderr
    assert "integrity ok" in made.stdout
    assert (tmp_path / "backups" / "monday.db").stat().st_size > 0
    again = cli("backup", "backups/monday.db")
    assert again.returncode == 1 and "exists already" in again.stderr
