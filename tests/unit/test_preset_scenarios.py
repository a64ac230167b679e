"""Each preset walked through its seed's lifecycle with the engine alone (A2, A4, B1, F2)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.vocabulary import NON_CASH_PAYMENT_METHODS
from services.workflow.definition import Audience, Effect, TimerKind, Workflow
from services.workflow.engine import (
    Actor,
    Applied,
    OrderFacts,
    Refusal,
    Refused,
    available_actions,
    decide,
    open_action,
)
from services.workflow.presets import PRESETS, load_preset

NOW = datetime(2025, 3, 4, 18, 0, tzinfo=UTC)

OWNER = Actor.staff("owner")
MANAGER = Actor.staff("manager")
PACKER = Actor.staff("packer")
COURIER = Actor.staff("courier")
ACCOUNTANT = Actor.staff("accountant")
BUYER = Actor.buyer()
SYSTEM = Actor.system()

SHIPPING = {"carrier": "Nova Poshta", "track_code": "20450012345678"}


class Walk:
    """An order moved through a workflow by the engine alone, as the order service would."""

    def __init__(self, workflow: Workflow, **facts: str | None):
        self.workflow = workflow
        self.facts = OrderFacts(status=workflow.initial.code, **facts)
        self.statuses = [self.facts.status]
        self.effects: list[Effect] = []
        self.timers = ()

    @property
    def status(self) -> str:
        return self.facts.status

    def do(self, actor: Actor, action: str, inputs: dict | None = None) -> Applied:
        decision = decide(self.workflow, self.facts, actor, action, inputs, NOW)
        assert isinstance(decision, Applied), decision
        self.facts = replace(self.facts, status=decision.final_status)
        self.statuses.extend(step.to_status for step in decision.steps)
        self.effects.extend(decision.effects)
        self.timers = decision.timers
        return decision

    def refuse(self, actor: Actor, action: str, inputs: dict | None = None) -> Refused:
        decision = decide(self.workflow, self.facts, actor, action, inputs, NOW)
        assert isinstance(decision, Refused), decision
        return decision

    def timer(self, code: str):
        return next(t for t in self.timers if t.code == code)


# -- marketplace (000) ----------------------------------------------------------------------

MARKETPLACE = load_preset("marketplace")


def test_marketplace_an_in_stock_parcel_from_order_to_review():
    # given
    walk = Walk(MARKETPLACE, payment_method="card", delivery_method="post", availability="in_stock")

    # when
    walk.do(MANAGER, "confirm")
    walk.do(ACCOUNTANT, "mark_paid")
    walk.do(PACKER, "ship", SHIPPING)
    walk.do(BUYER, "confirm_receipt")

    # then
    assert walk.statuses == [
        "awaiting_confirmation",
        "awaiting_payment",
        "paid",
        "preparing_shipment",
        "shipped",
        "received",
    ]
    assert walk.effects == [
        Effect.RESERVE_INCOME,  # 004: paid -> the income is reserved
        Effect.TRACK_PARCEL,
        Effect.CREDIT_INCOME,  # received -> credited
        Effect.REQUEST_REVIEW,
    ]


def test_marketplace_a_made_to_order_pickup():
    # given
    walk = Walk(
        MARKETPLACE, payment_method="cash", delivery_method="pickup", availability="made_to_order"
    )

    # when
    walk.do(MANAGER, "confirm")
    walk.do(MANAGER, "mark_paid")
    walk.do(PACKER, "ready_for_pickup")
    walk.do(BUYER, "confirm_pickup")

    # then
    assert walk.statuses == [
        "awaiting_confirmation",
        "awaiting_payment",
        "paid",
        "in_progress",
        "awaiting_pickup",
        "picked_up",
    ]
    assert walk.effects == [Effect.RESERVE_INCOME, Effect.CREDIT_INCOME, Effect.REQUEST_REVIEW]


def test_marketplace_cash_on_delivery_is_paid_at_once():
    # given
    walk = Walk(MARKETPLACE, payment_method="cash_on_delivery", availability="in_stock")

    # when
    walk.do(MANAGER, "confirm")

    # then
    assert walk.statuses == [
        "awaiting_confirmation",
        "awaiting_payment",
        "paid",
        "preparing_shipment",
    ]


@pytest.mark.parametrize("status", ["awaiting_confirmation", "awaiting_payment"])
def test_marketplace_either_side_cancels_before_payment(status):
    # given
    order = OrderFacts(status=status, payment_method="card")

    # when
    by_buyer = decide(MARKETPLACE, order, BUYER, "cancel", {"reason": "changed_mind"}, NOW)
    by_shop = decide(MARKETPLACE, order, MANAGER, "cancel", {"reason": "out_of_stock"}, NOW)

    # then
    assert by_buyer.applied and by_buyer.final_status == "cancelled"
    assert by_shop.applied and by_shop.final_status == "cancelled"


def test_marketplace_no_cancellation_after_payment():
    # given
    walk = Walk(MARKETPLACE, payment_method="card", availability="in_stock")
    walk.do(MANAGER, "confirm")
    walk.do(ACCOUNTANT, "mark_paid")

    # when
    by_buyer = walk.refuse(BUYER, "cancel", {"reason": "changed_mind"})
    by_owner = walk.refuse(OWNER, "cancel", {"reason": "out_of_stock"})

    # then
    assert by_buyer.code is Refusal.NOT_AVAILABLE
    assert by_owner.code is Refusal.NOT_AVAILABLE
    assert "cancel" not in [a.code for a in available_actions(MARKETPLACE, walk.facts, OWNER)]


def test_marketplace_only_the_buyer_moves_a_shipped_order():
    # given
    walk = Walk(MARKETPLACE, payment_method="card", availability="in_stock")
    walk.do(MANAGER, "confirm")
    walk.do(ACCOUNTANT, "mark_paid")
    walk.do(PACKER, "ship", SHIPPING)

    # when
    shop_options = available_actions(MARKETPLACE, walk.facts, OWNER)
    buyer_options = available_actions(MARKETPLACE, walk.facts, BUYER)

    # then
    assert shop_options == []
    assert [a.code for a in buyer_options] == ["confirm_receipt"]


def test_marketplace_not_paid_after_three_days():
    # given
    walk = Walk(MARKETPLACE, payment_method="bank_transfer", availability="in_stock")
    walk.do(MANAGER, "confirm")
    deadline = walk.timer("payment_deadline")
    reminder = walk.timer("payment_reminder")

    # when
    walk.do(SYSTEM, deadline.action)

    # then
    assert deadline.due_at == NOW + timedelta(days=3)
    assert (reminder.kind, reminder.to) == (TimerKind.REMINDER, Audience.BUYER)
    assert reminder.due_at < deadline.due_at
    assert walk.status == "not_paid"
    assert walk.timers == ()


def test_marketplace_received_35_days_after_shipping():
    # given
    walk = Walk(MARKETPLACE, payment_method="card", delivery_method="post", availability="in_stock")
    walk.do(MANAGER, "confirm")
    walk.do(ACCOUNTANT, "mark_paid")
    walk.do(PACKER, "ship", SHIPPING)
    timer = walk.timer("auto_receive")

    # when
    walk.do(SYSTEM, timer.action)

    # then
    assert timer.due_at == NOW + timedelta(days=35)
    assert walk.status == "received"
    assert walk.effects[-1] is Effect.REQUEST_REVIEW


def test_marketplace_picked_up_5_days_after_awaiting_pickup():
    # given
    walk = Walk(
        MARKETPLACE, payment_method="cash", delivery_method="pickup", availability="in_stock"
    )
    walk.do(MANAGER, "confirm")
    walk.do(MANAGER, "mark_paid")
    walk.do(PACKER, "ready_for_pickup")
    timer = walk.timer("auto_pickup")

    # when
    walk.do(SYSTEM, timer.action)

    # then
    assert timer.due_at == NOW + timedelta(days=5)
    assert walk.status == "picked_up"


# -- stages (001) ---------------------------------------------------------------------------

STAGES = load_preset("stages")

# Who does the work of each stage in these walks.
STAGE_WORKERS = {
    "new": MANAGER,
    "call": MANAGER,
    "packing": PACKER,
    "courier_call": COURIER,
    "awaiting_payment": ACCOUNTANT,
    "courier_delivery": COURIER,
    "post_delivery": MANAGER,
    "cash_deposit": ACCOUNTANT,
}

CARD = "card"
CASH = "cash"


def walk_stages(payment_method: str | None, delivery_method: str | None) -> Walk:
    """Move the order on by the one button its stage's worker has, until it is completed."""
    walk = Walk(STAGES, payment_method=payment_method, delivery_method=delivery_method)
    while not STAGES.status(walk.status).is_final:
        worker = STAGE_WORKERS[walk.status]
        assert STAGES.status(walk.status).responsible in (worker.roles | {"manager"})
        options = [a for a in available_actions(STAGES, walk.facts, worker) if a.code != "cancel"]
        assert len(options) == 1, (walk.status, options)
        walk.do(worker, options[0].code)
    return walk


