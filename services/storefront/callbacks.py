"""One-click buy (seed 002): the buyer leaves a name and a phone on the product's page, the
shop calls back and takes the order by phone.

A request comes from the storefront API (or a Tilda form without a cart) and is kept with
the product it is about; the staff get a ping in Telegram (the outbox, as every
notification) whose button opens the manual-order form prefilled with it. The first staff
member to take it is recorded, so a colleague tapping later learns someone is calling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.messaging.notifications.outbox import Outbox
from services.orders.drafts import MAX_PRICE, invalid, normalize_phone
from services.refusals import OrderRefused, Problem, Reason, Refused
from services.shops.staff import require_staff
from services.time.clock import Clock
from storage.database import reading
from storage.models import CallbackRequest, Shop, User

TOPIC = "callback_request"
MAX_NAME, MAX_SKU, MAX_PRODUCT, MAX_COMMENT = 128, 64, 256, 2000


@dataclass(frozen=True)
class CallbackDraft:
    phone: str
    name: str = ""
    product_sku: str = ""
    product_name: str = ""
    product_price: int | None = None  # minor units of the shop's currency
    comment: str = ""


@dataclass(frozen=True)
class CallbackView:
    id: int
    shop_id: int
    name: str
    phone: str  # E.164
    product_sku: str
    product_name: str
    product_price: int | None
    currency: str
    country: str
    comment: str
    created_at: datetime
    taken_by: str | None  # the name of the staff member who took it
    taken_by_user_id: int | None


@dataclass(frozen=True)
class Taken:
    request: CallbackView
    mine: bool  # False: a colleague took it first (`request.taken_by`)


class CallbackRequests:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    async def create(self, shop_id: int, draft: CallbackDraft, *, source: str = "api") -> int:
        """Keep the request and ping the staff; OrderRefused(INVALID) names a bad field."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            shop = await session.get(Shop, shop_id)
            if shop is None:
                raise OrderRefused(Problem.NOT_FOUND, "no such shop")
            row = CallbackRequest(
                shop_id=shop_id,
                source=source,
                phone=_phone(draft.phone, shop.country),
                name=_text(draft.name, MAX_NAME, "name"),
                product_sku=_text(draft.product_sku, MAX_SKU, "product.sku"),
                product_name=_text(draft.product_name, MAX_PRODUCT, "product.name"),
                product_price=_price(draft.product_price),
                comment=_text(draft.comment, MAX_COMMENT, "comment"),
                created_at=now,
            )
            session.add(row)
            await session.flush()
            outbox = Outbox(now)
            outbox.add(
                key=f"callback:{row.id}:telegram",
                channel="telegram",
                audience="shop",
                topic=TOPIC,
                shop_id=shop_id,
                payload={"callback_request_id": row.id},
            )
            await outbox.write(session)
            return row.id

    async def get(self, request_id: int) -> CallbackView | None:
        async with reading(self._sessions) as session:
            return await self._view(session, request_id)

    async def take(self, request_id: int, user_id: int) -> Taken:
        """A staff member of the request's shop takes it (their first tap wins it)."""
        async with self._sessions() as session, session.begin():
            row = await session.get(CallbackRequest, request_id) if request_id > 0 else None
            if row is None:
                raise Refused(Reason.NOT_FOUND, "no such callback request")
            try:
                await require_staff(session, row.shop_id, user_id)
            except Refused:
                raise Refused(Reason.NOT_FOUND, "no such callback request") from None
            mine = row.taken_by_user_id in (None, user_id)
            if row.taken_by_user_id is None:
                row.taken_by_user_id = user_id
                row.taken_at = self._clock.now()
                await session.flush()
            return Taken(await self._view(session, request_id), mine)

    async def _view(self, session: AsyncSession, request_id: int) -> CallbackView | None:
        found = (
            await session.execute(
                select(CallbackRequest, Shop.currency, Shop.country, User.name)
                .join(Shop, Shop.id == CallbackRequest.shop_id)
                .outerjoin(User, User.id == CallbackRequest.taken_by_user_id)
                .where(CallbackRequest.id == request_id)
            )
        ).first()
        if found is None:
            return None
        row, currency, country, taker = found
        return CallbackView(
            id=row.id,
            shop_id=row.shop_id,
            name=row.name,
            phone=row.phone,
            product_sku=row.product_sku,
            product_name=row.product_name,
            product_price=row.product_price,
            currency=currency,
            country=country,
            comment=row.comment,
            created_at=row.created_at,
            taken_by=(taker or "…") if row.taken_by_user_id else None,
            taken_by_user_id=row.taken_by_user_id,
        )


def _phone(raw: str, country: str) -> str:
    if not raw or not raw.strip():
        raise invalid("phone", "a phone number is needed to call back")
    try:
        return normalize_phone(raw.strip()[:40], country)
    except OrderRefused as refusal:
        raise invalid("phone", refusal.message) from None


def _text(value: str, limit: int, field: str) -> str:
    value = (value or "").strip()
    if len(value) > limit or "\x00" in value:
        raise invalid(field, f"at most {limit} characters, no NUL")
    return value


def _price(amount: int | None) -> int | None:
    if amount is not None and not 0 <= amount <= MAX_PRICE:
        raise invalid("product.price", "a price of zero or more is needed")
    return amount
