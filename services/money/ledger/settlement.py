"""What a buyer paid for an order, what they owe or are owed, and where that money sits.

The rules (seed 004, issue 14), one place for all of them:
- The buyer's money held for a paid order fills the platform's commission first, then the
  delivery, then the shop's income (the goods' price less the commission); whatever is
  beyond the order's total is owed back to the buyer (`refund_due`), whatever is missing is
  owed by the buyer (`amount_due`). `held_for` is that rule.
- A payment, with an amount or "what is due now", brings money in and the held accounts are
  set to the rule for the new sum; paying what was due settles `amount_due` first.
- An edit of a paid order keeps the same money and sets it to the rule for the new total:
  raising the total charges `amount_due`, lowering it moves the difference to `refund_due`.
- A split moves the money with the goods: the new order takes from the old one's money up
  to its own total, and each is then held by the rule.
- A refund made gives `refund_due` back; a due paid after the income was credited goes
  straight to the shop's balance (and the commission its shortfall left unpaid).

Every move is a posting between two accounts (postings that only move money between an
order's held accounts are "reallocate"), so the shop's accounts always sum to zero and the
order's `amount_paid` and `balance_due` are read from its own entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.money.ledger.accounts import HELD, Account, Kind
from services.money.ledger.book import OrderBook
from services.money.ledger.income import Income
from storage.models import OrderEvent

_RESERVE_KIND = {
    Account.RESERVED: Kind.RESERVE_INCOME,
    Account.DELIVERY_RESERVED: Kind.RESERVE_DELIVERY,
    Account.FEE_RESERVED: Kind.RESERVE_FEE,
    Account.REFUND_DUE: Kind.REFUND_DUE,  # paid more than the order costs
}
_OUTSIDE = (Account.BUYER_PAYMENTS, Account.AMOUNT_DUE)


@dataclass(frozen=True)
class Held:
    """How an order's money is held by the rule."""

    income: int
    delivery: int
    fee: int
    refund_due: int
    amount_due: int

    def of(self, account: Account) -> int:
        return {
            Account.RESERVED: self.income,
            Account.DELIVERY_RESERVED: self.delivery,
            Account.FEE_RESERVED: self.fee,
            Account.REFUND_DUE: self.refund_due,
        }[account]


def held_for(money: Income, in_hand: int) -> Held:
    """The rule: `in_hand` of the buyer's money for an order worth `money`."""
    total = money.goods + money.delivery
    keep = min(max(in_hand, 0), total)
    fee = min(keep, money.fee)
    delivery = min(keep - fee, money.delivery)
    return Held(keep - fee - delivery, delivery, fee, max(in_hand, 0) - keep, total - keep)


def settles(book: OrderBook) -> bool:
    """The order's held money follows its total: paid, neither credited nor refunded."""
    return book.paid and not book.credited and not book.refunded


def pay(
    book: OrderBook,
    money: Income,
    amount: int,
    key: str,
    event: OrderEvent | None,
    *,
    moved_in: bool = False,
) -> None:
    """`amount` of the buyer's money comes in for the order (`moved_in`: brought along by a
    split). What was due is settled first; the rest of the money is new."""
    if amount <= 0:
        return
    if book.refunded:
        # Cancelled and refunded already: money arriving now is owed straight back.
        book.post(
            Kind.REFUND_DUE, Account.REFUND_DUE, Account.BUYER_PAYMENTS, amount, key, event=event
        )
        return
    if book.credited:
        _pay_after_credit(book, money, amount, key, event)
        return
    settled = min(amount, max(book.held(Account.AMOUNT_DUE), 0))
    target = held_for(money, book.in_hand + amount)
    sources = [(Account.AMOUNT_DUE, settled), (Account.BUYER_PAYMENTS, amount - settled)]
    _move_to(book, target, key, event, sources=sources, moved_in=moved_in)
    _owe(book, target.amount_due, key, event)


def reprice(book: OrderBook, money: Income, key: str, event: OrderEvent | None) -> None:
    """The order's total changed: the same money, held by the rule for the new total."""
    if not settles(book):
        return
    target = held_for(money, book.in_hand)
    _move_to(book, target, key, event)
    _owe(book, target.amount_due, key, event)


def split(
    old: OrderBook,
    new: OrderBook,
    old_money: Income,
    new_money: Income,
    key: str,
    events: tuple[OrderEvent | None, OrderEvent | None],
) -> int:
    """A split of a paid order: the new order's goods take their money along, up to the new
    order's total; the old order keeps the rest. Returns what moved."""
    if not settles(old):
        return 0
    in_hand = old.in_hand
    moved = min(in_hand, new_money.goods + new_money.delivery)
    target = held_for(old_money, in_hand - moved)
    _move_to(old, target, f"{key}:old", events[0], sink=Account.BUYER_PAYMENTS)
    _owe(old, target.amount_due, f"{key}:old", events[0])
    if moved:
        pay(new, new_money, moved, f"{key}:new", events[1], moved_in=True)
    else:
        # Nothing came along: whatever the new order costs, the buyer owes it.
        _owe(new, new_money.goods + new_money.delivery, f"{key}:new", events[1])
    return moved


