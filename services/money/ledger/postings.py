"""Postings: the money effects of a status change, and of a return, as ledger entries.

Called inside the transaction of the change (write_decision, and the returns service), so the
entries commit or roll back with it. What each effect moves is read from the order's own
entries, not assumed: a refund gives back what is still reserved for the order, a credit moves
what is reserved, so returns taken earlier and presets without a payment step come out right.
Each posting has a dedupe key naming what it is for; an effect met twice posts once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.money.ledger.accounts import RESERVE_KINDS, Account, Kind
from services.money.ledger.income import LineShare, line_shares, order_income
from services.money.ledger.terms import Terms
from services.time.sla import EXPIRED_REASON
from services.time.sla import PROBLEM as SLA_PROBLEM
from services.workflow.definition import ActorKind, Effect, Input, StatusKind, Workflow
from services.workflow.engine import Step
from storage.models import LedgerEntry, Order, OrderEvent, OrderItem, Shop

MONEY_EFFECTS = frozenset(
    {
        Effect.RESERVE_INCOME,
        Effect.CREDIT_INCOME,
        Effect.REFUND_GOODS,
        Effect.REFUND_DELIVERY,
        Effect.COMPENSATE_DELIVERY,
    }
)


@dataclass
class OrderBook:
    """An order's entries as read at the start of the change, plus those added since."""

    session: AsyncSession
    order: Order
    now: datetime
    keys: set[str] = field(default_factory=set)
    balances: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    kinds: set[str] = field(default_factory=set)
    returned: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # units
    returned_fee: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    @classmethod
    async def read(cls, session: AsyncSession, order: Order, now: datetime) -> OrderBook:
        book = cls(session, order, now)
        entries = await session.scalars(
            select(LedgerEntry).where(LedgerEntry.order_id == order.id).order_by(LedgerEntry.id)
        )
        for entry in entries:
            book._count(entry)
        return book

    def _count(self, entry: LedgerEntry) -> None:
        self.keys.add(entry.dedupe_key)
        self.kinds.add(entry.kind)
        self.balances[entry.debit_account] += entry.amount
        self.balances[entry.credit_account] -= entry.amount
        if entry.kind == Kind.RETURN_INCOME and entry.order_item_id is not None:
            self.returned[entry.order_item_id] += entry.quantity or 0
        if entry.kind == Kind.RETURN_FEE and entry.order_item_id is not None:
            self.returned_fee[entry.order_item_id] += entry.amount

    @property
    def paid(self) -> bool:
        return bool(self.kinds & RESERVE_KINDS)

    @property
    def credited(self) -> bool:
        return Kind.CREDIT_INCOME in self.kinds or Kind.EARN_FEE in self.kinds

    def post(
        self,
        kind: Kind,
        to: Account,
        source: Account,
        amount: int,
        key: str,
        *,
        event: OrderEvent | None = None,
        item_id: int | None = None,
        quantity: int | None = None,
        memo: bool = False,
    ) -> None:
        """Move `amount` from `source` to `to`. Zero amounts are skipped, except a return's
        memo, which records the units returned so later returns of the line count them."""
        if key in self.keys or (amount == 0 and not memo):
            return
        if amount < 0:
            raise ValueError(f"a posting moves a positive amount, not {amount}")
        entry = LedgerEntry(
            shop_id=self.order.shop_id,
            order_id=self.order.id,
            event_id=event.id if event is not None else None,
            kind=str(kind),
            debit_account=str(to),
            credit_account=str(source),
            amount=amount,
            currency=self.order.currency,
            order_item_id=item_id,
            quantity=quantity,
            dedupe_key=key,
            created_at=self.now,
        )
        self.session.add(entry)
        self._count(entry)

    def move_all(self, kind: Kind, source: Account, to: Account, event: OrderEvent | None):
        """Whatever the order still holds in `source`."""
        self.post(kind, to, source, max(self.balances[source], 0), self.key(kind), event=event)

    def key(self, kind: Kind) -> str:
        return f"order:{self.order.id}:{kind}"


