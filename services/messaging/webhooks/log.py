"""A shop's webhook delivery log (H4), for /settings: what was sent to the storefront, what
is waiting for a retry, what failed and why, and "retry now" for the owner and admins.

The log is the outbox rows of channel "webhook" themselves (an index on shop, channel, id);
rows written while the shop had no webhook URL are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.messaging.webhooks.events import CHANNEL
from services.messaging.webhooks.pump import DONE, FAILED, PENDING
from services.refusals import Reason, Refused
from services.shops.staff import require_supervisor
from services.time.clock import Clock
from storage.database import reading
from storage.models import OutboxMessage

SHOWN = 10


@dataclass(frozen=True)
class LogLine:
    id: int
    event: str
    number: int | None
    state: str  # pending | sent | failed
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime


class WebhookLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    async def recent(self, shop_id: int, *, user_id: int, limit: int = SHOWN) -> list[LogLine]:
        async with reading(self._sessions) as session:
            await require_supervisor(session, shop_id, user_id)
            rows = await session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.shop_id == shop_id,
                    OutboxMessage.channel == CHANNEL,
                    OutboxMessage.state != DONE,
                )
                .order_by(OutboxMessage.id.desc())
                .limit(limit)
            )
            return [
                LogLine(
                    row.id,
                    row.topic,
                    (row.payload or {}).get("number"),
                    row.state,
                    row.attempts,
                    row.last_error,
                    row.created_at,
                    row.next_attempt_at,
                )
                for row in rows
            ]

    async def retry(self, shop_id: int, *, user_id: int, row_id: int | None = None) -> int:
        """Due now, with its attempts counted afresh: one row, or every failed row of the
        shop (`row_id` None). Returns how many; a row sent meanwhile is left alone."""
        async with self._sessions() as session, session.begin():
            await require_supervisor(session, shop_id, user_id)
            query = update(OutboxMessage).where(
                OutboxMessage.shop_id == shop_id, OutboxMessage.channel == CHANNEL
            )
            if row_id is None:
                query = query.where(OutboxMessage.state == FAILED)
            else:
                query = query.where(
                    OutboxMessage.id == row_id, OutboxMessage.state.in_((FAILED, PENDING))
                )
            done = await session.execute(
                query.values(state=PENDING, attempts=0, next_attempt_at=self._clock.now())
            )
            if row_id is not None and done.rowcount == 0:
                raise Refused(Reason.ALREADY, "sent already, or not this shop's")
            return done.rowcount
