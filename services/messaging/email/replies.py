"""Buyers' e-mail replies into their orders' dialogs (D3): the rules, without the SMTP.

The SMTP session (handlers/email/replies.py) and the IMAP poller (handlers/email/mailbox.py)
ask two things of this service: whether an
address is one of our reply addresses for an order that exists (at RCPT time, before any
content is taken), and to store a reply it has already read into plain values. A reply is
stored on every order it was addressed to, in one transaction: accepted whole or retried whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.messaging.dialog import MAX_ATTACHMENTS, DialogService
from services.messaging.email.links import LinkSigner
from services.orders.unit import MAX_ID
from services.time.clock import Clock, SystemClock
from storage.database import reading
from storage.models import DialogMessage, InboundEmail, Order


@dataclass(frozen=True)
class InboundReply:
    """A buyer's reply as an e-mail edge read it: to which orders, from whom, what it says."""

    order_ids: Sequence[int]
    sender: str
    text: str
    files: Sequence[tuple[str, str, bytes]] = field(default_factory=tuple)  # name, type, bytes
    # The IMAP poller's receipt of the message: stored with it, so a message read twice
    # (marking it read failed) is stored once. None: the SMTP edge (its sender retries).
    receipt: str | None = None


class ReplyInbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        dialog: DialogService,
        signer: LinkSigner,
        *,
        domain: str,
        max_files: int = MAX_ATTACHMENTS,
        clock: Clock | None = None,
    ):
        self._sessions = sessions
        self._clock = clock or SystemClock()
        self._dialog = dialog
        self._signer = signer
        self.domain = domain
        self._max_files = max_files

    def order_of(self, address: str) -> int | None:
        """The order a reply address belongs to, if we signed it; None for anything else."""
        order_id = self._signer.order_of_reply(address, self.domain)
        if order_id is None or not 0 < order_id <= MAX_ID:
            return None
        return order_id

    async def order_exists(self, order_id: int) -> bool:
        """Raises when the database cannot be read (the sender is asked to try again)."""
        async with reading(self._sessions) as session:
            return await session.scalar(select(Order.id).where(Order.id == order_id)) is not None

    async def forget_receipts(self, older_than: timedelta) -> None:
        """Receipts of mailbox messages read long ago: those messages are marked read."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(InboundEmail).where(
                    InboundEmail.received_at < self._clock.now() - older_than
                )
            )

    async def store(self, reply: InboundReply) -> list[DialogMessage] | None:
        """The reply on each of its orders; None when every order is gone, [] when it says
        nothing (no text, no files)."""
        return await self._dialog.from_email_to_orders(
            reply.order_ids,
            sender=reply.sender,
            text=reply.text,
            files=reply.files,
            max_files=self._max_files,
            receipt=reply.receipt,
        )
