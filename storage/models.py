"""The database schema: SQLAlchemy 2 typed models.

Every table that belongs to a shop carries `shop_id`: one installation serves many shops.
Money is integer minor units (kopecks, cents) next to a currency code. Times are UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UTCDateTime

# Named constraints, so Alembic can drop and alter each of them by name on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Shop(Base):
    """A seller: its settings, its staff, its orders and its workflow."""

    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(254))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    country: Mapped[str] = mapped_column(String(2), default="RU")  # public holidays, phones
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    language: Mapped[str] = mapped_column(String(2), default="ru")
    workflow_code: Mapped[str] = mapped_column(String(40))  # its versions: workflow_definitions
    # Working hours per weekday ("mon": ["09:00", "20:00"]) and own days off (ISO dates).
    working_hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    days_off: Mapped[list[Any]] = mapped_column(default=list)
    # Everything else a shop tunes: delivery prices, commission, SLA auto-cancel, ...
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    staff_chat_id: Mapped[int | None] = mapped_column(BigInteger)  # the group for pings
    last_order_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class User(Base):
    """A person known to the bot by their Telegram account: staff, buyer, or both."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    username: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(2))  # chosen; None: Telegram's
    # The language of their Telegram app, as it last said: used until they choose (C7).
    telegram_language: Mapped[str | None] = mapped_column(String(16))
    # The shop this person works in right now, when they are staff in several.
    current_shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class StaffMember(Base):
    """A person's role in a shop; a person holds one row per role (manager and packer...)."""

    __tablename__ = "staff_members"
    __table_args__ = (UniqueConstraint("shop_id", "user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class StaffInvite(Base):
    """A link that makes whoever opens it staff with `role`: once, before it expires (C2)."""

    __tablename__ = "staff_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # the link holds the token
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ApiToken(Base):
    """A storefront's key to the API; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class WorkflowDefinition(Base):
    """One version of a shop's workflow. Orders point at the version they started with."""

    __tablename__ = "workflow_definitions"
    __table_args__ = (UniqueConstraint("shop_id", "code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime]


class Buyer(Base):
    """The person an order is for, as the shop knows them. Never edited by the shop (A6)."""

    __tablename__ = "buyers"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime]


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("shop_id", "number"),
        # One storefront order may become two (in stock / made to order), never more.
        UniqueConstraint("shop_id", "external_id", "availability"),
        Index("ix_orders_shop_status", "shop_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # public, per shop
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id"), index=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow_definitions.id"))
    status: Mapped[str] = mapped_column(String(40))
    status_changed_at: Mapped[datetime]
    availability: Mapped[str] = mapped_column(String(16))  # in_stock | made_to_order
    payment_method: Mapped[str] = mapped_column(String(24))
    delivery_method: Mapped[str] = mapped_column(String(24))
    delivery_address: Mapped[str] = mapped_column(Text, default="")
    carrier: Mapped[str | None] = mapped_column(String(64))
    track_code: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    items_total: Mapped[int] = mapped_column(BigInteger)  # lines after their own discounts
    discount: Mapped[int] = mapped_column(BigInteger, default=0)  # on the whole order
    delivery_cost: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger)  # items_total - discount + delivery_cost
    problem: Mapped[bool] = mapped_column(Boolean, default=False)
    problem_reason: Mapped[str | None] = mapped_column(String(64))
    # The time limits of the current status in the shop's business hours (B2), when it has
    # them: "excellent" until the first, the order becomes a problem past the second.
    sla_excellent_at: Mapped[datetime | None]
    sla_deadline_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]  # when staff first opened it (A5)
    last_action: Mapped[str | None] = mapped_column(String(40))  # tells a double tap apart
    source: Mapped[str] = mapped_column(String(16))  # api | manual | split
    external_id: Mapped[str | None] = mapped_column(String(64))
    split_from_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    buyer_token: Mapped[str] = mapped_column(String(32), unique=True)  # deep links, never ids
    buyer_comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Optimistic concurrency: every change bumps it; an UPDATE that finds another
    # version lost the race and is retried against the fresh order.
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.position", cascade="all, delete-orphan"
    )
    buyer: Mapped[Buyer] = relationship(lazy="joined")


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger, default=0)  # on the whole line
    availability: Mapped[str] = mapped_column(String(16))
    returnable: Mapped[bool] = mapped_column(Boolean, default=False)
    return_days: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[Order] = relationship(back_populates="items")

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity - self.discount


