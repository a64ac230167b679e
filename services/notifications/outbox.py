"""Writing notifications into the outbox, inside the transaction of the change causing them.

A pump (the Telegram and e-mail senders) delivers them later, retrying with backoff; the
dedupe key makes writing the same notification twice a no-op, so a retried change
never notifies twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    now: datetime,
    channel: str,
    audience: str,
    topic: str,
    shop_id: int | None = None,
    order_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> OutboxMessage | None:
    """Add a notification unless one with the same key exists; returns the new row or None."""
    exists = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key))
    if exists is not None:
        return None
    message = OutboxMessage(
        dedupe_key=key,
        shop_id=shop_id,
        order_id=order_id,
        channel=channel,
        audience=audience,
        topic=topic,
        payload=payload or {},
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    return message
