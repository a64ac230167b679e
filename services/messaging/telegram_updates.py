"""Which Telegram updates were handled, for webhook mode with several instances (G2).

Telegram redelivers an update whose webhook call failed or timed out, and behind a load
balancer the second delivery may reach another instance while the first is still working on
it. Each instance therefore takes an update here before handling it:

- the first to insert its `update_id` handles it (a lease covers a process that dies while
  handling: after the lease another instance may take the redelivery);
- a redelivery of an update that is being handled or was handled is acknowledged and dropped;
- an update whose handling raised is marked failing, so Telegram's retry is handled again;
  after `POISON_AFTER` failures it is poison: acknowledged (Telegram stops redelivering it,
  and the updates after it in that chat are not held up), kept with its body for the
  operator, and the person is told (handlers/http/telegram_webhook.py).

Long polling needs none of this: getUpdates' offset already gives each update once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.time.clock import Clock
from storage.database import insert_for
from storage.models import TelegramUpdate
from storage.purging import delete_in_batches

HANDLING = "handling"
DONE = "done"
FAILING = "failing"  # its handling raised; a redelivery is handled afresh
POISON = "poison"  # failed POISON_AFTER times: acknowledged, kept for the operator
POISON_AFTER = 3
KEEP_POISON = timedelta(days=14)  # for the operator to look at; erased with the person
MAX_ERROR = 500
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
            # Taken before: an abandoned one (its instance died mid-way) is taken over, and a
            # failing one is Telegram's retry, to be handled afresh.
            taken_over = await session.execute(
                update(TelegramUpdate)
                .where(
                    TelegramUpdate.update_id == update_id,
                    or_(
                        TelegramUpdate.state == FAILING,
                        and_(
                            TelegramUpdate.state == HANDLING,
                            TelegramUpdate.claimed_until <= now,
                        ),
                    ),
                )
                .values(state=HANDLING, claimed_until=now + LEASE)
            )
            return taken_over.rowcount == 1

    async def done(self, update_id: int) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(TelegramUpdate)
                .where(TelegramUpdate.update_id == update_id)
                .values(state=DONE, handled_at=self._clock.now())
            )

    async def failed(
        self,
        update_id: int,
        error: str,
        *,
        body: dict[str, Any] | None = None,
        from_id: int | None = None,
    ) -> bool:
        """Handling raised. False: failing, Telegram's redelivery is handled afresh. True: it
        failed `POISON_AFTER` times and is poison now: kept with `body`, not handled again."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            row = await session.get(TelegramUpdate, update_id, with_for_update=True)
            if row is None or row.state != HANDLING:
                return False
            row.failures = (row.failures or 0) + 1
            row.last_error = error[:MAX_ERROR]
            if row.failures >= POISON_AFTER:
                row.state, row.handled_at = POISON, now
                row.body, row.from_id = body, from_id
                return True
            row.state, row.claimed_until = FAILING, now
            return False

    async def purge(self, keep: timedelta = KEEP, keep_poison: timedelta = KEEP_POISON) -> int:
        """Forget updates older than Telegram could redeliver, poison ones after the operator
        had time to look; returns how many."""
        now = self._clock.now()
        return await delete_in_batches(
            self._sessions,
            TelegramUpdate.update_id,
            TelegramUpdate.received_at < now - keep,
            or_(TelegramUpdate.state != POISON, TelegramUpdate.received_at < now - keep_poison),
        )

    async def state_of(self, update_id: int) -> str | None:
        async with self._sessions() as session:
            row = await session.get(TelegramUpdate, update_id)
            return row.state if row else None
