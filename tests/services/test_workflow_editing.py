"""The shop's own workflow (issue 16): a draft edited, saved as a version, open orders moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.orders.actors import ActorRef
from services.refusals import OrderRefused, Reason, Refused
from services.shops.settings import ShopSettingsService
from services.workflow.changes import code_from, parse_limit
from services.workflow.editing import (
    MAX_FILE_BYTES,
    WorkflowEditor,
    WorkflowProblems,
    dump_file,
    parse_file,
    problems_of,
)
from services.workflow.presets import preset_data
from storage.models import OrderEvent, Timer, WorkflowChange, WorkflowDefinition
from tests.factories import make_order, make_shop

SYSTEM = ActorRef.system()
ASSEMBLING = {"ru": "Сборка", "uk": "Збирання", "en": "Assembling"}


@pytest.fixture
def editor(services) -> WorkflowEditor:
    return WorkflowEditor(services.sessions, services.clock, services.workflows, services.orders)


async def versions(services, shop_id: int) -> list[int]:
    async with services.sessions() as session:
        query = select(WorkflowDefinition.version).where(WorkflowDefinition.shop_id == shop_id)
        return list(await session.scalars(query.order_by(WorkflowDefinition.version)))


async def add_assembling(editor, shop, *, payment_methods=("card",)) -> None:
    owner = shop.owner.id
    await editor.change(shop.id, owner, "add_status", "assembling", ASSEMBLING)
    await editor.change(
        shop.id,
        owner,
        "insert_between",
        "assembling",
        "preparing_shipment",
        "shipped",
        payment_methods=list(payment_methods) if payment_methods else None,
    )
    await editor.change(shop.id, owner, "set_responsible", "assembling", "packer")
    await editor.change(shop.id, owner, "set_limit", "assembling", "2h")


async def to_preparing(services, shop, order) -> None:
    manager = shop.as_user(shop.manager)
    await services.orders.apply(order.id, manager, "confirm")
    await services.orders.apply(order.id, manager, "mark_paid")


async def test_edits_stay_in_the_draft_until_a_save_makes_a_version(services, editor):
    shop = await make_shop(services)
    await editor.change(shop.id, shop.owner.id, "add_status", "assembling", ASSEMBLING)
    draft = await editor.draft(shop.id, shop.owner.id)
    assert draft.changed and not draft.valid
    # the problems read exactly as `python -m bot workflow validate` prints them
    assert draft.problems == problems_of(draft.body)[1]
    assert "status 'assembling': unreachable from the initial status" in draft.problems
    assert await versions(services, shop.id) == [1]
    refused = await _refused(editor.save(shop.id, shop.owner.id))
    assert isinstance(refused, WorkflowProblems)
    assert "status 'assembling': unreachable from the initial status" in refused.problems
    assert await versions(services, shop.id) == [1]


async def test_a_new_stage_for_card_payments_is_saved_and_followed(services, editor):
    shop = await make_shop(services)
    await add_assembling(editor, shop)
    saved = await editor.save(shop.id, shop.owner.id)
    assert saved.version == 2
    assembling = saved.workflow.status("assembling")
    assert (assembling.responsible, assembling.sla.acceptable.total_seconds()) == ("packer", 7200)
    # a card order passes through the new stage, by the buttons of its people
    card = await make_order(services, shop, payment="card")
    await to_preparing(services, shop, card)
    packer = shop.as_user(shop.packer)
    codes = [a.code for a in await services.orders.actions(card.id, packer)]
    assert "to_assembling" in codes and "ship" not in codes
    await services.orders.apply(card.id, packer, "to_assembling")
    result = await services.orders.apply(
        card.id, packer, "ship", {"carrier": "cdek", "track_code": "TRACK123"}
    )
    assert result.order.status == "shipped"
    # a cash order keeps the old way
    cash = await make_order(services, shop, payment="cash_on_delivery")
    manager = shop.as_user(shop.manager)
    await services.orders.apply(cash.id, manager, "confirm")
    codes = [a.code for a in await services.orders.actions(cash.id, packer)]
    assert "ship" in codes and "to_assembling" not in codes


async def test_orders_keep_their_version_until_moved(services, editor):
    shop = await make_shop(services)
    order = await make_order(services, shop, payment="card")
    await to_preparing(services, shop, order)
    await add_assembling(editor, shop, payment_methods=None)
    saved = await editor.save(shop.id, shop.owner.id)
    assert saved.moves.open_by_status == {"preparing_shipment": 1}
    assert saved.moves.vanished == {}
    kept = await services.orders.get(order.id, SYSTEM)
    assert kept.workflow_id != saved.definition_id
    moved = await editor.move_open_orders(shop.id, shop.owner.id)
    assert moved == 1
    order = await services.orders.get(order.id, SYSTEM)
    assert (order.workflow_id, order.status) == (saved.definition_id, "preparing_shipment")
    codes = [a.code for a in await services.orders.actions(order.id, shop.as_user(shop.packer))]
    assert codes == ["to_assembling"]
    async with services.sessions() as session:
        event = await session.scalar(
            select(OrderEvent).where(OrderEvent.action == "workflow_moved")
        )
        assert event.payload == {"from_version": 1, "to_version": 2}
        log = list(await session.scalars(select(WorkflowChange.action)))
    assert log[-2:] == ["save", "move_orders"]


async def test_a_move_that_would_strand_an_order_is_refused_until_mapped(services, editor):
    shop = await make_shop(services)
    order = await make_order(services, shop, payment="card")
    await to_preparing(services, shop, order)
    await add_assembling(editor, shop, payment_methods=None)
    await editor.save(shop.id, shop.owner.id)
    await editor.move_open_orders(shop.id, shop.owner.id)
    await services.orders.apply(order.id, shop.as_user(shop.packer), "to_assembling")
    # the shop retires the stage again, while an order sits in it
    body = preset_data("marketplace")
    saved = await editor.install(shop.id, shop.owner.id, body)
    assert saved.moves.vanished == {"assembling": 1}
    refused = await _refused(editor.move_open_orders(shop.id, shop.owner.id))
    assert refused.params["statuses"] == ["assembling"]
    assert (await services.orders.get(order.id, SYSTEM)).status == "assembling"
    # mapped to a final status: refused as well
    to_final = {"assembling": "received"}
    refused = await _refused(editor.move_open_orders(shop.id, shop.owner.id, to_final))
    assert "final status" in refused.message
    moved = await editor.move_open_orders(
        shop.id, shop.owner.id, {"assembling": "preparing_shipment"}
    )
    assert moved == 1
    order = await services.orders.get(order.id, SYSTEM)
    assert (order.status, order.workflow_id) == ("preparing_shipment", saved.definition_id)
    async with services.sessions() as session:
        pending = list(
            await session.scalars(
                select(Timer.code).where(Timer.order_id == order.id, Timer.state == "pending")
            )
        )
    assert pending == []  # the stage's time limit went with it


@pytest.mark.parametrize(
    ("edit", "args", "message"),
    [
        ("add_status", ("paid", ASSEMBLING), "duplicate status code 'paid'"),
        ("add_status", ("Сборка", ASSEMBLING), "bad code 'Сборка'"),
        ("retire_status", ("awaiting_confirmation",), "is the initial status"),
        (
            "retire_status",
            ("shipped",),
            "is used by the transitions 'ship', 'ready_for_pickup', 'confirm_receipt'",
        ),
        ("move_status", ("awaiting_confirmation", -1), "cannot move further"),
        ("set_limit", ("received", "2h"), "is final"),
        ("set_limit", ("paid", "2x"), "bad duration '2x'"),
        ("rename_status", ("paid", "de", "Bezahlt"), "unknown language 'de'"),
        ("add_transition", ("go", ["paid"], "nowhere", ["manager"]), "unknown status 'nowhere'"),
    ],
)
async def test_bad_edits_are_refused_and_change_nothing(services, editor, edit, args, message):
    shop = await make_shop(services)
    before = await editor.draft(shop.id, shop.owner.id)
    refused = await _refused(editor.change(shop.id, shop.owner.id, edit, *args))
    assert refused.code is Reason.INVALID
    assert message in refused.message
    assert (await editor.draft(shop.id, shop.owner.id)).body == before.body


async def test_reorder_rename_retire(services, editor):
    shop = await make_shop(services)
    owner = shop.owner.id
    await editor.change(shop.id, owner, "move_status", "awaiting_pickup", -1)
    await editor.change(shop.id, owner, "rename_status", "paid", "uk", "Сплачено")
    await editor.change(shop.id, owner, "add_status", "spare", {"en": "Spare"})
    await editor.change(shop.id, owner, "retire_status", "spare")
    draft = await editor.draft(shop.id, owner)
    codes = [s["code"] for s in draft.body["statuses"]]
    assert codes.index("awaiting_pickup") < codes.index("shipped")
    assert "spare" not in codes
    saved = await editor.save(shop.id, owner)
    assert saved.workflow.status("paid").title["uk"] == "Сплачено"


async def test_only_the_owner_and_admins_edit(services, editor):
    shop = await make_shop(services)
    refused = await _refused(
        editor.change(shop.id, shop.manager.id, "rename_status", "paid", "en", "Money in")
    )
    assert refused.code is Reason.FORBIDDEN
    refused = await _refused(editor.draft(shop.id, shop.stranger.id))
    assert refused.code is Reason.NOT_FOUND
    refused = await _refused(editor.move_open_orders(shop.id, shop.manager.id))
    assert refused.code is Reason.FORBIDDEN


async def test_files_in_and_out(services, editor):
    shop = await make_shop(services)
    version, body = await editor.export(shop.id, None)
    assert version == 1 and parse_file(dump_file(body).encode()) == body
    body["statuses"][2]["title"]["en"] = "Money in"
    saved = await editor.install(shop.id, None, body)
    assert saved.workflow.status("paid").title["en"] == "Money in"
    refused = await _refused(editor.install(shop.id, None, body))
    assert refused.code is Reason.ALREADY


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"statuses: [\n", "cannot read the file"),
        (b"- just a list\n", "the definition must be a mapping"),
        (b"x" * (MAX_FILE_BYTES + 1), "the file is too big"),
        (b"\xff\xfe", "cannot read the file"),
    ],
)
def test_unreadable_files(data, problem):
    with pytest.raises(WorkflowProblems) as caught:
        parse_file(data, "workflow.yaml")
    assert caught.value.problems[0].startswith(problem)


async def test_bad_files_are_refused_with_every_problem(services, editor):
    shop = await make_shop(services)
    body = preset_data("marketplace")
    huge = dict(body, statuses=[{"code": f"s{i}", "title": ASSEMBLING} for i in range(10_000)])
    refused = await _refused(editor.install(shop.id, None, huge))
    assert "statuses: too many (10000): at most 100" in refused.problems
    final_out = preset_data("marketplace")
    final_out["transitions"].append(
        {"code": "reopen", "from": "received", "to": "paid", "actors": ["manager"]}
        | {"title": ASSEMBLING}
    )
    final_out["statuses"].append({"code": "paid", "title": ASSEMBLING})
    final_out["surprise"] = 1
    refused = await _refused(editor.install(shop.id, None, final_out))
    assert "transition 'reopen': leaves the final status 'received'" in refused.problems
    assert "statuses: duplicate status code 'paid'" in refused.problems
    assert "unknown field 'surprise'" in refused.problems
    assert await versions(services, shop.id) == [1]


async def test_a_preset_switch_asks_before_discarding_own_edits(services, editor):
    shop = await make_shop(services)
    settings = ShopSettingsService(services.sessions, services.clock, services.workflows)
    await editor.change(shop.id, shop.owner.id, "rename_status", "paid", "en", "Money in")
    await editor.save(shop.id, shop.owner.id)
    refused = await _refused(settings.update(shop.id, shop.owner.id, "preset", "platform"))
    assert refused.params["edits"] is True
    assert await versions(services, shop.id) == [1, 2]
    await settings.switch_preset(shop.id, shop.owner.id, "platform", discard_edits=True)
    assert await versions(services, shop.id) == [1, 2, 3]
    await settings.set_responsible(shop.id, shop.owner.id, "new", "packer")
    async with services.sessions() as session:
        log = list(await session.scalars(select(WorkflowChange.action).order_by(WorkflowChange.id)))
    assert log == ["rename_status", "save", "preset", "set_responsible"]


def test_limits_and_codes_as_typed():
    assert parse_limit("2h") == ("2h", None, "business")
    assert parse_limit("30m 2h calendar") == ("2h", "30m", "calendar")
    assert code_from("Сборка", set()) == "sborka"
    assert code_from("Сборка", {"sborka"}) == "sborka_2"
    assert code_from("42", set()) == "s_42"


async def _refused(awaitable):
    with pytest.raises((Refused, OrderRefused)) as caught:
        await awaitable
    return caught.value


async def test_transitions_timers_and_reasons_are_edited(services, editor):
    shop = await make_shop(services)
    owner = shop.owner.id
    # a courier-only shortcut to pickup, asking for a comment, confirmed, the system may take it
    await editor.change(
        shop.id,
        owner,
        "add_transition",
        "hand_to_courier",
        ["awaiting_payment"],
        "awaiting_pickup",
        ["manager", "system"],
        title={"en": "Hand to the courier"},
        confirm=True,
        inputs=["comment"],
        guards={"delivery_method": ["courier"]},
    )
    await editor.change(
        shop.id, owner, "add_timer", "nudge_shop", "awaiting_confirmation", "2h", to="shop",
        message="payment_reminder",
    )  # fmt: skip
    await editor.change(shop.id, owner, "add_reason", "wrong_size", {"en": "Wrong size"})
    await editor.change(shop.id, owner, "set_reason_comment", "wrong_size", True)
    await editor.change(shop.id, owner, "remove_timer", "auto_pickup")
    saved = await editor.save(shop.id, owner)
    workflow = saved.workflow
    shortcut = next(t for t in workflow.transitions if t.code == "hand_to_courier")
    assert (shortcut.confirm, shortcut.system, shortcut.staff_roles) == (
        True,
        True,
        frozenset({"manager"}),
    )
    assert shortcut.title == {"ru": "Hand to the courier"} | {
        "uk": "Hand to the courier",
        "en": "Hand to the courier",
    }
    assert [g.field for g in shortcut.guards] == ["delivery_method"]
    assert [t.code for t in workflow.timers_for("awaiting_confirmation")] == ["nudge_shop"]
    assert workflow.timers_for("awaiting_pickup") == []
    assert workflow.reason("wrong_size").comment_required
    # the engine follows it: a courier order may take it, a post order may not
    courier = await make_order(services, shop, payment="card", delivery="courier")
    manager = shop.as_user(shop.manager)
    await services.orders.apply(courier.id, manager, "confirm")
    codes = [a.code for a in await services.orders.actions(courier.id, manager)]
    assert "hand_to_courier" in codes
    post = await make_order(services, shop, payment="card", delivery="post")
    await services.orders.apply(post.id, manager, "confirm")
    offered = await services.orders.actions(post.id, manager)
    assert "hand_to_courier" not in [a.code for a in offered]
    # and the transition is removed again
    index = next(
        i
        for i, t in enumerate((await editor.draft(shop.id, owner)).body["transitions"])
        if t["code"] == "hand_to_courier"
    )
    await editor.change(shop.id, owner, "remove_transition", index)
    assert "hand_to_courier" not in [
        t["code"] for t in (await editor.draft(shop.id, owner)).body["transitions"]
    ]


async def test_a_timer_counted_in_business_hours_skips_the_night_and_the_weekend(services, editor):
    # given a Moscow shop (working Mon–Fri until 20:00) whose new orders get a reminder after
    # 2 business hours, and one after 2 hours of the clock
    friday_19 = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # 19:00 in Moscow
    services.clock.set(friday_19)
    shop = await make_shop(services, "platform")
    owner = shop.owner.id
    for code, business in (("nudge_business", True), ("nudge_clock", False)):
        await editor.change(
            shop.id, owner, "add_timer", code, "new", "2h",
            to="shop", message="pickup_not_collected", business=business,
        )  # fmt: skip
    await editor.save(shop.id, owner)

    # when an order arrives on Friday at 19:00
    order = await make_order(services, shop)

    # then one hour is left on Friday: the business one is due Monday 10:00, the other at 21:00
    async with services.sessions() as session:
        query = select(Timer.code, Timer.due_at).where(Timer.order_id == order.id)
        due = dict((await session.execute(query)).all())
    monday_10 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert as_utc(due["nudge_business"]) == monday_10
    assert as_utc(due["nudge_clock"]) == friday_19 + timedelta(hours=2)


def as_utc(moment: datetime) -> datetime:
    """SQLite gives back naive UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def test_a_responsible_role_set_from_settings_keeps_the_draft_under_way(services, editor):
    # given an owner half-way through adding a stage in /settings → Statuses
    shop = await make_shop(services, "platform")
    owner = shop.owner.id
    await editor.change(shop.id, owner, "add_status", "assembling", ASSEMBLING)

    # when the responsible role of another status is set from "👤 Responsible staff per status"
    settings = ShopSettingsService(services.sessions, services.clock, services.workflows)
    await settings.set_responsible(shop.id, owner, "confirmed", "manager")

    # then the draft still has the new stage, the role too, and builds on the new version
    draft = await editor.draft(shop.id, owner)
    statuses = {raw["code"]: raw for raw in draft.body["statuses"]}
    assert "assembling" in statuses
    assert statuses["confirmed"]["responsible"] == "manager"
    assert await versions(services, shop.id) == [1, 2]
