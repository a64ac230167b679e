"""Telegram Payments' objects in the emulated world: invoices, pre-checkout queries, payments.

Plain data shaped as the Bot API shows it (Invoice, LabeledPrice, PreCheckoutQuery, OrderInfo,
SuccessfulPayment), plus what only the emulator keeps: who tried to pay an invoice and how it
ended, so the transcript can show a paid (or refused) invoice. The rules of sendInvoice live in
`methods/payments.py`, the payer's side in `checkout.py`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.sandbox.state import SandboxMessage, SandboxUser

JsonDict = dict[str, Any]

STARS = "XTR"  # Telegram Stars: whole stars, paid without a payment provider
# Places after the point, where not 2 (Telegram's currencies.json "exp").
_PLACES = {
    STARS: 0,
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "CLP": 0,
    "ISK": 0,
    "UGX": 0,
    "PYG": 0,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
    "IQD": 3,
}


def places(currency: str) -> int:
    return _PLACES.get(currency, 2)


def money(amount: int, currency: str) -> str:
    """14550, "RUB" -> "145.50 RUB": how the emulator shows amounts (buttons, transcript)."""
    digits = places(currency)
    return f"{Decimal(amount).scaleb(-digits):.{digits}f} {currency}"


@dataclass(frozen=True)
class LabeledPrice:
    label: str
    amount: int  # minor units; may be negative (a discount) as long as the total is positive

    def to_api(self) -> JsonDict:
        return {"label": self.label, "amount": self.amount}


@dataclass(frozen=True)
class CheckoutAttempt:
    """One try to pay an invoice, as the payer saw it end."""

    payer: SandboxUser
    outcome: str  # "paid", "refused" (the bot said no) or "timeout" (the bot did not answer)
    error_message: str | None = None


@dataclass(eq=False)
class SandboxInvoice:
    title: str
    description: str
    payload: str
    currency: str
    prices: tuple[LabeledPrice, ...]
    provider_token: str = ""
    start_parameter: str = ""
    max_tip_amount: int = 0
    suggested_tip_amounts: tuple[int, ...] = ()
    need_name: bool = False
    need_phone_number: bool = False
    need_email: bool = False
    need_shipping_address: bool = False
    is_flexible: bool = False
    attempts: list[CheckoutAttempt] = field(default_factory=list)

    @property
    def total_amount(self) -> int:
        return sum(price.amount for price in self.prices)

    @property
    def paid_by(self) -> SandboxUser | None:
        return next((a.payer for a in self.attempts if a.outcome == "paid"), None)

    def to_api(self) -> JsonDict:
        return {
            "title": self.title,
            "description": self.description,
            "start_parameter": self.start_parameter,
            "currency": self.currency,
            "total_amount": self.total_amount,
        }

    def wanted_order_info(self) -> list[str]:
        """The OrderInfo fields the payer must fill in, as the invoice asks."""
        wanted = {
            "name": self.need_name,
            "phone_number": self.need_phone_number,
            "email": self.need_email,
            "shipping_address": self.need_shipping_address,
        }
        return [name for name, needed in wanted.items() if needed]


@dataclass(frozen=True)
class SuccessfulPayment:
    currency: str
    total_amount: int
    invoice_payload: str
    telegram_payment_charge_id: str
    provider_payment_charge_id: str
    order_info: JsonDict | None = None
    title: str = ""  # the invoice's title, for the transcript; not part of the Bot API object

    def to_api(self) -> JsonDict:
        data: JsonDict = {
            "currency": self.currency,
            "total_amount": self.total_amount,
            "invoice_payload": self.invoice_payload,
        }
        if self.order_info:
            data["order_info"] = self.order_info
        data["telegram_payment_charge_id"] = self.telegram_payment_charge_id
        data["provider_payment_charge_id"] = self.provider_payment_charge_id
        return data


@dataclass(frozen=True)
class PreCheckoutAnswer:
    ok: bool
    error_message: str | None


@dataclass(eq=False)
class PreCheckoutQuery:
    """Telegram asks the bot to confirm the order before charging; it must answer in time."""

    id: str
    payer: SandboxUser
    invoice_message: SandboxMessage
    order_info: JsonDict | None = None
    answer: PreCheckoutAnswer | None = None
    expired: bool = False  # the time to answer is over: a late answer is refused
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def invoice(self) -> SandboxInvoice:
        invoice = self.invoice_message.invoice
        assert invoice is not None
        return invoice

    def to_api(self) -> JsonDict:
        data: JsonDict = {
            "id": self.id,
            "from": self.payer.to_api(),
            "currency": self.invoice.currency,
            "total_amount": self.invoice.total_amount,
            "invoice_payload": self.invoice.payload,
        }
        if self.order_info:
            data["order_info"] = self.order_info
        return data