@pytest.mark.parametrize(
    ("payment", "delivery", "path"),
    [
        (CASH, "courier", ["courier_call", "courier_delivery", "cash_deposit"]),
        ("cash_on_delivery", "courier", ["courier_call", "courier_delivery", "cash_deposit"]),
        (CARD, "courier", ["courier_call", "awaiting_payment", "courier_delivery"]),
        ("online", "courier", ["courier_call", "awaiting_payment", "courier_delivery"]),
        ("cash_on_delivery", "post", ["post_delivery", "cash_deposit"]),
        ("cash_on_delivery", "carrier", ["post_delivery", "cash_deposit"]),
        ("bank_transfer", "post", ["awaiting_payment", "post_delivery"]),
        (CARD, "carrier", ["awaiting_payment", "post_delivery"]),
        (CASH, "pickup", ["cash_deposit"]),
        (CARD, "pickup", ["awaiting_payment"]),
        ("bank_transfer", "pickup", ["awaiting_payment"]),
        (None, None, ["post_delivery", "cash_deposit"]),
    ],
)
def test_stages_each_order_takes_its_path(payment, delivery, path):
    # given / when
    walk = walk_stages(payment, delivery)

    # then
    assert walk.statuses == ["new", "call", "packing", *path, "completed"]


@pytest.mark.parametrize("payment", ["cash", "cash_on_delivery", "card", "bank_transfer", "online"])
def test_stages_pickup_skips_the_delivery_stages(payment):
    # given / when
    walk = walk_stages(payment, "pickup")

    # then
    assert not {"courier_call", "courier_delivery", "post_delivery"} & set(walk.statuses)


