"""What the storefront API keeps between requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
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
