"""The order table (K1, seed 004's list): server-side filters, sorting and cursor pages across
every shop of a person, its export, and bulk actions."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from services.desk.table_query import TableQuery
from services.orders.actors import ActorRef
from services.refusals import Refused
from tests.factories import bind_buyer, item, make_order, make_shop


async def numbers(desk, user, **params) -> list[int]:
    query = {k: str(v) for k, v in params.items()}
    page = await desk.container.desk_table.page(user.id, TableQuery.parse(query))
    return [row.number for row in page.rows]


async def test_filters(desk):
    # given: orders differing in one thing each
    c, shop, owner = desk.container, desk.shop, desk.shop.owner
    bed = await make_order(c, shop, item("CAT-BED", 1, 150_000))
    cash = await make_order(
        c, shop, item("TOY", 1, 5_000), payment="cash", phone="+79035550022", email=None
    )
    pickup = await make_order(
        c, shop, item("BOWL", 2, 30_000), delivery="pickup", email=None, phone="+79035550033"
    )
    c.clock.advance(timedelta(days=2))
    later = await make_order(
        c, shop, item("LEASH", 1, 20_000), phone="+380501234567", email="o@x.ua"
    )
    cancelled = await make_order(c, shop, phone="+79035550044", email=None)
    await c.orders.apply(
        cancelled.id, ActorRef.user(owner.id), "cancel", {"reason": "out_of_stock"}
    )
    await c.orders.apply(bed.id, ActorRef.user(owner.id), "confirm")
    everything = [cancelled.number, later.number, pickup.number, cash.number, bed.number]

    # then: open orders by default, newest first; closed and all on request
    assert await numbers(desk, owner) == [later.number, pickup.number, cash.number, bed.number]
    assert await numbers(desk, owner, view="closed") == [cancelled.number]
    assert await numbers(desk, owner, view="all") == everything
    assert await numbers(desk, owner, status="awaiting_payment") == [bed.number]
    assert await numbers(desk, owner, payment="cash") == [cash.number]
    assert await numbers(desk, owner, delivery="pickup") == [pickup.number]
    assert await numbers(desk, owner, min="300", max="600") == [pickup.number]
    assert await numbers(desk, owner, **{"from": "2026-11-26"}, view="all") == [
        cancelled.number,
        later.number,
    ]
    assert await numbers(desk, owner, to="2026-11-24") == [pickup.number, cash.number, bed.number]
    # the search: number, buyer, phone (any way it is written), SKU
    assert await numbers(desk, owner, q=f"#{cash.number}") == [cash.number]
    assert await numbers(desk, owner, q="+7 903 555-00-22") == [cash.number]
    assert await numbers(desk, owner, q="5550033") == [pickup.number]
    assert await numbers(desk, owner, q="leash") == [later.number]
    assert await numbers(desk, owner, q="ivan petrov", view="all") == everything
    assert await numbers(desk, owner, q="100%_") == []  # LIKE's wildcards are plain text


async def test_mine_is_what_waits_for_the_persons_roles(desk):
    c, shop = desk.container, desk.shop
    waiting = await make_order(c, shop)  # awaiting confirmation: the manager's
    paid = await make_order(c, shop, phone="+79035550055", email=None)
    owner = ActorRef.user(shop.owner.id)
    await c.orders.apply(paid.id, owner, "confirm")
    await c.orders.apply(paid.id, owner, "mark_paid")  # preparing for shipment: the packer's
    assert await numbers(desk, shop.manager, mine="1") == [waiting.number]
    assert await numbers(desk, shop.packer, mine="1") == [paid.number]
    assert await numbers(desk, shop.owner, mine="1") == [paid.number, waiting.number]


async def test_problems(desk):
    c, shop = desk.container, desk.shop
    fine = await make_order(c, shop)
    late = await make_order(c, shop, phone="+79035550066", email=None)
    from sqlalchemy import update

    from storage.models import Order

    async with c.sessions() as session, session.begin():
        await session.execute(update(Order).where(Order.id == late.id).values(problem=True))
    assert await numbers(desk, shop.owner, problem="1") == [late.number]
    assert fine.number in await numbers(desk, shop.owner)


@pytest.mark.parametrize(
    ("sort", "direction", "key"),
    [
        ("created", "desc", lambda o: (-o.created_at.timestamp(), -o.id)),
        ("number", "asc", lambda o: o.number),
        ("total", "asc", lambda o: (o.total, o.id)),
        ("total", "desc", lambda o: (-o.total, -o.id)),
        ("status", "asc", lambda o: (o.status, o.id)),
        ("time_left", "asc", lambda o: o.id),  # no limits in this preset: all last, by id
    ],
)
async def test_cursor_pages_visit_every_order_once_in_order(desk, sort, direction, key):
    c, shop = desk.container, desk.shop
    made = []
    for n in range(23):
        made.append(await make_order(c, shop, item(f"S{n}", 1, 1000 * (n % 5) + 100)))
        c.clock.advance(timedelta(minutes=n % 3))  # some share a moment
    for order in made[:4]:
        await c.orders.apply(order.id, ActorRef.user(shop.owner.id), "confirm")
    async with c.sessions() as session:
        from storage.models import Order

        made = [await session.get(Order, o.id) for o in made]
    seen, cursor = [], None
    while True:
        params = {"sort": sort, "dir": direction, "limit": "7"}
        if cursor:
            params["cursor"] = cursor
        page = await c.desk_table.page(shop.owner.id, TableQuery.parse(params))
        assert len(page.rows) <= 7
        assert (page.total is None) == (cursor is not None)  # counted on the first page
        seen += [row.id for row in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [o.id for o in sorted(made, key=key)]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "1000"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"min": "abc"}, "min"),
        ({"min": "1.001"}, "min"),
        ({"max": "-5"}, "max"),
        ({"from": "2026-13-01"}, "from"),
        ({"status": "Robert'); DROP TABLE orders;--"}, "status"),
        ({"view": "everything"}, "view"),
        ({"sort": "buyer_password"}, "sort"),
        ({"payment": "bitcoin"}, "payment"),
        ({"q": "x" * 101}, "q"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "W10"}, "cursor"),  # base64 of []
        ({"shop": "1" * 12}, "shop"),
    ],
)
async def test_bad_parameters_are_refused_naming_them(desk, params, field):
    response = await desk.get("/app/api/orders", desk.shop.owner, params=params)
    assert response.status == 422
    assert (await response.json())["field"] == field


async def test_a_cursor_of_another_sorting_is_refused(desk):
    for n in range(3):
        await make_order(desk.container, desk.shop, item(f"S{n}"))
    first = await desk.get("/app/api/orders", desk.shop.owner, params={"limit": "1"})
    cursor = (await first.json())["next_cursor"]
    assert cursor
    other = await desk.get(
        "/app/api/orders", desk.shop.owner, params={"limit": "1", "cursor": cursor, "sort": "total"}
    )
    assert other.status == 422 and (await other.json())["field"] == "cursor"


async def test_a_person_in_several_shops_sees_them_all_and_no_other(desk):
    c = desk.container
    mine = await make_order(c, desk.shop)
    second = await make_shop(c, preset="platform")
    await c.shops.add_staff(second.id, desk.shop.owner.telegram_id, "admin")
    there = await make_order(c, second)
    stranger_shop = await make_shop(c, preset="stages")
    await make_order(c, stranger_shop)
    page = await c.desk_table.page(desk.shop.owner.id, TableQuery.parse({}))
    assert {(row.shop_id, row.id) for row in page.rows} == {
        (desk.shop.id, mine.id),
        (second.id, there.id),
    }
    assert {s.id for s in page.shops} == {desk.shop.id, second.id}
    only = await c.desk_table.page(desk.shop.owner.id, TableQuery.parse({"shop": str(second.id)}))
    assert [row.id for row in only.rows] == [there.id]
    with pytest.raises(Refused):  # a shop that is not theirs: as if it did not exist
        await c.desk_table.page(
            desk.shop.owner.id, TableQuery.parse({"shop": str(stranger_shop.id)})
        )


async def test_rows_show_income_status_and_who_is_responsible(desk):
    c, shop = desk.container, desk.shop
    await make_order(c, shop, item("A", 2, 10_000))
    response = await desk.get("/app/api/orders", shop.owner)
    (row,) = (await response.json())["orders"]
    assert row["total"] == {"amount": 20_000, "value": "200.00", "currency": "RUB"}
    assert row["income"]["amount"] == 20_000  # no commission set
    assert row["status"] == {"code": "awaiting_confirmation", "title": "Awaiting confirmation"}
    assert row["responsible"] == "manager"


async def test_export_is_the_current_filter_as_csv_and_xlsx(desk):
    c, shop = desk.container, desk.shop
    await make_order(c, shop, item("A", 1, 10_000))
    hostile = await make_order(c, shop, item("B", 1, 20_000), phone="+79035550077", email=None)
    from sqlalchemy import update

    from storage.models import Buyer

    async with c.sessions() as session, session.begin():  # a buyer named like a formula
        await session.execute(
            update(Buyer).where(Buyer.id == hostile.buyer_id).values(name='=HYPERLINK("x")')
        )
    response = await desk.get(
        "/app/api/orders/export", shop.owner, params={"format": "csv", "min": "150"}
    )
    assert response.status == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="orders.csv"'
    lines = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert lines[0][:3] == ["Shop", "Number", "Date"]
    assert len(lines) == 2  # the filter: one order of 150 or more
    assert lines[1][3] == '\'=HYPERLINK("x")'
    xlsx = await desk.get("/app/api/orders/export", shop.owner, params={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(await xlsx.read())).active
    values = list(sheet.values)
    assert len(values) == 3 and values[0][0] == "Shop"
    assert {v[1] for v in values[1:]} == {1, 2}
    refused = await desk.get("/app/api/orders/export", shop.owner, params={"format": "pdf"})
    assert refused.status == 422


async def test_bulk_actions_apply_where_allowed_and_say_where_not(desk):
    c, shop = desk.container, desk.shop
    first = await make_order(c, shop)
    second = await make_order(c, shop, phone="+79035550088", email=None)
    common = await desk.post(
        "/app/api/orders/common-actions", {"ids": [first.id, second.id]}, shop.owner
    )
    assert [a["action"] for a in (await common.json())["actions"]] == ["confirm", "cancel"]
    await c.orders.apply(second.id, ActorRef.user(shop.owner.id), "confirm")
    common = await desk.post(
        "/app/api/orders/common-actions", {"ids": [first.id, second.id]}, shop.owner
    )
    assert [a["action"] for a in (await common.json())["actions"]] == ["cancel"]
    applied = await desk.post(
        "/app/api/orders/bulk", {"ids": [first.id, second.id], "action": "confirm"}, shop.owner
    )
    assert (await applied.json())["results"] == [
        {"id": first.id, "ok": True},
        {"id": second.id, "ok": False, "error": "already_done"},
    ]
    for body in ({"ids": []}, {"ids": list(range(1, 102))}, {"ids": [True]}, {"ids": "1,2"}):
        bad = await desk.post("/app/api/orders/common-actions", body, shop.owner)
        assert bad.status == 422


async def test_bulk_documents_come_in_one_zip(desk):
    import zipfile

    c, shop = desk.container, desk.shop
    first = await make_order(c, shop)
    second = await make_order(c, shop, phone="+79035550099", email=None)
    response = await desk.get(
        "/app/api/orders/documents",
        shop.owner,
        params={"kind": "invoice", "ids": f"{first.id},{second.id}"},
    )
    assert response.status == 200
    names = zipfile.ZipFile(io.BytesIO(await response.read())).namelist()
    assert len(names) == 2 and all(name.endswith(".pdf") for name in names)
    await bind_buyer(c, first, shop.buyer_user)
    waybills = await desk.get(  # the waybill is the shop's, not the buyer's
        "/app/api/orders/documents",
        shop.buyer_user,
        params={"kind": "waybill", "ids": str(first.id)},
    )
    assert waybills.status == 403
