"""The pure workflow engine: decide(), available_actions(), open_action() (A1, A5, C3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.workflow.definition import ActorKind, Effect, Input, TimerKind
from services.workflow.engine import (
    Actor,
    Applied,
    OrderFacts,
    Refusal,
    Refused,
    available_actions,
    decide,
    initial_timers,
    open_action,
    reasons_for,
)
from services.workflow.presets import load_preset

NOW = datetime(2025, 3, 4, 18, 0, tzinfo=UTC)
MARKETPLACE = load_preset("marketplace")
PLATFORM = load_preset("platform")

MANAGER = Actor.staff("manager")
PACKER = Actor.staff("packer")
ACCOUNTANT = Actor.staff("accountant")
BUYER = Actor.buyer()
SYSTEM = Actor.system()
NOBODY = Actor()

SHIPPING = {"carrier": "Nova Poshta", "track_code": "20450012345678"}


def order(status: str, **facts: str) -> OrderFacts:
    defaults = {"payment_method": "card", "delivery_method": "post", "availability": "in_stock"}
    return OrderFacts(status=status, **{**defaults, **facts})


def applied(decision) -> Applied:
    assert isinstance(decision, Applied), decision
    return decision


def refused(decision) -> Refused:
    assert isinstance(decision, Refused), decision
    return decision


# -- guards ---------------------------------------------------------------------------------


def test_cash_on_delivery_is_paid_and_prepared_right_after_confirmation():
    # given
    facts = order("awaiting_confirmation", payment_method="cash_on_delivery")

    # when
    decision = applied(decide(MARKETPLACE, facts, MANAGER, "confirm", {}, NOW))

    # then
    assert [(s.from_status, s.to_status) for s in decision.steps] == [
        ("awaiting_confirmation", "awaiting_payment"),
        ("awaiting_payment", "paid"),
        ("paid", "preparing_shipment"),
    ]
    assert decision.final_status == "preparing_shipment"


def test_a_card_order_waits_for_payment_after_confirmation():
    # given
    facts = order("awaiting_confirmation", payment_method="card")

    # when
    decision = applied(decide(MARKETPLACE, facts, MANAGER, "confirm", {}, NOW))

    # then
    assert decision.final_status == "awaiting_payment"
    assert len(decision.steps) == 1


def test_a_made_to_order_order_goes_in_progress_when_paid():
    # given
    facts = order("awaiting_payment", availability="made_to_order")

    # when
    decision = applied(decide(MARKETPLACE, facts, ACCOUNTANT, "mark_paid", {}, NOW))

    # then
    assert [s.to_status for s in decision.steps] == ["paid", "in_progress"]


def test_an_in_stock_order_goes_to_preparing_shipment_when_paid():
    # given
    facts = order("awaiting_payment", availability="in_stock")

    # when
    decision = applied(decide(MARKETPLACE, facts, ACCOUNTANT, "mark_paid", {}, NOW))

    # then
    assert [s.to_status for s in decision.steps] == ["paid", "preparing_shipment"]


def test_a_pickup_order_cannot_be_shipped():
    # given
    facts = order("preparing_shipment", delivery_method="pickup")

    # when
    decision = refused(decide(MARKETPLACE, facts, MANAGER, "ship", SHIPPING, NOW))

    # then
    assert decision.code is Refusal.NOT_FOR_THIS_ORDER


def test_the_buttons_follow_the_guards():
    # given
    by_post = order("preparing_shipment", delivery_method="post")
    pickup = order("preparing_shipment", delivery_method="pickup")

    # when
    post_codes = [a.code for a in available_actions(MARKETPLACE, by_post, MANAGER)]
    pickup_codes = [a.code for a in available_actions(MARKETPLACE, pickup, MANAGER)]

    # then
    assert post_codes == ["ship"]
    assert pickup_codes == ["ready_for_pickup"]


def test_automatic_transitions_are_never_buttons():
    # given
    facts = order("awaiting_payment", payment_method="cash_on_delivery")

    # when
    codes = [a.code for a in available_actions(MARKETPLACE, facts, SYSTEM)]

    # then
    assert "accept_cash_on_delivery" not in codes
    # "paid" is the system's too: a payment provider's confirmed payment (issue 17)
    assert codes == ["mark_paid", "expire_payment"]


# -- who may do what ------------------------------------------------------------------------


def test_a_packer_cannot_confirm_an_order():
    # given
    facts = order("awaiting_confirmation")

    # when
    decision = refused(decide(MARKETPLACE, facts, PACKER, "confirm", {}, NOW))

    # then
    assert decision.code is Refusal.FORBIDDEN
    assert available_actions(MARKETPLACE, facts, PACKER) == []


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_the_owner_and_admins_may_take_any_staff_action(role):
    # given
    boss = Actor.staff(role)
    cases = [
        ("awaiting_confirmation", "confirm", {}),
        ("awaiting_payment", "mark_paid", {}),
        ("preparing_shipment", "ship", SHIPPING),
    ]

    # when
    decisions = [decide(MARKETPLACE, order(s), boss, a, i, NOW) for s, a, i in cases]

    # then
    assert all(isinstance(d, Applied) for d in decisions)
    assert all(d.steps[0].capacity is ActorKind.STAFF for d in decisions)


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_the_owner_may_not_take_buyer_or_system_actions(role):
    # given
    boss = Actor.staff(role)

    # when
    receipt = refused(decide(MARKETPLACE, order("shipped"), boss, "confirm_receipt", {}, NOW))
    expiry = refused(
        decide(MARKETPLACE, order("awaiting_payment"), boss, "expire_payment", {}, NOW)
    )

    # then
    assert receipt.code is Refusal.FORBIDDEN
    assert expiry.code is Refusal.FORBIDDEN


def test_the_buyer_takes_only_buyer_actions():
    # given
    shipped = order("shipped")

    # when
    receipt = applied(decide(MARKETPLACE, shipped, BUYER, "confirm_receipt", {}, NOW))
    confirm = refused(
        decide(MARKETPLACE, order("awaiting_confirmation"), BUYER, "confirm", {}, NOW)
    )
    mark_paid = refused(decide(MARKETPLACE, order("awaiting_payment"), BUYER, "mark_paid", {}, NOW))

    # then
    assert receipt.steps[0].capacity is ActorKind.BUYER
    assert receipt.effects == (Effect.CREDIT_INCOME, Effect.REQUEST_REVIEW)
    assert confirm.code is Refusal.FORBIDDEN
    assert mark_paid.code is Refusal.FORBIDDEN
    assert [a.code for a in available_actions(MARKETPLACE, shipped, BUYER)] == ["confirm_receipt"]


def test_the_system_takes_only_system_actions():
    # given
    awaiting_payment = order("awaiting_payment")

    # when
    expiry = applied(decide(MARKETPLACE, awaiting_payment, SYSTEM, "expire_payment", {}, NOW))
    # a payment provider's confirmed payment is the system's "paid" (issue 17)
    mark_paid = applied(decide(MARKETPLACE, awaiting_payment, SYSTEM, "mark_paid", {}, NOW))
    cancel = refused(
        decide(MARKETPLACE, awaiting_payment, SYSTEM, "cancel", {"reason": "out_of_stock"}, NOW)
    )

    # then
    assert expiry.final_status == "not_paid"
    assert expiry.steps[0].capacity is ActorKind.SYSTEM
    assert mark_paid.final_status == "preparing_shipment"
    assert mark_paid.steps[0].capacity is ActorKind.SYSTEM
    assert cancel.code is Refusal.FORBIDDEN


def test_someone_with_no_role_may_do_nothing():
    # given
    facts = order("awaiting_confirmation")

    # when
    decision = refused(decide(MARKETPLACE, facts, NOBODY, "confirm", {}, NOW))

    # then
    assert decision.code is Refusal.FORBIDDEN
    assert available_actions(MARKETPLACE, facts, NOBODY) == []


def test_a_buyer_who_is_also_staff_acts_as_staff():
    # given
    both = Actor(roles=frozenset({"manager"}), is_buyer=True)

    # when
    decision = applied(
        decide(
            MARKETPLACE, order("awaiting_payment"), both, "cancel", {"reason": "out_of_stock"}, NOW
        )
    )

    # then
    assert decision.steps[0].capacity is ActorKind.STAFF


# -- refusals -------------------------------------------------------------------------------


def test_a_repeated_action_is_already_done():
    # given
    first = applied(
        decide(MARKETPLACE, order("awaiting_confirmation"), MANAGER, "confirm", {}, NOW)
    )

    # when
    again = refused(decide(MARKETPLACE, order(first.final_status), MANAGER, "confirm", {}, NOW))

    # then
    assert again.code is Refusal.ALREADY_DONE
    assert again.params == {"status": "awaiting_payment"}


def test_a_double_tap_after_automatic_steps_is_already_done():
    # given: "paid" was left at once for "preparing_shipment"; the service remembers the action
    facts = replace(order("preparing_shipment"), last_action="mark_paid")

    # when
    again = refused(decide(MARKETPLACE, facts, ACCOUNTANT, "mark_paid", {}, NOW))

    # then
    assert again.code is Refusal.ALREADY_DONE


def test_a_repeated_cancellation_is_already_done():
    # given
    facts = order("cancelled")

    # when
    decision = refused(decide(MARKETPLACE, facts, BUYER, "cancel", {"reason": "changed_mind"}, NOW))

    # then
    assert decision.code is Refusal.ALREADY_DONE


def test_an_action_in_a_final_status_is_refused_as_closed():
    # given
    facts = order("received")

    # when
    decision = refused(decide(MARKETPLACE, facts, BUYER, "cancel", {"reason": "changed_mind"}, NOW))

    # then
    assert decision.code is Refusal.ORDER_CLOSED
    assert available_actions(MARKETPLACE, facts, Actor.staff("owner")) == []


def test_an_unknown_action_is_named():
    # given
    facts = order("awaiting_confirmation")

    # when
    decision = refused(decide(MARKETPLACE, facts, MANAGER, "teleport", {}, NOW))

    # then
    assert decision.code is Refusal.UNKNOWN_ACTION
    assert decision.params == {"action": "teleport"}


def test_an_action_from_the_wrong_status_is_not_available():
    # given
    facts = order("awaiting_confirmation")

    # when
    decision = refused(decide(MARKETPLACE, facts, MANAGER, "ship", SHIPPING, NOW))

    # then
    assert decision.code is Refusal.NOT_AVAILABLE


def test_no_cancellation_after_payment_in_the_marketplace():
    # given
    facts = order("preparing_shipment")

    # when
    decision = refused(decide(MARKETPLACE, facts, BUYER, "cancel", {"reason": "changed_mind"}, NOW))

    # then
    assert decision.code is Refusal.NOT_AVAILABLE


# -- inputs ---------------------------------------------------------------------------------


def test_a_track_code_is_normalised_to_upper_case_without_spaces():
    # given
    inputs = {"carrier": " Nova Poshta ", "track_code": " rr 1234 5678 ua "}

    # when
    decision = applied(
        decide(MARKETPLACE, order("preparing_shipment"), PACKER, "ship", inputs, NOW)
    )

    # then
    assert decision.inputs == {"carrier": "Nova Poshta", "track_code": "RR12345678UA"}
    assert decision.effects == (Effect.TRACK_PARCEL,)


@pytest.mark.parametrize("track_code", ["RR", "#12345", "трек12345", "A" * 41])
def test_a_bad_track_code_is_refused(track_code):
    # given
    inputs = {"carrier": "Nova Poshta", "track_code": track_code}

    # when
    decision = refused(
        decide(MARKETPLACE, order("preparing_shipment"), PACKER, "ship", inputs, NOW)
    )

    # then
    assert decision.code is Refusal.INPUT_INVALID
    assert decision.params == {"input": "track_code"}


def test_a_missing_carrier_is_refused():
    # given
    inputs = {"track_code": "RR123456UA", "carrier": "  "}

    # when
    decision = refused(
        decide(MARKETPLACE, order("preparing_shipment"), PACKER, "ship", inputs, NOW)
    )

    # then
    assert decision.code is Refusal.INPUT_MISSING
    assert decision.params == {"input": "carrier"}


def test_a_too_long_carrier_name_is_refused():
    # given
    inputs = {"track_code": "RR123456UA", "carrier": "x" * 65}

    # when
    decision = refused(
        decide(MARKETPLACE, order("preparing_shipment"), PACKER, "ship", inputs, NOW)
    )

    # then
    assert decision.code is Refusal.INPUT_INVALID
    assert decision.params == {"input": "carrier"}


def test_a_missing_reason_is_refused():
    # given
    facts = order("awaiting_payment")

    # when
    decision = refused(decide(MARKETPLACE, facts, BUYER, "cancel", {}, NOW))

    # then
    assert decision.code is Refusal.INPUT_MISSING
    assert decision.params == {"input": "reason"}


def test_a_shop_reason_is_not_allowed_for_the_buyer():
    # given
    facts = order("awaiting_payment")

    # when
    decision = refused(decide(MARKETPLACE, facts, BUYER, "cancel", {"reason": "out_of_stock"}, NOW))

    # then
    assert decision.code is Refusal.INPUT_INVALID
    assert decision.params == {"input": "reason"}


def test_a_buyer_reason_is_not_allowed_for_the_shop():
    # given
    facts = order("awaiting_payment")

    # when
    decision = refused(
        decide(MARKETPLACE, facts, MANAGER, "cancel", {"reason": "found_cheaper"}, NOW)
    )

    # then
    assert decision.code is Refusal.INPUT_INVALID


def test_an_unknown_reason_is_refused():
    # given
    facts = order("awaiting_payment")

    # when
    decision = refused(decide(MARKETPLACE, facts, BUYER, "cancel", {"reason": "because"}, NOW))

    # then
    assert decision.code is Refusal.INPUT_INVALID


def test_the_other_reason_needs_a_comment():
    # given
    facts = order("awaiting_payment")

    # when
    without = refused(decide(MARKETPLACE, facts, BUYER, "cancel", {"reason": "other"}, NOW))
    blank = refused(
        decide(MARKETPLACE, facts, BUYER, "cancel", {"reason": "other", "comment": "   "}, NOW)
    )
    given = applied(
        decide(MARKETPLACE, facts, BUYER, "cancel", {"reason": "other", "comment": " moved "}, NOW)
    )

    # then
    assert without.code is Refusal.INPUT_MISSING
    assert without.params == {"input": "comment", "reason": "other"}
    assert blank.code is Refusal.INPUT_MISSING
    assert given.inputs == {"reason": "other", "comment": "moved"}


def test_a_too_long_comment_is_refused():
    # given
    inputs = {"reason": "other", "comment": "x" * 1001}

    # when
    decision = refused(decide(MARKETPLACE, order("awaiting_payment"), BUYER, "cancel", inputs, NOW))

    # then
    assert decision.code is Refusal.INPUT_INVALID
    assert decision.params == {"input": "comment"}


def test_reasons_are_offered_by_capacity_and_status():
    # given
    workflow = PLATFORM

    # when
    buyer = {r.code for r in reasons_for(workflow, "confirmed", ActorKind.BUYER)}
    staff_confirmed = {r.code for r in reasons_for(workflow, "confirmed", ActorKind.STAFF)}
    staff_pickup = {r.code for r in reasons_for(workflow, "awaiting_pickup", ActorKind.STAFF)}

    # then
    assert buyer == {"changed_mind", "found_cheaper", "delivery_too_long", "other"}
    assert staff_confirmed == {"out_of_stock", "cannot_reach_buyer", "other"}
    assert staff_pickup == {
        "cannot_reach_buyer",
        "buyer_changed_mind",
        "buyer_did_not_collect",
        "other",
    }


# -- timers and automatic steps -------------------------------------------------------------


def test_timers_of_the_status_entered_are_planned_from_now():
    # given
    facts = order("awaiting_confirmation")

    # when
    decision = applied(decide(MARKETPLACE, facts, MANAGER, "confirm", {}, NOW))

    # then
    plans = {t.code: t for t in decision.timers}
    assert set(plans) == {"payment_reminder", "payment_deadline"}
    assert plans["payment_reminder"].due_at == NOW + timedelta(days=2)
    assert plans["payment_reminder"].kind is TimerKind.REMINDER
    assert plans["payment_reminder"].message == "payment_reminder"
    assert plans["payment_deadline"].due_at == NOW + timedelta(days=3)
    assert plans["payment_deadline"].action == "expire_payment"


def test_timers_of_the_status_left_are_not_returned():
    # given
    facts = order("awaiting_payment")

    # when
    decision = applied(decide(MARKETPLACE, facts, ACCOUNTANT, "mark_paid", {}, NOW))

    # then
    assert decision.timers == ()


def test_timers_are_planned_for_the_status_after_the_automatic_steps():
    # given: cash on delivery chains past awaiting_payment, whose timers must not be set
    facts = order("awaiting_confirmation", payment_method="cash_on_delivery")

    # when
    decision = applied(decide(MARKETPLACE, facts, MANAGER, "confirm", {}, NOW))

    # then
    assert decision.final_status == "preparing_shipment"
    assert decision.timers == ()


def test_the_timer_of_a_shipped_order():
    # given
    facts = order("in_progress")

    # when
    decision = applied(decide(MARKETPLACE, facts, MANAGER, "ship", SHIPPING, NOW))

    # then
    assert [(t.code, t.due_at) for t in decision.timers] == [
        ("auto_receive", NOW + timedelta(days=35))
    ]


def test_automatic_steps_are_recorded_as_taken_by_the_system():
    # given
    facts = order("awaiting_payment")

    # when
    decision = applied(decide(MARKETPLACE, facts, ACCOUNTANT, "mark_paid", {}, NOW))

    # then
    first, second = decision.steps
    assert (first.transition.code, first.capacity) == ("mark_paid", ActorKind.STAFF)
    assert (second.transition.code, second.capacity) == ("start_preparing", ActorKind.SYSTEM)
    assert second.transition.automatic


def test_a_new_order_gets_the_timers_of_the_initial_status():
    # given
    workflow = load_preset("reseller")

    # when
    plans = initial_timers(workflow, NOW)

    # then
    assert plans == ()
    assert initial_timers(MARKETPLACE, NOW) == ()


# -- opening a new order (A5) ---------------------------------------------------------------


def test_opening_a_new_order_accepts_it_for_processing():
    # given
    facts = OrderFacts(status="new", payment_method="card", delivery_method="post")

    # when
    action = open_action(PLATFORM, facts, MANAGER)
    decision = applied(decide(PLATFORM, facts, MANAGER, action, {}, NOW))

    # then
    assert action == "accept"
    assert decision.final_status == "requires_agreement"
    assert decision.steps[0].capacity is ActorKind.STAFF


def test_opening_is_not_offered_as_a_button():
    # given
    facts = OrderFacts(status="new")

    # when
    codes = [a.code for a in available_actions(PLATFORM, facts, MANAGER)]

    # then
    assert codes == ["cancel"]


@pytest.mark.parametrize("actor", [BUYER, SYSTEM, NOBODY, PACKER])
def test_opening_by_others_changes_nothing(actor):
    # given
    facts = OrderFacts(status="new")

    # when
    action = open_action(PLATFORM, facts, actor)

    # then
    assert action is None


def test_opening_an_order_already_accepted_changes_nothing():
    # given
    facts = OrderFacts(status="requires_agreement")

    # when
    action = open_action(PLATFORM, facts, Actor.staff("owner"))

    # then
    assert action is None


def test_the_marketplace_has_nothing_to_do_on_opening():
    # given
    facts = order("awaiting_confirmation")

    # when
    action = open_action(MARKETPLACE, facts, MANAGER)

    # then
    assert action is None


def test_a_button_carries_what_the_ui_needs():
    # given
    facts = order("preparing_shipment")

    # when
    (option,) = available_actions(MARKETPLACE, facts, PACKER)

    # then
    assert option.code == "ship"
    assert option.target == "shipped"
    assert option.inputs == (Input.CARRIER, Input.TRACK_CODE)
    assert option.capacity is ActorKind.STAFF
    assert option.title["en"] == "Ship"


def test_a_reason_brings_its_effects():
    # given a platform order the shop cancels as out of stock
    from datetime import UTC, datetime

    from services.workflow.engine import Actor, OrderFacts, decide
    from services.workflow.presets import load_preset

    workflow = load_preset("platform")
    order = OrderFacts("requires_agreement", "card", "post", "in_stock")
    # when
    decision = decide(
        workflow,
        order,
        Actor.staff("manager"),
        "cancel",
        {"reason": "out_of_stock"},
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    # then the stock fix is among the effects
    assert "fix_stock" in decision.effects
