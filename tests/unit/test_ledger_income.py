"""The income arithmetic: integer minor units, exact splits, one stated rounding rule."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.money.ledger.income import commission, line_shares, order_income, split
from services.money.ledger.terms import Terms, parse_percent


@pytest.mark.parametrize(
    ("goods", "percent", "fee"),
    [
        (5068, "12.5", 634),  # 633.5: a half rounds up
        (50, "1", 1),  # 0.5 -> 1
        (49, "1", 0),  # 0.49 -> 0
        (151, "1", 2),  # 1.51 -> 2
        (10_000, "0", 0),
        (10_000, "100", 10_000),
        (999_999_999_999, "33.33", 333_300_000_000),  # 333299999999.6667: no float drift
    ],
)
def test_commission_rounds_half_up_to_a_minor_unit(goods, percent, fee):
    assert commission(goods, Decimal(percent)) == fee


def test_discount_split_by_largest_remainder():
    # 333 over lines worth 2900 and 2501: 178.80 and 154.19 -> floors 178 + 154, the one
    # unit left goes to the larger remainder
    assert split(333, [2900, 2501]) == [179, 154]
    # equal remainders: the earlier line wins
    assert split(1, [1, 1]) == [1, 0]
    assert split(2, [1, 1, 1]) == [1, 1, 0]
    # no weight at all: shared equally
    assert split(3, [0, 0]) == [2, 1]
    assert split(0, [5, 7]) == [0, 0]
    assert split(7, []) == []


@given(
    total=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=12),
)
def test_split_is_exact_and_each_part_within_one_unit_of_its_share(total, weights):
    parts = split(total, weights)
    assert sum(parts) == total
    whole = sum(weights) or len(weights)
    for part, weight in zip(parts, weights if sum(weights) else [1] * len(weights), strict=True):
        exact = Fraction(total * weight, whole)
        assert exact - 1 < part < exact + 1


def order_of(lines, discount, delivery=0):
    items = [
        SimpleNamespace(
            id=index + 1,
            position=index + 1,
            quantity=quantity,
            line_total=price * quantity - line_discount,
        )
        for index, (quantity, price, line_discount) in enumerate(lines)
    ]
    order = SimpleNamespace(
        items_total=sum(i.line_total for i in items), discount=discount, delivery_cost=delivery
    )
    return order, items


def test_the_example_order_by_line():
    order, items = order_of([(3, 1000, 100), (1, 2501, 0)], discount=333, delivery=350)
    money = order_income(order, Decimal("12.5"))
    assert (money.goods, money.fee, money.income, money.delivery) == (5068, 634, 4434, 350)
    a, b = line_shares(order, items, Decimal("12.5"))
    assert (a.goods, a.fee, a.income) == (2721, 340, 2381)
    assert (b.goods, b.fee, b.income) == (2347, 294, 2053)
    # one unit of A, then two: cumulative floors, 793 + 1588 = 2381
    assert a.part(a.income, 0, 1) == 793
    assert a.part(a.income, 1, 2) == 1588


@given(
    lines=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=20),
            st.integers(min_value=0, max_value=10**7),
            st.integers(min_value=0, max_value=10**6),
        ),
        min_size=1,
        max_size=8,
    ),
    discount_share=st.fractions(min_value=0, max_value=1),
    percent=st.decimals(min_value=0, max_value=100, places=2),
    steps=st.lists(st.integers(min_value=1, max_value=20), max_size=6),
)
def test_lines_and_units_add_up_to_the_order_exactly(lines, discount_share, percent, steps):
    lines = [(q, p, min(d, q * p)) for q, p, d in lines]
    items_total = sum(q * p - d for q, p, d in lines)
    order, items = order_of(lines, discount=int(items_total * discount_share))
    money = order_income(order, percent)
    shares = line_shares(order, items, percent)
    assert sum(s.goods for s in shares) == money.goods
    assert sum(s.fee for s in shares) == money.fee
    assert sum(s.income for s in shares) == money.income
    assert all(s.goods >= 0 and s.fee >= 0 and s.income >= 0 for s in shares)
    for share in shares:
        # returning the units in any steps gives back exactly the line
        done, back = 0, 0
        for step in [*steps, share.quantity]:
            now = min(step, share.quantity - done)
            back += share.part(share.income, done, now)
            done += now
        assert back == share.income


def test_terms_from_settings_and_the_percent_parser():
    assert Terms.of(None) == Terms()
    terms = Terms.of({"commission_percent": "12.5", "late_cancel_fee": True})
    assert (terms.percent, terms.late_cancel_fee) == (Decimal("12.5"), True)
    assert parse_percent("12,50 %") == "12.5"
    for bad in ("101", "-3", "1.234", "", "ten"):
        with pytest.raises(ValueError, match="from 0 to 100"):
            parse_percent(bad)


@given(
    quantity=st.integers(min_value=1, max_value=12),
    goods=st.integers(min_value=0, max_value=10**6),
    fee_share=st.fractions(min_value=0, max_value=1),
    steps=st.lists(st.integers(min_value=1, max_value=12), max_size=12),
)
def test_returned_units_give_back_running_shares_that_add_up_to_the_line(
    quantity, goods, fee_share, steps
):
    from services.money.ledger.income import LineShare

    share = LineShare(item_id=1, quantity=quantity, goods=goods, fee=int(goods * fee_share))
    done = goods_back = fee_back = 0
    for step in [*steps, quantity]:
        now = min(step, quantity - done)
        if now == 0:
            break
        back, fee = share.part(share.goods, done, now), share.part(share.fee, done, now)
        # the buyer gets the units' running share of the line
        assert back == goods * (done + now) // quantity - goods * done // quantity
        assert 0 <= fee
        done, goods_back, fee_back = done + now, goods_back + back, fee_back + fee
    assert (goods_back, fee_back) == (share.goods, share.fee)
