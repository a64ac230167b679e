"""The outbox pump: every Telegram notification delivered, once, at the pace Telegram allows.

One pass (`run_once`):

1. Expand: pending Telegram outbox rows that are due become deliveries, one per chat
   (`recipients`), inserted with `ON CONFLICT DO NOTHING` on the delivery's unique key, and the
   row is marked expanded in the same transaction. Expanding twice is harmless.
2. Claim: each chat's first pending delivery when it is due (strictly in order: nothing of a
   chat goes while an earlier one is leased or waiting to retry), at most one per chat, locked with
   `FOR UPDATE SKIP LOCKED` on PostgreSQL and leased (its `next_attempt_at` moved `lease`
   ahead) before the transaction ends, so no other pump takes it while it is being sent.
3. Send, paced by token buckets on the injected clock (30/s in all, 1/s per private chat,
   20/min per group: below Telegram's limits, so a burst is paced rather than refused), a few
   chats at a time and never two messages to one chat at once. Each outcome is recorded in
   its own short transaction right after the send returns. The limits are the bot's, not the
   process's: with several instances the buckets live in Redis (shared_budget.py).

Nothing lost, nothing twice: a delivery is marked sent right after Telegram accepted it, and
"send + record" runs in its own task, so stopping the pump (cancelling it) in the middle of a
batch lets the sends under way finish and be recorded, and gives the claimed-but-unsent
deliveries back at once. The one window left: a process killed outright between Telegram
accepting a message and the commit marking it sent. Its lease then runs out and the
delivery is sent again: at least once, never silently lost. Telegram offers no idempotency
key that would close this window.

Flood control: a 429 is not a failure. The delivery is due again after `retry_after` and its
chat is paused until then. Telegram does not say whether a 429 is about one chat or the whole
bot; as the pump keeps under the global limit itself, it takes a 429 as the chat's (a sender
that knows better answers `RetryAfter(..., everywhere=True)` and every chat waits).

E-mail rows (channel "email") are not this pump's: they stay pending and untouched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services import metrics
from services.messaging.notifications.recipients import (
    DIALOG_TOPICS,
    EDIT_CARD,
    Recipient,
    UnknownTopic,
    recipients,
)
from services.time.clock import Clock
from services.workflow.store import WorkflowStore
from storage.database import insert_for, reading
from storage.models import Delivery, DialogRelay, OutboxMessage

log = logging.getLogger(__name__)

CHANNEL = "telegram"
# States. Outbox rows: pending -> expanded (deliveries made) | done (no one to tell) | failed.
# Deliveries: pending -> sent | failed.
PENDING, EXPANDED, DONE, SENT, FAILED = "pending", "expanded", "done", "sent", "failed"

MAX_ATTEMPTS = 10  # transient failures (network, Telegram's 5xx) before a delivery fails
MAX_BACKOFF = 300.0  # seconds: 1, 2, 4, ... capped at five minutes
# How long a claimed delivery is this pump's. Longer than any send can take (aiogram's
# request timeout is 60 s), so a slow send is never taken over by another pump.
LEASE = timedelta(minutes=5)
RECORD_ATTEMPTS = 5  # a database busy for a moment must not lose the record of a sent message


# -- what a send can end with ------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    message_id: int | None = None  # the message now in the chat (the card, for an edit)


@dataclass(frozen=True)
class RetryAfter:
    """Telegram's flood control: not a failure; this chat waits `seconds` (or every chat)."""

    seconds: float
    everywhere: bool = False


@dataclass(frozen=True)
class Permanent:
    """Blocked, chat not found, a bad request: trying again would fail the same way."""

    error: str


@dataclass(frozen=True)
class Transient:
    """The network, Telegram's server errors: tried again later with backoff."""

    error: str


Outcome = Sent | RetryAfter | Permanent | Transient


@dataclass(frozen=True)
class Outgoing:
    """One delivery as the sender gets it: where, what kind, and the outbox row's facts."""

    id: int
    chat_id: int
    kind: str  # message | copy | edit_card
    to: str  # group | staff | buyer | card (recipients.GROUP ...)
    topic: str
    order_id: int | None
    shop_id: int | None
    user_id: int | None
    target_message_id: int  # the card to edit, for edit_card
    data: dict[str, Any]  # the outbox row's payload
    attempts: int
    due_at: datetime  # when it was due: given back as it was if it is not sent


class Sender(Protocol):
    async def deliver(self, delivery: Outgoing) -> Outcome: ...


