"""Payment notifications that changed nothing because the provider's API did not confirm them
(issue 17): a forged notification, one for a payment this shop's account does not have, one
for another shop's order, or a body that is no notification at all.

DESIGN's "nothing lost": each is kept as a row (what it claimed, never the payer), and the
shop's owner and admins are told, at most once an hour per shop, so a flood of forgeries
cannot spam them (the outbox's dedupe key carries the hour). Past a cap per hour the rows
stop too: a flood cannot fill the database, and the notice already said what is going on.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.messaging.notifications.outbox import Outbox
from services.time.clock import Clock
from storage.models import RejectedPaymentNotice

log = logging.getLogger(__name__)

TOPIC = "payment_rejected"  # a shop-level notice (services.messaging.notifications.recipients)
KEPT_PER_HOUR = 100  # rows per shop and hour; the rest are only logged

UNREADABLE = "unreadable"  # not a notification we read
UNKNOWN_PAYMENT = "unknown_payment"  # the provider's API does not know it for this account
NOT_THIS_SHOP = "not_this_shop"  # a real payment, but not for an order of this shop


class RejectedNotices:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    async def keep(
        self,
        shop_id: int,
        provider: str,
        reason: str,
        *,
        event: str | None = None,
        object_id: str | None = None,
    ) -> bool:
        """Keeps it and tells the shop (once an hour); False when over the hourly cap."""
        now = self._clock.now()
        hour = now.replace(minute=0, second=0, microsecond=0)
        async with self._sessions() as session, session.begin():
            kept = await session.scalar(
                select(func.count())
                .select_from(RejectedPaymentNotice)
                .where(
                    RejectedPaymentNotice.shop_id == shop_id,
                    RejectedPaymentNotice.created_at >= hour,
                    RejectedPaymentNotice.created_at < hour + timedelta(hours=1),
                )
            )
            if kept >= KEPT_PER_HOUR:
                log.info("%s notification for shop %s over the hourly cap", provider, shop_id)
                return False
            session.add(
                RejectedPaymentNotice(
                    shop_id=shop_id,
                    provider=provider,
                    event=event[:64] if event else None,
                    object_id=object_id[:128] if object_id else None,
                    reason=reason,
                    created_at=now,
                )
            )
            outbox = Outbox(now)
            outbox.add(
                key=f"payment_rejected:{shop_id}:{provider}:{hour:%Y%m%d%H}",
                channel="telegram",
                audience="shop",
                topic=TOPIC,
                shop_id=shop_id,
                payload={"provider": provider, "reason": reason},
            )
            await outbox.write(session)
        return True
