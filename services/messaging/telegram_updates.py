"""Which Telegram updates were handled, for webhook mode with several instances (G2).

Telegram redelivers an update whose webhook call failed or timed out, and behind a load
balancer the second delivery may reach another instance while the first is still working on
it. Each instance therefore takes an update here before handling it:

- the first to insert its `update_id` handles it (a lease covers a process that dies while
  handling: after the lease another instance may take the redelivery);
- a redelivery of an update that is being handled or was handled is acknowledged and dropped;
- an update whose handling raised is given back, so Telegram's retry is handled again.

Long polling needs none of this: getUpdates' offset already gives each update once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.time.clock import Clock
from storage.database import insert_for
from storage.models import TelegramUpdate

HANDLING = "handling"
DONE = "done"
LEASE = timedelta(minutes=2)  # longer than any handler; Telegram waits about a minute
KEEP = timedelta(days=2)  # Telegram keeps an undelivered update for 24 hours


class UpdateLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    async def take(self, update_id: int) -> bool:
        """True: this instance handles the update now. False: a duplicate, drop it."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            inserted = await session.execute(
                insert_for(session, TelegramUpdate)
                .values(
                    update_id=update_id,
                    state=HANDLING,
                    claimed_until=now + LEASE,
                    received_at=now,
                )
                .on_conflict_do_nothing(index_elements=["update_id"])
            )
            if inserted.rowcount == 1:
                return True
            # Taken before: only an abandoned one (its instance died mid-way) is taken over.
            taken_over = await session.execute(
                update(TelegramUpdate)
                .where(
                    TelegramUpdate.update_id == update_id,
                    TelegramUpdate.state == HANDLING,
                    TelegramUpdate.claimed_until <= now,
                )
                .values(claimed_until=now + LEASE)
            )
            return taken_over.rowcount == 1

    async def done(self, update_id: int) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(TelegramUpdate)
                .where(TelegramUpdate.update_id == update_id)
                .values(state=DONE, handled_at=self._clock.now())
            )

    async def give_back(self, update_id: int) -> None:
        """Handling raised: forget the update, so Telegram's redelivery is handled afresh."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(TelegramUpdate).where(
                    TelegramUpdate.update_id == update_id, TelegramUpdate.state == HANDLING
                )
            )

    async def purge(self, keep: timedelta = KEEP) -> int:
        """Forget updates older than Telegram could redeliver; returns how many."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(TelegramUpdate).where(TelegramUpdate.received_at < self._clock.now() - keep)
            )
            return result.rowcount

    async def state_of(self, update_id: int) -> str | None:
        async with self._sessions() as session:
            row = await session.get(TelegramUpdate, update_id)
            return row.state if row else None
