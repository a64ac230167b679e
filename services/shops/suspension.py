"""Shops the operator suspended: what that stops, checked where it happens.

A suspension (`python -m bot shop suspend`) closes the shop for business without losing
anything: its storefront API answers 403 (handlers/http/api), its staff cannot create or
change orders (the order service asks here), and they see why in the bot's menu. The
buyers keep their rights (cancel, confirm receipt, write to the shop), and timers and
notifications keep going, so no buyer's deadline stretches because of a dispute between the
shop and the operator. Resuming lifts it at once; nothing needs replaying.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.refusals import OrderRefused, Problem
from storage.models import Shop


async def refuse_if_suspended(session: AsyncSession, shop_id: int) -> None:
    suspended_at = await session.scalar(select(Shop.suspended_at).where(Shop.id == shop_id))
    if suspended_at is not None:
        raise OrderRefused(
            Problem.SHOP_SUSPENDED, "the shop is suspended by the operator", {"shop_id": shop_id}
        )
