"""The per-order dialog (C6): each order has its own conversation between the buyer and the shop.

A message is stored with its order and an outbox row in one transaction; the pump relays it
(to the shop's staff group and responsible staff, or to the buyer's chat) and records each
relayed copy as a DialogRelay, so a reply to that copy finds its order. Who may write is
decided here from the writer's identity: the order's buyer writes to the shop, the shop's
staff answer the buyer; anyone else learns nothing and nothing is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.messaging.notifications.outbox import Outbox
from services.orders.access import Who, who_is
from services.orders.actors import ActorRef
from services.orders.drafts import invalid
from services.orders.unit import MAX_ID
from services.refusals import OrderRefused, Problem
from services.time.clock import Clock
from storage.database import insert_for, reading
from storage.models import (
    Buyer,
    DialogFile,
    DialogMessage,
    DialogRelay,
    InboundEmail,
    Order,
    OrderCard,
    Shop,
    User,
)

log = logging.getLogger(__name__)

MAX_TEXT = 4000  # a relayed message adds a short header and stays under Telegram's 4096
MAX_ATTACHMENTS = 10  # an album
MAX_FILE_ID = 256
MAX_FILE_NAME = 256
ATTACHMENT_KINDS = ("photo", "document")
EMAIL = "email"  # DialogMessage.channel of a buyer's e-mail reply (D3)
MAX_EMAIL_FILE_NAME = 255  # DialogFile.name
MAX_CONTENT_TYPE = 127  # DialogFile.content_type
MAX_LISTED_NAMES = 300  # characters of the names of dropped files, in the note about them


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
class EmailedFile:
    """A file of a buyer's e-mail reply, as it is relayed to the shop."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Thread:
    """An order's dialog as shown from its card: the messages and their authors' names."""

    order_id: int
    number: int
    timezone: str
    messages: list[DialogMessage]
    authors: Mapping[int, str]  # user id -> name
    for_staff: bool = False  # read by the shop's staff (who may answer from it)


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
            # Not staff: the buyer themselves (in a chat they share with the shop), or a stranger.
            return await self._to_buyer(session, order_id, actor, text, files, chat_id, message_id)

    async def from_desk(self, order_id: int, actor: ActorRef, *, text: str) -> DialogMessage:
        """A message written on the order's page in the Mini App (K1): the shop's staff write
        to the buyer, the buyer to the shop; anyone else is refused."""
        text, files = _checked(text, ())
        async with self._sessions() as session, session.begin():
            order = await _order(session, order_id)
            who = await who_is(session, order, actor)
            direction = Direction.TO_BUYER if who.is_staff else Direction.TO_SHOP
            return await self._store(session, order, who, direction, text, files, None, None)

    async def from_staff(
        self,
        order_id: int,
        actor: ActorRef,
        *,
        text: str = "",
        attachments: Sequence[Mapping[str, Any]] = (),
        chat_id: int | None = None,
        message_id: int | None = None,
    ) -> DialogMessage:
        """Staff answer the buyer from the order's dialog (its "Reply" button); staff only."""
        text, files = _checked(text, attachments)
        async with self._sessions() as session, session.begin():
            return await self._to_buyer(session, order_id, actor, text, files, chat_id, message_id)

    async def _to_buyer(
        self,
        session: AsyncSession,
        order_id: int,
        actor: ActorRef,
        text: str,
        files: list[dict[str, Any]],
        chat_id: int | None,
        message_id: int | None,
    ) -> DialogMessage:
        """Stores a staff member's answer to the order's buyer; anyone else is refused."""
        order = await _order(session, order_id)
        who = await who_is(session, order, actor)
        if not who.is_staff:
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

    async def from_email(
        self,
        order_id: int,
        *,
        sender: str,
        text: str = "",
        files: Sequence[tuple[str, str, bytes]] = (),
        max_files: int = MAX_ATTACHMENTS,
    ) -> DialogMessage | None:
        """The buyer replied to an order e-mail (D3): the message, its files and the shop's
        notification in one transaction. The reply address's token is the proof it is about
        this order, so a sender other than the order's e-mail is accepted and named to the
        shop. Nothing is refused for size (mail has no "send it shorter"): a long text is cut,
        files past `max_files` are dropped and the text says so. None: nothing to store (no
        text, no files). `files`: (name, content_type, data), as services.messaging.email.reply_text
        gives them. Raises OrderRefused(NOT_FOUND) if the order is gone."""
        stored = await self.from_email_to_orders(
            [order_id], sender=sender, text=text, files=files, max_files=max_files
        )
        if stored is None:
            raise OrderRefused(Problem.NOT_FOUND, "no such order")
        return stored[0] if stored else None

    async def from_email_to_orders(
        self,
        order_ids: Iterable[int],
        *,
        sender: str,
        text: str = "",
        files: Sequence[tuple[str, str, bytes]] = (),
        max_files: int = MAX_ATTACHMENTS,
        receipt: str | None = None,
    ) -> list[DialogMessage] | None:
        """One e-mail addressed to several orders' reply addresses: a message on each order,
        once, all in one transaction (one commit: the mail is accepted whole, or retried whole).
        Orders that are gone are passed over; None when every one of them is. An empty list:
        nothing to store (no text, no files), or `receipt` was stored before (the same
        mailbox message read again)."""
        ids = list(dict.fromkeys(order_ids))
        max_files = max(0, min(max_files, MAX_ATTACHMENTS))
        nonempty = [f for f in files if f[2]]  # an empty file says nothing (Telegram refuses it)
        kept, dropped = nonempty[:max_files], nonempty[max_files:]
        body = (text or "").strip()
        if not body and not kept:
            log.info("an e-mail reply to orders %s had no text and no files: not stored", ids)
            return []
        sender = (sender or "").strip()
        async with self._sessions() as session, session.begin():
            if receipt is not None and not await _first_receipt(session, receipt, self._clock):
                log.info("an e-mail already stored (receipt %s…) was read again", receipt[:8])
                return []
            messages: list[DialogMessage] = []
            for order_id in ids:
                if not 0 < order_id <= MAX_ID:
                    continue
                order = await session.get(Order, order_id)
                if order is None:
                    continue
                message = await self._write(
                    session,
                    order,
                    Direction.TO_SHOP,
                    author_user_id=None,
                    channel=EMAIL,
                    text=_email_text(body, _other_sender(sender, order), dropped, max_files),
                    attachments=[_email_attachment(f) for f in kept],
                    chat_id=None,
                    message_id=None,
                )
                now = self._clock.now()
                for name, content_type, data in kept:
                    session.add(
                        DialogFile(
                            dialog_message_id=message.id,
                            name=_file_name(name),
                            content_type=_content_type(content_type),
                            size=len(data),
                            data=data,
                            created_at=now,
                        )
                    )
                messages.append(message)
            if not messages:
                return None
        return messages

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
        return await self._write(
            session,
            order,
            direction,
            author_user_id=who.ref.user_id,
            channel=str(who.ref.channel),
            text=text,
            attachments=attachments,
            chat_id=chat_id,
            message_id=message_id,
        )

    async def _write(
        self,
        session: AsyncSession,
        order: Order,
        direction: Direction,
        *,
        author_user_id: int | None,
        channel: str,
        text: str,
        attachments: list[dict[str, Any]],
        chat_id: int | None,
        message_id: int | None,
    ) -> DialogMessage:
        """The message and its outbox rows, in the caller's transaction."""
        now = self._clock.now()
        message = DialogMessage(
            order_id=order.id,
            direction=str(direction),
            author_user_id=author_user_id,
            channel=channel,
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

    async def emailed_files(self, dialog_message_id: int) -> list[EmailedFile]:
        """The files of a buyer's e-mail reply, in the order they came (for the relay)."""
        async with reading(self._sessions) as session:
            rows = await session.execute(
                select(DialogFile.name, DialogFile.data)
                .where(DialogFile.dialog_message_id == dialog_message_id)
                .order_by(DialogFile.id)
            )
            return [EmailedFile(row.name, row.data) for row in rows]

    async def record_relays(
        self, dialog_message_id: int, order_id: int, chat_id: int, message_ids: Sequence[int]
    ) -> None:
        """More copies of a relayed message (its further files) sit in this chat: a reply to
        any of them reaches the other side too. The first copy's relay is written by the
        pump with its "sent" mark."""
        async with self._sessions() as session, session.begin():
            for message_id in message_ids:
                session.add(
                    DialogRelay(
                        dialog_message_id=dialog_message_id,
                        order_id=order_id,
                        chat_id=chat_id,
                        message_id=message_id,
                        created_at=self._clock.now(),
                    )
                )

    async def history(self, order_id: int, actor: ActorRef) -> list[DialogMessage]:
        """The order's conversation, oldest first: for its shop's staff and its buyer."""
        return (await self.thread(order_id, actor)).messages

    async def thread(self, order_id: int, actor: ActorRef) -> Thread:
        async with reading(self._sessions) as session:
            order = await _order(session, order_id)
            who = await who_is(session, order, actor)  # strangers: "not found"
            messages = list(
                await session.scalars(
                    select(DialogMessage)
                    .where(DialogMessage.order_id == order_id)
                    .order_by(DialogMessage.id)
                )
            )
            authors = await _names(session, {m.author_user_id for m in messages})
            timezone = await session.scalar(select(Shop.timezone).where(Shop.id == order.shop_id))
            return Thread(
                order.id, order.number, timezone or "UTC", messages, authors, who.is_staff
            )


async def _first_receipt(session: AsyncSession, receipt: str, clock: Clock) -> bool:
    """Record the receipt; False when it was there already."""
    written = await session.execute(
        insert_for(session, InboundEmail.__table__)
        .values(receipt=receipt, received_at=clock.now())
        .on_conflict_do_nothing(index_elements=["receipt"])
    )
    return bool(written.rowcount)


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


def _other_sender(sender: str, order: Order) -> str | None:
    """The sender, if it is not the e-mail the order's buyer gave (None: it is theirs)."""
    own = (order.buyer.email or "").strip().lower()
    if not sender or sender.lower() == own:
        return None
    return sender


def _email_text(
    text: str, other_sender: str | None, dropped: Sequence[tuple], max_files: int
) -> str:
    """The text as stored: who sent it if not the buyer's address, cut to MAX_TEXT with "…",
    and a note on the files that were not kept. The two notes are fixed English: the service
    layer has no locale, and they name facts (an address, file names) more than they say."""
    prefix = f"(from {other_sender[:254]}) " if other_sender else ""
    note = ""
    if dropped:
        names = ", ".join(str(f[0]) for f in dropped)
        if len(names) > MAX_LISTED_NAMES:
            names = names[: MAX_LISTED_NAMES - 1] + "…"
        note = f"\n\n📎 {len(dropped)} more file(s) not kept (at most {max_files}): {names}"
    room = MAX_TEXT - len(prefix) - len(note)
    if len(text) > room:
        text = text[: max(0, room - 1)].rstrip() + "…"
    return (prefix + text + note).strip()


def _email_attachment(file: tuple[str, str, bytes]) -> dict[str, Any]:
    """How an e-mailed file is listed on its message (names in the card's history); its bytes
    are a DialogFile row."""
    name, content_type, data = file
    return {
        "kind": "document",
        "file_id": None,
        "name": _file_name(name),
        "content_type": _content_type(content_type),
        "size": len(data),
    }


def _file_name(name: str) -> str:
    return (str(name or "").strip() or "attachment")[:MAX_EMAIL_FILE_NAME]


def _content_type(content_type: str) -> str:
    content_type = str(content_type or "").strip().lower()
    if not content_type or len(content_type) > MAX_CONTENT_TYPE:
        return "application/octet-stream"
    return content_type


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
