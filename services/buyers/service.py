"""Buyers in Telegram (C5): how a Telegram account proves an order is its own, and the orders
a person has bought, across every shop.

Two proofs, and only these (a phone or e-mail typed into an order proves nothing: anyone can
type anyone's): the order's own link, which carries its `buyer_token`, 128 random bits
(whoever opens it first becomes the order's buyer in Telegram, and nobody after them can);
and the person's own phone as Telegram vouches for it ("share contact": a contact whose
user_id is the sender's), which claims the orders placed with that phone that nobody has
claimed yet, in every shop. A Buyer row is per order placed (services.orders.service), so a
link binds that order (and its halves) only.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.orders.events import OrderEvents
from services.refusals import Reason, Refused, invalid
from services.time.clock import Clock
from services.vocabulary import LANGUAGES
from services.workflow.definition import Workflow
from services.workflow.store import WorkflowStore
from storage.database import reading
from storage.models import Buyer, Order, OrderEvent, Shop, User

# What `new_buyer_token` makes (url-safe base64), with room for longer ones; anything else is
# refused before it reaches the database.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,32}$")
MAX_ORDERS_LISTED = 50


@dataclass(frozen=True)
class BuyerOrder:
    """One line of a buyer's own order list (/my)."""

    id: int
    number: int
    shop_id: int
    shop_name: str
    timezone: str  # the shop's, for showing times
    status: str
    status_title: Mapping[str, str]  # by language, from the order's own workflow version
    is_open: bool  # not in a final status: the shop is still on it
    total: int  # minor units
    currency: str
    created_at: datetime

    def title(self, language: str) -> str:
        return self.status_title.get(language) or self.status_title.get("ru") or self.status