class OrderEvent(Base):
    """The audit log (A9): who did what to an order, when, from which channel."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(8))  # staff | buyer | system
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(40))
    to_status: Mapped[str | None] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comment: Mapped[str | None] = mapped_column(Text)
    visible_to_buyer: Mapped[bool] = mapped_column(Boolean, default=True)


class Timer(Base):
    """A timed thing due on an order: an automatic transition, a reminder, an SLA check.

    Rows, not scheduler jobs: a periodic sweep claims the due ones through
    ix_timers_due, so its cost follows what is due, not how many orders exist.
    """

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))  # transition | reminder | sla
    status: Mapped[str] = mapped_column(String(40))  # the order status it belongs to
    action: Mapped[str | None] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    due_at: Mapped[datetime]
    # pending | done | cancelled | failed (tried too often: left for an operator)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # A sweep claims due timers for a lease; another instance takes them only after it ends,
    # so a sweep that died mid-way is finished by the next one.
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(64))  # what firing it did, for operators
    last_error: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(Base):
    """A notification to deliver, written in the transaction of the change that causes it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "state", "next_attempt_at"),)

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
    acknowledged and dropped); `done` afterwards. Rows older than Telegram's own retention
    (a day) are purged by the scheduler.
    """

    __tablename__ = "telegram_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(10))  # handling | done
    claimed_until: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(index=True)
    handled_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    """A storefront's `Idempotency-Key`, per shop (G1): the first answer, replayed on a retry.

    The unique (shop_id, key) row is written before the orders are created, so of two
    concurrent requests with one key only one goes on; `locked_until` lets a request whose
    process died be taken over, and the orders' own unique external id stops a duplicate then.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("shop_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the request's body
    state: Mapped[str] = mapped_column(String(10))  # started | done
    locked_until: Mapped[datetime]
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column()
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class ReturnRequest(Base):
    """A buyer's request to send goods back after receipt (F1, seed 002), and its handling.

    requested -> approved | rejected; approved -> goods_received -> refunded. The shop must
    answer by `answer_due_at` (business hours); a timer row alerts it when it has not.
    """

    __tablename__ = "return_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)  # the goods' share of what was paid
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    answer_due_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    goods_received_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]
    overdue_at: Mapped[datetime | None]  # when the shop was alerted it had not answered

    lines: Mapped[list[ReturnLine]] = relationship(
        back_populates="request", order_by="ReturnLine.id", cascade="all, delete-orphan"
    )


class ReturnLine(Base):
    """How many units of one order line a return request sends back."""

    __tablename__ = "return_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(
        ForeignKey("return_requests.id", ondelete="CASCADE"), index=True
    )
    order_item_id: Mapped[int] = mapped_column(
        ForeignKey("order_items.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)  # these units' share of the line total

    request: Mapped[ReturnRequest] = relationship(back_populates="lines")


class Review(Base):
    """The buyer's stars and words about an order (F3, seed 000); the shop answers once."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    stars: Mapped[int] = mapped_column(Integer)  # 1..5
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    text_at: Mapped[datetime | None]  # the words may follow the stars, once
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]
    answered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class LedgerEntry(Base):
    """One posting in a shop's ledger (F2): `amount` moves from one account to another.

    `debit_account` receives the amount, `credit_account` gives it, so every account's
    balance is its debits minus its credits and all of a shop's accounts sum to zero. The
    dedupe key names what the posting is for (an order's reserve, a return's line), so the
    same money is never posted twice.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_shop_id", "shop_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int | None] = mapped_column(ForeignKey("order_events.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))  # reserve_income, credit_income, penalty...
    debit_account: Mapped[str] = mapped_column(String(24))
    credit_account: Mapped[str] = mapped_column(String(24))
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units, never negative
    currency: Mapped[str] = mapped_column(String(3))
    # A return's line: which item and how many units the posting is for.
    order_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_items.id", ondelete="SET NULL")
    )
    quantity: Mapped[int | None] = mapped_column(Integer)
    dedupe_key: Mapped[str] = mapped_column(String(96), unique=True)
    created_at: Mapped[datetime]


class DocumentTemplate(Base):
    """One saved version of a shop's document template (E1, E2): invoice, waybill or payment
    slip, in one language. Versions are kept: the active one is used; restoring makes the
    version before it active again; a new upload is the newest. No active row: the default."""

    __tablename__ = "document_templates"
    __table_args__ = (
        UniqueConstraint("shop_id", "kind", "language", "version"),
        Index("ix_document_templates_current", "shop_id", "kind", "language", "active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # invoice | waybill | payment_slip
    language: Mapped[str] = mapped_column(String(2))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
