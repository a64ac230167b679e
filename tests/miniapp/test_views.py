"""The Mini App's other views: the order page (the chat's card), the workflow drawn, the
numbers, the template editor's live preview; in the person's language."""

from __future__ import annotations

from datetime import timedelta

from services.desk import graph
from services.orders.actors import ActorRef
from services.workflow.presets import load_preset
from tests.factories import make_order


async def test_the_order_page_is_the_card_with_its_tools(desk):
    c, shop = desk.container, desk.shop
    order = await make_order(c, shop)
    await c.orders.add_comment(order.id, ActorRef.user(shop.owner.id), "call after six")
    page = await (await desk.get(f"/app/ui/orders/{order.id}", shop.manager)).text()
    assert f"Order #{order.number}" in page
    assert 'data-action="confirm"' in page and 'data-action="cancel"' in page
    assert "call after six" in page  # private comments: the staff's
    assert "/documents/waybill" in page
    # a message to the buyer from the page lands in the order's dialog
    sent = await desk.post(f"/app/api/orders/{order.id}/messages", {"text": "Hello!"}, shop.manager)
    assert sent.status == 201
    thread = await c.dialog.thread(order.id, ActorRef.user(shop.manager.id))
    assert [(m.direction, m.text, m.channel) for m in thread.messages] == [
        ("to_buyer", "Hello!", "mini_app")
    ]


async def test_the_page_speaks_the_persons_language(desk):
    order = await make_order(desk.container, desk.shop)
    header = desk.tma(desk.shop.owner)  # language_code "en" in the launch
    await desk.container.users.set_language(desk.shop.owner.id, "ru")
    page = await (await desk.get(f"/app/ui/orders/{order.id}", headers=header)).text()
    assert f"Заказ #{order.number}" in page


def test_the_graph_places_every_status_and_draws_every_step():
    workflow = load_preset("marketplace")
    drawn = graph.layout(workflow)
    assert [n.code for n in drawn.nodes] == [s.code for s in workflow.statuses]
    positions = {(n.x, n.y) for n in drawn.nodes}
    assert len(positions) == len(drawn.nodes)  # no two boxes on one spot
    steps = {(t.code, s) for t in workflow.transitions for s in t.sources}
    assert {(e.action, e.source) for e in drawn.edges} == steps
    initial = next(n for n in drawn.nodes if n.code == workflow.initial.code)
    assert initial.x == min(n.x for n in drawn.nodes)


async def test_the_workflow_page_draws_the_shops_workflow(desk):
    page = await (await desk.get("/app/ui/workflow", desk.shop.owner)).text()
    assert page.count('class="node') == len(load_preset("marketplace").statuses)
    assert "<svg" in page


async def test_numbers(desk):
    c, shop = desk.container, desk.shop
    owner = ActorRef.user(shop.owner.id)
    first = await make_order(c, shop)  # 100.00
    c.clock.advance(timedelta(days=1))
    second = await make_order(c, shop, phone="+79035550111", email=None)
    third = await make_order(c, shop, phone="+79035550112", email=None)
    await c.orders.apply(third.id, owner, "cancel", {"reason": "out_of_stock"})
    await c.orders.apply(first.id, owner, "confirm")
    numbers = await c.desk_numbers.numbers(shop.owner.id, None, 7)
    assert numbers.orders == 3
    assert numbers.revenue == first.total + second.total  # the cancelled one is not revenue
    assert numbers.average_check == (first.total + second.total) // 2
    assert [d.orders for d in numbers.days][-2:] == [1, 2]
    assert [(s.key, s.count) for s in numbers.cancellations] == [("out_of_stock", 1)]
    page = await desk.get("/app/ui/numbers", shop.owner, params={"days": "90"})
    assert page.status == 200
    assert (await desk.get("/app/ui/numbers", shop.owner, params={"days": "8"})).status == 422
    assert (await desk.get("/app/api/numbers", shop.packer)).status == 403  # as /balance
    body = await (await desk.get("/app/api/numbers", shop.owner, params={"days": "7"})).json()
    assert body["orders"] == 3 and body["cancellations"] == [{"reason": "out_of_stock", "count": 1}]


async def test_the_template_editor_previews_and_saves(desk):
    shop = desk.shop
    template = {"shop": shop.id, "kind": "invoice", "language": "en"}
    preview = await desk.post(
        "/app/api/templates/preview",
        {**template, "body": "<h1>Invoice {{ order.number }}</h1>"},
        shop.owner,
    )
    assert preview.status == 200 and (await preview.read()).startswith(b"%PDF")
    broken = await desk.post(
        "/app/api/templates/preview", {**template, "body": "{{ order.number"}, shop.owner
    )
    assert broken.status == 422 and (await broken.json())["kind"] == "syntax"
    # staff who are not the owner or an admin may not change the shop's documents
    refused = await desk.post(
        "/app/api/templates/save", {**template, "body": "<p>x</p>"}, shop.manager
    )
    assert refused.status == 403
    saved = await desk.post(
        "/app/api/templates/save", {**template, "body": "<p>Ours</p>"}, shop.owner
    )
    assert saved.status == 200 and (await saved.json())["version"] == 1


async def test_a_template_reading_a_local_file_is_refused_in_the_persons_words(desk):
    shop = desk.shop
    template = {"shop": shop.id, "kind": "invoice", "language": "ru"}
    for src in ("/etc/passwd", "/no/such/file.png"):
        refused = await desk.post(
            "/app/api/templates/preview", {**template, "body": f'<img src="{src}">'}, shop.owner
        )
        answer = await refused.json()
        assert refused.status == 422 and answer["code"] == "image_refused"
        # in the owner's words (their catalog's), the same whether the file exists or not
        assert answer["message"].startswith("images may only be embedded as data: URIs")
        assert src not in answer["message"]


async def test_time_limits_kept_per_status_and_per_person(desk):
    # given: the platform's "new" status: 60 min excellent, 3 h acceptable (seed 003)
    from sqlalchemy import select

    from storage.models import Timer
    from tests.factories import make_shop

    c = desk.container
    shop = await make_shop(c, preset="platform")
    manager = ActorRef.user(shop.manager.id)
    quick = await make_order(c, shop)
    slow = await make_order(c, shop, phone="+79035550123", email=None)
    await c.orders.open(quick.id, manager)  # opened at once: "requires agreement", on time
    c.clock.advance(timedelta(hours=4))  # Tuesday 10:00 -> 14:00 in Moscow: past 3 h
    async with c.sessions() as session:
        due = await session.scalars(
            select(Timer.id).where(
                Timer.order_id == slow.id, Timer.kind == "sla", Timer.due_at <= c.clock.now()
            )
        )
        due = list(due)
    assert due
    for timer_id in due:
        await c.orders.fire_timer(timer_id)
    await c.orders.open(slow.id, manager)  # opened late
    # when
    numbers = await c.desk_numbers.numbers(shop.owner.id, shop.id, 7)
    # then
    by_status = {s.key: (s.on_time, s.late) for s in numbers.by_status}
    assert by_status == {"new": (1, 1)}
    (person,) = numbers.by_person
    assert (person.key, person.on_time, person.late) == (str(shop.manager.id), 1, 1)
    assert person.compliance == 0.5
