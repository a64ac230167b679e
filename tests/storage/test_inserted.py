"""storage.inserted: a new object's row with every column, and the object made the
session's (persistent, nothing pending) without a flush."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from storage import inserted
from storage.models import Buyer, Order, OrderItem

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_a_row_takes_the_columns_constant_defaults_and_nulls():
    buyer = Buyer(id=5, shop_id=1, created_at=NOW)
    row = inserted.row(buyer)
    assert set(row) == {c.key for c in Buyer.__table__.columns}
    assert (row["name"], row["phone"], row["erased_at"]) == ("", None, None)
    assert buyer.name == ""  # set on the object too: nothing of it left to load


def test_a_column_with_no_value_and_no_constant_default_is_refused():
    with pytest.raises(ValueError, match="created_at"):
        inserted.row(Buyer(id=5, shop_id=1))


def test_persisted_objects_are_the_sessions_with_nothing_pending():
    buyer = Buyer(id=5, shop_id=1, created_at=NOW)
    order = Order(id=7, buyer=buyer, items=[OrderItem(id=9, order_id=7, position=1)])
    session = Session()
    inserted.persist(session, order, buyer, *order.items)
    for instance in (order, buyer, order.items[0]):
        assert inspect(instance).persistent
        assert inspect(instance).session is session
    assert not session.new and not session.dirty
    assert session.identity_map.get(inspect(order).key) is order
    assert order.items[0].order_id == order.id and order.buyer is buyer
