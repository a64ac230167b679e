"""Payment notifications that changed nothing because they could not be verified (issue 17):
kept for the shop to see, so a forged or misrouted notification is not lost in a log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class RejectedPaymentNotice(Base):
    """One notification a provider's API did not confirm; what it claimed, never the payer."""

    __tablename__ = "rejected_payment_notices"
    __table_args__ = (Index("ix_rejected_payment_notices_shop", "shop_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(16))  # yookassa
    event: Mapped[str | None] = mapped_column(String(64))  # what it claimed: payment.succeeded
    object_id: Mapped[str | None] = mapped_column(String(128))  # the payment id it named
    reason: Mapped[str] = mapped_column(String(32))  # unreadable | unknown_payment | not_this_shop
    created_at: Mapped[datetime]
