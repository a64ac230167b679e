"""The webhook pump: outbox rows of channel "webhook" POSTed to the shop's URL, signed.

One pass (`run_once`) claims due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has
one writer) and leases them by moving `next_attempt_at` ahead, so several pumps, in one
process or several, never send a row at the same time; each outcome is written in its own
transaction. The answer decides what comes next:

- 2xx: sent.
- a network error, a timeout, 5xx or 429: again after 30 s, 1, 2, 4 ... minutes (capped at
  an hour; a 429's Retry-After is respected when longer); failed after `max_attempts`.
- any other answer (a 4xx, a redirect): the storefront refuses it for good: failed at once.
- the shop has no webhook URL (any more): done, nothing sent.
- the URL's host resolves to no public address (bot/guarded.py): failed at once, with a
  text that does not say where it resolved to.

Failed rows stay in the outbox with their last error for an operator; they are logged.
A process killed between the storefront's answer and the commit sends that event again
after the lease; its id (`X-ShopBot-Event-Id`) is the same, so the storefront can skip it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services import metrics
from services.messaging.webhooks.events import CHANNEL, event_body, signed_headers
from services.outside.http import HttpFailure, Transport
from services.storefront.webhook_settings import webhook_of
from services.time.clock import Clock
from storage.models import OutboxMessage, Shop

log = logging.getLogger(__name__)

PENDING, SENT, DONE, FAILED = "pending", "sent", "done", "failed"
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    delay = min(LONGEST_RETRY, FIRST_RETRY * 2 ** (attempts - 1))
    if retry_after is not None:
        delay = max(delay, min(LONGEST_RETRY, timedelta(seconds=retry_after)))
    return delay


@dataclass(frozen=True)
class Claimed:
    id: int
    attempts: int
    topic: str
    payload: dict[str, Any]
    url: str
    secret: str
    shop_id: int | None = None


class WebhookPump:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        transport: Transport,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        batch: int = 50,
        idle: float = 2.0,
        lease: timedelta = LEASE,
    ):
        self._sessions = sessions
        self._clock = clock
        self._transport = transport  # this pump's own: it closes it when it stops
        self._max_attempts = max_attempts
        self._batch = batch
        self._idle = idle
        self._lease = lease

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: pass after pass, resting `idle` seconds when nothing was due."""
        try:
            while not stop.is_set():
                try:
                    handled = await self.run_once()
                except Exception:
                    log.exception("webhook pump pass failed")
                    handled = 0
                if handled:
                    continue
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self._idle)
                except TimeoutError:
                    pass
        finally:
            await self.close()

    async def close(self) -> None:
        """Let go of the HTTP client (`run` does it when it stops)."""
        await self._transport.close()

    async def run_once(self) -> int:
        """Send every row due now; returns how many were handled (0: nothing was due)."""
        handled = 0
        while True:
            claimed, skipped = await self._claim()
            if not claimed and not skipped:
                return handled
            await asyncio.gather(*(self._send(row) for row in claimed))
            handled += len(claimed) + skipped

    async def _claim(self) -> tuple[list[Claimed], int]:
        """The due rows to send, leased; rows of shops without a webhook URL are marked done
        in the same transaction (every order writes its events; most shops want none), and
        counted."""
        now = self._clock.now()
        query = (
            select(OutboxMessage, Shop.settings)
            .outerjoin(Shop, Shop.id == OutboxMessage.shop_id)
            .where(
                OutboxMessage.channel == CHANNEL,
                OutboxMessage.state == PENDING,
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(self._batch)
            .with_for_update(of=OutboxMessage, skip_locked=True)
        )
        claimed: list[Claimed] = []
        unwanted: list[int] = []
        async with self._sessions() as session, session.begin():
            rows = (await session.execute(query)).all()
            for row, settings in rows:
                url, secret = webhook_of(settings)
                if url is None or secret is None:
                    unwanted.append(row.id)
                else:
                    claimed.append(
                        Claimed(
                            row.id, row.attempts, row.topic, row.payload, url, secret, row.shop_id
                        )
                    )
            if unwanted:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(unwanted))
                    .values(state=DONE, last_error="the shop has no webhook URL")
                )
            if claimed:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([row.id for row in claimed]))
                    .values(next_attempt_at=now + self._lease)
                )
        return claimed, len(unwanted)

    async def _send(self, row: Claimed) -> None:
        body = event_body(f"evt_{row.id}", row.topic, row.payload)
        timestamp = int(self._clock.now().timestamp())
        headers = signed_headers(row.secret, f"evt_{row.id}", row.topic, timestamp, body)
        try:
            reply = await self._transport.request("POST", row.url, headers=headers, body=body)
        except HttpFailure as failure:
            if failure.refused_address:
                # The URL leads inside (now): the shop sees why, not where it led.
                log.warning("webhook %s refused: %s is not a public address", row.id, row.url)
                await self._finish(row, FAILED, failure.reason, attempts=row.attempts + 1)
                return
            status, error, retry_after = None, failure.reason, None
        else:
            status, error, retry_after = reply.status, f"HTTP {reply.status}", reply.retry_after()
        attempts = row.attempts + 1
        if status is not None and 200 <= status < 300:
            await self._finish(row, SENT, None, attempts=attempts)
            return
        retryable = status is None or status >= 500 or status == 429
        if not retryable:
            log.warning("webhook %s refused by %s for good: %s", row.id, row.url, error)
            await self._finish(row, FAILED, error, attempts=attempts)
        elif attempts >= self._max_attempts:
            log.warning("webhook %s to %s given up after %s: %s", row.id, row.url, attempts, error)
            await self._finish(row, FAILED, error, attempts=attempts)
        else:
            due = self._clock.now() + retry_delay(attempts, retry_after)
            await self._update(row, attempts=attempts, last_error=error, next_attempt_at=due)

    async def _finish(self, row: Claimed, state: str, error: str | None, *, attempts: int) -> None:
        now = self._clock.now()
        await self._update(
            row,
            state=state,
            attempts=attempts,
            last_error=error,
            sent_at=now if state == SENT else None,
        )
        if state == FAILED:
            metrics.count_failed_delivery(CHANNEL, row.shop_id)

    async def _update(self, row: Claimed, **values: Any) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id, OutboxMessage.state == PENDING)
                .values(**values)
            )

    async def next_due(self) -> datetime | None:
        """When the next pending webhook is due (tests move their clock to it)."""
        async with self._sessions() as session:
            return await session.scalar(
                select(OutboxMessage.next_attempt_at)
                .where(OutboxMessage.channel == CHANNEL, OutboxMessage.state == PENDING)
                .order_by(OutboxMessage.next_attempt_at)
                .limit(1)
            )
