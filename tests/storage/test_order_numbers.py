"""PostgreSQL's order numbers, taken on connections of their own (services.orders.numbers):
consecutive per shop, committed at once without waiting for the disk."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.container import build_container
from bot.settings import Settings
from services.orders.numbers import order_numbers


async def test_numbers_are_consecutive_per_shop_and_committed_without_waiting_for_the_disk(
    fresh_postgres,
):
    container = build_container(Settings(_env_file=None, database_url=fresh_postgres))
    numbers = order_numbers(fresh_postgres)
    try:
        made = await container.shops.create_shop(
            name="Numbers", owner_telegram_id=4242, email="shop@example.com"
        )
        shop_id = made.shop.id
        # when a burst of orders takes numbers at once
        taken = await asyncio.gather(*(numbers.take(shop_id) for _ in range(30)))
        # then each has its own, and together they are the shop's first thirty
        assert sorted(taken) == list(range(1, 31))
        with pytest.raises(IntegrityError):  # no such shop
            await numbers.take(987_654)
        # and the numbers' connections commit without waiting for the disk (safe: the order
        # that uses a number commits after it and waits, flushing the log past it)
        async with numbers._engine.connect() as connection:
            assert await connection.scalar(text("SHOW synchronous_commit")) == "off"
        async with container.engine.connect() as connection:
            assert await connection.scalar(text("SHOW synchronous_commit")) == "on"
    finally:
        await numbers.close()
        await container.close()


pytestmark = pytest.mark.postgres
