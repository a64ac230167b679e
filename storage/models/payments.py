"""Payments a provider told us about, and the refunds sent back through it (issue 17).

A payment row is created and changed only by services.payments.service; the order's money
itself is in the ledger (storage.models.money.LedgerEntry), posted by OrderService.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Payment(Base):
    """One payment at one provider, once per its id there however often it is reported."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_id"),
        Index("ix_payments_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(16))  # telegram | yookassa | storefront
    provider_id: Mapped[str] = mapped_column(String(128))  # the provider's own payment id
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units, as the provider confirmed
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # the provider's: pending | succeeded | ...
    # What it did to the order: None (not confirmed yet) | paid | recorded | mismatch | refused
    outcome: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)  # why it was not applied
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the provider's event, kept
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PaymentRefund(Base):
    """Money given back through the provider that took it; a pump sends it until the
    provider answers for certain (the same idempotence key each time)."""

    __tablename__ = "payment_refunds"
    __table_args__ = (Index("ix_payment_refunds_due", "status", "next_try_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64), unique=True)  # why: "cancel:<order>" ...
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # pending | succeeded | failed
    provider_refund_id: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
