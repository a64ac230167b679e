"""What an order's card shows of its parcel: the carrier's tracking page and the latest
checkpoints the carrier reported (newest first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.carriers.links import tracking_url
from services.deliveries.tracking import carrier_key
from storage.models import Order, ParcelCheckpoint

SHOWN = 5


@dataclass(frozen=True)
class CheckpointLine:
    at: datetime
    kind: str
    description: str
    location: str


@dataclass(frozen=True)
class ParcelView:
    link: str | None  # the carrier's public tracking page for the code, if it has one
    checkpoints: tuple[CheckpointLine, ...] = ()  # the latest, newest first


def link_of(order: Order) -> str | None:
    if not order.track_code:
        return None
    return tracking_url(carrier_key(order.carrier) or "", order.track_code)


async def parcel_of(session: AsyncSession, order: Order) -> ParcelView | None:
    """None for an order with no track code (nothing to follow)."""
    if not order.track_code:
        return None
    rows = await session.scalars(
        select(ParcelCheckpoint)
        .where(ParcelCheckpoint.order_id == order.id)
        .order_by(ParcelCheckpoint.at.desc(), ParcelCheckpoint.id.desc())
        .limit(SHOWN)
    )
    lines = tuple(CheckpointLine(r.at, r.kind, r.description, r.location) for r in rows)
    return ParcelView(link_of(order), lines)