@pytest.mark.parametrize("delivery", ["pickup", "courier", "post", "carrier"])
@pytest.mark.parametrize("payment", ["cash", "cash_on_delivery", "card", "bank_transfer", "online"])
def test_stages_awaiting_payment_only_for_non_cash(payment, delivery):
    # given / when
    walk = walk_stages(payment, delivery)

    # then
    non_cash = payment in NON_CASH_PAYMENT_METHODS
    assert ("awaiting_payment" in walk.statuses) is non_cash
    assert ("cash_deposit" in walk.statuses) is not non_cash


def test_stages_every_working_stage_has_a_responsible_role_and_a_limit():
    # given
    working = [s for s in STAGES.statuses if not s.is_final]

    # when
    missing = [s.code for s in working if s.responsible is None or s.sla is None]

    # then
    assert missing == []
    assert all(s.sla.excellent <= s.sla.acceptable for s in working)


def test_stages_a_packer_cannot_mark_payment_and_a_courier_cannot_pack():
    # given
    awaiting_payment = OrderFacts("awaiting_payment", payment_method=CARD, delivery_method="post")
    packing = OrderFacts("packing", payment_method=CARD, delivery_method="post")

    # when
    paid_by_packer = decide(STAGES, awaiting_payment, PACKER, "mark_paid", {}, NOW)
    packed_by_courier = decide(STAGES, packing, COURIER, "pack", {}, NOW)

    # then
    assert paid_by_packer.code is Refusal.FORBIDDEN
    assert packed_by_courier.code is Refusal.FORBIDDEN


def test_stages_cancellation_by_the_buyer_until_delivery_then_by_the_shop():
    # given
    packing = OrderFacts("packing", payment_method=CASH, delivery_method="courier")
    delivering = OrderFacts("courier_delivery", payment_method=CASH, delivery_method="courier")
    changed_mind = {"reason": "changed_mind"}
    refused = {"reason": "buyer_refused"}

    # when
    buyer_early = decide(STAGES, packing, BUYER, "cancel", changed_mind, NOW)
    buyer_late = decide(STAGES, delivering, BUYER, "cancel", changed_mind, NOW)
    shop_late = decide(STAGES, delivering, MANAGER, "cancel", refused, NOW)
    shop_early = decide(STAGES, packing, MANAGER, "cancel", refused, NOW)

    # then
    assert buyer_early.final_status == "cancelled"
    assert buyer_late.code is Refusal.FORBIDDEN
    assert shop_late.final_status == "cancelled"
    assert shop_early.code is Refusal.INPUT_INVALID  # refused at the door: only when delivering


