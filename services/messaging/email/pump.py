"""The e-mail pump: outbox rows of channel "email" rendered and sent, once, in order per
recipient (DESIGN "Notifications", SPEC D1).

One pass (`run_once`):

1. Claim: the oldest pending e-mail rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL). Only the
   first pending row of each recipient may go, and only when it is due: a message waiting
   for a retry holds back the later ones to the same address, so a buyer reads "shipped"
   after "paid", never before. The claimed rows are leased (their `next_attempt_at` moves a
   lease ahead), so another pump leaves them, and their recipients, alone meanwhile.
2. Send each through one SMTP connection and record the outcome in its own transaction:
   sent; the recipient refused for good (no such mailbox) -> failed, never retried, and the
   shop is told once in Telegram, in its words (never the server's text);
   refused otherwise (4xx, or a 5xx about the relay or the content) -> again after 1, 2,
   4 ... minutes (then hourly), never dropped and never the shop's: the operator is told
   (a warning and shopbot_mail_relay_faults);
   the server down (no connection, login or MAIL FROM refused) -> nothing is counted against
   the message, the pump pauses (1 s doubling to 5 minutes) and tries again from the same
   message; the operator is told the same way.

A process killed between the server accepting a message and the commit may send that one
message again after its lease; its Message-ID is the same, so mail clients show it once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services import metrics
from services.messaging.email.compose import OutgoingMail
from services.messaging.email.smtp import Accepted, Deferred, Rejected, SendOutcome, ServerDown
from services.messaging.notifications.outbox import Outbox
from services.time.clock import Clock
from storage.models import Buyer, Order, OutboxMessage, Shop

log = logging.getLogger(__name__)

CHANNEL = "email"
PENDING, SENT, DONE, FAILED = "pending", "sent", "done", "failed"
# The shop is told why in its own words: this code, not the server's text (which can carry
# a relay's internals: paths, host names).
RECIPIENT_REFUSED = "recipient_refused"
LEASE = timedelta(minutes=5)
WINDOW = 500  # pending rows looked at per claim: recipients beyond wait for the next pass
MAX_PAUSE = 300.0


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes (capped at an hour) before a deferred message is tried again."""
    return timedelta(minutes=min(60, 2 ** (attempts - 1)))


class Sender:
    async def send(self, mail: OutgoingMail) -> SendOutcome: ...
    async def close(self) -> None: ...


@dataclass(frozen=True)
class Claimed:
    id: int
    attempts: int
    due_at: datetime  # given back as it was when the message is not sent
    row: OutboxMessage | None = None  # read with the claim (leased: nobody changes it)


