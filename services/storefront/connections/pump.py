"""Status changes sent back to the platforms: outbox rows of channel "connector" (written by
`platform_status` in the transaction of the change) posted through the connector.

Claimed as the webhook pump claims its rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a lease
by moving `next_attempt_at` ahead), so several instances never send one row twice at once.
The connector's PlatformError decides what comes next: `retryable` (a rate limit, an outage,
a timeout) again after 30 s, 1, 2, 4 ... minutes, capped at an hour, the platform's
`retry_after` respected when longer, failed after `max_attempts`; anything else (refused
credentials, an order the store no longer has) failed at once with the platform's words,
which carry no credentials. A shop that disconnected the platform: done, nothing sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.messaging.webhooks.pump import retry_delay
from services.outside.http import Transport
from services.outside.vault import Vault, VaultError
from services.storefront.connections.platform_status import CHANNEL
from services.storefront.connections.registry import ConnectorRegistry
from services.storefront.connectors import PlatformError, PlatformStatus
from services.time.clock import Clock
from storage.models import OutboxMessage, Shop, ShopConnection

log = logging.getLogger(__name__)

PENDING, SENT, DONE, FAILED = "pending", "sent", "done", "failed"
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class Claimed:
    id: int
    attempts: int
    payload: dict[str, Any]
    currency: str
    sealed: str | None  # the connection's credentials; None: not connected (any more)


class ConnectorPump:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        transport: Transport,
        vault: Vault,
        registry: ConnectorRegistry,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        batch: int = 20,
        idle: float = 2.0,
    ):
        self._sessions = sessions
        self._clock = clock
        self._transport = transport  # this pump's own: closed when it stops
        self._vault = vault
        self._registry = registry
        self._max_attempts = max_attempts
        self._batch = batch
        self._idle = idle

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    handled = await self.run_once()
                except Exception:
                    log.exception("connector pump pass failed")
                    handled = 0
                if handled:
                    continue
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self._idle)
                except TimeoutError:
                    pass
        finally:
            await self._transport.close()

    async def run_once(self) -> int:
        handled = 0
        while claimed := await self._claim():
            await asyncio.gather(*(self._send(row) for row in claimed))
            handled += len(claimed)
        return handled

    async def next_due(self):
        async with self._sessions() as session:
            return await session.scalar(
                select(OutboxMessage.next_attempt_at)
                .where(OutboxMessage.channel == CHANNEL, OutboxMessage.state == PENDING)
                .order_by(OutboxMessage.next_attempt_at)
                .limit(1)
            )

    async def _claim(self) -> list[Claimed]:
        now = self._clock.now()
        platform = OutboxMessage.payload["platform"].as_string()
        query = (
            select(OutboxMessage, Shop.currency, ShopConnection.credentials)
            .join(Shop, Shop.id == OutboxMessage.shop_id)
            .outerjoin(
                ShopConnection,
                and_(
                    ShopConnection.shop_id == OutboxMessage.shop_id,
                    ShopConnection.platform == platform,
                ),
            )
            .where(
                OutboxMessage.channel == CHANNEL,
                OutboxMessage.state == PENDING,
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(self._batch)
            .with_for_update(of=OutboxMessage, skip_locked=True)
        )
        async with self._sessions() as session, session.begin():
            rows = (await session.execute(query)).all()
            if rows:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([row.id for row, _, _ in rows]))
                    .values(next_attempt_at=now + LEASE)
                )
        return [
            Claimed(row.id, row.attempts, dict(row.payload), currency, sealed)
            for row, currency, sealed in rows
        ]

    async def _send(self, row: Claimed) -> None:
        data = row.payload
        if row.sealed is None:
            await self._update(row, state=DONE, last_error="the platform is not connected")
            return
        attempts = row.attempts + 1
        try:
            credentials = json.loads(self._vault.open(row.sealed))
            connector = self._registry.get(data["platform"], row.currency)
            await connector.send_status(
                self._transport,
                credentials,
                platform_order_id=data["platform_order_id"],
                status=PlatformStatus(data["status"]),
                note=data.get("note"),
                carrier=data.get("carrier"),
                track_code=data.get("track_code"),
            )
        except PlatformError as error:
            if error.retryable and attempts < self._max_attempts:
                due = self._clock.now() + retry_delay(attempts, error.retry_after)
                await self._update(
                    row, attempts=attempts, last_error=error.message, next_attempt_at=due
                )
            else:
                log.warning("status to %s failed for good: %s", data.get("platform"), error)
                await self._update(row, state=FAILED, attempts=attempts, last_error=error.message)
            return
        except (VaultError, ValueError, KeyError) as error:
            reason = "the stored credentials cannot be read"
            log.error("connector row %s: %s (%s)", row.id, reason, type(error).__name__)
            await self._update(row, state=FAILED, attempts=attempts, last_error=reason)
            return
        await self._update(row, state=SENT, attempts=attempts, sent_at=self._clock.now())

    async def _update(self, row: Claimed, **values: Any) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id, OutboxMessage.state == PENDING)
                .values(**values)
            )
