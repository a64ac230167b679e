"""One-click e-mail links work once: each use is recorded with the change it makes (D2)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.database import insert_for
from storage.models import UsedLink


async def record(
    session: AsyncSession, nonce: str, order_id: int, action: str, now: datetime
) -> bool:
    """Record the link's use; False if it was used before (by this or a concurrent request).

    Inserted in the transaction of the change: if the change is refused, the use is rolled
    back with it and the link still works, e.g. after a "try again".
    """
    done = await session.execute(
        insert_for(session, UsedLink)
        .values(nonce=nonce, order_id=order_id, action=action, used_at=now)
        .on_conflict_do_nothing(index_elements=["nonce"])
    )
    return done.rowcount == 1


async def used(session: AsyncSession, nonce: str) -> bool:
    """Whether the link was used already (its page then says so instead of offering it)."""
    found = await session.scalar(select(UsedLink.nonce).where(UsedLink.nonce == nonce))
    return found is not None
