"""New mapped objects written by an INSERT held back (storage.held), not the session's flush.

A new order is three rows (its buyer, itself, its goods). Flushed by the session, that is a
unit-of-work pass (dependency sort, the objects' history, each table's INSERT built and its
new ids read back) and three round trips: about a fifth of a storefront request's CPU on
PostgreSQL (issue 15). There the ids can be taken from the tables' sequences beforehand, in
a read the request makes anyway; then every value of the rows is known here, the INSERTs
can ride on the transaction's last statement, and the objects become the session's as if
it had flushed them.

What this leans on: `make_transient_to_detached` (public: an object given an identity by
its primary key, its attributes taken as they are) and `Session.add` of a detached object
(persistent again, its relationships' objects too by the save-update cascade). Every column
is given its value first (`row`): an attribute left unset would be expired by the first and
read back by a query at its first use.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Column, inspect
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached


def row(instance: Any) -> dict[str, Any]:
    """The new object's row, its table's every column: what is unset takes the column's
    default (a constant, as the ORM's flush would give it), or NULL where the column takes
    one. Sets those values on the object too."""
    values: dict[str, Any] = {}
    for attribute, column in _columns(inspect(instance).mapper):
        value = instance.__dict__.get(attribute, _UNSET)
        if value is _UNSET:
            value = _default(column)
            setattr(instance, attribute, value)
        values[column.key] = value
    return values


def persist(session: Session, instance: Any, *others: Any) -> None:
    """`instance` and `others` (the objects its relationships hold that are new too, each
    given its row by `row` first) are the session's, persistent, nothing of them pending."""
    for each in (instance, *others):
        make_transient_to_detached(each)
    session.add(instance)


_UNSET = object()


@cache
def _columns(mapper: Mapper) -> tuple[tuple[str, Column], ...]:
    """The table's columns with their attributes' names, found once per mapper (every new
    order's rows are made through here)."""
    return tuple(
        (mapper.get_property_by_column(column).key, column) for column in mapper.local_table.columns
    )


def _default(column) -> Any:
    default = column.default
    if default is not None and default.is_scalar:
        return default.arg
    if default is not None or column.server_default is not None or not column.nullable:
        # A callable or the server's default: not known here. Give the value explicitly.
        raise ValueError(f"{column} has no value and no constant default")
    return None
