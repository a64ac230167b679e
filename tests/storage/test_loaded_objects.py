"""An order read as columns and made into objects (storage.loaded, Unit.load) is what the
ORM's own load makes: the same values, loaded and clean, in the session, version-checked."""

from __future__ import annotations

import pytest
from sqlalchemy import event, inspect, select, update
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from services.orders.actors import ActorRef
from services.orders.unit import _ITEMS, _order_query
from storage import loaded
from storage.models import Order, Shop
from tests.factories import item, make_order, make_shop
from tests.sql_log import statements_of


def columns(instance) -> dict:
    mapper = inspect(type(instance))
    return {attribute.key: getattr(instance, attribute.key) for attribute in mapper.column_attrs}


def assert_loaded_clean(instance, session) -> None:
    state = inspect(instance)
    assert state.persistent and state.session is session
    assert not state.modified and not state.committed_state and not state.expired_attributes
    assert session.identity_map[state.key] is instance


async def test_an_order_read_as_columns_is_what_the_orm_loads(services, engine):
    shop = await make_shop(services)
    order = await make_order(services, shop, item("SKU-1"), item("SKU-2", quantity=2))
    manager = ActorRef.user(shop.manager.id)
    # the ORM's own load, for comparison
    async with services.sessions() as session, session.begin():
        rows = (
            await session.execute(
                _order_query(True, False, True), {"order_id": order.id, "user_id": manager.user_id}
            )
        ).all()
        orm_order, orm_shop = rows[0][0], rows[0][1]
        expected = (columns(orm_order), columns(orm_order.buyer), columns(orm_shop))
        orm_items = [
            columns(line) for line in await session.scalars(_ITEMS, {"order_id": order.id})
        ]
    async with services.sessions() as session, session.begin():
        unit = services.orders._unit(session)
        with statements_of(engine) as seen:
            made = await unit.load(order.id, lock=True, items=False, asking=manager)
            buyer, made_shop = made.buyer, await unit.shop(made.shop_id)
            who = await unit.who(made, manager)
        assert len([s for s in seen if s.startswith("SELECT")]) == 1  # buyer, shop, roles along
        assert "ORDER BY" not in seen[-1] and "order_items" not in seen[-1]
        assert (columns(made), columns(buyer), columns(made_shop)) == expected
        for instance in (made, buyer, made_shop):
            assert_loaded_clean(instance, session.sync_session)
        assert who.is_staff and who.role_for(frozenset({"manager"})) == "manager"
        with pytest.raises(MissingGreenlet):
            made.items  # noqa: B018 - not loaded with the order: no silent lazy load here
        with statements_of(engine) as seen:
            await unit.load_items(made)
        assert len(seen) == 1 and [columns(line) for line in made.items] == orm_items
        assert [line.sku for line in made.items] == ["SKU-1", "SKU-2"]
        for line in made.items:
            assert_loaded_clean(line, session.sync_session)


async def test_a_change_of_an_order_made_from_columns_is_written_and_version_checked(
    services, sessions
):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    # given an order made from columns, changed through the ORM
    async with sessions() as session, session.begin():
        made = await services.orders._unit(session).load(order.id, items=False)
        made.buyer_comment = "ring twice"
    async with sessions() as session:
        assert (await session.get(Order, order.id)).buyer_comment == "ring twice"
    # when someone else changed the order after it was read
    with pytest.raises(StaleDataError):
        async with sessions() as session, session.begin():
            made = await services.orders._unit(session).load(order.id, items=False)
            await session.execute(
                update(Order.__table__)
                .where(Order.__table__.c.id == order.id)
                .values(version=Order.__table__.c.version + 1)
            )
            made.buyer_comment = "leave at the door"
    # then the change from the stale read is refused, as for an order the ORM loaded
    async with sessions() as session:
        assert (await session.get(Order, order.id)).buyer_comment == "ring twice"


async def test_an_order_whose_shop_the_session_has_is_refreshed_through_the_orm(services, engine):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    async with services.sessions() as session, session.begin():
        unit = services.orders._unit(session)
        # given the shop in the session already, and its row changed since
        known = await unit.shop(shop.id)
        await session.execute(
            update(Shop.__table__).where(Shop.__table__.c.id == shop.id).values(name="Renamed")
        )
        with statements_of(engine) as seen:
            made = await unit.load(order.id, items=False)
        # then the order's load refreshes that very object, as the ORM's does
        assert await unit.shop(made.shop_id) is known and known.name == "Renamed"
        assert made.buyer.email == "buyer@example.com"
        assert len([s for s in seen if s.startswith("SELECT")]) == 2  # columns, then the ORM


async def test_no_such_order_is_refused_after_one_read(services, engine):
    from services.refusals import OrderRefused, Problem

    async with services.sessions() as session, session.begin():
        with statements_of(engine) as seen, pytest.raises(OrderRefused) as refused:
            await services.orders._unit(session).load(987_654, lock=True, items=False)
    assert refused.value.code is Problem.NOT_FOUND
    assert len([s for s in seen if s.startswith("SELECT")]) == 1


def test_a_class_with_load_listeners_is_not_made_from_columns():
    class Base(DeclarativeBase):
        pass

    class Watched(Base):
        __tablename__ = "watched"
        id: Mapped[int] = mapped_column(primary_key=True)

    event.listen(Watched, "load", lambda target, context: None)
    with pytest.raises(TypeError):
        loaded.Entity.at(Watched, 0)


async def test_the_orm_finds_and_refreshes_an_order_made_from_columns(services, sessions):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    async with sessions() as session, session.begin():
        made = await services.orders._unit(session).load(order.id, lock=True, items=False)
        # the ORM's own reads of the order find that very object
        assert await session.get(Order, order.id) is made
        assert await session.scalar(select(Order).where(Order.id == order.id)) is made
        # and a refresh from the database overwrites it, as for any loaded object
        await session.execute(
            update(Order.__table__)
            .where(Order.__table__.c.id == order.id)
            .values(buyer_comment="changed in the row")
        )
        refreshed = await session.scalar(
            select(Order).where(Order.id == order.id).execution_options(populate_existing=True)
        )
        assert refreshed is made and made.buyer_comment == "changed in the row"
        assert_loaded_clean(made, session.sync_session)
