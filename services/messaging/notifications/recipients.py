"""Who gets a Telegram notification: an outbox row expanded into one delivery per chat.

Decided when the pump expands the row, from the database as it is then: the shop's staff
group, the staff responsible for the order, the buyer's chat, every card of the order shown
in a chat. A row nobody can receive (a buyer without Telegram) expands to nothing. Whatever
the buyer does (a status step, a return request, a review, a message) always reaches the
staff group, or the owner when the shop has none.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.vocabulary import ADMIN, OWNER
from services.workflow.store import WorkflowStore
from storage.models import (
    Buyer,
    DialogMessage,
    Order,
    OrderCard,
    OutboxMessage,
    Shop,
    StaffMember,
    User,
)

# Who a delivery is for; it decides the language it is written in.
GROUP = "group"  # the shop's staff group: the shop's language
STAFF = "staff"  # one staff member: their language, else the shop's
BUYER = "buyer"  # the order's buyer: their language
CARD = "card"  # an order card shown to one person: redrawn for them

# Delivery kinds (storage.models.Delivery.kind).
MESSAGE = "message"
COPY = "copy"  # a copy of the person's own message: photos and files
EDIT_CARD = "edit_card"

BUYER_TOPICS = frozenset(
    {"status_changed", "order_created", "order_changed", "order_split", "reminder"}
    | {"return_to_buyer", "review_request", "review_answer"}  # services.money.returns, .reviews
)
# Returns and reviews for the shop: its group and its managers (the owner when none).
SHOP_FEEDBACK_TOPICS = frozenset({"return_to_shop", "review_to_shop"})
DIALOG_TOPICS = frozenset({"dialog_to_shop", "dialog_to_buyer"})
# About the shop, not one order (H4): a one-click-buy callback request, and a platform's
# order that could not be taken.
# A product running out (issue 19): the owner, admins and managers.
# Payment notifications that could not be verified (issue 17): the owner and admins.
SHOP_TOPICS = frozenset({"callback_request", "connector_refused", "low_stock", "payment_rejected"})


class UnknownTopic(LookupError):
    """An outbox row the pump has no rule for: marked failed, so it shows rather than waits."""


@dataclass(frozen=True)
class Recipient:
    chat_id: int
    to: str  # GROUP | STAFF | BUYER | CARD
    kind: str = MESSAGE
    user_id: int | None = None
    target_message_id: int = 0  # the card to edit (EDIT_CARD)


async def recipients(
    session: AsyncSession, row: OutboxMessage, workflows: WorkflowStore
) -> list[Recipient]:
    """The chats this notification goes to, each once."""
    topic = row.topic
    if topic == "refresh_cards":
        return await _cards(session, row.order_id)
    if topic in SHOP_TOPICS:
        shop = await session.get(Shop, row.shop_id) if row.shop_id is not None else None
        if shop is None:
            return []
        if topic == "callback_request":
            # Whoever takes phone orders: the staff group and the managers (else the owner).
            return _once([*_group(shop), *await _staff(session, shop.id, "manager", fallback=True)])
        if topic == "low_stock":
            managers = await _staff(session, shop.id, "manager", fallback=False)
            return _once([*await _supervisors(session, shop.id), *managers])
        return _once(await _supervisors(session, shop.id))
    order = await session.get(Order, row.order_id) if row.order_id is not None else None
    if order is None:
        return []  # the order is gone (deleted with its shop): nothing to tell
    if topic in BUYER_TOPICS:
        return await _buyer(session, order)
    shop = await session.get(Shop, order.shop_id)
    if topic == "new_order":
        role = row.payload.get("role")
        return _once([*_group(shop), *await _staff(session, shop.id, role, fallback=True)])
    if topic == "order_assigned":
        role = row.payload.get("role")
        return _once(await _staff(session, shop.id, role, fallback=True))
    if topic == "buyer_acted":
        # The buyer did something to the order: the staff group (the owner when the shop has
        # none), and the people of the status it left and of the one it reached (issue 14).
        workflow = await workflows.get(session, order.workflow_id)
        roles = {row.payload.get("role"), _responsible(workflow, row.payload.get("from_status"))}
        people = await _group_or_owner(session, shop)
        for role in sorted(filter(None, roles)):
            people += await _staff(session, shop.id, role, fallback=False)
        return _once(people)
    if topic == "shop_reminder":
        role = row.payload.get("role")
        return _once([*_group(shop), *await _staff(session, shop.id, role, fallback=True)])
    if topic == "sla_expired":
        # "The admin is alerted" (001), and whoever should have moved the order on.
        role = row.payload.get("role")
        responsible = await _staff(session, shop.id, role, fallback=False) if role else []
        return _once([*await _supervisors(session, shop.id), *responsible])
    if topic in SHOP_FEEDBACK_TOPICS:
        role = row.payload.get("role")
        told = await _group_or_owner(session, shop)
        return _once([*told, *await _staff(session, shop.id, role, fallback=False)])
    if topic == "return_overdue":
        # A return request the shop has not answered in time: the admin and the managers.
        role = row.payload.get("role")
        return _once(
            [
                *await _supervisors(session, shop.id),
                *await _staff(session, shop.id, role, fallback=False),
            ]
        )
    if topic == "email_failed":
        return _once(await _supervisors(session, shop.id))
    if topic == "payment_notice":
        # A payment in, or one that did not fit (issue 17): who sees the money.
        told = [*await _group_or_owner(session, shop), *await _supervisors(session, shop.id)]
        return _once([*told, *await _staff(session, shop.id, "accountant", fallback=False)])
    if topic in DIALOG_TOPICS:
        message = await session.get(DialogMessage, row.payload.get("dialog_message_id"))
        if message is None:
            return []
        kind = COPY if message.attachments else MESSAGE
        if topic == "dialog_to_buyer":
            return [_as(r, kind) for r in await _buyer(session, order)]
        # The buyer wrote: the staff group sees it; without one, the owner and whoever
        # works the order now.
        people = _group(shop)
        if not people:
            workflow = await workflows.get(session, order.workflow_id)
            role = _responsible(workflow, order.status)
            people = await _holders(session, shop.id, OWNER)
            people += await _staff(session, shop.id, role, fallback=False) if role else []
        return [_as(r, kind) for r in _once(people)]
    raise UnknownTopic(topic)


def _responsible(workflow, status: str | None) -> str | None:
    try:
        return workflow.status(status).responsible if status else None
    except KeyError:
        return None  # a status an older workflow version had


async def _group_or_owner(session: AsyncSession, shop: Shop) -> list[Recipient]:
    """Whom a buyer's action always reaches (issue 14): the staff group, else the owner."""
    return _group(shop) or await _holders(session, shop.id, OWNER)


