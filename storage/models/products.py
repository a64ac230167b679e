"""Products and their stock (issue 19): what a shop sells, how many it has, and why that changed.

One row per SKU: a variant (a size, a colour) is a SKU of its own pointing at its parent, so
stock is always counted on the row a line names. The counts live on the product row itself,
so a reservation is one conditional UPDATE of that row (the race for the last item is decided
by the database, on SQLite and PostgreSQL alike); every change also writes a movement, the
log the counts can be recomputed from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("shop_id", "sku"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(256))
    # Titles in other languages ({"en": ..., "uk": ...}); `title` is the shop's own.
    titles: Mapped[dict[str, Any]] = mapped_column(default=dict)
    price: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    availability: Mapped[str] = mapped_column(String(16))  # in_stock | made_to_order
    returnable: Mapped[bool] = mapped_column(Boolean, default=False)
    return_days: Mapped[int] = mapped_column(Integer, default=0)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    variant: Mapped[str] = mapped_column(String(128), default="")  # "M, red"
    # SKU and titles case-folded in Python: SQLite's LIKE folds only ASCII, and staff
    # search in Russian and Ukrainian.
    search_text: Mapped[str] = mapped_column(Text, default="")
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    # Staff hear of it when the available count falls to this or below; None: never.
    low_stock_at: Mapped[int | None] = mapped_column(Integer)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)  # in the shop's hands
    reserved: Mapped[int] = mapped_column(Integer, default=0)  # held for open orders
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMovement(Base):
    """One change of a product's counts: by an order (reserved, released, written off,
    returned) or by a person (a correction with its reason, an import, out of stock)."""

    __tablename__ = "stock_movements"
    __table_args__ = (Index("ix_stock_movements_product", "product_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    on_hand_delta: Mapped[int] = mapped_column(Integer, default=0)
    reserved_delta: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
