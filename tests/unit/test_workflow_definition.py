"""Workflow definitions: the presets load, and a broken definition is refused by name (A1)."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from services.workflow.definition import (
    StatusKind,
    WorkflowError,
    format_duration,
    parse_duration,
)
from services.workflow.presets import PRESETS, load_preset, preset_data
from services.workflow.reading import load_workflow

TITLE = {"ru": "Тест", "uk": "Тест", "en": "Test"}


def problems_of(data) -> list[str]:
    with pytest.raises(WorkflowError) as caught:
        load_workflow(data)
    return caught.value.problems


def marketplace() -> dict:
    return copy.deepcopy(preset_data("marketplace"))


def transition_index(data: dict, code: str) -> int:
    return next(i for i, t in enumerate(data["transitions"]) if t["code"] == code)


def timer_index(data: dict, code: str) -> int:
    return next(i for i, t in enumerate(data["timers"]) if t["code"] == code)


# -- the presets ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", PRESETS)
def test_every_preset_loads(code):
    # given
    data = preset_data(code)

    # when
    workflow = load_workflow(data)

    # then
    assert workflow.code == code
    assert workflow.initial.kind is StatusKind.INITIAL
    assert any(s.kind is StatusKind.FINAL_SUCCESS for s in workflow.statuses)
    assert any(s.kind is StatusKind.FINAL_FAILURE for s in workflow.statuses)
    assert workflow.to_dict() == data


@pytest.mark.parametrize("code", PRESETS)
def test_every_preset_is_cached_and_titled_in_every_language(code):
    # given
    workflow = load_preset(code)

    # when
    titles = [workflow.title, *(s.title for s in workflow.statuses)]
    titles += [t.title for t in workflow.transitions]
    titles += [r.title for r in (*workflow.cancel_reasons, *workflow.split_reasons)]

    # then
    assert load_preset(code) is workflow
    for title in titles:
        assert set(title) == {"ru", "uk", "en"}


@pytest.mark.parametrize("code", PRESETS)
def test_every_cancellation_of_a_preset_has_reasons_for_staff_and_buyer(code):
    # given
    workflow = load_preset(code)

    # when
    staff = [r for r in workflow.cancel_reasons if r.staff]
    buyer = [r for r in workflow.cancel_reasons if r.buyer]

    # then
    assert staff and buyer
    assert any(t.is_cancellation for t in workflow.transitions)


def test_an_unknown_preset_is_refused():
    # given / when / then
    with pytest.raises(KeyError, match="unknown preset 'shop'"):
        preset_data("shop")


# -- durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("90m", timedelta(minutes=90)), ("3h", timedelta(hours=3)), ("35d", timedelta(days=35))],
)
def test_durations_read_and_write_back(text, value):
    # given / when
    parsed = parse_duration(text)

    # then
    assert parsed == value
    assert format_duration(parsed) == text


@pytest.mark.parametrize("text", ["3 days", "0d", "-1h", "1w", "", "h"])
def test_bad_durations_are_refused(text):
    # given / when / then
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


# -- validation names the exact problem -----------------------------------------------------


def test_a_transition_to_an_unknown_status_is_named():
    # given
    data = marketplace()
    data["transitions"][transition_index(data, "confirm")]["to"] = "awaiting_paymnt"

    # when
    problems = problems_of(data)

    # then
    assert "transitions[0] 'confirm': unknown status 'awaiting_paymnt'" in problems


def test_a_transition_from_an_unknown_status_is_named():
    # given
    data = marketplace()
    index = transition_index(data, "ship")
    data["transitions"][index]["from"] = ["preparing_shipment", "in_progres"]

    # when
    problems = problems_of(data)

    # then
    assert f"transitions[{index}] 'ship': unknown status 'in_progres'" in problems


def test_an_unreachable_status_is_named():
    # given
    data = marketplace()
    data["statuses"].append({"code": "lost", "kind": "final_failure", "title": TITLE})

    # when
    problems = problems_of(data)

    # then
    assert problems == ["status 'lost': unreachable from the initial status"]


def test_a_status_without_a_way_out_is_named():
    # given
    data = marketplace()
    data["statuses"].append({"code": "limbo", "title": TITLE})
    data["transitions"].append(
        {"code": "to_limbo", "from": "paid", "to": "limbo", "actors": ["manager"], "title": TITLE}
    )

    # when
    problems = problems_of(data)

    # then
    assert problems == ["status 'limbo': is not final but has no way out"]


def test_a_transition_out_of_a_final_status_is_named():
    # given
    data = marketplace()
    data["transitions"].append(
        {
            "code": "reopen",
            "from": "received",
            "to": "shipped",
            "actors": ["manager"],
            "title": TITLE,
        }
    )

    # when
    problems = problems_of(data)

    # then
    assert problems == ["transition 'reopen': leaves the final status 'received'"]


def test_a_timer_to_a_missing_transition_is_named():
    # given
    data = marketplace()
    data["timers"][timer_index(data, "payment_deadline")]["action"] = "expire_paymnt"

    # when
    problems = problems_of(data)

    # then
    assert problems == [
        "timer 'payment_deadline': no transition 'expire_paymnt' out of 'awaiting_payment'"
    ]


def test_a_timer_whose_transition_starts_elsewhere_is_named():
    # given: ship exists, but not out of awaiting_payment
    data = marketplace()
    data["timers"][timer_index(data, "payment_deadline")]["action"] = "ship"

    # when
    problems = problems_of(data)

    # then
    assert problems == ["timer 'payment_deadline': no transition 'ship' out of 'awaiting_payment'"]


def test_a_timer_on_a_transition_the_system_may_not_take_is_named():
    # given
    data = marketplace()
    data["timers"][timer_index(data, "payment_deadline")]["action"] = "cancel"

    # when
    problems = problems_of(data)

    # then
    assert problems == ["timer 'payment_deadline': transition 'cancel' does not allow the system"]


def test_a_duplicate_status_code_is_named():
    # given
    data = marketplace()
    data["statuses"].append(copy.deepcopy(data["statuses"][1]))

    # when
    problems = problems_of(data)

    # then
    assert "statuses: duplicate status code 'awaiting_payment'" in problems


def test_a_duplicate_timer_code_is_named():
    # given
    data = marketplace()
    data["timers"][timer_index(data, "auto_pickup")]["code"] = "auto_receive"

    # when
    problems = problems_of(data)

    # then
    assert problems == ["timers: duplicate timer code 'auto_receive'"]


def test_a_duplicate_reason_code_is_named():
    # given
    data = marketplace()
    data["cancel_reasons"].append(copy.deepcopy(data["cancel_reasons"][0]))

    # when
    problems = problems_of(data)

    # then
    assert problems == ["cancel_reasons: duplicate reason code 'changed_mind'"]


def test_a_missing_translation_is_named():
    # given
    data = marketplace()
    del data["statuses"][0]["title"]["uk"]

    # when
    problems = problems_of(data)

    # then
    assert problems == ["status 'awaiting_confirmation': missing translation 'uk'"]


def test_an_empty_translation_and_an_unknown_language_are_named():
    # given
    data = marketplace()
    data["transitions"][0]["title"]["en"] = "  "
    data["transitions"][0]["title"]["de"] = "Bestätigen"

    # when
    problems = problems_of(data)

    # then
    assert problems == [
        "transitions[0] 'confirm': missing translation 'en'",
        "transitions[0] 'confirm': unknown language 'de'",
    ]


def test_an_unknown_responsible_role_is_named():
    # given
    data = marketplace()
    data["statuses"][0]["responsible"] = "chef"

    # when
    problems = problems_of(data)

    # then
    assert problems == ["status 'awaiting_confirmation': unknown role 'chef'"]


def test_an_unknown_actor_is_named():
    # given
    data = marketplace()
    data["transitions"][0]["actors"] = ["manager", "chef"]

    # when
    problems = problems_of(data)

    # then
    assert problems == ["transitions[0] 'confirm': unknown actor 'chef'"]


def test_a_transition_nobody_may_take_is_named():
    # given
    data = marketplace()
    data["transitions"][0]["actors"] = []

    # when
    problems = problems_of(data)

    # then
    assert problems == ["transitions[0] 'confirm': nobody may perform it: list its actors"]


def test_an_unknown_effect_is_named():
    # given
    data = marketplace()
    index = transition_index(data, "confirm_receipt")
    data["transitions"][index]["effects"] = ["request_review", "send_flowers"]

    # when
    problems = problems_of(data)

    # then
    assert problems == [f"transitions[{index}] 'confirm_receipt': unknown effect 'send_flowers'"]


def test_an_unknown_input_is_named():
    # given
    data = marketplace()
    index = transition_index(data, "ship")
    data["transitions"][index]["inputs"] = ["carrier", "weight"]

    # when
    problems = problems_of(data)

    # then
    assert problems == [f"transitions[{index}] 'ship': unknown input 'weight'"]


def test_an_unknown_guard_value_is_named():
    # given
    data = marketplace()
    index = transition_index(data, "accept_cash_on_delivery")
    data["transitions"][index]["guards"] = {"payment_method": ["cash_on_delivery", "bitcoin"]}

    # when
    problems = problems_of(data)

    # then
    assert problems == [
        f"transitions[{index}] 'accept_cash_on_delivery': "
        "guard 'payment_method': unknown value 'bitcoin'"
    ]


def test_an_unknown_excluded_guard_value_is_named():
    # given
    data = marketplace()
    index = transition_index(data, "ship")
    data["transitions"][index]["guards"] = {"delivery_method": {"not": ["teleport"]}}

    # when
    problems = problems_of(data)

    # then
    assert problems == [
        f"transitions[{index}] 'ship': guard 'delivery_method': unknown value 'teleport'"
    ]


def test_an_unknown_guard_is_named():
    # given
    data = marketplace()
    index = transition_index(data, "ship")
    data["transitions"][index]["guards"] = {"weather": ["sunny"]}

    # when
    problems = problems_of(data)

    # then
    assert problems == [f"transitions[{index}] 'ship': unknown guard 'weather'"]


def test_a_bad_timer_duration_is_named():
    # given
    data = marketplace()
    data["timers"][timer_index(data, "payment_deadline")]["after"] = "3 days"

    # when
    problems = problems_of(data)

    # then
    assert problems == [
        "timer 'payment_deadline': bad duration '3 days': use a positive number with m, h or d"
    ]


def test_a_timer_counts_business_or_calendar_hours_and_nothing_else():
    # given a timer counted in business hours, and one with a made-up way of counting
    data = marketplace()
    data["timers"][timer_index(data, "payment_deadline")]["hours"] = "business"
    good = load_workflow(data)
    data["timers"][timer_index(data, "payment_deadline")]["hours"] = "lunar"

    # when
    problems = problems_of(data)

    # then
    [deadline] = [t for t in good.timers if t.code == "payment_deadline"]
    assert deadline.business and not any(t.business for t in good.timers if t is not deadline)
    assert problems == ["timer 'payment_deadline': hours 'lunar': use business or calendar"]


def test_a_bad_sla_duration_is_named():
    # given
    data = marketplace()
    data["statuses"][0]["sla"] = {"excellent": "60m", "acceptable": "0h"}

    # when
    problems = problems_of(data)

    # then
    assert problems == [
        "status 'awaiting_confirmation' sla.acceptable: bad duration '0h': "
        "use a positive number with m, h or d"
    ]


def test_an_sla_excellent_longer_than_acceptable_is_named():
    # given
    data = marketplace()
    data["statuses"][0]["sla"] = {"excellent": "6h", "acceptable": "3h"}

    # when
    problems = problems_of(data)

    # then
    assert problems == [
        "status 'awaiting_confirmation': sla.excellent is longer than sla.acceptable"
    ]


def test_an_sla_on_a_final_status_is_named():
    # given
    data = marketplace()
    index = next(i for i, s in enumerate(data["statuses"]) if s["code"] == "received")
    data["statuses"][index]["sla"] = {"acceptable": "3h"}

    # when
    problems = problems_of(data)

    # then
    assert problems == ["status 'received': a final status cannot have an sla"]


def test_two_initial_statuses_are_named():
    # given
    data = marketplace()
    data["statuses"][1]["kind"] = "initial"

    # when
    problems = problems_of(data)

    # then
    assert problems == ["statuses: exactly one initial status is needed, found 2"]


def test_no_initial_status_is_named():
    # given
    data = marketplace()
    data["statuses"][0]["kind"] = "active"

    # when
    problems = problems_of(data)

    # then
    assert problems == ["statuses: exactly one initial status is needed, found 0"]


def test_a_reminder_without_a_message_is_named():
    # given
    data = marketplace()
    del data["timers"][timer_index(data, "payment_reminder")]["message"]

    # when
    problems = problems_of(data)

    # then
    assert problems == ["timer 'payment_reminder': a reminder needs a 'message'"]


def test_a_reminder_to_nobody_is_named():
    # given
    data = marketplace()
    data["timers"][timer_index(data, "payment_reminder")]["to"] = "courier"

    # when
    problems = problems_of(data)

    # then
    assert problems == [
        "timer 'payment_reminder': a reminder goes 'to' buyer or shop, not 'courier'"
    ]


def test_a_timer_in_a_final_status_is_named():
    # given
    data = marketplace()
    data["timers"][timer_index(data, "payment_reminder")]["status"] = "cancelled"

    # when
    problems = problems_of(data)

    # then
    assert problems == ["timer 'payment_reminder': runs in the final status 'cancelled'"]


def test_a_cancellation_without_reasons_is_named():
    # given
    data = marketplace()
    del data["cancel_reasons"]

    # when
    problems = problems_of(data)

    # then
    assert problems == [
        f"transitions[{transition_index(data, 'cancel')}] 'cancel': "
        "asks for a reason but the workflow has no cancel_reasons"
    ]


def test_a_reason_in_an_unknown_status_is_named():
    # given
    data = marketplace()
    data["cancel_reasons"][0]["statuses"] = ["awaiting_payment", "waiting"]

    # when
    problems = problems_of(data)

    # then
    assert problems == ["cancel_reasons 'changed_mind': unknown status 'waiting'"]


def test_an_unknown_field_is_named():
    # given
    data = marketplace()
    data["statuses"][0]["colour"] = "red"

    # when
    problems = problems_of(data)

    # then
    assert problems == ["status 'awaiting_confirmation': unknown field 'colour'"]


def test_an_unknown_edit_kind_and_an_unknown_edit_status_are_named():
    # given
    data = marketplace()
    data["editing"]["address"] = ["awaiting_confirmation"]
    data["editing"]["items"] = ["awaiting_confirmaton"]

    # when
    problems = problems_of(data)

    # then
    assert "editing.items: unknown status 'awaiting_confirmaton'" in problems
    assert any(p.startswith("editing: unknown edit 'address'") for p in problems)


def test_a_bad_code_is_named():
    # given
    data = marketplace()
    data["transitions"][0]["code"] = "Confirm Order"

    # when
    problems = problems_of(data)

    # then
    assert (
        "transitions[0]: bad code 'Confirm Order': use lower-case latin letters, digits and _"
        in problems
    )


def test_a_duplicate_transition_is_named():
    # given
    data = marketplace()
    data["transitions"].append(copy.deepcopy(data["transitions"][transition_index(data, "ship")]))

    # when
    problems = problems_of(data)

    # then
    assert (
        "transition 'ship': duplicate transition from 'preparing_shipment' with the same guards"
        in problems
    )


def test_an_on_open_transition_for_the_buyer_is_named():
    # given
    data = copy.deepcopy(preset_data("platform"))
    data["transitions"][transition_index(data, "accept")]["actors"] = ["manager", "buyer"]

    # when
    problems = problems_of(data)

    # then
    assert problems == ["transition 'accept': on_open is taken by staff only"]


def test_every_problem_is_reported_at_once():
    # given
    data = marketplace()
    data["statuses"][0]["responsible"] = "chef"
    del data["statuses"][2]["title"]["ru"]
    data["timers"][timer_index(data, "auto_receive")]["after"] = "35 days"

    # when
    problems = problems_of(data)

    # then
    assert len(problems) == 3


def test_a_definition_that_is_not_a_mapping_is_refused():
    # given / when
    problems = problems_of(["statuses"])

    # then
    assert problems == ["the definition must be a mapping"]


# -- on_carrier: (issue 18) ---------------------------------------------------------------


def _with_on_carrier(on_carrier):
    from services.workflow.presets import load_preset

    data = dict(load_preset("platform").to_dict())
    data["on_carrier"] = on_carrier
    return data


def test_the_presets_map_carrier_events_to_their_seeds_steps():
    from services.workflow.presets import load_preset

    platform = load_preset("platform").on_carrier
    assert platform["delivered"].actions == ("deliver",)
    assert platform["refused"].actions == ("cancel",)
    assert platform["refused"].reason == "buyer_changed_mind"
    assert platform["returned_to_sender"].tell_shop
    marketplace = load_preset("marketplace").on_carrier
    assert marketplace["delivered"].actions == ("confirm_receipt", "confirm_pickup")


def test_on_carrier_mistakes_are_each_named():
    import pytest

    from services.workflow.definition import WorkflowError
    from services.workflow.reading import load_workflow

    with pytest.raises(WorkflowError) as error:
        load_workflow(
            _with_on_carrier(
                {
                    "teleported": "deliver",
                    "delivered": "pack",  # staff only
                    "refused": "cancel",  # no reason
                    "lost": {"action": "nothing_like_it"},
                    "accepted": {"tell": "buyer"},
                    "in_transit": {"reason": "other"},
                    "returned_to_sender": {"action": "cancel", "reason": "nope"},
                }
            )
        )
    problems = "\n".join(error.value.problems)
    assert "on_carrier.teleported: unknown carrier event" in problems
    assert "on_carrier.delivered: transition 'pack' does not allow the system" in problems
    assert "on_carrier.refused: 'cancel' asks for a reason: give 'reason'" in problems
    assert "on_carrier.lost: unknown action 'nothing_like_it'" in problems
    assert "on_carrier.accepted: 'tell' may only be 'shop'" in problems
    assert "on_carrier.in_transit: needs an 'action' or 'tell: shop'" in problems
    assert "on_carrier.returned_to_sender: unknown cancel reason 'nope'" in problems