class BuyerService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        workflows: WorkflowStore | None = None,
    ):
        self._sessions = sessions
        self._clock = clock
        self._workflows = workflows or WorkflowStore()

    async def bind(self, token: str, user_id: int, *, language: str | None = None) -> Order:
        """Make this person the buyer of the order the link names (C5); returns the order.

        Unknown tokens and malformed ones get the same NOT_FOUND, so a refusal tells nothing
        about which orders exist. A buyer bound to someone else stays theirs: USED, and
        nothing changes. Opening one's own link again is fine. `language`: the one the person
        reads now (Telegram's until they pick), kept for what the shop sends them.
        """
        token = (token or "").strip()
        if not _TOKEN.match(token):
            raise Refused(Reason.NOT_FOUND, "no such order")
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            order = await session.scalar(select(Order).where(Order.buyer_token == token))
            # The index found the row; comparing in constant time as well costs nothing.
            if order is None or not hmac.compare_digest(order.buyer_token, token):
                raise Refused(Reason.NOT_FOUND, "no such order")
            user = await session.get(User, user_id)
            if user is None:
                raise Refused(Reason.NOT_FOUND, "no such user")
            buyer = order.buyer
            if buyer.user_id != user.id and await self._claim(session, buyer, user, language):
                session.add(_linked_event(order, user, now, "link"))
            await session.flush()
            await session.refresh(buyer)
            order.buyer = buyer
            return order

    async def _claim(
        self, session: AsyncSession, buyer: Buyer, user: User, language: str | None
    ) -> bool:
        """Two people opening one link at once: the conditional UPDATE lets exactly one in.

        True: bound now; False: it was this person's already (their other tap won).
        """
        values: dict = {"user_id": user.id, "telegram_id": user.telegram_id}
        if language in LANGUAGES:
            values["language"] = language
        claimed = await session.execute(
            update(Buyer)
            .where(
                Buyer.id == buyer.id,
                Buyer.user_id.is_(None),
                # A buyer the shop knows by Telegram account is that account's only.
                or_(Buyer.telegram_id.is_(None), Buyer.telegram_id == user.telegram_id),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:
            return True
        owner = await session.scalar(select(Buyer.user_id).where(Buyer.id == buyer.id))
        if owner == user.id:
            return False
        raise Refused(Reason.USED, "the order belongs to another Telegram account")

    async def share_contact(
        self, user_id: int, *, phone: str, contact_user_id: int | None, sender_telegram_id: int
    ) -> VerifiedPhone:
        """A contact the person sent: if Telegram vouches it is their own (its user_id is the
        sender's, which Telegram fills in only for the "share contact" button or a contact of
        that very account), the phone is theirs from now on and claims their orders.

        Any other contact (someone else's, or typed in by hand: no user_id) is refused with
        INVALID and changes nothing.
        """
        if contact_user_id is None or contact_user_id != sender_telegram_id:
            raise invalid("contact", "only one's own contact, shared with the button, counts")
        number = _e164(phone)
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            user = await session.get(User, user_id)
            if user is None or user.telegram_id != sender_telegram_id:
                raise Refused(Reason.NOT_FOUND, "no such user")
            user.phone, user.phone_verified_at = number, now
            claimed = await self._claim_by_phone(session, user, now)
        return VerifiedPhone(number, claimed)

    async def claim_verified(self, user_id: int) -> int:
        """Orders placed since with the person's verified phone become theirs too; how many."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            user = await session.get(User, user_id)
            if user is None or user.phone is None or user.phone_verified_at is None:
                return 0
            return await self._claim_by_phone(session, user, now)

    async def verified_phone(self, user_id: int) -> str | None:
        async with reading(self._sessions) as session:
            user = await session.get(User, user_id)
            return user.phone if user is not None and user.phone_verified_at else None

    async def _claim_by_phone(self, session: AsyncSession, user: User, now: datetime) -> int:
        """The buyers of orders placed with this verified phone that no account has claimed:
        each taken with a conditional UPDATE (two claims at once: one wins), each order's
        audit log saying it was claimed by phone. A buyer the shop knows by another Telegram
        account stays that account's."""
        candidates = await session.scalars(
            select(Buyer.id).where(
                Buyer.phone == user.phone,
                Buyer.user_id.is_(None),
                or_(Buyer.telegram_id.is_(None), Buyer.telegram_id == user.telegram_id),
            )
        )
        claimed = 0
        for buyer_id in list(candidates):
            done = await session.execute(
                update(Buyer)
                .where(Buyer.id == buyer_id, Buyer.user_id.is_(None))
                .values(user_id=user.id, telegram_id=user.telegram_id)
                .execution_options(synchronize_session=False)
            )
            if done.rowcount != 1:
                continue
            orders = await session.scalars(select(Order).where(Order.buyer_id == buyer_id))
            for order in orders:
                session.add(_linked_event(order, user, now, "phone"))
                claimed += 1
        return claimed

    async def my_orders(self, user_id: int, *, limit: int = MAX_ORDERS_LISTED) -> list[BuyerOrder]:
        """The orders this person bought, in every shop, newest first."""
        async with reading(self._sessions) as session:
            rows = (
                await session.execute(
                    select(
                        Order.id,
                        Order.number,
                        Order.shop_id,
                        Shop.name,
                        Shop.timezone,
                        Order.status,
                        Order.workflow_id,
                        Order.total,
                        Order.currency,
                        Order.created_at,
                    )
                    .join(Buyer, and_(Buyer.id == Order.buyer_id, Buyer.user_id == user_id))
                    .join(Shop, Shop.id == Order.shop_id)
                    .order_by(Order.created_at.desc(), Order.id.desc())
                    .limit(limit)
                )
            ).all()
            workflows: dict[int, Workflow] = {}
            for row in rows:
                if row.workflow_id not in workflows:
                    workflows[row.workflow_id] = await self._workflows.get(session, row.workflow_id)
            result = []
            for row in rows:
                try:
                    status = workflows[row.workflow_id].status(row.status)
                    titles, is_open = status.title, not status.is_final
                except KeyError:
                    titles, is_open = {}, False
                result.append(
                    BuyerOrder(
                        id=row.id,
                        number=row.number,
                        shop_id=row.shop_id,
                        shop_name=row.name,
                        timezone=row.timezone,
                        status=row.status,
                        status_title=titles,
                        is_open=is_open,
                        total=row.total,
                        currency=row.currency,
                        created_at=row.created_at,
                    )
                )
            return result

    async def open_orders(self, user_id: int) -> list[BuyerOrder]:
        """The person's orders the shops are still working on: where a message may go."""
        return [order for order in await self.my_orders(user_id) if order.is_open]


@dataclass(frozen=True)
class VerifiedPhone:
    phone: str  # E.164
    claimed: int  # orders that became the person's by it now


def _e164(raw: str) -> str:
    """Telegram gives a contact's phone in international form, with or without its "+"."""
    text = (raw or "").strip()
    if not text or len(text) > 32:
        raise invalid("contact", "not a phone number")
    try:
        number = phonenumbers.parse(text if text.startswith("+") else f"+{text}", None)
    except phonenumbers.NumberParseException as error:
        raise invalid("contact", "not a phone number") from error
    if not phonenumbers.is_valid_number(number):
        raise invalid("contact", "not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _linked_event(order: Order, user: User, now: datetime, proof: str) -> OrderEvent:
    """The audit log (A9) keeps who took the order, when, and by which proof (its link, or
    their phone as Telegram vouched for it)."""
    return OrderEvent(
        order_id=order.id,
        created_at=now,
        actor_kind="buyer",
        actor_user_id=user.id,
        actor_role=None,
        channel="telegram",
        action=OrderEvents.BUYER_LINKED,
        payload={"proof": proof},
        visible_to_buyer=True,
    )