def _group(shop: Shop) -> list[Recipient]:
    return [Recipient(shop.staff_chat_id, GROUP)] if shop.staff_chat_id else []


async def _staff(
    session: AsyncSession, shop_id: int, role: str | None, *, fallback: bool
) -> list[Recipient]:
    """The shop's staff holding `role`; the owner when no one does (or no role is named)."""
    people = await _holders(session, shop_id, role) if role else []
    if not people and fallback:
        people = await _holders(session, shop_id, OWNER)
    return people


async def _supervisors(session: AsyncSession, shop_id: int) -> list[Recipient]:
    return [*await _holders(session, shop_id, OWNER), *await _holders(session, shop_id, ADMIN)]


async def _holders(session: AsyncSession, shop_id: int, role: str) -> list[Recipient]:
    rows = await session.execute(
        select(User.id, User.telegram_id)
        .join(StaffMember, StaffMember.user_id == User.id)
        .where(
            StaffMember.shop_id == shop_id,
            StaffMember.role == role,
            User.telegram_id.is_not(None),
        )
        .order_by(StaffMember.id)
    )
    return [Recipient(row.telegram_id, STAFF, user_id=row.id) for row in rows]


async def _buyer(session: AsyncSession, order: Order) -> list[Recipient]:
    """The buyer's Telegram chat: theirs as the shop knows it, or their bound account's."""
    buyer = await session.get(Buyer, order.buyer_id)
    chat_id = buyer.telegram_id
    if chat_id is None and buyer.user_id is not None:
        chat_id = await session.scalar(select(User.telegram_id).where(User.id == buyer.user_id))
    if chat_id is None:
        return []
    return [Recipient(chat_id, BUYER, user_id=buyer.user_id)]


async def _cards(session: AsyncSession, order_id: int | None) -> list[Recipient]:
    rows = await session.scalars(
        select(OrderCard).where(OrderCard.order_id == order_id).order_by(OrderCard.id)
    )
    return [
        Recipient(
            card.chat_id,
            CARD,
            kind=EDIT_CARD,
            user_id=card.user_id,
            target_message_id=card.message_id,
        )
        for card in rows
    ]


def _once(people: list[Recipient]) -> list[Recipient]:
    """One delivery per chat: a person holding two roles, or the owner as a fallback, once."""
    seen: set[int] = set()
    unique = []
    for person in people:
        if person.chat_id not in seen:
            seen.add(person.chat_id)
            unique.append(person)
    return unique


def _as(recipient: Recipient, kind: str) -> Recipient:
    return Recipient(recipient.chat_id, recipient.to, kind, recipient.user_id)
