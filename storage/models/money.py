"""Money and after-sales: the ledger, returns and reviews."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base


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
