"""The pump that sends refunds to the providers (services.payments.refunds) and retries.

Rows are claimed with a lease (FOR UPDATE SKIP LOCKED on PostgreSQL), so several instances
share the work and none sends a row another is sending. Each try uses the same
Idempotence-Key: a timeout followed by a retry refunds once. A refund the provider refuses for
good is marked failed and the shop told.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.messaging.notifications.outbox import Outbox
from services.orders.payments import PAYMENT_NOTICE
from services.orders.service import OrderService
from services.payments.refunds import MAX_ATTEMPTS, backoff, sleep_or_stop
from services.payments.service import PAYMENT_ACTOR
from services.payments.settings import PaymentSettings
from services.payments.yookassa import ErrorKind, ProviderError, YooKassaClient, YooKassaCredentials
from services.time.clock import Clock
from storage.models import Payment, PaymentRefund

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
RETRY_KINDS = frozenset({ErrorKind.UNAVAILABLE, ErrorKind.RATE_LIMITED})


class RefundPump:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        orders: OrderService,
        settings: PaymentSettings,
        yookassa: YooKassaClient,
        *,
        batch: int = 20,
        idle: float = 5.0,
    ):
        self._sessions = sessions
        self._clock = clock
        self._orders = orders
        self._settings = settings
        self._yookassa = yookassa
        self._batch = batch
        self._idle = idle

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("refund pump pass failed")
                handled = 0
            if not handled:
                await sleep_or_stop(stop, self._idle)

    async def run_once(self) -> int:
        """Send what is due now; returns how many refunds were tried."""
        claimed = await self._claim()
        for refund_id in claimed:
            await self._send(refund_id)
        return len(claimed)

    async def _claim(self) -> list[int]:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            rows = list(
                await session.scalars(
                    select(PaymentRefund)
                    .where(PaymentRefund.status == "pending", PaymentRefund.next_try_at <= now)
                    .order_by(PaymentRefund.next_try_at, PaymentRefund.id)
                    .limit(self._batch)
                    .with_for_update(skip_locked=True)
                )
            )
            for row in rows:
                row.next_try_at = now + LEASE  # ours while we send it
            return [row.id for row in rows]

    async def _send(self, refund_id: int) -> None:
        async with self._sessions() as session:
            row = await session.get(PaymentRefund, refund_id)
            payment = await session.get(Payment, row.payment_id)
        stored = await self._settings.yookassa(row.shop_id)
        if stored is None:
            await self._finish(row.id, "failed", error="the shop's YooKassa account is gone")
            return
        credentials = YooKassaCredentials(*stored)
        try:
            if row.provider_refund_id:  # made, still pending: how is it now?
                refund = await self._yookassa.get_refund(credentials, row.provider_refund_id)
            else:
                refund = await self._yookassa.create_refund(
                    credentials,
                    payment_id=payment.provider_id,
                    amount_minor=row.amount,
                    currency=row.currency,
                    idempotence_key=f"shopbot-refund-{row.key}",
                )
        except ProviderError as error:
            if error.kind in RETRY_KINDS and row.attempts + 1 < MAX_ATTEMPTS:
                await self._finish(row.id, "pending", error=str(error.kind), retry=True)
            else:
                await self._finish(row.id, "failed", error=str(error.kind))
            return
        if refund.status == "canceled":
            await self._finish(row.id, "failed", error="the provider cancelled the refund")
            return
        if refund.status == "pending" and row.attempts + 1 < MAX_ATTEMPTS:
            # Fetched again later by its id; recorded in the ledger only once it succeeded.
            await self._finish(
                row.id, "pending", error="pending", retry=True, provider_refund_id=refund.id
            )
            return
        await self._orders.record_provider_refund(
            row.order_id,
            PAYMENT_ACTOR,
            provider=payment.provider,
            refund_id=refund.id,
            amount=row.amount,
        )
        await self._finish(row.id, "succeeded", provider_refund_id=refund.id)

    async def _finish(
        self,
        refund_id: int,
        status: str,
        *,
        error: str | None = None,
        retry: bool = False,
        provider_refund_id: str | None = None,
    ) -> None:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            row = await session.get(PaymentRefund, refund_id, with_for_update=True)
            row.attempts += 1
            row.status, row.last_error, row.updated_at = status, error, now
            if provider_refund_id:
                row.provider_refund_id = provider_refund_id
            row.next_try_at = now + backoff(row.attempts) if retry else now
            if status == "failed":
                # The money did not go back by itself: the shop refunds it by hand.
                outbox = Outbox(now)
                outbox.add(
                    key=f"payment_refund:{row.id}:failed",
                    channel="telegram",
                    audience="staff",
                    topic=PAYMENT_NOTICE,
                    shop_id=row.shop_id,
                    order_id=row.order_id,
                    payload={
                        "kind": "refund_failed",
                        "amount": row.amount,
                        "currency": row.currency,
                    },
                )
                await outbox.write(session)