def test_stages_items_change_during_the_call_only():
    # given
    workflow = STAGES

    # when
    editable = [s.code for s in workflow.statuses if workflow.may_edit("items", s.code)]

    # then
    assert editable == ["new", "call"]
    assert workflow.may_edit("delivery", "packing")
    assert not workflow.may_edit("delivery", "courier_delivery")


# -- platform (003) -------------------------------------------------------------------------

PLATFORM = load_preset("platform")


def test_platform_a_carrier_parcel_from_opening_to_delivery():
    # given
    walk = Walk(PLATFORM, payment_method="cash_on_delivery", delivery_method="carrier")

    # when
    walk.do(MANAGER, open_action(PLATFORM, walk.facts, MANAGER))
    walk.do(MANAGER, "confirm")
    walk.do(PACKER, "pack")
    shipped = walk.do(COURIER, "ship", {"carrier": "Nova Poshta", "track_code": "2045 0012 3456"})
    walk.do(SYSTEM, "deliver")

    # then
    assert walk.statuses == [
        "new",
        "requires_agreement",
        "confirmed",
        "awaiting_shipment",
        "delivering",
        "received",
    ]
    assert shipped.inputs["track_code"] == "204500123456"
    assert walk.effects == [Effect.TRACK_PARCEL, Effect.CREDIT_INCOME, Effect.REQUEST_REVIEW]


def test_platform_new_and_accepted_orders_have_the_seed_limits():
    # given
    new, accepted = PLATFORM.status("new"), PLATFORM.status("requires_agreement")

    # when
    limits = [(s.sla.excellent, s.sla.acceptable) for s in (new, accepted)]

    # then
    assert limits == [
        (timedelta(minutes=60), timedelta(hours=3)),
        (timedelta(minutes=60), timedelta(hours=6)),
    ]


def test_platform_the_carrier_needs_a_waybill():
    # given
    awaiting_shipment = OrderFacts("awaiting_shipment", delivery_method="post")

    # when
    without_track = decide(
        PLATFORM, awaiting_shipment, PACKER, "ship", {"carrier": "Ukrposhta"}, NOW
    )
    without_carrier = decide(
        PLATFORM, awaiting_shipment, PACKER, "ship", {"track_code": "RR1"}, NOW
    )

    # then
    assert without_track.code is Refusal.INPUT_MISSING
    assert without_track.params == {"input": "track_code"}
    assert without_carrier.code is Refusal.INPUT_MISSING
    assert without_carrier.params == {"input": "carrier"}


def test_platform_a_pickup_with_a_reminder_after_three_days():
    # given
    walk = Walk(PLATFORM, payment_method="cash", delivery_method="pickup")
    walk.do(MANAGER, "accept")
    walk.do(MANAGER, "confirm")
    walk.do(PACKER, "pack")

    # when
    walk.do(PACKER, "ready_for_pickup")
    reminder = walk.timer("pickup_reminder")
    walk.do(MANAGER, "hand_over")

    # then
    assert walk.statuses[-2:] == ["awaiting_pickup", "received"]
    assert (reminder.kind, reminder.to) == (TimerKind.REMINDER, Audience.SHOP)
    assert reminder.due_at == NOW + timedelta(days=3)
    assert reminder.message


def test_platform_own_courier_delivery_is_set_received_by_the_shop():
    # given
    walk = Walk(PLATFORM, payment_method="cash", delivery_method="courier")
    walk.do(MANAGER, "accept")
    walk.do(MANAGER, "confirm")
    walk.do(PACKER, "pack")

    # when
    options = [a.code for a in available_actions(PLATFORM, walk.facts, COURIER)]
    walk.do(COURIER, "hand_over")

    # then
    assert "ship" not in options and "ready_for_pickup" not in options
    assert walk.status == "received"


def test_platform_no_item_edits_after_agreement():
    # given
    walk = Walk(PLATFORM, payment_method="card", delivery_method="post")
    walk.do(MANAGER, "accept")
    during = PLATFORM.may_edit("items", walk.status)

    # when
    walk.do(MANAGER, "confirm")

    # then
    assert during
    assert not PLATFORM.may_edit("items", walk.status)
    assert not PLATFORM.may_edit("items", "new")


def test_platform_delivery_payment_and_split_until_shipping():
    # given
    before = ["new", "requires_agreement", "confirmed", "awaiting_shipment"]
    after = ["delivering", "awaiting_pickup", "received", "cancelled"]

    # when / then
    for kind in ("delivery", "payment", "split"):
        assert all(PLATFORM.may_edit(kind, status) for status in before), kind
        assert not any(PLATFORM.may_edit(kind, status) for status in after), kind


