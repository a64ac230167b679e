"""The shop's income from an order, in integer minor units (seed 004's "your income").

Rounding rule: the commission is the goods' price times the percentage, rounded half up to a
whole minor unit; the income is the goods minus that commission, so the two always add up to
exactly what the buyer paid for the goods. Order-level discounts and the commission are split
across lines by the largest-remainder method, so the lines' shares add up exactly too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from storage.models import Order, OrderItem


def commission(goods: int, percent: Decimal) -> int:
    return int((Decimal(goods) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def split(total: int, weights: Sequence[int]) -> list[int]:
    """`total` in parts proportional to `weights`, exactly: floors, then one more unit each
    to the largest remainders (the earlier line wins a tie). Zero weights share equally."""
    if not weights:
        return []
    if sum(weights) <= 0:
        weights = [1] * len(weights)
    whole = sum(weights)
    parts = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    left = total - sum(parts)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        parts[index] += 1
    return parts


@dataclass(frozen=True)
class Income:
    goods: int  # what the buyer pays for the goods: lines minus the order's discount
    fee: int  # the commission (or distributor discount)
    delivery: int

    @property
    def income(self) -> int:
        return self.goods - self.fee


def order_income(order: Order, percent: Decimal) -> Income:
    goods = order.items_total - order.discount
    return Income(goods=goods, fee=commission(goods, percent), delivery=order.delivery_cost)


@dataclass(frozen=True)
class LineShare:
    """One line's part of the order's goods: what its units are worth to whom."""

    item_id: int
    quantity: int
    goods: int  # the line after its own discount and its share of the order's
    fee: int

    @property
    def income(self) -> int:
        return self.goods - self.fee

    def part(self, amount: int, returned_before: int, returned_now: int) -> int:
        """The share of `amount` for `returned_now` more units, `returned_before` being
        back already: cumulative floors, so all the units together give back exactly
        `amount`, whatever the steps."""
        done = returned_before + returned_now
        return amount * done // self.quantity - amount * returned_before // self.quantity


def line_shares(order: Order, items: Sequence[OrderItem], percent: Decimal) -> list[LineShare]:
    ordered = sorted(items, key=lambda i: i.position)
    totals = [item.line_total for item in ordered]
    discounts = split(order.discount, totals)
    goods = [total - discount for total, discount in zip(totals, discounts, strict=True)]
    fees = split(order_income(order, percent).fee, goods)
    return [
        LineShare(item.id, item.quantity, g, f)
        for item, g, f in zip(ordered, goods, fees, strict=True)
    ]
