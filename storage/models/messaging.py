"""Notifications and conversations: the outbox, deliveries to chats, the per-order dialog,
the order cards shown in chats, one-click links used and webhook-mode Telegram updates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class OutboxMessage(Base):
    """A notification to deliver, written in the transaction of the change that causes it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "state", "next_attempt_at"),
        # A shop's webhook delivery log (newest first) in /settings.
        Index("ix_outbox_shop_channel", "shop_id", "channel", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # telegram | email | webhook
    audience: Mapped[str] = mapped_column(String(16))  # buyer | shop | staff
    topic: Mapped[str] = mapped_column(String(40))  # new_order, status_changed, reminder...
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class DialogMessage(Base):
    """A message in an order's own conversation between the buyer and the shop (C6)."""

    __tablename__ = "dialog_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(16))  # to_shop | to_buyer
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(16))  # telegram | email
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    # Where the message sits in Telegram, so a staff reply to it finds the order.
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class DialogFile(Base):
    """A file a buyer attached to an e-mail reply: kept here, as it has no Telegram file id."""

    __tablename__ = "dialog_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    dialog_message_id: Mapped[int] = mapped_column(
        ForeignKey("dialog_messages.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class UsedLink(Base):
    """A one-click e-mail link that has been used: recorded with the change it made (D2)."""

    __tablename__ = "used_links"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    used_at: Mapped[datetime]


class Delivery(Base):
    """One outbox notification as sent to one chat: what the pump tracks, retries and dedupes.

    The pump expands an outbox row into deliveries (who gets it is decided then: the staff
    group, the responsible staff, the buyer's chat, every open card of the order); the unique
    key makes expanding twice harmless, and a delivery marked sent is never sent again.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("outbox_id", "chat_id", "kind", "target_message_id"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        # Each chat's first pending delivery (the pump sends a chat's messages in order).
        Index("ix_deliveries_chat_order", "state", "chat_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # message | edit_card | copy
    # For edit_card: the card message to edit (0 otherwise, so the unique key holds).
    target_message_id: Mapped[int] = mapped_column(BigInteger, default=0)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class OrderCard(Base):
    """An order card shown in a chat: edited in place whenever the order changes (C3)."""

    __tablename__ = "order_cards"
    __table_args__ = (UniqueConstraint("chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    # A digest of the text and buttons last drawn there: a redraw that would show the same
    # is not sent (Telegram answers "message is not modified" to it anyway).
    digest: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class DialogRelay(Base):
    """Where a dialog message was relayed in Telegram, so a reply to it finds its order (C6)."""

    __tablename__ = "dialog_relays"
    __table_args__ = (UniqueConstraint("chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dialog_message_id: Mapped[int] = mapped_column(
        ForeignKey("dialog_messages.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class TelegramUpdate(Base):
    """A Telegram update taken in webhook mode, so a redelivered one is not handled twice (G2).

    `handling` with a lease while an instance works on it (a duplicate arriving meanwhile is
    acknowledged and dropped); `done` afterwards; `failing` after its handling raised (the
    redelivery is handled afresh); `poison` once it failed `POISON_AFTER` times: acknowledged,
    kept with its body for the operator. Rows older than Telegram's own retention (a day)
    are purged by the scheduler, poison ones after two weeks (or when the person is forgotten).
    """

    __tablename__ = "telegram_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(10))  # handling | done | failing | poison
    claimed_until: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(index=True)
    handled_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    # A poison update as Telegram sent it, and whose it was (erased with the person).
    body: Mapped[dict[str, Any] | None]
    from_id: Mapped[int | None] = mapped_column(BigInteger)
