"""What erasing a buyer's personal data does to each table (152-FZ, GDPR).

Personal: the buyer's name, phone, e-mail, Telegram account, delivery address, their
comments, the dialog's texts and files, review and return texts, staff comments (they
quote the buyer), track codes (a carrier's page shows the recipient), and any free text in
audit events, notifications and delivery logs. Kept: the orders with their goods, amounts
and statuses, the ledger, and the audit events without their free text: the money and the
history the shop must keep (accounting) stay true.

Each table has its eraser. A feature that stores buyer data in a table of its own adds an
eraser with `register_eraser` (tests/services/test_personal_data.py scans every text and
JSON column of every table after a request to forget, and fails on what is left).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Buyer,
    Delivery,
    DialogFile,
    DialogMessage,
    DialogRelay,
    Order,
    OrderCard,
    OrderEvent,
    OutboxMessage,
    ParcelCheckpoint,
    ParcelTracking,
    ReturnRequest,
    Review,
    StaffMember,
    TelegramUpdate,
    User,
)

ERASED_ERROR = "personal data erased"  # a notification that will never be sent now


@dataclass(frozen=True)
class ErasureScope:
    """What one erasure covers, in one shop."""

    shop_id: int
    order_ids: tuple[int, ...]  # orders whose buyer data goes
    buyer_ids: tuple[int, ...]  # buyer rows erased whole (no order of theirs keeps data)
    telegram_ids: tuple[int, ...]  # those buyers' Telegram accounts
    user_ids: tuple[int, ...]  # and their users, forgotten if nothing else holds them
    known: tuple[str, ...]  # their names, phones, e-mails, addresses: never kept anywhere
    now: datetime


Eraser = Callable[[AsyncSession, ErasureScope], Awaitable[None]]
ERASERS: list[Eraser] = []


def register_eraser(eraser: Eraser) -> Eraser:
    """Add an eraser for a feature's own table (usable as a decorator)."""
    if eraser not in ERASERS:
        ERASERS.append(eraser)
    return eraser


# -- free text in JSON -------------------------------------------------------------------------

# Keys whose values are people's words or contact details, whatever they look like.
PERSONAL_KEYS = frozenset(
    {
        "address",
        "answer",
        "comment",
        "email",
        "error",
        "name",
        "phone",
        "reject_reason",
        "text",
        "track_code",
        "username",
    }
)
# What may stay: codes (statuses, actions, reasons, topics) and moments. A name, an e-mail,
# an address or a phone never looks like either (capitals, spaces, "@", "+", Cyrillic).
_CODE = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?$")


def scrub(value: Any, known: Iterable[str] = (), key: str | None = None) -> Any:
    """The same JSON without free text: strings that are not codes or moments become None,
    and so does any string containing one of the `known` values (any case)."""
    return _scrub(value, _pattern(tuple(known)), key)


@lru_cache(maxsize=64)
def _pattern(known: tuple[str, ...]) -> re.Pattern[str] | None:
    values = sorted({k for k in known if k}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, values)), re.IGNORECASE) if values else None


def _scrub(value: Any, known: re.Pattern[str] | None, key: str | None) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v, known, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, known, key) for v in value]
    if isinstance(value, str):
        if key in PERSONAL_KEYS or not (_CODE.match(value) or _MOMENT.match(value)):
            return None
        return None if known is not None and known.search(value) else value
    return value


async def _scrub_rows(session: AsyncSession, model, column, where, known) -> None:
    """Rewrite a JSON column (SQL cannot tell free text from codes): read the rows, scrub
    them here, write back the changed ones in one executemany."""
    table = model.__table__
    key = table.primary_key.columns[0]
    changed = []
    for row_key, data in await session.execute(select(key, column).where(where)):
        cleaned = scrub(data or {}, known)
        if cleaned != data:
            changed.append({"row_key": row_key, "cleaned": cleaned})
    if changed:
        await session.execute(
            update(table)
            .where(key == bindparam("row_key"))
            .values({column.key: bindparam("cleaned")}),
            changed,
        )


# -- the erasers -------------------------------------------------------------------------------


@register_eraser
async def erase_orders(session: AsyncSession, scope: ErasureScope) -> None:
    if not scope.order_ids:
        return
    await session.execute(
        update(Order)
        .where(Order.id.in_(scope.order_ids))
        .values(
            delivery_address="",
            buyer_comment="",
            track_code=None,
            courier_window=None,
            courier_phone=None,
            personal_data_erased_at=scope.now,
            version=Order.version + 1,  # a card drawn before shows as changed
        )
        .execution_options(synchronize_session=False)
    )
    # A new token each: links the buyer was given open nothing now.
    orders = Order.__table__
    await session.execute(
        update(orders)
        .where(orders.c.id == bindparam("order_id"))
        .values(buyer_token=bindparam("token")),
        [{"order_id": i, "token": secrets.token_urlsafe(16)[:32]} for i in scope.order_ids],
    )


@register_eraser
async def erase_events(session: AsyncSession, scope: ErasureScope) -> None:
    where = OrderEvent.order_id.in_(scope.order_ids)
    await session.execute(update(OrderEvent).where(where).values(comment=None))
    await _scrub_rows(session, OrderEvent, OrderEvent.payload, where, scope.known)


