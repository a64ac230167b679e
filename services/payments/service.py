"""Payments: a row per provider payment, created and changed only here, and what a confirmed
one does to its order (DESIGN "The outside world", issue 17).

A provider's confirmation arrives as a fact already verified by its edge (Telegram's own
successful_payment update, a YooKassa payment fetched back through its API, the storefront's
signed-in request). It is kept as a row (provider, provider id, amount, currency, status, the
raw event), once per provider id: a repeat updates nothing and tells no one. The order changes
only through OrderService, as the system on the channel `payment`: the workflow's "paid" step
when the money is what the order waits for; else the order gets the problem flag and the shop
is told (services.orders.payments.provider_paid).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.orders.actors import ActorRef, Channel
from services.orders.payments import ProviderOutcome, ProviderPaid
from services.orders.service import OrderService
from services.refusals import OrderRefused, Problem
from services.time.clock import Clock
from storage.database import insert_for
from storage.models import Order, Payment

log = logging.getLogger(__name__)

PAYMENT_ACTOR = ActorRef.system(Channel.PAYMENT)
MAX_RAW = 16 * 1024  # characters of a provider's event kept with its payment


@dataclass(frozen=True)
class Confirmed:
    """A payment its provider confirmed: who, which order, how much."""

    provider: str
    payment_id: str
    order_id: int
    amount: int
    currency: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class PaymentResult:
    outcome: ProviderOutcome
    problem: str | None = None
    status: str | None = None  # the order's, after it


class PaymentService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, orders: OrderService
    ):
        self._sessions = sessions
        self._clock = clock
        self._orders = orders

    async def confirmed(self, payment: Confirmed) -> PaymentResult:
        """The provider confirmed `payment`: kept, then applied to its order once."""
        row = await self._keep(payment, "succeeded")
        if row.order_id != payment.order_id:
            # The same provider id for another order: someone's forgery or a mix-up.
            return PaymentResult(ProviderOutcome.MISMATCH, "the payment belongs to another order")
        if row.outcome is not None:
            return PaymentResult(ProviderOutcome.DUPLICATE)
        paid = ProviderPaid(payment.provider, payment.payment_id, payment.amount, payment.currency)
        applied = await self._orders.apply_payment(payment.order_id, PAYMENT_ACTOR, paid)
        if applied.outcome is not ProviderOutcome.DUPLICATE:
            await self._settle(row.id, applied.outcome.value, applied.problem)
        else:
            await self._settle(row.id, ProviderOutcome.PAID.value, None, only_if_open=True)
        return PaymentResult(applied.outcome, applied.problem, applied.status)

    async def noted(self, payment: Confirmed, status: str) -> None:
        """A payment the provider reports in another state (pending, canceled): kept, so the
        shop can see it; nothing about the order changes."""
        await self._keep(payment, status)

    async def payments_of(self, order_id: int) -> list[Payment]:
        async with self._sessions() as session:
            return list(
                await session.scalars(
                    select(Payment).where(Payment.order_id == order_id).order_by(Payment.id)
                )
            )

    # -- rows ---------------------------------------------------------------------------------

    async def _keep(self, payment: Confirmed, status: str) -> Payment:
        """The payment's row, made at its first report (a concurrent first report finds the
        other's row: the provider's id is unique)."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            order = await session.get(Order, payment.order_id)
            if order is None:
                raise OrderRefused(Problem.NOT_FOUND, "no such order")
            await session.execute(
                insert_for(session, Payment)
                .values(
                    shop_id=order.shop_id,
                    order_id=order.id,
                    provider=payment.provider,
                    provider_id=payment.payment_id,
                    amount=payment.amount,
                    currency=payment.currency,
                    status=status,
                    outcome=None,
                    raw=_cut(payment.raw),
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["provider", "provider_id"])
            )
            row = await session.scalar(
                select(Payment).where(
                    Payment.provider == payment.provider,
                    Payment.provider_id == payment.payment_id,
                )
            )
            if row.outcome is None and row.order_id == order.id and row.status != status:
                row.status, row.raw, row.updated_at = status, _cut(payment.raw), now
            return row

    async def _settle(
        self, row_id: int, outcome: str, problem: str | None, *, only_if_open: bool = False
    ) -> None:
        async with self._sessions() as session, session.begin():
            row = await session.get(Payment, row_id, with_for_update=True)
            if only_if_open and row.outcome is not None:
                return
            row.outcome, row.reason, row.updated_at = outcome, problem, self._clock.now()
            if outcome == ProviderOutcome.PAID:
                # The order's note that a cancellation has a provider payment to give back
                # (services.payments.refunds.owe_back): written with the outcome it reads.
                await session.execute(
                    update(Order).where(Order.id == row.order_id).values(provider_paid=True)
                )


# What a provider's event may say about the payer (a name, a phone, a card's digits): not kept,
# so a payment row holds no personal data to forget (services/operations/erasure.py).
PERSONAL = frozenset({"order_info", "payment_method", "shipping_option_id"})


def _cut(raw: dict[str, Any]) -> dict[str, Any]:
    """The provider's event as it came, without what it says about the payer, unless it is
    too big to keep whole."""
    raw = {key: value for key, value in raw.items() if key not in PERSONAL}
    text = json.dumps(raw, ensure_ascii=False, default=str)
    return raw if len(text) <= MAX_RAW else {"cut": text[:MAX_RAW]}
