"""Deliveries: a shop's carrier accounts, the parcels followed and what carriers said of them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.sealing import SEALED


class CarrierAccount(Base):
    """A shop's credentials at a carrier (sealed JSON of the adapter's credential fields)."""

    __tablename__ = "carrier_accounts"
    __table_args__ = (UniqueConstraint("shop_id", "carrier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    carrier: Mapped[str] = mapped_column(String(16))
    credentials: Mapped[str] = mapped_column(Text, info=SEALED)  # never shown, never logged
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ParcelTracking(Base):
    """One parcel followed at its carrier: a timer row of its own kind.

    The tracking sweep claims the due ones through ix_parcel_trackings_due, so a sweep costs
    what is due, not how many parcels travel. It outlives the order's status changes (a
    parcel at the pickup point is still followed) and stops at a final event.
    """

    __tablename__ = "parcel_trackings"
    __table_args__ = (
        UniqueConstraint("order_id", "track_code"),
        Index("ix_parcel_trackings_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    carrier: Mapped[str] = mapped_column(String(16))
    track_code: Mapped[str] = mapped_column(String(40))
    # active | done (a final event) | stopped (the order ended, or the shop's login is refused)
    state: Mapped[str] = mapped_column(String(10), default="active")
    due_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    polls: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row; reset by an answer
    moved_at: Mapped[datetime]  # the latest new checkpoint seen (or when following began)
    last_kind: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    # When the order was flagged for a parcel that stopped moving (cleared when it moves).
    stalled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class ParcelCheckpoint(Base):
    """An event a carrier reported; the unique key makes each one recorded, and so applied
    to the order's workflow, once however often the carrier repeats it."""

    __tablename__ = "parcel_checkpoints"
    __table_args__ = (
        UniqueConstraint("tracking_id", "carrier_code", "at"),
        Index("ix_parcel_checkpoints_order", "order_id", "at"),
        # The sweep's "not yet considered" (outcome IS NULL): few, among many considered.
        Index("ix_parcel_checkpoints_outcome", "outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_id: Mapped[int] = mapped_column(ForeignKey("parcel_trackings.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # services.carriers.EventKind
    at: Mapped[datetime]
    location: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(String(300), default="")
    carrier_code: Mapped[str] = mapped_column(String(64), default="")
    seen_at: Mapped[datetime]
    # What the workflow's on_carrier made of it (None: not yet considered).
    outcome: Mapped[str | None] = mapped_column(String(64))