@pytest.mark.parametrize(
    "status",
    [
        "new",
        "requires_agreement",
        "confirmed",
        "awaiting_shipment",
        "delivering",
        "awaiting_pickup",
    ],
)
def test_platform_the_buyer_cancels_at_any_moment_until_received(status):
    # given
    order = OrderFacts(status=status, delivery_method="post")

    # when
    decision = decide(PLATFORM, order, BUYER, "cancel", {"reason": "changed_mind"}, NOW)

    # then
    assert decision.applied and decision.final_status == "cancelled"


def test_platform_the_buyer_cannot_cancel_once_received():
    # given
    order = OrderFacts(status="received")

    # when
    decision = decide(PLATFORM, order, BUYER, "cancel", {"reason": "changed_mind"}, NOW)

    # then
    assert decision.code is Refusal.ORDER_CLOSED


@pytest.mark.parametrize(
    ("status", "reason", "allowed"),
    [
        ("requires_agreement", "out_of_stock", True),
        ("awaiting_shipment", "out_of_stock", True),
        ("requires_agreement", "cannot_reach_buyer", True),
        ("requires_agreement", "buyer_changed_mind", False),
        ("confirmed", "buyer_changed_mind", False),
        ("awaiting_pickup", "buyer_changed_mind", True),
        ("requires_agreement", "buyer_did_not_collect", False),
        ("awaiting_pickup", "buyer_did_not_collect", True),
        ("requires_agreement", "changed_mind", False),  # the buyer's own reason
    ],
)
def test_platform_the_shop_cancels_with_a_reason_fit_for_the_status(status, reason, allowed):
    # given
    order = OrderFacts(status=status, delivery_method="pickup")

    # when
    decision = decide(PLATFORM, order, MANAGER, "cancel", {"reason": reason}, NOW)

    # then
    assert decision.applied is allowed
    if not allowed:
        assert decision.code is Refusal.INPUT_INVALID


def test_platform_other_reasons_need_a_comment():
    # given
    order = OrderFacts(status="confirmed")

    # when
    without = decide(PLATFORM, order, MANAGER, "cancel", {"reason": "other"}, NOW)
    given = decide(PLATFORM, order, MANAGER, "cancel", {"reason": "other", "comment": "flood"}, NOW)

    # then
    assert without.code is Refusal.INPUT_MISSING
    assert given.applied


def test_platform_the_tracker_reports_a_refusal_at_the_carriers_branch():
    # given
    order = OrderFacts(status="delivering", delivery_method="carrier")

    # when
    decision = decide(PLATFORM, order, SYSTEM, "cancel", {"reason": "buyer_changed_mind"}, NOW)

    # then
    assert decision.applied and decision.final_status == "cancelled"


def test_platform_split_reasons_follow_the_seed():
    # given
    codes = [r.code for r in PLATFORM.split_reasons]

    # when
    other = next(r for r in PLATFORM.split_reasons if r.code == "other")

    # then
    assert codes == [
        "different_warehouses",
        "different_lead_times",
        "carrier_limits",
        "different_pickup_points",
        "other",
    ]
    assert other.comment_required


# -- reseller (004) -------------------------------------------------------------------------

RESELLER = load_preset("reseller")


def reseller_walk(*steps: str) -> Walk:
    """A reseller order taken through the named steps by the usual actors."""
    actors = {"mark_paid": SYSTEM, "ship": PACKER, "fulfil": MANAGER}
    walk = Walk(RESELLER, payment_method="online", delivery_method="post")
    for action in steps:
        walk.do(actors[action], action)
    return walk


def test_reseller_income_is_reserved_on_payment_and_credited_on_confirmation():
    # given
    walk = reseller_walk("mark_paid", "ship", "fulfil")

    # when
    walk.do(BUYER, "confirm_receipt")

    # then
    assert walk.statuses == ["awaiting_payment", "paid", "shipped", "fulfilled", "confirmed"]
    assert walk.effects == [Effect.RESERVE_INCOME, Effect.CREDIT_INCOME, Effect.REQUEST_REVIEW]


def test_reseller_the_accountant_may_record_the_payment_by_hand():
    # given
    walk = Walk(RESELLER, payment_method="bank_transfer")

    # when
    decision = walk.do(ACCOUNTANT, "mark_paid")
    by_manager = decide(RESELLER, OrderFacts("awaiting_payment"), MANAGER, "mark_paid", {}, NOW)

    # then
    assert decision.effects == (Effect.RESERVE_INCOME,)
    assert by_manager.code is Refusal.FORBIDDEN


