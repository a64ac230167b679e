"""A fresh PostgreSQL database for one bench run, dropped afterwards.

`async with scratch_database(admin_url) as (url, version):` creates `shopbot_bench_<random>`
on the server `admin_url` points at and yields its URL and the server's version; the database
is dropped (its connections closed) however the bench ends.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine


@asynccontextmanager
async def scratch_database(admin_url: str) -> AsyncIterator[tuple[str, str]]:
    name = f"shopbot_bench_{secrets.token_hex(4)}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            version = (await connection.execute(text("SHOW server_version"))).scalar_one()
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield (
                make_url(admin_url).set(database=name).render_as_string(hide_password=False),
                version,
            )
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()
