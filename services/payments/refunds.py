"""Money given back through the provider that took it (issue 17).

A paid order that ends cancelled owes the buyer their money: in the same transaction as the
cancellation, each of its provider payments that can be refunded by API gets a refund row
(`owe_back`). A pump sends the rows to the provider with the same Idempotence-Key every time,
so a retry after a timeout never refunds twice; when the provider has it, the refund is
recorded in the ledger under the provider's refund id (OrderService.record_provider_refund).
Telegram Payments cannot be refunded through the Bot API (only Stars can): those stay with the
shop, who is told.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.messaging.notifications.outbox import Outbox
from storage.database import insert_for
from storage.models import Order, Payment, PaymentRefund

log = logging.getLogger(__name__)

REFUNDABLE = frozenset({"yookassa"})  # providers we refund through their API
MAX_ATTEMPTS = 8
FIRST_PAUSE = timedelta(seconds=30)


async def owe_back_return(
    session: AsyncSession, order: Order, return_id: int, amount: int, now: datetime
) -> bool:
    """A return was refunded: `amount` goes back through the provider payment that took the
    order's money, if one can be refunded by API (its first, up to what it has left)."""
    payment = await session.scalar(
        select(Payment)
        .where(
            Payment.order_id == order.id,
            Payment.outcome == "paid",
            Payment.provider.in_(REFUNDABLE),
        )
        .order_by(Payment.id)
        .limit(1)
    )
    if payment is None or amount <= 0:
        return False
    refunded = sum(
        await session.scalars(
            select(PaymentRefund.amount).where(
                PaymentRefund.payment_id == payment.id, PaymentRefund.status != "failed"
            )
        )
    )
    amount = min(amount, payment.amount - refunded)
    if amount <= 0:
        return False
    await _owe(session, order, payment, f"return:{return_id}", amount, now)
    return True


async def owe_back(session: AsyncSession, order: Order, now: datetime) -> int:
    """The order ended cancelled: its applied provider payments are to be refunded. Returns
    how many refunds were added (a payment already being refunded is not added again)."""
    if not order.provider_paid:  # no provider's payment was ever applied: none to read
        return 0
    paid = list(await session.scalars(_PAID, {"order_id": order.id}))
    by_hand = [p for p in paid if p.provider not in REFUNDABLE]
    paid = [p for p in paid if p.provider in REFUNDABLE]
    if by_hand:
        # Telegram Payments (only Stars refund through the Bot API), the storefront's own
        # checkout: the shop gives the money back there, and is told so.
        outbox = Outbox(now)
        for payment in by_hand:
            outbox.add(
                key=f"payment:{payment.id}:refund_by_hand",
                channel="telegram",
                audience="staff",
                topic="payment_notice",
                shop_id=order.shop_id,
                order_id=order.id,
                payload={
                    "kind": "refund_by_hand",
                    "amount": payment.amount,
                    "currency": payment.currency,
                },
            )
        await outbox.write(session)
    for payment in paid:
        refunded = sum(
            await session.scalars(
                select(PaymentRefund.amount).where(
                    PaymentRefund.payment_id == payment.id, PaymentRefund.status != "failed"
                )
            )
        )
        if payment.amount > refunded:
            await _owe(
                session, order, payment, f"cancel:{payment.id}", payment.amount - refunded, now
            )
    return len(paid)


# Built once (its cache key is memoized on it): every cancellation of a paid order reads it.
_PAID = select(Payment).where(Payment.order_id == bindparam("order_id"), Payment.outcome == "paid")


async def _owe(
    session: AsyncSession, order: Order, payment: Payment, key: str, amount: int, now: datetime
) -> None:
    await session.execute(
        insert_for(session, PaymentRefund)
        .values(
            shop_id=order.shop_id,
            order_id=order.id,
            payment_id=payment.id,
            key=key,
            amount=amount,
            currency=payment.currency,
            status="pending",
            attempts=0,
            next_try_at=now,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )


def backoff(attempts: int) -> timedelta:
    return min(FIRST_PAUSE * 2 ** max(attempts - 1, 0), timedelta(hours=6))


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
