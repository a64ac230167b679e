"""The per-order dialog (C6): each order has its own conversation between the buyer and the shop.

A message is stored with its order and an outbox row in one transaction; the pump relays it
(to the shop's staff group and responsible staff, or to the buyer's chat) and records each
relayed copy as a DialogRelay, so a reply to that copy finds its order. Who may write is
decided here from the writer's identity: the order's buyer writes to the shop, the shop's
staff answer the buyer; anyone else learns nothing and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.clock import Clock
from services.notifications.outbox import Outbox
from services.orders.access import Who, who_is
from services.orders.actors import ActorRef
from services.orders.drafts import invalid
from services.orders.errors import OrderRefused, Problem
from services.orders.unit import MAX_ID
from storage.database import reading
from storage.models import Buyer, DialogMessage, DialogRelay, Order, OrderCard, Shop, User

MAX_TEXT = 4000  # a relayed message adds a short header and stays under Telegram's 4096
MAX_ATTACHMENTS = 10  # an album
MAX_FILE_ID = 256
MAX_FILE_NAME = 256
ATTACHMENT_KINDS = ("photo", "document")


class Direction(StrEnum):
    TO_SHOP = "to_shop"  # the buyer wrote
    TO_BUYER = "to_buyer"  # the shop answered


@dataclass(frozen=True)
class ReplyTarget:
    """A bot message someone replied to, and where a reply to it goes."""

    order_id: int
    number: int  # the order's public number, for the confirmation
    direction: Direction  # of the reply: to_buyer when staff answer a relayed buyer message


@dataclass(frozen=True)
class Thread:
    """An order's dialog as shown from its card: the messages and their authors' names."""

    order_id: int
    number: int
    timezone: str
    messages: list[DialogMessage]
    authors: Mapping[int, str]  # user id -> name


class DialogService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    # -- writing ------------------------------------------------------------------------

    async def from_buyer(
        self,
        order_id: int,
        actor: ActorRef,
        *,
        text: str = "",
        attachments: Sequence[Mapping[str, Any]] = (),
        chat_id: int | None = None,
        message_id: int | None = None,
    ) -> DialogMessage:
        """The buyer writes to the shop about this order; only the order's buyer may."""
        text, files = _checked(text, attachments)
        async with self._sessions() as session, session.begin():
            order = await _order(session, order_id)
            who = await who_is(session, order, actor)
            if not who.actor.is_buyer:
                # The shop's staff answer by replying to the buyer's message, not from here.
                raise OrderRefused(Problem.FORBIDDEN, "only the order's buyer writes to the shop")
            return await self._store(
                session, order, who, Direction.TO_SHOP, text, files, chat_id, message_id
            )

    async def from_staff_reply(
        self,
        chat_id: int,
        replied_message_id: int,
        actor: ActorRef,
        *,
        text: str = "",
        attachments: Sequence[Mapping[str, Any]] = (),
        message_id: int | None = None,
    ) -> DialogMessage:
        """A staff member replied to a relayed message: the answer goes to the order's buyer."""
        text, files = _checked(text, attachments)
        async with self._sessions() as session, session.begin():
            order_id = await _relayed_order(session, chat_id, replied_message_id)
            order = await _order(session, order_id)
            who = await who_is(session, order, actor)
            if not who.is_staff:
                # The buyer themselves (in a chat they share with the shop), or a stranger.
                raise OrderRefused(Problem.NOT_FOUND, "only the shop's staff answer the buyer")
            return await self._store(
                session, order, who, Direction.TO_BUYER, text, files, chat_id, message_id
            )

    async def from_buyer_reply(
        self,
        chat_id: int,
        replied_message_id: int,
        actor: ActorRef,
        *,
        text: str = "",
        attachments: Sequence[Mapping[str, Any]] = (),
        message_id: int | None = None,
    ) -> DialogMessage:
        """The buyer replied to a relayed shop message or to the order's card in their chat."""
        target = await self.reply_target(chat_id, replied_message_id)
        if target is None:
            raise OrderRefused(Problem.NOT_FOUND, "not a message of an order")
        return await self.from_buyer(
            target.order_id,
            actor,
            text=text,
            attachments=attachments,
            chat_id=chat_id,
            message_id=message_id,
        )

    async def _store(
        self,
        session: AsyncSession,
        order: Order,
        who: Who,
        direction: Direction,
        text: str,
        attachments: list[dict[str, Any]],
        chat_id: int | None,
        message_id: int | None,
    ) -> DialogMessage:
        now = self._clock.now()
        message = DialogMessage(
            order_id=order.id,
            direction=str(direction),
            author_user_id=who.ref.user_id,
            channel=str(who.ref.channel),
            text=text,
            attachments=attachments,
            telegram_chat_id=chat_id,
            telegram_message_id=message_id,
            created_at=now,
        )
        session.add(message)
        await session.flush()
        outbox = Outbox(now)
        for channel in _channels(order, direction):
            outbox.add(
                key=f"dialog:{message.id}:{channel}",
                channel=channel,
                audience="shop" if direction is Direction.TO_SHOP else "buyer",
                topic=f"dialog_{direction}",
                shop_id=order.shop_id,
                order_id=order.id,
                payload={"dialog_message_id": message.id},
            )
        await outbox.write(session)
        return message

    # -- reading ------------------------------------------------------------------------

    async def reply_target(self, chat_id: int, message_id: int) -> ReplyTarget | None:
        """Where a reply to this bot message goes: a relayed dialog message's order (the other
        side answers), or, in a buyer's chat, the order whose card it is. None: neither."""
        async with reading(self._sessions) as session:
            relayed = (
                await session.execute(
                    select(DialogRelay.order_id, DialogMessage.direction, Order.number)
                    .join(DialogMessage, DialogMessage.id == DialogRelay.dialog_message_id)
                    .join(Order, Order.id == DialogRelay.order_id)
                    .where(DialogRelay.chat_id == chat_id, DialogRelay.message_id == message_id)
                )
            ).first()
            if relayed is not None:
                answer = (
                    Direction.TO_BUYER
                    if relayed.direction == Direction.TO_SHOP
                    else Direction.TO_SHOP
                )
                return ReplyTarget(relayed.order_id, relayed.number, answer)
            # A card drawn for the order's buyer; staff replying to their cards mean nothing.
            card = (
                await session.execute(
                    select(OrderCard.order_id, Order.number)
                    .join(Order, Order.id == OrderCard.order_id)
                    .join(
                        Buyer,
                        and_(Buyer.id == Order.buyer_id, Buyer.user_id == OrderCard.user_id),
                    )
                    .where(OrderCard.chat_id == chat_id, OrderCard.message_id == message_id)
                )
            ).first()
            if card is None:
                return None
            return ReplyTarget(card.order_id, card.number, Direction.TO_SHOP)

    async def history(self, order_id: int, actor: ActorRef) -> list[DialogMessage]:
        """The order's conversation, oldest first: for its shop's staff and its buyer."""
        return (await self.thread(order_id, actor)).messages

    async def thread(self, order_id: int, actor: ActorRef) -> Thread:
        async with reading(self._sessions) as session:
            order = await _order(session, order_id)
            await who_is(session, order, actor)  # strangers: "not found"
            messages = list(
                await session.scalars(
                    select(DialogMessage)
                    .where(DialogMessage.order_id == order_id)
                    .order_by(DialogMessage.id)
                )
            )
            authors = await _names(session, {m.author_user_id for m in messages})
            timezone = await session.scalar(select(Shop.timezone).where(Shop.id == order.shop_id))
            return Thread(order.id, order.number, timezone or "UTC", messages, authors)


