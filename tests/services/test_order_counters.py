"""Order numbers count in a row of their own per shop (storage.models.OrderCounter), not in
the shop's row: a new order writes nothing to its shop, numbers go on across the migration
that moved them, and a shop's first order makes its counter."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, text

from storage.migrate import downgrade, upgrade
from tests.factories import make_order, make_shop


async def test_a_new_order_counts_in_its_own_row_and_writes_nothing_to_its_shop(services, engine):
    shop = await make_shop(services)
    await make_order(services, shop)
    written: list[str] = []

    def record(_connection, _cursor, statement, *_args) -> None:
        written.append(" ".join(statement.split()).upper())

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        second = await make_order(services, shop)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert second.number == 2
    assert any(s.startswith("INSERT INTO ORDER_COUNTERS") for s in written)
    assert not [s for s in written if s.startswith("UPDATE SHOPS")]


async def test_numbers_go_on_across_the_migration_that_moved_them(services, engine, database_url):
    # given a shop with two orders and one with none
    busy, idle = await make_shop(services), await make_shop(services)
    assert [(await make_order(services, busy)).number for _ in range(2)] == [1, 2]
    # when the counters go back into the shops' rows
    await engine.dispose()
    await asyncio.to_thread(downgrade, database_url, "0023")
    async with engine.connect() as connection:
        kept = dict(
            (await connection.execute(text("SELECT id, last_order_number FROM shops"))).all()
        )
    await engine.dispose()
    assert (kept[busy.id], kept[idle.id]) == (2, 0)
    # and out again into rows of their own
    await asyncio.to_thread(upgrade, database_url)
    # then each shop's numbers go on from where they were
    assert (await make_order(services, busy)).number == 3
    assert (await make_order(services, idle)).number == 1
    assert (await make_order(services, idle)).number == 2
