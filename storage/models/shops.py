"""Shops, the people who work in them, their API tokens and workflow versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.sealing import sealed_keys


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
    # Payment providers' credentials a shop gives are sealed keys of it (issue 17:
    # services.payments.settings.SEALED_KEYS), moved by a key rotation's reseal.
    settings: Mapped[dict[str, Any]] = mapped_column(
        default=dict, info=sealed_keys("telegram_payments_token", "yookassa_secret_key")
    )
    staff_chat_id: Mapped[int | None] = mapped_column(BigInteger)  # the group for pings
    created_at: Mapped[datetime]
    # Suspended by the operator (`python -m bot shop suspend`): the storefront API answers
    # 403, staff cannot change orders, buyers keep their rights (docs/operations.md).
    suspended_at: Mapped[datetime | None]
    suspension_reason: Mapped[str | None] = mapped_column(String(500))


class OrderCounter(Base):
    """The last public order number a shop handed out (services.orders.numbers).

    A row of its own, not a column of the shop's: every new order updates it, and the
    shop's row is the one every concurrent order's foreign keys lock (issue 15: on
    PostgreSQL each version of a shop row updated under those locks carried a multixact
    that every reader of the row then had to look up; under a storefront's burst the
    database spent 9.5 s of CPU where it now spends 2.9)."""

    __tablename__ = "order_counters"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    last_number: Mapped[int] = mapped_column(Integer)


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
    # Their own phone as Telegram vouched for it ("share contact": a contact whose user_id is
    # the sender's), E.164. A phone typed into an order proves nothing; this one does.
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    phone_verified_at: Mapped[datetime | None]
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