def sla_expired(order: Order, now: datetime) -> bool:
    """Past its status's acceptable limit: the deadline has passed, or the sweep flagged it.

    Read before the change: entering a new status rewrites the order's time limits.
    """
    if order.problem and order.problem_reason == SLA_PROBLEM:
        return True
    return order.sla_deadline_at is not None and now >= order.sla_deadline_at


async def apply_effects(
    session: AsyncSession,
    order: Order,
    workflow: Workflow,
    steps: Sequence[Step],
    events: Sequence[OrderEvent],
    *,
    inputs: dict[str, str],
    was_late: bool,
    now: datetime,
) -> None:
    """The money effects of every step of one decision, and the late-cancellation penalty."""
    wanted = [set(s.transition.effects) & MONEY_EFFECTS for s in steps]
    first = steps[0]
    penalty = was_late and _shop_cancels(workflow, first, inputs)
    if not any(wanted) and not penalty:
        return
    shop = await session.get(Shop, order.shop_id)
    terms = Terms.of(shop.settings)
    if penalty and not terms.late_cancel_fee:
        penalty = False
    if not any(wanted) and not penalty:
        return
    book = await OrderBook.read(session, order, now)
    for effects, event in zip(wanted, events, strict=True):
        _apply(book, effects, terms, event)
    if penalty:
        # "As if fulfilled" (003): the commission the finished order would have paid.
        fee = order_income(order, terms.percent).fee
        book.post(
            Kind.PENALTY,
            Account.PLATFORM_FEE,
            Account.AVAILABLE,
            fee,
            book.key(Kind.PENALTY),
            event=events[0],
        )


def _shop_cancels(workflow: Workflow, step: Step, inputs: dict[str, str]) -> bool:
    """A cancellation by the shop: its staff, or the system cancelling for the shop because
    the time limit passed (sla_auto_cancel). A buyer's cancellation is never a penalty."""
    if Input.REASON not in step.transition.inputs:
        return False
    if workflow.status(step.to_status).kind is not StatusKind.FINAL_FAILURE:
        return False
    if step.capacity is ActorKind.STAFF:
        return True
    return step.capacity is ActorKind.SYSTEM and inputs.get("reason") == EXPIRED_REASON


def _apply(book: OrderBook, effects: set[Effect], terms: Terms, event: OrderEvent) -> None:
    # Fixed order: a transition that both reserves and credits (paid on completion) works.
    if Effect.RESERVE_INCOME in effects or (Effect.CREDIT_INCOME in effects and not book.paid):
        _reserve(book, terms, event)
    if Effect.CREDIT_INCOME in effects:
        book.move_all(Kind.CREDIT_INCOME, Account.RESERVED, Account.AVAILABLE, event)
        book.move_all(Kind.CREDIT_DELIVERY, Account.DELIVERY_RESERVED, Account.AVAILABLE, event)
        book.move_all(Kind.EARN_FEE, Account.FEE_RESERVED, Account.PLATFORM_FEE, event)
    if Effect.REFUND_GOODS in effects:
        book.move_all(Kind.REFUND_GOODS, Account.RESERVED, Account.REFUNDS, event)
        book.move_all(Kind.REFUND_FEE, Account.FEE_RESERVED, Account.REFUNDS, event)
    if Effect.REFUND_DELIVERY in effects:
        book.move_all(Kind.REFUND_DELIVERY, Account.DELIVERY_RESERVED, Account.REFUNDS, event)
    if Effect.COMPENSATE_DELIVERY in effects:
        book.move_all(Kind.COMPENSATE_DELIVERY, Account.DELIVERY_RESERVED, Account.AVAILABLE, event)


def _reserve(book: OrderBook, terms: Terms, event: OrderEvent | None) -> None:
    """The payment is in: the shop's income, the delivery and the commission are held."""
    if book.paid:
        return
    money = order_income(book.order, terms.percent)
    for kind, account, amount in (
        (Kind.RESERVE_INCOME, Account.RESERVED, money.income),
        (Kind.RESERVE_DELIVERY, Account.DELIVERY_RESERVED, money.delivery),
        (Kind.RESERVE_FEE, Account.FEE_RESERVED, money.fee),
    ):
        book.post(kind, account, Account.BUYER_PAYMENTS, amount, book.key(kind), event=event)