@register_eraser
async def erase_dialog(session: AsyncSession, scope: ErasureScope) -> None:
    messages = select(DialogMessage.id).where(DialogMessage.order_id.in_(scope.order_ids))
    await session.execute(delete(DialogFile).where(DialogFile.dialog_message_id.in_(messages)))
    # Replying in Telegram to a relayed message of these orders reaches nobody now.
    await session.execute(delete(DialogRelay).where(DialogRelay.order_id.in_(scope.order_ids)))
    await session.execute(
        update(DialogMessage)
        .where(DialogMessage.order_id.in_(scope.order_ids))
        .values(text="", attachments=[])
    )


@register_eraser
async def erase_notifications(session: AsyncSession, scope: ErasureScope) -> None:
    """Outbox rows and their deliveries: free text scrubbed, what was still to go to the
    buyer never goes, the buyer's chat id dropped from the delivery log."""
    of_orders = OutboxMessage.order_id.in_(scope.order_ids)
    await session.execute(
        update(OutboxMessage)
        .where(of_orders, OutboxMessage.audience == "buyer", OutboxMessage.state == "pending")
        .values(state="failed", last_error=ERASED_ERROR)
    )
    await session.execute(
        update(OutboxMessage)
        .where(of_orders, OutboxMessage.state != "pending")
        .values(last_error=None)
    )
    await _scrub_rows(session, OutboxMessage, OutboxMessage.payload, of_orders, scope.known)
    rows = select(OutboxMessage.id).where(of_orders)
    deliveries = Delivery.outbox_id.in_(rows)
    buyer_chats = [Delivery.chat_id.in_(scope.telegram_ids)] if scope.telegram_ids else []
    buyer_users = [Delivery.user_id.in_(scope.user_ids)] if scope.user_ids else []
    if buyer_chats or buyer_users:
        to_buyer = or_(*buyer_chats, *buyer_users)
        await session.execute(
            update(Delivery)
            .where(deliveries, to_buyer, Delivery.state == "pending")
            .values(state="failed", last_error=ERASED_ERROR)
        )
        await session.execute(
            update(Delivery).where(deliveries, to_buyer).values(chat_id=0, user_id=None)
        )
    await session.execute(
        update(Delivery)
        .where(deliveries, Delivery.last_error != ERASED_ERROR)
        .values(last_error=None)
    )
    await _scrub_rows(session, Delivery, Delivery.payload, deliveries, scope.known)


@register_eraser
async def erase_poison_updates(session: AsyncSession, scope: ErasureScope) -> None:
    """Telegram updates kept for the operator after their handling kept failing: they hold
    the person's own words and name."""
    if scope.telegram_ids:
        await session.execute(
            delete(TelegramUpdate).where(TelegramUpdate.from_id.in_(scope.telegram_ids))
        )


@register_eraser
async def erase_cards(session: AsyncSession, scope: ErasureScope) -> None:
    """The order's cards in the buyer's own chat are no longer kept up to date."""
    if scope.user_ids:
        await session.execute(
            delete(OrderCard).where(
                OrderCard.order_id.in_(scope.order_ids), OrderCard.user_id.in_(scope.user_ids)
            )
        )


@register_eraser
async def erase_after_sales(session: AsyncSession, scope: ErasureScope) -> None:
    """Reviews keep their stars, returns their amounts; the words go."""
    await session.execute(
        update(Review).where(Review.order_id.in_(scope.order_ids)).values(text="", answer=None)
    )
    await session.execute(
        update(ReturnRequest)
        .where(ReturnRequest.order_id.in_(scope.order_ids))
        .values(reason="", reject_reason=None)
    )


@register_eraser
async def erase_parcels(session: AsyncSession, scope: ErasureScope) -> None:
    """The parcels followed at carriers (issue 18): their track codes go with the order's,
    and what the carriers said of them (places, words) with them."""
    if not scope.order_ids:
        return
    await session.execute(
        delete(ParcelCheckpoint).where(ParcelCheckpoint.order_id.in_(scope.order_ids))
    )
    await session.execute(
        delete(ParcelTracking).where(ParcelTracking.order_id.in_(scope.order_ids))
    )


@register_eraser
async def erase_buyers(session: AsyncSession, scope: ErasureScope) -> None:
    if not scope.buyer_ids:
        return
    await session.execute(
        update(Buyer)
        .where(Buyer.id.in_(scope.buyer_ids))
        .values(
            name="",
            phone=None,
            email=None,
            email_verified_at=None,
            telegram_id=None,
            user_id=None,
            erased_at=scope.now,
        )
    )
    # Their Telegram profile is forgotten too, unless they are staff somewhere or still a
    # buyer of another shop (the bot refreshes it whenever they write to it again).
    for user_id in scope.user_ids:
        staff = await session.scalar(select(StaffMember.id).where(StaffMember.user_id == user_id))
        elsewhere = await session.scalar(
            select(Buyer.id).where(Buyer.user_id == user_id, Buyer.id.not_in(scope.buyer_ids))
        )
        if staff is None and elsewhere is None:
            await session.execute(
                update(User)
                .where(User.id == user_id)
                .values(name="", username=None, phone=None, phone_verified_at=None)
            )