def test_reseller_completed_15_days_after_fulfilment():
    # given
    walk = reseller_walk("mark_paid", "ship", "fulfil")
    timer = walk.timer("auto_complete")

    # when
    walk.do(SYSTEM, timer.action)

    # then
    assert timer.due_at == NOW + timedelta(days=15)
    assert walk.status == "completed"
    assert walk.effects == [Effect.RESERVE_INCOME, Effect.CREDIT_INCOME, Effect.REQUEST_REVIEW]


def test_reseller_only_the_system_completes():
    # given
    walk = reseller_walk("mark_paid", "ship", "fulfil")

    # when
    by_owner = walk.refuse(OWNER, "complete")
    by_buyer = walk.refuse(BUYER, "complete")

    # then
    assert by_owner.code is Refusal.FORBIDDEN
    assert by_buyer.code is Refusal.FORBIDDEN


def test_reseller_cancelling_an_unpaid_order_moves_no_money():
    # given
    walk = reseller_walk()

    # when
    decision = walk.do(BUYER, "cancel", {"reason": "changed_mind"})

    # then
    assert walk.status == "cancelled"
    assert decision.effects == ()


def test_reseller_cancelling_before_shipping_refunds_goods_and_delivery():
    # given
    walk = reseller_walk("mark_paid")

    # when
    decision = walk.do(MANAGER, "cancel", {"reason": "out_of_stock"})

    # then the money goes back, and the shop is reminded to fix its stock
    assert decision.effects == (Effect.REFUND_GOODS, Effect.REFUND_DELIVERY, Effect.FIX_STOCK)


@pytest.mark.parametrize("steps", [("mark_paid", "ship"), ("mark_paid", "ship", "fulfil")])
def test_reseller_cancelling_after_shipping_keeps_delivery_and_compensates_the_shop(steps):
    # given
    walk = reseller_walk(*steps)

    # when
    decision = walk.do(BUYER, "cancel", {"reason": "not_received"})

    # then
    assert decision.effects == (Effect.REFUND_GOODS, Effect.COMPENSATE_DELIVERY)
    assert Effect.REFUND_DELIVERY not in decision.effects
    assert walk.timers == ()


def test_reseller_the_shop_cannot_cancel_what_it_has_fulfilled():
    # given
    walk = reseller_walk("mark_paid", "ship", "fulfil")

    # when
    decision = walk.refuse(MANAGER, "cancel", {"reason": "other", "comment": "return"})

    # then
    assert decision.code is Refusal.FORBIDDEN


def test_reseller_no_cancellation_after_the_buyer_confirms():
    # given
    walk = reseller_walk("mark_paid", "ship", "fulfil")
    walk.do(BUYER, "confirm_receipt")

    # when
    decision = walk.refuse(BUYER, "cancel", {"reason": "changed_mind"})

    # then
    assert decision.code is Refusal.ORDER_CLOSED
    assert available_actions(RESELLER, walk.facts, BUYER) == []


def test_reseller_a_service_is_fulfilled_without_shipping():
    # given
    walk = reseller_walk("mark_paid")

    # when
    walk.do(MANAGER, "fulfil")
    walk.do(BUYER, "confirm_receipt")

    # then
    assert walk.statuses == ["awaiting_payment", "paid", "fulfilled", "confirmed"]


def test_reseller_every_way_to_a_final_success_credits_the_income_once():
    # given
    successes = {s.code for s in RESELLER.statuses if s.kind.value == "final_success"}

    # when
    into_success = [t for t in RESELLER.transitions if t.target in successes]

    # then
    assert into_success
    assert all(t.effects == (Effect.CREDIT_INCOME, Effect.REQUEST_REVIEW) for t in into_success)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_way_to_a_final_success_asks_the_buyer_for_a_rating(preset: str) -> None:
    """Issue 22: not only the marketplace's "received" asks for stars (F3)."""
    from services.workflow.definition import StatusKind

    workflow = load_preset(preset)
    silent = [
        f"{transition.code} -> {transition.target}"
        for transition in workflow.transitions
        if workflow.status(transition.target).kind is StatusKind.FINAL_SUCCESS
        and Effect.REQUEST_REVIEW not in transition.effects
    ]
    assert not silent, f"{preset}: these end the order well but ask for no rating: {silent}"