def refund_made(book: OrderBook, amount: int, key: str, event: OrderEvent | None) -> None:
    """The shop gave back what it owed the buyer (up to what it owes)."""
    amount = min(amount, max(book.held(Account.REFUND_DUE), 0))
    book.post(
        Kind.REFUND_PAID, Account.REFUNDS, Account.REFUND_DUE, amount, f"{key}:refund", event=event
    )


def close(book: OrderBook, event: OrderEvent | None) -> None:
    """Cancelled and refunded: what was owed back goes back, and nothing is owed any more."""
    book.move_all(Kind.REFUND_PAID, Account.REFUND_DUE, Account.REFUNDS, event)
    book.post(
        Kind.DUE_CANCELLED,
        Account.BUYER_PAYMENTS,
        Account.AMOUNT_DUE,
        max(book.held(Account.AMOUNT_DUE), 0),
        book.key(Kind.DUE_CANCELLED),
        event=event,
    )


def _pay_after_credit(
    book: OrderBook, money: Income, amount: int, key: str, event: OrderEvent | None
) -> None:
    """Credited already: a due paid now is the shop's at once; the commission gets what the
    shortfall had left it without, first; more than was due is owed back. (What the
    platform holds for the order counts every late payment before this one, and returns.)"""
    settled = min(amount, max(book.held(Account.AMOUNT_DUE), 0))
    fee_short = max(money.fee - book.held(Account.PLATFORM_FEE), 0)
    to_fee = min(settled, fee_short)
    for account, part, suffix in (
        (Account.PLATFORM_FEE, to_fee, "fee"),
        (Account.AVAILABLE, settled - to_fee, "shop"),
    ):
        book.post(
            Kind.PAID_LATE, account, Account.AMOUNT_DUE, part, f"{key}:late:{suffix}", event=event
        )
    book.post(
        Kind.REFUND_DUE,
        Account.REFUND_DUE,
        Account.BUYER_PAYMENTS,
        amount - settled,
        f"{key}:late:over",
        event=event,
    )


def _move_to(
    book: OrderBook,
    target: Held,
    key: str,
    event: OrderEvent | None,
    *,
    sources: Sequence[tuple[Account, int]] = (),
    sink: Account | None = None,
    moved_in: bool = False,
) -> None:
    """Post the moves that bring the held accounts to `target`: money leaving one held
    account goes to another; new money comes from `sources`, money leaving the order goes
    to `sink`."""
    givers: list[list] = []
    takers: list[list] = []
    for account in HELD:
        change = target.of(account) - book.held(account)
        if change < 0:
            givers.append([account, -change])
        elif change > 0:
            takers.append([account, change])
    givers += [[account, amount] for account, amount in sources if amount > 0]
    surplus = sum(amount for _, amount in givers) - sum(amount for _, amount in takers)
    if surplus > 0:
        if sink is None:
            raise ValueError(f"{surplus} would leave the order with nowhere to go")
        takers.append([sink, surplus])
    elif surplus < 0:
        raise ValueError(f"{-surplus} is missing to hold the order's money by the rule")
    for taker in takers:
        for giver in givers:
            amount = min(taker[1], giver[1])
            if amount <= 0:
                continue
            kind = _kind(giver[0], taker[0], moved_in)
            book.post(kind, taker[0], giver[0], amount, f"{key}:{giver[0]}>{taker[0]}", event=event)
            taker[1] -= amount
            giver[1] -= amount


def _kind(giver: Account, taker: Account, moved_in: bool) -> Kind:
    if giver in _OUTSIDE:
        return Kind.SPLIT_IN if moved_in else _RESERVE_KIND[taker]
    if taker is Account.BUYER_PAYMENTS:
        return Kind.SPLIT_OUT
    if taker is Account.REFUND_DUE:
        return Kind.REFUND_DUE
    return Kind.REALLOCATE


def _owe(book: OrderBook, due: int, key: str, event: OrderEvent | None) -> None:
    """What the buyer owes for the order becomes `due`."""
    change = due - book.held(Account.AMOUNT_DUE)
    if change > 0:
        book.post(
            Kind.AMOUNT_DUE,
            Account.AMOUNT_DUE,
            Account.BUYER_PAYMENTS,
            change,
            f"{key}:due",
            event=event,
        )
    elif change < 0:
        book.post(
            Kind.DUE_CANCELLED,
            Account.BUYER_PAYMENTS,
            Account.AMOUNT_DUE,
            -change,
            f"{key}:due",
            event=event,
        )
