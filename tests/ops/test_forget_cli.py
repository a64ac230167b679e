"""`python -m bot buyers forget` and `buyers retention` as the operator runs them, and the
daily job of the running bot."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.container import build_container
from bot.scheduler import RETENTION_JOB_ID, add_retention_job, build_scheduler, build_sweep
from bot.settings import Settings
from storage.migrate import upgrade_async
from storage.models import Order
from tests.factories import make_order, make_shop

ROOT = Path(__file__).resolve().parents[2]


def test_forget_by_phone_refuses_open_orders_then_erases_with_force(tmp_path, clock):
    url = f"sqlite+aiosqlite:///{tmp_path}/shop.db"

    async def arrange():
        await upgrade_async(url)
        container = build_container(Settings(_env_file=None, database_url=url), clock=clock)
        try:
            shop = await make_shop(container)
            order = await make_order(container, shop)  # Ivan Petrov, +79161234567
            return shop.id, order.number
        finally:
            await container.close()

    shop_id, number = asyncio.run(arrange())
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DATABASE_URL")},
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": url,
    }

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "bot", "buyers", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def names() -> list[str]:
        with sqlite3.connect(tmp_path / "shop.db") as db:
            return [name for (name,) in db.execute("SELECT name FROM buyers")]

    shop = str(shop_id)
    dry = cli("forget", "--shop", shop, "--phone", "8 916 123-45-67", "--dry-run")
    assert dry.returncode == 0 and f"orders #{number}" in dry.stdout and "dry run" in dry.stdout
    refused = cli("forget", "--shop", shop, "--phone", "+7 916 123 45 67")
    assert refused.returncode == 1 and "not closed" in refused.stderr
    assert names() == ["Ivan Petrov"]
    both = cli("forget", "--shop", shop, "--phone", "1", "--email", "x@example.com")
    assert both.returncode == 2  # argparse: one of them only
    forced = cli("forget", "--shop", shop, "--phone", "+79161234567", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "personal data erased" in forced.stdout
    assert names() == [""]
    swept = cli("retention")
    assert swept.returncode == 0 and "0 closed order(s)" in swept.stdout


async def test_the_running_bot_erases_expired_data_once_a_day(tmp_path, clock):
    # given a shop keeping data 90 days, and an order closed 100 days ago
    url = f"sqlite+aiosqlite:///{tmp_path}/shop.db"
    await upgrade_async(url)
    container = build_container(Settings(_env_file=None, database_url=url), clock=clock)
    try:
        shop = await make_shop(container, personal_data_retention_days=90)
        order = await make_order(container, shop)
        await container.orders.apply(
            order.id,
            shop.as_user(shop.manager),
            "cancel",
            {"reason": "other", "comment": "no stock"},
        )
        clock.advance(timedelta(days=100))
        # when the scheduler the runner builds has its daily job run
        scheduler = build_scheduler(build_sweep(container), 30)
        add_retention_job(scheduler, container)
        job = scheduler.get_job(RETENTION_JOB_ID)
        assert job.trigger.interval == timedelta(hours=24)
        await job.func()
        # then the closed order's buyer data is gone
        async with container.sessions() as session:
            erased = await session.scalar(
                select(Order.personal_data_erased_at).where(Order.id == order.id)
            )
        assert erased is not None
    finally:
        await container.close()
