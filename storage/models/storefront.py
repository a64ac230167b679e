"""What the storefront API keeps between requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class IdempotencyKey(Base):
    """A storefront's `Idempotency-Key`, per shop (G1): the first answer, replayed on a retry.

    The unique (shop_id, key) row is written before the orders are created, so of two
    concurrent requests with one key only one goes on; `locked_until` lets a request whose
    process died be taken over, and the orders' own unique external id stops a duplicate then.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("shop_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the request's body
    state: Mapped[str] = mapped_column(String(10))  # started | done
    locked_until: Mapped[datetime]
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column()
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class CallbackRequest(Base):
    """A buyer's one-click buy (seed 002): "call me back about this product".

    Staff get a ping with a button that opens the manual-order form prefilled; the first
    person to take it is recorded, so a second one knows a colleague is calling already.
    """

    __tablename__ = "callback_requests"
    __table_args__ = (Index("ix_callback_requests_shop_created", "shop_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))  # api | tilda
    name: Mapped[str] = mapped_column(String(128), default="")
    phone: Mapped[str] = mapped_column(String(20))  # E.164, read with the shop's country
    product_sku: Mapped[str] = mapped_column(String(64), default="")
    product_name: Mapped[str] = mapped_column(String(256), default="")
    product_price: Mapped[int | None] = mapped_column(BigInteger)  # minor units, the shop's
    comment: Mapped[str] = mapped_column(Text, default="")
    taken_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    taken_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
