"""Orders, their goods, buyers, audit events and timers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base


class Buyer(Base):
    """The person an order is for, as the order names them. Never edited by the shop (A6).

    One row per order placed (the two halves of an order split by availability share it):
    the name, phone and e-mail an order arrives with are claims nobody has checked, so they
    never merge two orders into one person nor change another order's buyer. A person is
    known across orders only through a proof: `user_id` (their Telegram account opened the
    order's own link, or shared this phone with Telegram's "share contact"), and
    `email_verified_at` (a link sent to `email` was used).
    """

    __tablename__ = "buyers"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str | None] = mapped_column(String(2))
    email_verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]  # personal data erased (docs/personal-data.md)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("shop_id", "number"),
        # One storefront order may become two (in stock / made to order), never more.
        UniqueConstraint("shop_id", "external_id", "availability"),
        Index("ix_orders_shop_status", "shop_id", "status"),
        # Newest orders of a shop first, page by page: the Mini App's table and board (K1),
        # the storefront's "created between" (H4); and the storefront's "changed since".
        Index("ix_orders_shop_created", "shop_id", "created_at", "id"),
        Index("ix_orders_shop_updated", "shop_id", "updated_at"),
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
    # The day the shop agreed with the buyer to send the goods (seed 003 step 3), in the
    # shop's calendar; set and changed until shipping (issue 18).
    delivery_date: Mapped[date | None] = mapped_column(Date)
    # Courier delivery (seed 003 step 7): the visit agreed with the buyer, and the courier's
    # phone given to them; erased with the order's personal data.
    courier_window: Mapped[str | None] = mapped_column(String(64))
    courier_phone: Mapped[str | None] = mapped_column(String(20))
    carrier: Mapped[str | None] = mapped_column(String(64))
    track_code: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    items_total: Mapped[int] = mapped_column(BigInteger)  # lines after their own discounts
    discount: Mapped[int] = mapped_column(BigInteger, default=0)  # on the whole order
    delivery_cost: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger)  # items_total - discount + delivery_cost
    # What the buyer has paid towards this order (payments in, moved along by a split), and
    # what stays open between them once it was paid: > 0 the buyer owes it (an edit raised
    # the total), < 0 the shop owes it back (an edit lowered it). Both follow the ledger's
    # postings (services.money.ledger.postings), in the same transaction.
    amount_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    balance_due: Mapped[int] = mapped_column(BigInteger, default=0)
    # Facts that spare an order's steps two reads (issue 15), set where their rows are written
    # and never cleared: goods were reserved for it (its stock movements then say what it
    # holds; services.products.stock), and a provider's payment was applied to it (a payments
    # row with outcome "paid", given back through the provider if the order ends cancelled;
    # services.payments). False: it holds no goods, and a cancellation owes nothing back.
    reserved_stock: Mapped[bool] = mapped_column(Boolean, default=False)
    provider_paid: Mapped[bool] = mapped_column(Boolean, default=False)
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
    # What the storefront calls the order to the buyer ("#1001"): shown beside our number.
    storefront_number: Mapped[str | None] = mapped_column(String(64))
    split_from_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    buyer_token: Mapped[str] = mapped_column(String(32), unique=True)  # deep links, never ids
    buyer_comment: Mapped[str] = mapped_column(Text, default="")
    # The buyer's personal data in and around the order was erased (forgotten on request, or
    # the shop's retention period after it closed); money and statuses stay.
    personal_data_erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Optimistic concurrency: every change bumps it; an UPDATE that finds another
    # version lost the race and is retried against the fresh order.
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}

    # One way only: an item's way back to its order (`back_populates`) made every order
    # with its goods a reference cycle, left for the garbage collector once the request was
    # done (issue 15: some 50 objects a storefront order). Nothing reads an item's order.
    items: Mapped[list[OrderItem]] = relationship(
        order_by="OrderItem.position", cascade="all, delete-orphan"
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
