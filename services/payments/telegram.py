"""Telegram Payments for an order (issue 17): the invoice, the pre-checkout check, the payment.

Telegram's flow (core.telegram.org/bots/payments): the bot sends an invoice; when the buyer
pays, Telegram asks the bot with a pre_checkout_query, which must be answered within 10 s (ok,
or an error the buyer sees); then the `successful_payment` message arrives, made by Telegram
itself (no user can send one), so it is the provider's confirmation. The payload the invoice
carries names the order, the version it was made from and the amount; the check refuses a
payment for an order that changed since, was cancelled or paid, or whose amount differs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.orders.actors import ActorRef
from services.orders.payments import amount_due
from services.orders.service import OrderService
from services.payments.service import PAYMENT_ACTOR, Confirmed, PaymentResult, PaymentService
from services.payments.settings import PaymentSettings
from services.refusals import OrderRefused, Problem
from storage.database import reading
from storage.models import Order

PROVIDER = "telegram"
PAY_ACTION = "mark_paid"
MAX_TITLE, MAX_DESCRIPTION, MAX_LABEL = 32, 255, 64
_PAYLOAD = re.compile(r"^order:([0-9]{1,12}):([0-9]{1,12}):([0-9]{1,15})$")


class Unpayable(StrEnum):
    """Why an invoice cannot be paid (the buyer is told, nothing is charged)."""

    UNKNOWN = "unknown"  # not an invoice of ours, or the order is gone
    CHANGED = "changed"  # the order changed since the invoice was sent
    CLOSED = "closed"  # cancelled, already paid, or otherwise no longer awaiting payment
    AMOUNT = "amount"  # the amount or the currency is not what is due


@dataclass(frozen=True)
class Invoice:
    title: str
    description: str
    payload: str
    currency: str
    prices: list[tuple[str, int]]  # (label, minor units); they add up to the amount due
    provider_token: str


class TelegramPayments:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        orders: OrderService,
        settings: PaymentSettings,
        payments: PaymentService,
    ):
        self._sessions = sessions
        self._orders = orders
        self._settings = settings
        self._payments = payments

    async def invoice(self, order_id: int, actor: ActorRef, labels: dict[str, str]) -> Invoice:
        """The invoice for what the buyer owes on the order now. `labels`: the texts of the
        invoice's own lines in the buyer's language (title, discount, delivery, paid)."""
        view = await self._orders.view(order_id, actor)  # someone else's order: not found
        order = view.order
        if not any(option.code == PAY_ACTION for option in await self._system_actions(order_id)):
            raise OrderRefused(Problem.NOT_AVAILABLE, "the order is not awaiting payment")
        token = await self._settings.telegram_token(order.shop_id)
        if not token:
            raise OrderRefused(Problem.NOT_AVAILABLE, "the shop takes no payments in Telegram")
        due = amount_due(order)
        if due <= 0:
            raise OrderRefused(Problem.ALREADY_DONE, "nothing is due on this order")
        prices = [
            (_cut(f"{item.name} × {item.quantity}", MAX_LABEL), item.line_total)
            for item in order.items
        ]
        if order.discount:
            prices.append((labels["discount"], -order.discount))
        if order.delivery_cost:
            prices.append((labels["delivery"], order.delivery_cost))
        if sum(amount for _, amount in prices) != due:
            prices.append((labels["paid"], due - sum(amount for _, amount in prices)))
        return Invoice(
            title=_cut(labels["title"], MAX_TITLE),
            description=_cut(labels["description"], MAX_DESCRIPTION),
            payload=f"order:{order.id}:{order.version}:{due}",
            currency=order.currency,
            prices=prices,
            provider_token=token,
        )

    async def check(self, payload: str, currency: str, amount: int) -> Unpayable | None:
        """Whether the invoice may be paid now (None: yes). Read only: nothing changes."""
        parsed = _parse(payload)
        if parsed is None:
            return Unpayable.UNKNOWN
        order_id, version, invoiced = parsed
        async with reading(self._sessions) as session:
            order = await session.get(Order, order_id)
            if order is None:
                return Unpayable.UNKNOWN
            due, current, order_currency = amount_due(order), order.version, order.currency
        if not any(option.code == PAY_ACTION for option in await self._system_actions(order_id)):
            return Unpayable.CLOSED
        if current != version:
            return Unpayable.CHANGED
        if amount != invoiced or amount != due or currency != order_currency:
            return Unpayable.AMOUNT
        return None

    async def paid(
        self, payload: str, currency: str, amount: int, charge_id: str, raw: dict[str, Any]
    ) -> PaymentResult | None:
        """Telegram's successful_payment: the payment confirmed (None: not an invoice of ours)."""
        parsed = _parse(payload)
        if parsed is None:
            return None
        return await self._payments.confirmed(
            Confirmed(PROVIDER, charge_id, parsed[0], amount, currency, raw)
        )

    async def _system_actions(self, order_id: int):
        try:
            return await self._orders.actions(order_id, PAYMENT_ACTOR)
        except OrderRefused:
            return []


def _parse(payload: str) -> tuple[int, int, int] | None:
    match = _PAYLOAD.match(payload or "")
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3])


def _cut(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"