def _channels(order: Order, direction: Direction) -> list[str]:
    """The shop hears in Telegram; the buyer in Telegram, else by e-mail (sent by D3's sender)."""
    if direction is Direction.TO_SHOP:
        return ["telegram"]
    buyer = order.buyer
    if buyer.user_id is not None or buyer.telegram_id is not None:
        return ["telegram"]
    return ["email"] if buyer.email else []


async def _order(session: AsyncSession, order_id: int | None) -> Order:
    if order_id is None or not 0 < order_id <= MAX_ID:
        raise OrderRefused(Problem.NOT_FOUND, "no such order")
    order = await session.get(Order, order_id)
    if order is None:
        raise OrderRefused(Problem.NOT_FOUND, "no such order")
    return order


async def _relayed_order(session: AsyncSession, chat_id: int, message_id: int) -> int:
    order_id = await session.scalar(
        select(DialogRelay.order_id).where(
            DialogRelay.chat_id == chat_id, DialogRelay.message_id == message_id
        )
    )
    if order_id is None:
        raise OrderRefused(Problem.NOT_FOUND, "not a relayed dialog message")
    return order_id


async def _names(session: AsyncSession, user_ids: Iterable[int | None]) -> dict[int, str]:
    ids = sorted(i for i in user_ids if i is not None)
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(ids)))
    return {row.id: row.name for row in rows}


def _checked(
    text: str | None, attachments: Sequence[Mapping[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    """1 to 4000 characters of text, or files with an optional caption."""
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise invalid("text", f"a message is at most {MAX_TEXT} characters")
    if len(attachments) > MAX_ATTACHMENTS:
        raise invalid("attachments", f"at most {MAX_ATTACHMENTS} files in one message")
    files = []
    for attachment in attachments:
        kind, file_id = attachment.get("kind"), attachment.get("file_id")
        name = attachment.get("name")
        if kind not in ATTACHMENT_KINDS:
            raise invalid("attachments", f"a file is one of {', '.join(ATTACHMENT_KINDS)}")
        if not isinstance(file_id, str) or not 0 < len(file_id) <= MAX_FILE_ID:
            raise invalid("attachments", "a file needs its Telegram file id")
        if name is not None and (not isinstance(name, str) or len(name) > MAX_FILE_NAME):
            raise invalid("attachments", f"a file name is at most {MAX_FILE_NAME} characters")
        files.append({"kind": kind, "file_id": file_id, "name": name})
    if not text and not files:
        raise invalid("text", "an empty message")
    return text, files
