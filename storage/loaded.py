"""Mapped objects made from a row read with Core, as the ORM's loading makes them.

The hottest read of all (an order change's locked load of the order with its buyer and
shop) cost more in the ORM's per-execution setup than in the SELECT itself: for every
execution SQLAlchemy builds a row processor per entity (a populator per attribute, the
identity getter, the eager loaders), ~90 µs for this three-entity statement on this stack,
then runs it once for one row (issue 15). Here that plan (which column of the row goes to
which attribute, which are the primary key) is made once per mapper and position, and a row
becomes objects the way `sqlalchemy.orm.loading` makes a new instance: `new_instance()`, the
identity key and the session on its state, the identity map, the values in its dictionary,
then `_commit_all` (loaded, nothing pending). A many-to-one loaded along is set in the
dictionary as a joined eager load sets it.

Only rows whose objects are not in the session yet: the ORM's own load refreshes an object
already there (`populate_existing`), which `fresh()` tells the caller to do instead. No
load events are fired: mapped classes read this way must have no "load" listener (checked
when the plan is made). What it leans on, SQLAlchemy 2.0 (pinned): `ClassManager.new_instance`,
`InstanceState.key/identity_token/session_id/_commit_all`, `IdentityMap._add_unpresent`,
`Session.hash_key`, as `sqlalchemy.orm.loading._instance` uses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, inspect
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.base import instance_state


@dataclass(frozen=True)
class Entity:
    """One mapped class's columns at a position of a row."""

    mapper: Mapper
    attributes: tuple[tuple[str, int], ...]  # (attribute, position in the row)
    key: tuple[int, ...]  # the primary key's positions

    @classmethod
    def at(cls, model: type, start: int) -> Entity:
        """`model`'s table columns, in table order, from position `start` of the row."""
        mapper: Mapper = inspect(model)
        if mapper.class_manager.dispatch.load:
            raise TypeError(f"{model.__name__} has load listeners: load it through the ORM")
        table_columns: list[Column] = list(mapper.local_table.c)
        attributes = tuple(
            (mapper.get_property_by_column(column).key, start + index)
            for index, column in enumerate(table_columns)
        )
        key = tuple(start + table_columns.index(column) for column in mapper.primary_key)
        return cls(mapper, attributes, key)

    @property
    def width(self) -> int:
        return len(self.attributes)

    def identity(self, row: Sequence[Any]) -> tuple | None:
        """The identity key of the row's object; None when the row has none (an outer
        join that found nothing)."""
        ident = tuple(row[position] for position in self.key)
        if any(value is None for value in ident):
            return None
        return (self.mapper.class_, ident, None)


def fresh(session: Session, entities: Sequence[Entity], row: Sequence[Any]) -> bool:
    """None of the row's objects is in the session yet (else: load through the ORM)."""
    identity_map = session.identity_map
    for entity in entities:
        identity = entity.identity(row)
        if identity is not None and identity in identity_map:
            return False
    return True


def make(session: Session, entity: Entity, row: Sequence[Any]) -> Any | None:
    """The row's object, persistent in `session` as if the ORM had loaded it (see the
    module's docstring); None when the row has none. Call `fresh` first."""
    identity = entity.identity(row)
    if identity is None:
        return None
    instance = entity.mapper.class_manager.new_instance()
    state = instance_state(instance)
    values = state.dict
    for attribute, position in entity.attributes:
        values[attribute] = row[position]
    state.key = identity
    state.identity_token = None
    state.session_id = session.hash_key
    session.identity_map._add_unpresent(state, identity)
    state._commit_all(values, session.identity_map)
    return instance


def set_loaded(instance: Any, attribute: str, value: Any) -> None:
    """A relationship of a just-made object, loaded along (as a joined eager load sets
    it: in the dictionary, committed)."""
    instance_state(instance).dict[attribute] = value
