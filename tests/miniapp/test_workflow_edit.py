"""The Mini App's workflow page edits the shop's workflow through WorkflowEditor (issues 20
and 16): only the owner and admins; forged, cross-shop and bad requests change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.orders.actors import ActorRef
from storage.models import WorkflowChange, WorkflowDefinition, WorkflowDraft
from tests.factories import make_order, make_shop
from tests.miniapp.conftest import init_data
from tests.miniapp.test_auth import sign_in

EDIT = "/app/api/workflow/edit"
SAVE = "/app/api/workflow/save"


async def workflow_state(desk) -> tuple:
    """What a refused request must leave as it was: versions, drafts and the log."""
    async with desk.container.sessions() as session:
        versions = await session.scalar(select(func.count()).select_from(WorkflowDefinition))
        drafts = tuple(await session.scalars(select(WorkflowDraft.body)))
        logged = await session.scalar(select(func.count()).select_from(WorkflowChange))
    return versions, str(drafts), logged


def codes(body: dict) -> list[str]:
    return [s["code"] for s in body["statuses"]]


async def test_reorder_rename_and_save_round_trip(desk):
    shop, owner = desk.shop, desk.shop.owner
    # given: the draft is the current version
    start = await (await desk.get(f"/app/api/workflow?shop={shop.id}", owner)).json()
    assert codes(start)[:3] == ["awaiting_confirmation", "awaiting_payment", "paid"]
    assert (start["changed"], start["problems"]) == (False, [])
    # when: a drag puts "in_progress" before "preparing_shipment", then a rename in Ukrainian
    moved = await desk.post(
        EDIT, {"shop": shop.id, "edit": "place", "code": "in_progress", "position": 3}, owner
    )
    assert moved.status == 200
    assert codes(await moved.json())[3:5] == ["in_progress", "preparing_shipment"]
    renamed = await desk.post(
        EDIT,
        {"shop": shop.id, "edit": "rename", "code": "paid", "language": "uk", "text": "Сплачено"},
        owner,
    )
    draft = await renamed.json()
    assert draft["changed"] is True
    paid = next(s for s in draft["statuses"] if s["code"] == "paid")
    assert paid["title"]["uk"] == "Сплачено"
    saved = await desk.post(SAVE, {"shop": shop.id}, owner)
    # then: a new version new orders follow, with both edits
    assert saved.status == 200 and (await saved.json())["version"] == 2
    version, body = await desk.container.workflow_editor.export(shop.id, owner.id)
    assert version == 2
    assert [s["code"] for s in body["statuses"]][3:5] == ["in_progress", "preparing_shipment"]
    assert body["statuses"][2]["title"]["uk"] == "Сплачено"


async def test_add_into_a_step_limit_responsible_and_retire(desk):
    shop, owner = desk.shop, desk.shop.owner
    added = await desk.post(
        EDIT,
        {
            "shop": shop.id,
            "edit": "add",
            "code": "assembling",
            "title": {"ru": "Сборка", "en": "Assembling"},
            "before": "paid",
            "after": "preparing_shipment",
        },
        owner,
    )
    body = await added.json()
    assert added.status == 200 and codes(body)[3] == "assembling"
    assert {"from": ["paid"], "to": "assembling", "code": "to_assembling"} in body["steps"]
    limited = await desk.post(
        EDIT, {"shop": shop.id, "edit": "limit", "code": "assembling", "acceptable": "2h"}, owner
    )
    assert limited.status == 200
    role = {"shop": shop.id, "edit": "responsible", "code": "assembling", "role": "packer"}
    packer = await desk.post(EDIT, role, owner)
    status = next(s for s in (await packer.json())["statuses"] if s["code"] == "assembling")
    assert status["sla"] == {"acceptable": "2h"} and status["responsible"] == "packer"
    # a status steps still lead into cannot be retired: the problem says which
    before = await workflow_state(desk)
    refused = await desk.post(EDIT, {"shop": shop.id, "edit": "retire", "code": "paid"}, owner)
    assert refused.status == 400
    assert "used by the transitions" in (await refused.json())["problems"][0]
    assert await workflow_state(desk) == before
    saved = await desk.post(SAVE, {"shop": shop.id}, owner)
    assert saved.status == 200


async def test_staff_without_the_role_and_other_shops_change_nothing(desk):
    c, shop = desk.container, desk.shop
    other = await make_shop(c, preset="marketplace")
    before = await workflow_state(desk)
    edit = {"shop": shop.id, "edit": "place", "code": "paid", "position": 0}
    for user in (shop.manager, shop.packer, shop.accountant):
        assert (await desk.post(EDIT, edit, user)).status == 403
        assert (await desk.post(SAVE, {"shop": shop.id}, user)).status == 403
    assert (await desk.get(f"/app/api/workflow?shop={shop.id}", shop.manager)).status == 403
    # no staff of this shop, its owner of another shop among them: as if there were no shop
    for user in (shop.stranger, other.owner):
        assert (await desk.post(EDIT, edit, user)).status == 404
        assert (await desk.get(f"/app/api/workflow?shop={shop.id}", user)).status == 404
    # forged initData
    forged = {"Authorization": "tma " + init_data(shop.owner, token="999:OTHER")}
    assert (await desk.post(EDIT, edit, headers=forged)).status == 401
    assert await workflow_state(desk) == before


@pytest.mark.parametrize(
    "body",
    [
        {"shop": None, "edit": "place", "code": "paid", "position": 0},
        {"shop": "1", "edit": "place", "code": "paid", "position": 0},
        {"shop": True, "edit": "place", "code": "paid", "position": 0},
        {"edit": "explode"},
        {"edit": "place", "code": "paid", "position": 99},
        {"edit": "place", "code": "paid", "position": "1"},
        {"edit": "place", "code": "nope", "position": 1},
        {"edit": "rename", "code": "paid", "language": "de", "text": "Bezahlt"},
        {"edit": "rename", "code": "paid", "language": "ru", "text": "  "},
        {"edit": "rename", "code": "paid", "language": "ru", "text": "x" * 65},
        {"edit": "limit", "code": "paid", "acceptable": "soon"},
        {"edit": "limit", "code": "received", "acceptable": "2h"},
        {"edit": "limit", "code": "paid", "acceptable": "2h", "excellent": "3h"},
        {"edit": "responsible", "code": "paid", "role": "boss"},
        {"edit": "retire", "code": "awaiting_confirmation"},
        {"edit": "add", "code": "Bad Code", "title": {"en": "X"}, "before": "paid", "after": "x"},
        {"edit": "add", "code": "paid", "title": {"en": "X"}, "before": "paid", "after": "shipped"},
        {"edit": "add", "code": "new", "title": {"en": "X"}, "before": "paid", "after": "received"},
        {"edit": "add", "code": "new", "title": "X", "before": "paid", "after": "shipped"},
    ],
)
async def test_bad_bodies_get_400_with_the_problem_and_change_nothing(desk, body):
    if "shop" not in body:
        body = {**body, "shop": desk.shop.id}
    before = await workflow_state(desk)
    response = await desk.post(EDIT, body, desk.shop.owner)
    assert response.status == 400
    answer = await response.json()
    assert answer["error"] == "invalid" and answer["problems"] and answer["problems"][0]
    assert await workflow_state(desk) == before


async def test_not_json_is_400(desk):
    response = await desk.client.post(
        EDIT, data="shop=1", headers={**desk.tma(desk.shop.owner), "Content-Type": "text/plain"}
    )
    assert response.status == 400


async def test_an_invalid_draft_is_not_saved_and_its_problems_are_shown(desk):
    shop, owner = desk.shop, desk.shop.owner
    # a new status no step leads into: unreachable, which only the whole workflow can tell
    await desk.container.workflow_editor.change(
        shop.id, owner.id, "add_status", "lonely", {"en": "Lonely"}
    )
    draft = await (await desk.get(f"/app/api/workflow?shop={shop.id}", owner)).json()
    assert draft["valid"] is False and draft["problems"]
    before = await workflow_state(desk)
    refused = await desk.post(SAVE, {"shop": shop.id}, owner)
    assert refused.status == 400
    assert (await refused.json())["problems"] == draft["problems"]
    assert await workflow_state(desk) == before


async def test_open_orders_move_with_a_mapping_only(desk):
    c, shop, owner = desk.container, desk.shop, desk.shop.owner
    order = await make_order(c, shop)
    await c.orders.apply(order.id, ActorRef.user(owner.id), "confirm", {})
    # a new version without "awaiting_payment": its open order needs a mapping
    await c.workflow_editor.install(shop.id, owner.id, _without_awaiting_payment(c, shop))
    before = await desk.snapshot()
    unmapped = await desk.post("/app/api/workflow/move-orders", {"shop": shop.id}, owner)
    assert unmapped.status == 400
    assert "awaiting_payment" in (await unmapped.json())["problems"][0]
    bad = await desk.post(
        "/app/api/workflow/move-orders", {"shop": shop.id, "mapping": ["x"]}, owner
    )
    assert bad.status == 400
    assert await desk.snapshot() == before
    moved = await desk.post(
        "/app/api/workflow/move-orders",
        {"shop": shop.id, "mapping": {"awaiting_payment": "paid"}},
        owner,
    )
    assert moved.status == 200 and (await moved.json())["moved"] == 1


def _without_awaiting_payment(c, shop) -> dict:
    from services.workflow import changes
    from services.workflow.presets import preset_data

    body = preset_data("marketplace")
    kept = []
    for t in body["transitions"]:
        sources = [s for s in changes._sources(t) if s != "awaiting_payment"]
        if sources and t["to"] != "not_paid":
            t["from"] = sources
            kept.append(t)
        if t["code"] == "confirm":
            t["to"] = "paid"
    body["transitions"] = kept
    changes.retire_status(body, "awaiting_payment")
    changes.retire_status(body, "not_paid")
    return body


async def test_a_browser_change_needs_the_csrf_token(desk):
    shop = desk.shop
    _cookie, csrf = await sign_in(desk, shop.owner)
    edit = {"shop": shop.id, "edit": "place", "code": "in_progress", "position": 3}
    before = await workflow_state(desk)
    assert (await desk.client.post(EDIT, json=edit)).status == 403
    assert await workflow_state(desk) == before
    done = await desk.client.post(EDIT, json=edit, headers={"X-CSRF-Token": csrf})
    assert done.status == 200


async def test_the_page_offers_the_editor_to_the_owner_only(desk):
    shop = desk.shop
    await desk.post(
        EDIT, {"shop": shop.id, "edit": "place", "code": "in_progress", "position": 3}, shop.owner
    )
    owner = await (await desk.get(f"/app/ui/workflow?shop={shop.id}", shop.owner)).text()
    assert 'id="workflow-editor"' in owner and "data-wf-save" in owner
    # the owner's draft is what is drawn: "in_progress" now fourth
    assert owner.index('data-status="in_progress"') < owner.index(
        'data-status="preparing_shipment"'
    )
    manager = await desk.get(f"/app/ui/workflow?shop={shop.id}", shop.manager)
    assert manager.status == 200
    page = await manager.text()
    assert "<svg" in page and 'id="workflow-editor"' not in page