async def post_return_refund(
    session: AsyncSession,
    *,
    order: Order,
    lines: list[tuple[OrderItem, int]],
    return_id: int,
    now: datetime,
) -> None:
    """Returned goods (F1): each line's share of the income and of the commission goes back
    to the buyer, from `available` once credited, from `reserved` before. The delivery is
    not refunded. An order whose payment never went through the ledger moves nothing.

    Shares are exact: the order's discount and commission are split across lines by largest
    remainder, and a line's units give back cumulative floors of its share, so returning a
    line in several returns gives back exactly the line. Reserves never go negative: what
    `reserved` no longer holds comes from `available`.
    """
    book = await OrderBook.read(session, order, now)
    if not book.paid:
        return
    shop = await session.get(Shop, order.shop_id)
    terms = Terms.of(shop.settings)
    items = list(await session.scalars(select(OrderItem).where(OrderItem.order_id == order.id)))
    shares = {share.item_id: share for share in line_shares(order, items, terms.percent)}
    credited = book.credited
    for item, quantity in lines:
        share = shares.get(item.id)
        if share is None:
            raise ValueError(f"item {item.id} is not a line of order {order.id}")
        key = f"return:{return_id}:{item.id}"
        if any(k.startswith(f"{key}:") for k in book.keys):
            continue  # this return's line is posted already: a retried call
        before = book.returned[item.id]
        if quantity <= 0 or before + quantity > share.quantity:
            raise ValueError(
                f"cannot return {quantity} of {share.quantity} units, {before} returned already"
            )
        goods, fee = _return_amounts(share, before, quantity, book.returned_fee[item.id])
        income = goods - fee
        income_sources = _sources(book, credited, Account.RESERVED, income)
        for index, (source, amount) in enumerate(income_sources):
            # The first posting of the line carries its units: the memo later returns count.
            book.post(
                Kind.RETURN_INCOME,
                Account.REFUNDS,
                source,
                amount,
                f"{key}:{Kind.RETURN_INCOME}:{source}",
                item_id=item.id,
                quantity=quantity if index == 0 else 0,
                memo=index == 0,
            )
        for source, amount in _sources(book, credited, Account.FEE_RESERVED, fee):
            fee_source = Account.PLATFORM_FEE if source is Account.AVAILABLE else source
            book.post(
                Kind.RETURN_FEE,
                Account.REFUNDS,
                fee_source,
                amount,
                f"{key}:{Kind.RETURN_FEE}:{fee_source}",
                item_id=item.id,
            )


def _return_amounts(share: LineShare, before: int, quantity: int, fee_back: int) -> tuple[int, int]:
    """What the buyer gets for these units, and the commission's part of it.

    The buyer gets the units' running share of the line's goods (what the returns service
    shows them). The commission follows its own running share but never exceeds what the
    buyer gets back in a step, so the shop's part is never negative; a lag is made up by
    later steps, and returning the whole line gives back exactly its commission and income.
    """
    goods = share.part(share.goods, before, quantity)
    fee_due = share.fee * (before + quantity) // share.quantity - fee_back
    return goods, min(goods, max(fee_due, 0))


def _sources(
    book: OrderBook, credited: bool, held: Account, amount: int
) -> Iterable[tuple[Account, int]]:
    """Where `amount` comes from: the order's `held` account as far as it goes, unless
    credited already, and the rest from what was credited (available / the earned fee)."""
    from_held = 0 if credited else min(amount, max(book.balances[held], 0))
    parts = [(held, from_held), (Account.AVAILABLE, amount - from_held)]
    nonzero = [(account, part) for account, part in parts if part > 0]
    return nonzero or [(held if not credited else Account.AVAILABLE, 0)]
