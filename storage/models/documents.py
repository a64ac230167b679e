"""Shops' document templates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class DocumentTemplate(Base):
    """One saved version of a shop's document template (E1, E2): invoice, waybill or payment
    slip, in one language. Versions are kept: the active one is used; restoring makes the
    version before it active again; a new upload is the newest. No active row: the default."""

    __tablename__ = "document_templates"
    __table_args__ = (
        UniqueConstraint("shop_id", "kind", "language", "version"),
        Index("ix_document_templates_current", "shop_id", "kind", "language", "active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # invoice | waybill | payment_slip
    language: Mapped[str] = mapped_column(String(2))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
