"""Order cards shown in chats, so a change to the order redraws every one of them (C3)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.time.clock import Clock
from storage import direct
from storage.database import insert_for, reading
from storage.models import OrderCard

# A chat keeps at most this many live cards of one order: older ones stop being redrawn.
CARDS_PER_CHAT = 3


@dataclass(frozen=True)
class ShownCard:
    order_id: int
    user_id: int
    chat_id: int
    message_id: int


class CardRegistry:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    async def remember(
        self,
        order_id: int,
        user_id: int,
        chat_id: int,
        message_id: int,
        digest: str | None = None,
    ) -> None:
        """A card of this order now shows in this chat, drawn for this person (`digest`:
        of what it shows, see `drawn`)."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                insert_for(session, OrderCard.__table__)
                .values(
                    order_id=order_id,
                    user_id=user_id,
                    chat_id=chat_id,
                    message_id=message_id,
                    digest=digest,
                    created_at=self._clock.now(),
                )
                .on_conflict_do_nothing(index_elements=["chat_id", "message_id"])
            )
            older = list(
                await session.scalars(
                    select(OrderCard.id)
                    .where(OrderCard.order_id == order_id, OrderCard.chat_id == chat_id)
                    .order_by(OrderCard.message_id.desc())
                    .offset(CARDS_PER_CHAT)
                )
            )
            if older:
                await session.execute(delete(OrderCard).where(OrderCard.id.in_(older)))

    async def shown(self, order_id: int) -> list[ShownCard]:
        async with reading(self._sessions) as session:
            rows = await session.scalars(select(OrderCard).where(OrderCard.order_id == order_id))
            return [ShownCard(r.order_id, r.user_id, r.chat_id, r.message_id) for r in rows]

    async def drawn(
        self, chat_id: int, message_id: int, digest: str, *, edited: bool = False
    ) -> None:
        """The card in this message was (re)drawn showing what `digest` digests: a redraw
        that would show the same is then not sent. A message that is no card: nothing.

        `edited`: the message was just edited to show something new, so a registered card's
        digest is sure to change: one UPDATE, without reading first. Otherwise read first:
        most such draws are of a message that is no registered card, or that shows this
        already, and a read does not take SQLite's write lock."""
        if not edited:
            async with reading(self._sessions) as session:
                known = (
                    await session.execute(_DIGEST, {"chat_id": chat_id, "message_id": message_id})
                ).first()
            if known is None or known.digest == digest:
                return
        async with self._sessions() as session, session.begin():
            await CardRegistry.drawn_in(session, chat_id, message_id, digest)

    @staticmethod
    async def drawn_in(session: AsyncSession, chat_id: int, message_id: int, digest: str) -> None:
        """As `drawn`, inside the caller's transaction: a tap writes the digest of the card
        it is about to redraw together with the change, so the redraw of the order's other
        cards after the commit skips this one (one transaction, not two; issue 15)."""
        await direct.execute(
            session, _DRAWN, {"of_chat": chat_id, "of_message": message_id, "new_digest": digest}
        )

    async def digest(self, chat_id: int, message_id: int) -> str | None:
        """The digest of what the card in this message shows, when known."""
        async with reading(self._sessions) as session:
            return await session.scalar(_DIGEST, {"chat_id": chat_id, "message_id": message_id})

    async def forget(self, chat_id: int, message_id: int) -> None:
        """The card is gone (deleted, or Telegram no longer lets us edit it)."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(OrderCard).where(
                    OrderCard.chat_id == chat_id, OrderCard.message_id == message_id
                )
            )


# Built once (issue 15: a tap runs one of them, the redraws after a change the other): a
# statement's cache key is memoized on it. The digest is written with a Core UPDATE of the
# table: no ORM bookkeeping.
_DIGEST = select(OrderCard.digest).where(
    OrderCard.chat_id == bindparam("chat_id"), OrderCard.message_id == bindparam("message_id")
)
_cards = OrderCard.__table__
_DRAWN = (
    update(_cards)
    .where(_cards.c.chat_id == bindparam("of_chat"), _cards.c.message_id == bindparam("of_message"))
    .values(digest=bindparam("new_digest"))
)
