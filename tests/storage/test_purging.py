"""Purges delete old rows a batch per transaction (storage/purging.py), all of them in the
end and nothing else."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, event, func, insert, select

from storage.database import create_engine, create_session_factory
from storage.purging import delete_in_batches

metadata = MetaData()
rows = Table("rows", metadata, Column("id", Integer, primary_key=True), Column("age", Integer))


async def test_old_rows_go_a_batch_per_transaction_and_the_rest_stay(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'purge.db'}")
    commits: list[int] = []
    event.listen(engine.sync_engine, "commit", lambda _conn: commits.append(1))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            await connection.execute(insert(rows), [{"age": age} for age in range(12)])
        commits.clear()
        # when: rows aged 2 and more go, three at a time
        removed = await delete_in_batches(
            create_session_factory(engine), rows.c.id, rows.c.age >= 2, batch=3
        )
        # then: ten gone in four transactions (3 + 3 + 3 + 1), the two young ones kept
        async with engine.connect() as connection:
            left = (await connection.execute(select(rows.c.age).order_by(rows.c.age))).scalars()
            assert (removed, list(left), len(commits)) == (10, [0, 1], 4)
            assert await connection.scalar(select(func.count()).select_from(rows)) == 2
    finally:
        await engine.dispose()