# -- pacing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimits:
    """The pump's own pace. Each bucket holds fewer tokens than Telegram's (30 in all, 3 per
    private chat, 20 per group), so the pump's bursts fit inside Telegram's with room to spare
    for network jitter, at the same sustained rates."""

    per_second: float = 30.0
    burst: int = 20
    private_per_second: float = 1.0
    private_burst: int = 1
    group_per_minute: float = 20.0
    group_burst: int = 15

    @classmethod
    def off(cls) -> RateLimits:
        unlimited = 1e9
        return cls(unlimited, 10**9, unlimited, 10**9, unlimited, 10**9)


class _Bucket:
    def __init__(self, rate: float, capacity: float, now: float, *, full: bool = True):
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity if full else 0.0
        self.updated = now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = max(self.updated, now)

    def wait(self, now: float) -> float:
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 - 1e-6 else (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0

    def give_back(self, now: float) -> None:
        self._refill(now)
        self.tokens = min(self.capacity, self.tokens + 1.0)

    def full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity


class Pacer:
    """Token buckets and flood-control pauses, on seconds from the injected clock."""

    MAX_CHATS = 10_000  # buckets kept; full ones are forgotten past this (they start full)

    def __init__(self, limits: RateLimits):
        self.limits = limits
        self._all: _Bucket | None = None
        self._chats: dict[int, _Bucket] = {}
        self._paused: dict[int, float] = {}  # chat -> flood control lifts at
        self._all_paused_until = 0.0

    def wait(self, delivery: Outgoing, now: float) -> float:
        """Seconds until this delivery may go."""
        wait = max(
            0.0,
            self._all_paused_until - now,
            self._paused.get(delivery.chat_id, 0.0) - now,
            self._global(now).wait(now),
        )
        if counted(delivery):
            wait = max(wait, self._chat(delivery.chat_id, now).wait(now))
        return wait

    def take(self, delivery: Outgoing, now: float) -> None:
        self._global(now).take(now)
        if counted(delivery):
            self._chat(delivery.chat_id, now).take(now)

    def refused(self, delivery: Outgoing, outcome: RetryAfter, now: float) -> None:
        """Telegram refused the message: it used none of the quota, and the chat waits."""
        self._global(now).give_back(now)
        if counted(delivery):
            self._chat(delivery.chat_id, now).give_back(now)
        until = now + outcome.seconds
        if outcome.everywhere:
            self._all_paused_until = max(self._all_paused_until, until)
        else:
            self._paused[delivery.chat_id] = max(self._paused.get(delivery.chat_id, 0.0), until)

    def acquire(self, waiting: Sequence[Outgoing], now: float) -> tuple[int | None, float]:
        """The first of `waiting` that may go now, its budget taken; or the seconds to wait."""
        wait, index = min(
            (self.wait(delivery, now), index) for index, delivery in enumerate(waiting)
        )
        if wait > 0:
            return None, wait
        self.take(waiting[index], now)
        return index, 0.0

    def pauses(self, now: float) -> Pauses:
        chats = {chat: self._paused[chat] for chat in self.paused_chats(now)}
        return Pauses(self._all_paused_until if self.all_paused(now) else 0.0, chats)

    def paused_chats(self, now: float) -> list[int]:
        for chat in [c for c, until in self._paused.items() if until <= now]:
            del self._paused[chat]
        return list(self._paused)

    def all_paused(self, now: float) -> bool:
        return self._all_paused_until > now

    def next_resume(self, now: float) -> float | None:
        """Seconds until the earliest pause lifts, if any is on."""
        ends = [u for u in [self._all_paused_until, *self._paused.values()] if u > now]
        return min(ends) - now if ends else None

    def _global(self, now: float) -> _Bucket:
        if self._all is None:
            # Empty at first: a pump restarted right after another one's burst must not add
            # its own burst on top (it costs the first messages 1/30 s each, once).
            self._all = _Bucket(self.limits.per_second, self.limits.burst, now, full=False)
        return self._all

    def _chat(self, chat_id: int, now: float) -> _Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if len(self._chats) >= self.MAX_CHATS:
                self._chats = {c: b for c, b in self._chats.items() if not b.full(now)}
            limits = self.limits
            if chat_id > 0:  # a private chat's id is the person's id; groups are negative
                bucket = _Bucket(limits.private_per_second, limits.private_burst, now)
            else:
                bucket = _Bucket(limits.group_per_minute / 60.0, limits.group_burst, now)
            self._chats[chat_id] = bucket
        return bucket


@dataclass(frozen=True)
class Pauses:
    """Flood control in force: every chat waits until `everywhere` (a time in seconds, 0 when
    none), and these chats until their own."""

    everywhere: float = 0.0
    chats: dict[int, float] = field(default_factory=dict)

    def next_resume(self, now: float) -> float | None:
        """Seconds until the earliest pause lifts, if any is on."""
        ends = [u for u in [self.everywhere, *self.chats.values()] if u > now]
        return min(ends) - now if ends else None


class SendBudget(Protocol):
    """The pump's pace: this process's Pacer, or one every instance shares (REDIS_URL set,
    services/messaging/notifications/shared_budget.py)."""

    async def acquire(self, waiting: Sequence[Outgoing], now: float) -> tuple[int | None, float]:
        """Take the budget of the first of `waiting` that may go now and give its index; or
        None and the seconds until one may."""
        ...

    async def refused(self, delivery: Outgoing, outcome: RetryAfter, now: float) -> None: ...

    async def pauses(self, now: float) -> Pauses: ...

    async def close(self) -> None: ...


class LocalBudget:
    """One instance's budget: the Pacer in this process."""

    def __init__(self, limits: RateLimits):
        self.pacer = Pacer(limits)

    async def acquire(self, waiting: Sequence[Outgoing], now: float) -> tuple[int | None, float]:
        return self.pacer.acquire(waiting, now)

    async def refused(self, delivery: Outgoing, outcome: RetryAfter, now: float) -> None:
        self.pacer.refused(delivery, outcome, now)

    async def pauses(self, now: float) -> Pauses:
        return self.pacer.pauses(now)

    async def close(self) -> None:
        return None


def counted(delivery: Outgoing) -> bool:
    # Telegram's per-chat limits are on messages sent; editing a card in place is not one.
    return delivery.kind != EDIT_CARD


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` transient failures: 1, 2, 4, ... 300."""
    return min(MAX_BACKOFF, 2.0 ** (attempts - 1))


# -- the pump --------------------------------------------------------------------------------


class OutboxPump:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        sender: Sender,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        limits: RateLimits | None = None,
        budget: SendBudget | None = None,
        workflows: WorkflowStore | None = None,
        batch: int = 100,
        in_flight: int = 4,
        idle: float = 1.0,
        lease: timedelta = LEASE,
    ):
        """`sleep` waits on the same time as `clock` (tests pass one that moves a FrozenClock);
        `idle` is how often `run` looks for new rows when nothing is due; `budget` paces the
        sends (default: `limits` in this process alone)."""
        self._sessions = sessions
        self._clock = clock
        self._sender = sender
        self._sleep = sleep
        self._budget: SendBudget = budget or LocalBudget(limits or RateLimits())
        self._workflows = workflows or WorkflowStore()
        self._batch = batch
        self._max_in_flight = in_flight
        self._idle = idle
        self._lease = lease
        self._tasks: set[asyncio.Task] = set()  # sends under way: referenced until recorded

    # -- running -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; between passes, wait for what is due next."""
        try:
            while not stop.is_set():
                try:
                    if await self.run_once(self._batch):
                        continue
                    wait = await self._idle_wait()
                except Exception:
                    # The database away for a moment: log, wait, go on; nothing is lost.
                    log.exception("notification pump pass failed")
                    wait = self._idle
                await self._wait(stop, wait)
        finally:
            await self._budget.close()

    async def run_once(self, max_items: int = 100) -> int:
        """One pass: expand due outbox rows, then send due deliveries (one per chat).

        Returns how many rows and deliveries it handled; 0 means nothing was due."""
        expanded = await self.expand(max_items)
        batch = await self._claim(max_items)
        if batch:
            await self._send(batch)
        return expanded + len(batch)

    async def next_due(self) -> datetime | None:
        """When the next pending Telegram row or delivery is due (None: nothing pending)."""
        async with reading(self._sessions) as session:
            deliveries = await session.scalar(
                select(func.min(Delivery.next_attempt_at)).where(Delivery.state == PENDING)
            )
            rows = await session.scalar(
                select(func.min(OutboxMessage.next_attempt_at)).where(
                    OutboxMessage.state == PENDING, OutboxMessage.channel == CHANNEL
                )
            )
        times = [t for t in (deliveries, rows) if t is not None]
        return min(times) if times else None

    async def _idle_wait(self) -> float:
        now = self._clock.now()
        waits = [self._idle]
        due = await self.next_due()
        if due is not None and due > now:
            waits.append((due - now).total_seconds())
        seconds = now.timestamp()
        resume = (await self._budget.pauses(seconds)).next_resume(seconds)
        if resume is not None:
            waits.append(resume)
        return max(0.001, min(waits))

    async def _wait(self, stop: asyncio.Event, seconds: float) -> None:
        sleeping = asyncio.ensure_future(self._sleep(seconds))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({sleeping, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (sleeping, stopping):
                waiter.cancel()

    # -- expanding ---------------------------------------------------------------------------

    async def expand(self, max_items: int = 100) -> int:
        """Turn due Telegram outbox rows into deliveries; returns how many rows."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            rows = list(
                await session.scalars(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.state == PENDING,
                        OutboxMessage.channel == CHANNEL,
                        OutboxMessage.next_attempt_at <= now,
                    )
                    .order_by(OutboxMessage.id)
                    .limit(max_items)
                    .with_for_update(skip_locked=True)
                )
            )
            deliveries, unexpanded = [], []
            for row in rows:
                try:
                    people = await recipients(session, row, self._workflows)
                except (UnknownTopic, LookupError, KeyError, ValueError) as error:
                    # One row that cannot be expanded must not hold up the others.
                    log.error("outbox row %s (%s) not expanded: %r", row.id, row.topic, error)
                    row.state, row.last_error = FAILED, f"{type(error).__name__}: {error}"
                    unexpanded.append(row.shop_id)
                    continue
                deliveries += [_delivery_row(row, person, now) for person in people]
                row.state = EXPANDED if people else DONE
            if deliveries:
                await session.execute(
                    insert_for(session, Delivery.__table__).on_conflict_do_nothing(
                        index_elements=["outbox_id", "chat_id", "kind", "target_message_id"]
                    ),
                    deliveries,
                )
        for shop_id in unexpanded:  # counted once committed
            metrics.count_failed_delivery(CHANNEL, shop_id)
        return len(rows)

    # -- claiming ----------------------------------------------------------------------------

    async def _claim(self, max_items: int) -> list[Outgoing]:
        now = self._clock.now()
        seconds = now.timestamp()
        pauses = await self._budget.pauses(seconds)
        if pauses.everywhere > seconds:
            return []
        paused = list(pauses.chats)
        due = and_(Delivery.state == PENDING, Delivery.next_attempt_at <= now)
        # Each chat's first pending delivery (its head), claimed only when it is due: while
        # the head is leased (another pump is sending it) or waits out a retry or flood
        # control, nothing after it goes, so a buyer never reads "Shipped" before
        # "Received". A failed delivery is no longer pending and stops blocking. One per
        # chat in a batch also lets no busy chat (a staff group) crowd the others out.
        heads = (
            select(func.min(Delivery.id).label("head"))
            .where(Delivery.state == PENDING)
            .group_by(Delivery.chat_id)
        )
        if paused:
            heads = heads.where(Delivery.chat_id.not_in(paused))
        heads_due = heads.subquery()
        first_of_each_chat = (
            select(Delivery.id)
            .join(heads_due, Delivery.id == heads_due.c.head)
            .where(due)
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(max_items)
        )
        async with self._sessions() as session, session.begin():
            ids = list(await session.scalars(first_of_each_chat))
            if not ids:
                return []
            rows = await session.scalars(
                select(Delivery)
                .where(Delivery.id.in_(ids), due)
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .with_for_update(skip_locked=True)
            )
            batch = [_outgoing(row) for row in rows]
            if batch:
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_([d.id for d in batch]))
                    .values(next_attempt_at=now + self._lease)
                    .execution_options(synchronize_session=False)
                )
            return batch

    async def _release(self, deliveries: Sequence[Outgoing]) -> None:
        """Claimed but not sent (the pump is stopping): due again as they were."""
        table = Delivery.__table__
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(table)
                .where(table.c.id == bindparam("delivery_id"), table.c.state == PENDING)
                .values(next_attempt_at=bindparam("due_at")),
                [{"delivery_id": d.id, "due_at": d.due_at} for d in deliveries],
            )

    # -- sending -----------------------------------------------------------------------------

    async def _send(self, batch: list[Outgoing]) -> None:
        waiting = list(batch)
        in_flight: set[asyncio.Task] = set()
        try:
            while waiting:
                # A free slot first, then the budget: what is taken is sent at once.
                while len(in_flight) >= self._max_in_flight:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                now = self._clock.now().timestamp()
                index, wait = await self._budget.acquire(waiting, now)
                if index is None:
                    # At least a millisecond: a clock in microseconds would not move for less.
                    await self._sleep(max(wait, 0.001))
                    continue
                delivery = waiting.pop(index)
                task = asyncio.create_task(self._send_and_record(delivery))
                for tasks in (in_flight, self._tasks):
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            if in_flight:
                await asyncio.wait(in_flight)
        finally:
            # Stopped in the middle (cancelled): what was not sent is given back now rather
            # than when its lease runs out; sends under way finish and are recorded by their
            # own tasks, which cancelling this pass does not cancel.
            if waiting:
                await asyncio.shield(self._release(waiting))
            if in_flight:
                await asyncio.shield(asyncio.wait(set(in_flight)))

    async def _send_and_record(self, delivery: Outgoing) -> None:
        try:
            outcome = await self._sender.deliver(delivery)
        except Exception as error:
            log.exception("delivery %s: the sender failed", delivery.id)
            outcome = Transient(f"{type(error).__name__}: {error}")
        # If this task itself is cancelled during the send (the event loop shutting down), the
        # delivery keeps its lease and is sent again after it: the documented window.
        if isinstance(outcome, RetryAfter):
            # Once, not on each try to record it: the tokens go back once.
            await self._budget.refused(delivery, outcome, self._clock.now().timestamp())
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            try:
                await self._record(delivery, outcome)
                return
            except OperationalError:
                if attempt == RECORD_ATTEMPTS:
                    # Still claimed: when the lease runs out it is tried again (at least once).
                    log.exception("delivery %s: %r could not be recorded", delivery.id, outcome)
                    return
                log.warning("delivery %s: recording %r failed; again", delivery.id, outcome)
                await asyncio.sleep(0.05 * attempt)
            except Exception:
                log.exception("delivery %s: %r could not be recorded", delivery.id, outcome)
                return

    async def _record(self, delivery: Outgoing, outcome: Outcome) -> None:
        now = self._clock.now()
        values: dict[str, Any]
        if isinstance(outcome, Sent):
            # last_error stays: a message sent after a 429 or a retry still shows it had one.
            values = {"state": SENT, "sent_message_id": outcome.message_id, "sent_at": now}
        elif isinstance(outcome, RetryAfter):
            values = {
                "next_attempt_at": now + timedelta(seconds=outcome.seconds),
                "last_error": f"flood control: retry after {outcome.seconds:g} s",
            }
        elif isinstance(outcome, Permanent):
            values = {"state": FAILED, "last_error": outcome.error}
        else:
            attempts = delivery.attempts + 1
            values = {"attempts": attempts, "last_error": outcome.error}
            if attempts >= MAX_ATTEMPTS:
                values["state"] = FAILED
            else:
                values["next_attempt_at"] = now + timedelta(seconds=backoff(attempts))
        async with self._sessions() as session, session.begin():
            recorded = await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery.id, Delivery.state == PENDING)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            relayed = delivery.data.get("dialog_message_id")
            if (
                isinstance(outcome, Sent)
                and delivery.topic in DIALOG_TOPICS
                and relayed
                and outcome.message_id
            ):
                # Where the dialog message now sits, so a reply to it finds its order; written
                # with the "sent" mark, so one is never there without the other.
                await session.execute(
                    insert_for(session, DialogRelay.__table__)
                    .values(
                        dialog_message_id=relayed,
                        order_id=delivery.order_id,
                        chat_id=delivery.chat_id,
                        message_id=outcome.message_id,
                        created_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["chat_id", "message_id"])
                )
        if values.get("state") == FAILED and recorded.rowcount:
            metrics.count_failed_delivery(CHANNEL, delivery.shop_id)


def _delivery_row(row: OutboxMessage, person: Recipient, now: datetime) -> dict[str, Any]:
    return {
        "outbox_id": row.id,
        "chat_id": person.chat_id,
        "kind": person.kind,
        "target_message_id": person.target_message_id,
        "user_id": person.user_id,
        "payload": {
            "topic": row.topic,
            "to": person.to,
            "order_id": row.order_id,
            "shop_id": row.shop_id,
            "data": row.payload,
        },
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _outgoing(row: Delivery) -> Outgoing:
    payload = row.payload
    return Outgoing(
        id=row.id,
        chat_id=row.chat_id,
        kind=row.kind,
        to=payload.get("to", ""),
        topic=payload.get("topic", ""),
        order_id=payload.get("order_id"),
        shop_id=payload.get("shop_id"),
        user_id=row.user_id,
        target_message_id=row.target_message_id,
        data=payload.get("data") or {},
        attempts=row.attempts,
        due_at=row.next_attempt_at,
    )