class MailPump:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        build: Callable[[OutboxMessage, datetime], Awaitable[OutgoingMail | None]],
        sender: Sender,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        batch: int = 50,
        idle: float = 2.0,
        lease: timedelta = LEASE,
    ):
        """`build(row, now)` renders the row's e-mail, or None when there is nobody to send
        it to (a buyer without an e-mail address, the order gone)."""
        self._sessions = sessions
        self._clock = clock
        self._build = build
        self._sender = sender
        self._sleep = sleep
        self._batch = batch
        self._idle = idle
        self._lease = lease
        self._down = 0  # passes in a row that found the server down
        self.paused_until: datetime | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("e-mail pump pass failed")
                handled = 0
            if handled:
                continue
            wait = self._idle
            if self.paused_until is not None:
                wait = max(wait, (self.paused_until - self._clock.now()).total_seconds())
            try:
                await asyncio.wait_for(stop.wait(), timeout=wait)
            except TimeoutError:
                pass

    async def run_once(self) -> int:
        """Send what may go now; returns how many rows were handled (0: nothing to do)."""
        now = self._clock.now()
        if self.paused_until is not None and now < self.paused_until:
            return 0
        handled = 0
        try:
            while claimed := await self._claim():
                for index, row in enumerate(claimed):
                    outcome = await self._send(row)
                    if isinstance(outcome, ServerDown):
                        await self._give_back(claimed[index:])
                        self._pause(outcome)
                        return handled
                    handled += 1
                self._down, self.paused_until = 0, None
        finally:
            await self._sender.close()
        return handled

    # -- claiming ----------------------------------------------------------------------------

    async def _claim(self) -> list[Claimed]:
        now = self._clock.now()
        recipient = case(
            (OutboxMessage.audience == "shop", Shop.email),
            else_=Buyer.email,
        )
        query = (
            select(
                OutboxMessage.id,
                OutboxMessage.attempts,
                OutboxMessage.next_attempt_at,
                recipient.label("recipient"),
            )
            .outerjoin(Order, Order.id == OutboxMessage.order_id)
            .outerjoin(Buyer, Buyer.id == Order.buyer_id)
            .outerjoin(Shop, Shop.id == OutboxMessage.shop_id)
            .where(OutboxMessage.state == PENDING, OutboxMessage.channel == CHANNEL)
            .order_by(OutboxMessage.id)
            .limit(WINDOW)
            .with_for_update(of=OutboxMessage, skip_locked=True)
        )
        async with self._sessions() as session, session.begin():
            rows = (await session.execute(query)).all()
            nobody, chosen, seen = [], [], set()
            for row in rows:
                address = (row.recipient or "").strip().lower()
                if not address:
                    nobody.append(row.id)
                    continue
                if address in seen:
                    continue  # an earlier message to this address goes first
                seen.add(address)
                if row.next_attempt_at <= now and len(chosen) < self._batch:
                    chosen.append(Claimed(row.id, row.attempts, row.next_attempt_at))
            if nobody:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(nobody))
                    .values(state=DONE, last_error="no e-mail address", sent_at=None)
                )
            if chosen:
                ids = [c.id for c in chosen]
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids))
                    .values(next_attempt_at=now + self._lease)
                )
                # The rows themselves, for rendering: one statement for the batch rather
                # than one per message (issue 15).
                rows = {
                    row.id: row
                    for row in await session.scalars(
                        select(OutboxMessage).where(OutboxMessage.id.in_(ids))
                    )
                }
                chosen = [replace(c, row=rows.get(c.id)) for c in chosen]
        return chosen

    # -- sending -------------------------------------------------------------------------------

    async def _send(self, claimed: Claimed) -> SendOutcome | None:
        row = claimed.row
        try:
            message = await self._build(row, self._clock.now()) if row is not None else None
        except (LookupError, ValueError) as error:
            # No e-mail for this topic, or an address no server would take: never better.
            log.warning("e-mail %s cannot be made: %s", claimed.id, error)
            await self._finish(claimed, FAILED, f"{type(error).__name__}: {error}", tell_shop=True)
            return Rejected(str(error))
        if message is None:
            await self._finish(claimed, DONE, "nobody to send it to")
            return None
        outcome = await self._sender.send(message)
        if isinstance(outcome, Accepted):
            await self._finish(claimed, SENT, None)
        elif isinstance(outcome, Rejected):
            log.warning("e-mail %s refused for good: %s", claimed.id, outcome.error)
            await self._finish(claimed, FAILED, outcome.error, tell_shop=True)
        elif isinstance(outcome, Deferred):
            log.warning("e-mail %s deferred by the mail relay: %s", claimed.id, outcome.error)
            metrics.MAIL_RELAY_FAULTS.labels("deferred").inc()
            await self._defer(claimed, outcome.error)
        return outcome

    async def _finish(
        self, claimed: Claimed, state: str, error: str | None, *, tell_shop: bool = False
    ) -> None:
        now = self._clock.now()
        values = {
            "state": state,
            "attempts": claimed.attempts + 1,
            "last_error": error,
            "sent_at": now if state == SENT else None,
        }
        async with self._sessions() as session, session.begin():
            if not tell_shop:
                # The common case (sent): one UPDATE, nothing loaded (issue 15).
                shop_id = await session.scalar(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == claimed.id)
                    .values(values)
                    .returning(OutboxMessage.shop_id)
                )
            else:
                row = await session.get(OutboxMessage, claimed.id)
                for name, value in values.items():
                    setattr(row, name, value)
                outbox = Outbox(now)
                _tell_shop(outbox, row, error or "")
                await outbox.write(session)
                shop_id = row.shop_id
        if state == FAILED:
            metrics.count_failed_delivery(CHANNEL, shop_id)

    async def _defer(self, claimed: Claimed, error: str) -> None:
        # Never failed for this: a relay's fault is fixed by the operator, and the message
        # goes then (retried hourly at most meanwhile).
        attempts = claimed.attempts + 1
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == claimed.id)
                .values(
                    attempts=attempts,
                    last_error=error,
                    next_attempt_at=self._clock.now() + retry_delay(attempts),
                )
            )

    async def _give_back(self, claimed: list[Claimed]) -> None:
        """The server went away: the messages not sent are due again as they were."""
        async with self._sessions() as session, session.begin():
            for row in claimed:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id, OutboxMessage.state == PENDING)
                    .values(next_attempt_at=row.due_at)
                )

    def _pause(self, outcome: ServerDown) -> None:
        self._down += 1
        seconds = min(MAX_PAUSE, 2.0 ** (self._down - 1))
        self.paused_until = self._clock.now() + timedelta(seconds=seconds)
        metrics.MAIL_RELAY_FAULTS.labels("down").inc()
        log.warning("mail server unavailable (%s); pausing %.0f s", outcome.error, seconds)


def _tell_shop(outbox: Outbox, row: OutboxMessage, error: str) -> None:
    """A message that can never be delivered is the shop's business: it may call instead.
    Told once (the key), and only that the address does not take mail: `error` stays in the
    outbox row for the operator."""
    outbox.add(
        key=f"outbox:{row.id}:email_failed",
        channel="telegram",
        audience="shop",
        topic="email_failed",
        shop_id=row.shop_id,
        order_id=row.order_id,
        payload={"topic": row.topic, "audience": row.audience, "error": RECIPIENT_REFUSED},
    )
