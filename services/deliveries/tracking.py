"""Following a parcel: the tracking row set when an order is shipped, and when to ask next.

A shipped order (a transition with the `track_parcel` effect) whose carrier has an adapter
gets one `ParcelTracking` row, in the transaction of the change. The sweep asks about it
when it is due; how soon again depends on what happened (DESIGN "Time"):

- the parcel moved: ask again in `INTERVAL`;
- no movement for a while: slower and slower, down to once a day;
- the carrier failed: back off exponentially, or as long as it asked (`retry_after`);
- a final event (delivered, refused, returned, lost): stop.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.carriers.adapters import ADAPTERS
from services.carriers.base import normalize_code
from services.carriers.links import CARRIERS
from storage.models import Order, ParcelTracking

ACTIVE = "active"
DONE = "done"  # a final event was seen
STOPPED = "stopped"  # the order ended otherwise, or the carrier will never know the code

FIRST_POLL = timedelta(hours=1)  # a parcel just handed over has nothing to tell yet
INTERVAL = timedelta(hours=2)
QUIET = ((timedelta(days=7), timedelta(hours=24)), (timedelta(days=2), timedelta(hours=6)))
MAX_BACKOFF = timedelta(hours=6)
NO_ACCOUNT = timedelta(hours=12)  # the shop has not given its credentials (yet)
# A parcel with no movement this many days gets the order the problem flag (per carrier:
# CARRIER_STALL_DAYS overrides); domestic parcels normally move at least daily.
STALL = 5
STALL_DAYS = {"russian_post": 7, "cdek": 5, "boxberry": 5, "nova_poshta": 4}


def carrier_key(value: str | None) -> str | None:
    """The carrier's key from what was typed or picked: the key itself or a name of it."""
    if not value:
        return None
    wanted = value.strip().casefold()
    for key, names in CARRIERS.items():
        if wanted == key or wanted in (name.casefold() for name in names.values()):
            return key
    return None


def next_poll(now: datetime, moved_at: datetime) -> datetime:
    """After an answer: the longer the parcel has not moved, the rarer the question."""
    still = now - moved_at
    for after, interval in QUIET:
        if still >= after:
            return now + interval
    return now + INTERVAL


def backoff(now: datetime, failures: int, retry_after: float | None = None) -> datetime:
    """After the carrier failed `failures` times in a row: 5, 10, 20 minutes... up to 6 h."""
    wait = min(timedelta(minutes=5) * 2 ** max(failures - 1, 0), MAX_BACKOFF)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=min(retry_after, MAX_BACKOFF.total_seconds())))
    return now + wait


async def follow(session: AsyncSession, order: Order, now: datetime) -> ParcelTracking | None:
    """Start following the order's parcel, if its carrier has an adapter (in the caller's
    transaction); a code followed already for this order is not followed twice."""
    carrier = carrier_key(order.carrier)
    code = normalize_code(order.track_code or "")
    if carrier not in ADAPTERS or not code:
        return None
    existing = await session.scalar(
        select(ParcelTracking).where(
            ParcelTracking.order_id == order.id, ParcelTracking.track_code == code
        )
    )
    if existing is not None:
        return existing
    # A new code for the order (typed again after a mistake): the old one is not followed.
    for old in await session.scalars(
        select(ParcelTracking).where(
            ParcelTracking.order_id == order.id, ParcelTracking.state == ACTIVE
        )
    ):
        old.state, old.finished_at = STOPPED, now
    tracking = ParcelTracking(
        order_id=order.id,
        shop_id=order.shop_id,
        carrier=carrier,
        track_code=code,
        state=ACTIVE,
        due_at=now + FIRST_POLL,
        polls=0,
        failures=0,
        moved_at=now,
        created_at=now,
    )
    session.add(tracking)
    return tracking
