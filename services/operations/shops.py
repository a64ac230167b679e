"""The operator's view of the shops on an installation: list them, suspend one, resume it.

Suspending only marks the shop (who may do what while it lasts is decided where it matters:
services/shops/suspension.py); nothing is deleted, paused or queued, so resuming is just
clearing the mark.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.refusals import Reason, Refused, invalid
from services.storefront.tokens import forget_shop_tokens
from services.time.clock import Clock
from storage.database import reading
from storage.models import Order, Shop, StaffMember, User

MAX_REASON = 500


@dataclass(frozen=True)
class ShopLine:
    id: int
    name: str
    created_at: datetime
    owner_telegram_ids: tuple[int, ...]
    orders: int
    suspended_at: datetime | None
    suspension_reason: str | None

    @property
    def suspended(self) -> bool:
        return self.suspended_at is not None


class ShopOperations:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    async def list(self) -> list[ShopLine]:
        async with reading(self._sessions) as session:
            shops = list(await session.scalars(select(Shop).order_by(Shop.id)))
            counts = dict(
                (await session.execute(select(Order.shop_id, func.count()).group_by(Order.shop_id)))
                .tuples()
                .all()
            )
            owners: dict[int, list[int]] = {}
            for shop_id, telegram_id in await session.execute(
                select(StaffMember.shop_id, User.telegram_id)
                .join(User, User.id == StaffMember.user_id)
                .where(StaffMember.role == "owner")
                .order_by(StaffMember.id)
            ):
                if telegram_id is not None:
                    owners.setdefault(shop_id, []).append(telegram_id)
        return [_line(shop, counts.get(shop.id, 0), owners.get(shop.id, [])) for shop in shops]

    async def suspend(self, shop_id: int, reason: str) -> ShopLine:
        """Suspend, or change the reason of a suspension under way (the date stays)."""
        reason = " ".join((reason or "").split())
        if not 1 <= len(reason) <= MAX_REASON or not reason.isprintable():
            raise invalid("reason", f"a reason of 1 to {MAX_REASON} printable characters")
        async with self._sessions() as session, session.begin():
            shop = await self._shop(session, shop_id)
            shop.suspended_at = shop.suspended_at or self._clock.now()
            shop.suspension_reason = reason
        forget_shop_tokens(self._sessions, shop_id)  # the API refuses at once
        return await self._one(shop_id)

    async def resume(self, shop_id: int) -> ShopLine:
        async with self._sessions() as session, session.begin():
            shop = await self._shop(session, shop_id)
            if shop.suspended_at is None:
                raise Refused(Reason.ALREADY, "the shop is not suspended")
            shop.suspended_at = None
            shop.suspension_reason = None
        forget_shop_tokens(self._sessions, shop_id)  # the API refuses at once
        return await self._one(shop_id)

    async def _shop(self, session: AsyncSession, shop_id: int) -> Shop:
        shop = await session.get(Shop, shop_id, with_for_update=True)
        if shop is None:
            raise Refused(Reason.NOT_FOUND, f"no shop with id {shop_id}")
        return shop

    async def _one(self, shop_id: int) -> ShopLine:
        return next(line for line in await self.list() if line.id == shop_id)


def _line(shop: Shop, orders: int, owners: list[int]) -> ShopLine:
    return ShopLine(
        shop.id,
        shop.name,
        shop.created_at,
        tuple(owners),
        orders,
        shop.suspended_at,
        shop.suspension_reason,
    )
