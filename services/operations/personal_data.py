"""Buyers' personal data on request and over time (152-FZ, GDPR): what the operator runs.

- `forget`: a buyer asked to be forgotten (the shop passes the request on, or the buyer
  writes to the operator). Every order of theirs in the shop, and the buyer rows found by
  phone, e-mail or id, lose their personal data in one transaction (services/operations/
  erasure.py says what goes and what stays). Open orders are refused unless forced: the shop
  could no longer deliver them.
- `erase_expired`: closed orders (a final status) whose status is older than the shop's
  retention period lose their buyer data; a buyer row goes once none of its orders keeps
  data. Run daily by the scheduler; safe to run on several instances at once (an order
  already erased is passed over).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.operations.erasure import ERASERS, ErasureScope
from services.orders.drafts import normalize_phone
from services.orders.events import OrderEvents, record
from services.refusals import OrderRefused, Reason, Refused, invalid
from services.time.clock import Clock
from services.workflow.store import WorkflowStore
from storage.models import Buyer, Order, Shop

log = logging.getLogger(__name__)

RETENTION_SETTING = "personal_data_retention_days"
DEFAULT_RETENTION_DAYS = 3 * 365  # the general limitation period for claims (3 years)
RETENTION_CHOICES = (90, 180, 365, 3 * 365, 0)  # 0: kept until a request to forget
BATCH = 100  # orders per transaction: on SQLite, writers wait while one batch is erased


def retention_days(shop: Shop) -> int:
    value = (shop.settings or {}).get(RETENTION_SETTING, DEFAULT_RETENTION_DAYS)
    return value if isinstance(value, int) and value >= 0 else DEFAULT_RETENTION_DAYS


def parse_retention(value: str) -> int:
    """The setting as typed or chosen: a number of days from RETENTION_CHOICES."""
    text = (value or "").strip().lower()
    days = 0 if text in ("0", "never", "off") else int(text) if text.isdigit() else -1
    if days not in RETENTION_CHOICES:
        choices = ", ".join(str(d) for d in RETENTION_CHOICES)
        raise ValueError(f"choose one of {choices} days (0: until a request to forget)")
    return days


@dataclass(frozen=True)
class ForgetReport:
    buyers: int
    orders: tuple[int, ...]  # their public numbers
    open_orders: tuple[int, ...]  # not closed yet (erased only with force)
    erased: bool  # False: a dry run, or refused for open orders


class PersonalData:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, workflows: WorkflowStore
    ):
        self._sessions = sessions
        self._clock = clock
        self._workflows = workflows

    # -- a request to forget -----------------------------------------------------------------

    async def forget(
        self,
        shop_id: int,
        *,
        phone: str | None = None,
        email: str | None = None,
        buyer_id: int | None = None,
        force: bool = False,
        dry_run: bool = False,
        channel: str = "cli",
    ) -> ForgetReport:
        async with self._sessions() as session, session.begin():
            shop = await session.get(Shop, shop_id)
            if shop is None:
                raise Refused(Reason.NOT_FOUND, f"no shop with id {shop_id}")
            buyers = await self._buyers(session, shop, phone, email, buyer_id)
            if not buyers:
                raise Refused(Reason.NOT_FOUND, "no buyer of this shop matches")
            orders = list(
                await session.scalars(
                    select(Order)
                    .where(Order.buyer_id.in_([b.id for b in buyers]))
                    .order_by(Order.number)
                    .with_for_update(of=Order)
                )
            )
            open_orders = [o for o in orders if not await self._closed(session, o)]
            report = ForgetReport(
                len(buyers),
                tuple(o.number for o in orders),
                tuple(o.number for o in open_orders),
                erased=False,
            )
            if dry_run or (open_orders and not force):
                return report
            await self._erase(session, shop_id, orders, buyers, channel, "request")
        return ForgetReport(report.buyers, report.orders, report.open_orders, erased=True)

    async def _buyers(
        self,
        session: AsyncSession,
        shop: Shop,
        phone: str | None,
        email: str | None,
        buyer_id: int | None,
    ) -> list[Buyer]:
        if sum(x is not None for x in (phone, email, buyer_id)) != 1:
            raise invalid("buyer", "name the buyer by one of: phone, e-mail, buyer id")
        query = select(Buyer).where(Buyer.shop_id == shop.id)
        if phone is not None:
            try:
                e164 = normalize_phone(phone, shop.country)
            except OrderRefused as refused:
                raise invalid("phone", refused.message) from None
            query = query.where(Buyer.phone == e164)
        elif email is not None:
            query = query.where(func.lower(Buyer.email) == email.strip().lower())
        else:
            query = query.where(Buyer.id == buyer_id)
        return list(await session.scalars(query.order_by(Buyer.id).with_for_update()))

    # -- the retention period ----------------------------------------------------------------

    async def erase_expired(self, *, batch: int = BATCH) -> int:
        """Erase the buyer data of closed orders past their shop's retention; returns how
        many orders were erased."""
        now = self._clock.now()
        async with self._sessions() as session:
            shops = list(await session.scalars(select(Shop).order_by(Shop.id)))
        erased = 0
        for shop in shops:
            days = retention_days(shop)
            if days:
                erased += await self._expire_shop(shop.id, now - timedelta(days=days), batch)
        return erased

    async def _expire_shop(self, shop_id: int, cutoff: datetime, batch: int) -> int:
        erased = 0
        after = 0
        while True:
            async with self._sessions() as session, session.begin():
                candidates = list(
                    await session.scalars(
                        select(Order)
                        .where(
                            Order.shop_id == shop_id,
                            Order.personal_data_erased_at.is_(None),
                            Order.status_changed_at < cutoff,
                            Order.id > after,
                        )
                        .order_by(Order.id)
                        .limit(batch)
                        .with_for_update(skip_locked=True, of=Order)
                    )
                )
                closed = [o for o in candidates if await self._closed(session, o)]
                if closed:
                    buyers = await self._buyers_without_data(session, closed)
                    await self._erase(session, shop_id, closed, buyers, "scheduler", "retention")
                    erased += len(closed)
            if len(candidates) < batch:
                return erased
            after = candidates[-1].id

    async def _buyers_without_data(self, session: AsyncSession, erased: list[Order]) -> list[Buyer]:
        """The buyers of these orders none of whose other orders still keeps data."""
        ids = [o.id for o in erased]
        buyer_ids = sorted({o.buyer_id for o in erased})
        keeping = set(
            await session.scalars(
                select(Order.buyer_id)
                .where(
                    Order.buyer_id.in_(buyer_ids),
                    Order.personal_data_erased_at.is_(None),
                    Order.id.not_in(ids),
                )
                .distinct()
            )
        )
        gone = [b for b in buyer_ids if b not in keeping]
        if not gone:
            return []
        buyers = await session.scalars(
            select(Buyer).where(Buyer.id.in_(gone), Buyer.erased_at.is_(None))
        )
        return list(buyers)

    # -- both --------------------------------------------------------------------------------

    async def _closed(self, session: AsyncSession, order: Order) -> bool:
        workflow = await self._workflows.get(session, order.workflow_id)
        status = next((s for s in workflow.statuses if s.code == order.status), None)
        return status is not None and status.is_final

    async def _erase(
        self,
        session: AsyncSession,
        shop_id: int,
        orders: list[Order],
        buyers: list[Buyer],
        channel: str,
        why: str,
    ) -> None:
        now = self._clock.now()
        known = {o.delivery_address for o in orders}
        for buyer in buyers:
            known |= {buyer.name, buyer.phone or "", buyer.email or ""}
        scope = ErasureScope(
            shop_id=shop_id,
            order_ids=tuple(o.id for o in orders),
            buyer_ids=tuple(b.id for b in buyers),
            telegram_ids=tuple(b.telegram_id for b in buyers if b.telegram_id),
            user_ids=tuple(b.user_id for b in buyers if b.user_id),
            # Short values would match codes by accident ("ivan" in "ivanovo_pickup").
            known=tuple(sorted(k for k in known if k and len(k) >= 5)),
            now=now,
        )
        for eraser in ERASERS:
            await eraser(session, scope)
        for order in orders:
            session.add(
                record(
                    order,
                    None,
                    now,
                    action=OrderEvents.PERSONAL_DATA_ERASED,
                    payload={"why": why},
                    visible=False,
                    channel=channel,
                )
            )
        log.info(
            "personal data erased (%s) in shop %s: %d order(s), %d buyer(s)",
            why,
            shop_id,
            len(orders),
            len(buyers),
        )
