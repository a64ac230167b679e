"""Shops' stores on WooCommerce, Shopify and Tilda, connected (H4), and what they sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class ShopConnection(Base):
    """A shop's store on a platform. The credentials are sealed with the vault
    (services.outside.vault); `shown` keeps what may be shown back (the store's address)."""

    __tablename__ = "shop_connections"
    __table_args__ = (UniqueConstraint("shop_id", "platform"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))  # woocommerce | shopify | tilda
    # The unguessable part of the inbound URL (/connectors/{platform}/{path_token}).
    path_token: Mapped[str] = mapped_column(String(64), unique=True)
    credentials: Mapped[str] = mapped_column(Text)  # sealed JSON; never shown, never logged
    shown: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ConnectorDelivery(Base):
    """One webhook a platform sent to a connection, and what came of it; refused and
    unverified ones keep their body (cut short) for the shop to see (DESIGN)."""

    __tablename__ = "connector_deliveries"
    __table_args__ = (
        Index("ix_connector_deliveries_connection_delivery", "connection_id", "delivery_id"),
        Index("ix_connector_deliveries_shop", "shop_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("shop_connections.id", ondelete="CASCADE")
    )
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    delivery_id: Mapped[str | None] = mapped_column(String(128))  # the platform's own
    platform_order_id: Mapped[str | None] = mapped_column(String(64))
    # created | duplicate | ignored | refused | unverified | callback | failed
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    order_numbers: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
