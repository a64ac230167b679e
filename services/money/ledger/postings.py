"""Postings: the money effects of a status change, and of a return, as ledger entries.

Called inside the transaction of the change (write_decision, the edits and splits, the
returns service), so the entries commit or roll back with it. What each effect moves is read
from the order's own entries, not assumed: a refund gives back what is still reserved for the
order, a credit moves what is reserved, so returns taken earlier and presets without a payment
step come out right. Each posting has a dedupe key naming what it is for; an effect met twice
posts once. How paid money is held, and what an edit or a split does to it, is
services.money.ledger.settlement's.

Cash on delivery (seed 000): the shop marks such an order "paid" when it accepts it, but no
money has come; nothing is reserved then. The cash is collected when the goods are handed
over, which is when the workflow credits the income: the payment is booked there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from services.money.ledger import settlement
from services.money.ledger.accounts import Account, Kind
from services.money.ledger.book import OrderBook
from services.money.ledger.income import Income, LineShare, line_shares, order_income
from services.money.ledger.terms import Terms
from services.time.sla import EXPIRED_REASON
from services.time.sla import PROBLEM as SLA_PROBLEM
from services.workflow.definition import ActorKind, Effect, Input, StatusKind, Workflow
from services.workflow.engine import Step
from storage.models import Order, OrderEvent, OrderItem, Shop

CASH_ON_DELIVERY = "cash_on_delivery"  # paid at the door: nothing is paid before (000)

MONEY_EFFECTS = frozenset(
    {
        Effect.RESERVE_INCOME,
        Effect.CREDIT_INCOME,
        Effect.REFUND_GOODS,
        Effect.REFUND_DELIVERY,
        Effect.COMPENSATE_DELIVERY,
    }
)


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
    """The money effects of every step of one decision, and the late-cancellation penalty.

    An order that ends cancelled (a final failure) by a step with no money effects of its
    own holds nothing afterwards: whatever the buyer had paid for it goes back, and nothing
    is owed (a payment recorded before the workflow's "paid", then a cancellation).
    """
    wanted = [set(s.transition.effects) & MONEY_EFFECTS for s in steps]
    first = steps[0]
    penalty = was_late and _shop_cancels(workflow, first, inputs)
    closing = not wanted[-1] and (
        workflow.status(steps[-1].to_status).kind is StatusKind.FINAL_FAILURE
    )
    if not any(wanted) and not penalty and not closing:
        return
    # Read with the order mostly: found in the identity map without the session's `get`.
    shop = session.identity_map.get(identity_key(Shop, order.shop_id))
    if shop is None:
        shop = await session.get(Shop, order.shop_id)
    terms = Terms.of(shop.settings)
    if penalty and not terms.late_cancel_fee:
        penalty = False
    book = await OrderBook.read(session, order, now)
    if closing and (book.in_hand or book.held(Account.AMOUNT_DUE)):
        wanted[-1] = {Effect.REFUND_GOODS, Effect.REFUND_DELIVERY}
    if not any(wanted) and not penalty:
        return
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
    await book.save()


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
    cash_at_door = book.order.payment_method == CASH_ON_DELIVERY
    if (Effect.RESERVE_INCOME in effects and not cash_at_door) or (
        Effect.CREDIT_INCOME in effects and not book.paid
    ):
        _reserve(book, terms, event)
    if Effect.CREDIT_INCOME in effects:
        book.move_all(Kind.CREDIT_INCOME, Account.RESERVED, Account.AVAILABLE, event)
        book.move_all(Kind.CREDIT_DELIVERY, Account.DELIVERY_RESERVED, Account.AVAILABLE, event)
        book.move_all(Kind.EARN_FEE, Account.FEE_RESERVED, Account.PLATFORM_FEE, event)
        if not book.credited:
            # Nothing was held to move (a free order): a zero memo still marks it credited,
            # so money arriving later is the shop's at once.
            key = book.key(Kind.CREDIT_INCOME)
            book.post(Kind.CREDIT_INCOME, Account.AVAILABLE, Account.RESERVED, 0, key, memo=True)
    if Effect.REFUND_GOODS in effects:
        book.move_all(Kind.REFUND_GOODS, Account.RESERVED, Account.REFUNDS, event)
        book.move_all(Kind.REFUND_FEE, Account.FEE_RESERVED, Account.REFUNDS, event)
        settlement.close(book, event)
    if Effect.REFUND_DELIVERY in effects:
        book.move_all(Kind.REFUND_DELIVERY, Account.DELIVERY_RESERVED, Account.REFUNDS, event)
    if Effect.COMPENSATE_DELIVERY in effects:
        book.move_all(Kind.COMPENSATE_DELIVERY, Account.DELIVERY_RESERVED, Account.AVAILABLE, event)


def _reserve(book: OrderBook, terms: Terms, event: OrderEvent | None) -> None:
    """The payment is in: the order's whole total, as the workflow says "paid" without an
    amount (a payment recorded with its amount before, by a provider or by staff, stands)."""
    if book.paid:
        return
    money = order_income(book.order, terms.percent)
    key = book.key(Kind.RESERVE_INCOME)
    if money.goods + money.delivery == 0:
        # A free order is paid all the same: a zero memo says so. Without it the ledger
        # knew nothing of the payment, and an edit that made the order cost something
        # afterwards (a delivery cost set) was owed by nobody (settlement.reprice).
        book.post(
            Kind.RESERVE_INCOME,
            Account.RESERVED,
            Account.BUYER_PAYMENTS,
            0,
            key,
            event=event,
            memo=True,
        )
        return
    settlement.pay(book, money, money.goods + money.delivery, key, event)


def money_of(order: Order, terms: Terms) -> Income:
    return order_income(order, terms.percent)


@dataclass(frozen=True)
class ReturnMoney:
    """What a return did to the buyer's money: paid back, and taken off what they owed."""

    refunded: int
    off_due: int


async def post_return_refund(
    session: AsyncSession,
    *,
    order: Order,
    lines: list[tuple[OrderItem, int]],
    return_id: int,
    now: datetime,
) -> ReturnMoney | None:
    """Returned goods (F1): each line's share of the goods goes back to the buyer. The
    delivery is not refunded. An order whose payment never went through the ledger moves
    nothing (None).

    A buyer who still owes for the order (paid in part) is not paid back money they never
    paid: the returned goods first come off what they owe (`return_due`), and only the rest
    is refunded. The commission follows the holding rule for the goods kept: the platform
    holds what the buyer's money pays of the kept goods' commission (it is paid first), so
    a returned line's commission goes back to the buyer with their money, or, when the
    buyer is not paid back as much, to the shop (`fee_released`): the buyer's money now
    pays the shop's income instead. The rest of the refund is the shop's income: from
    `available` once credited, from `reserved` before (what it no longer holds, from
    `available`).

    Shares are exact: the order's discount and commission are split across lines by largest
    remainder, and a line's units give back cumulative floors of its share, so returning a
    line in several returns gives back exactly the line.
    """
    book = await OrderBook.read(session, order, now)
    if not book.paid:
        return None
    terms = Terms.of((await session.get(Shop, order.shop_id)).settings)
    shares = {s.item_id: s for s in await _line_shares(session, order, terms)}
    credited = book.credited
    fee_account = Account.PLATFORM_FEE if credited else Account.FEE_RESERVED
    kept = kept_money(money_of(order, terms), shares.values(), book).fee
    refunded = off_due = 0
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
        goods = share.part(share.goods, before, quantity)
        owed = min(goods, max(book.held(Account.AMOUNT_DUE), 0))
        book.post(
            Kind.RETURN_DUE,
            Account.BUYER_PAYMENTS,
            Account.AMOUNT_DUE,
            owed,
            f"{key}:{Kind.RETURN_DUE}",
            item_id=item.id,
        )
        back = goods - owed
        kept -= share.part(share.fee, before, quantity)
        # What of the commission the buyer's money no longer pays once `back` has left.
        paid = book.amount_paid - max(book.held(Account.REFUND_DUE), 0) - back
        fee_back = max(book.held(fee_account) - min(max(paid, 0), kept), 0)
        fee = min(fee_back, back)
        income_sources = _sources(book, credited, Account.RESERVED, back - fee)
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
        book.post(
            Kind.RETURN_FEE,
            Account.REFUNDS,
            fee_account,
            fee,
            f"{key}:{Kind.RETURN_FEE}",
            item_id=item.id,
        )
        book.post(
            Kind.FEE_RELEASED,
            Account.AVAILABLE if credited else Account.RESERVED,
            fee_account,
            fee_back - fee,
            f"{key}:{Kind.FEE_RELEASED}",
            item_id=item.id,
        )
        refunded, off_due = refunded + back, off_due + owed
    await book.save()
    return ReturnMoney(refunded, off_due)


def kept_money(money: Income, shares: Iterable[LineShare], book: OrderBook) -> Income:
    """What the order is worth with the goods the ledger has back taken out."""
    goods = fee = 0
    for share in shares:
        goods += share.part(share.goods, 0, book.returned[share.item_id])
        fee += share.part(share.fee, 0, book.returned[share.item_id])
    return Income(goods=money.goods - goods, fee=money.fee - fee, delivery=money.delivery)


async def _line_shares(session: AsyncSession, order: Order, terms: Terms) -> list[LineShare]:
    items = await session.scalars(select(OrderItem).where(OrderItem.order_id == order.id))
    return line_shares(order, list(items), terms.percent)


def _sources(
    book: OrderBook, credited: bool, held: Account, amount: int
) -> Iterable[tuple[Account, int]]:
    """Where `amount` comes from: the order's `held` account as far as it goes, unless
    credited already, and the rest from what was credited (available / the earned fee)."""
    from_held = 0 if credited else min(amount, max(book.balances[held], 0))
    parts = [(held, from_held), (Account.AVAILABLE, amount - from_held)]
    nonzero = [(account, part) for account, part in parts if part > 0]
    return nonzero or [(held if not credited else Account.AVAILABLE, 0)]


# -- payments with an amount, edits and splits (services.money.ledger.settlement) -------------


async def _book_and_money(
    session: AsyncSession, order: Order, now: datetime
) -> tuple[OrderBook, Income]:
    """The order's book, and what the order is worth now (returned goods taken out)."""
    terms = Terms.of((await session.get(Shop, order.shop_id)).settings)
    book = await OrderBook.read(session, order, now)
    money = money_of(order, terms)
    if book.returned:
        money = kept_money(money, await _line_shares(session, order, terms), book)
    return book, money


async def after_edit(session: AsyncSession, order: Order, event: OrderEvent, now: datetime) -> None:
    """An edit changed a paid order's total: its money is held for the new total, and what
    the buyer owes, or is owed back, is posted (amount_due / refund_due)."""
    book, money = await _book_and_money(session, order, now)
    settlement.reprice(book, money, f"event:{event.id}", event)
    await book.save()


async def after_split(
    session: AsyncSession,
    old: Order,
    new: Order,
    events: tuple[OrderEvent, OrderEvent],
    now: datetime,
) -> int:
    """A paid order split: the new order's goods take their money along. Returns how much."""
    old_book, old_money = await _book_and_money(session, old, now)
    new_book, new_money = await _book_and_money(session, new, now)
    moved = settlement.split(
        old_book, new_book, old_money, new_money, f"event:{events[0].id}", events
    )
    await old_book.save()
    await new_book.save()
    return moved


async def record_payment(
    session: AsyncSession,
    order: Order,
    amount: int | None,
    key: str,
    event: OrderEvent,
    now: datetime,
) -> int:
    """The buyer paid `amount` (None: what they owe now) for the order; returns the amount."""
    book, money = await _book_and_money(session, order, now)
    if amount is None:
        amount = book.balance_due if book.paid else money.goods + money.delivery
    if amount <= 0:
        return 0
    settlement.pay(book, money, amount, key, event)
    await book.save()
    return amount


async def record_provider_refund(
    session: AsyncSession,
    order: Order,
    amount: int,
    provider: str,
    refund_id: str,
    event: OrderEvent,
    now: datetime,
) -> bool:
    """The provider gave `amount` back under `refund_id`: a memo in the ledger, once."""
    book = await OrderBook.read(session, order, now)
    key = f"provider_refund:{order.id}:{provider}:{refund_id}"[:96]
    if key in book.keys:
        return False
    book.post(
        Kind.PROVIDER_REFUND, Account.REFUNDS, Account.REFUNDS, amount, key, event=event, memo=True
    )
    await book.save()
    return True


async def record_refund(
    session: AsyncSession,
    order: Order,
    amount: int | None,
    key: str,
    event: OrderEvent,
    now: datetime,
) -> int:
    """The shop gave back `amount` (None: all) of what it owes the buyer; returns it."""
    book = await OrderBook.read(session, order, now)
    owed = max(book.held(Account.REFUND_DUE), 0)
    amount = owed if amount is None else min(amount, owed)
    if amount <= 0:
        return 0
    settlement.refund_made(book, amount, key, event)
    await book.save()
    return amount
