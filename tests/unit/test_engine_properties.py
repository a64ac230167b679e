"""Properties of the engine over random sequences of actions on every preset (A1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.vocabulary import (
    AVAILABILITIES,
    DELIVERY_METHODS,
    PAYMENT_METHODS,
    STAFF_ROLES,
    SUPERVISOR_ROLES,
)
from services.workflow.definition import ActorKind
from services.workflow.engine import (
    Actor,
    Applied,
    OrderFacts,
    Refused,
    available_actions,
    capacity,
    decide,
    guards_pass,
    reasons_for,
)
from services.workflow.presets import PRESETS, load_preset

NOW = datetime(2025, 3, 4, 18, 0, tzinfo=UTC)

ACTORS = [
    *(Actor.staff(role) for role in STAFF_ROLES),
    Actor.buyer(),
    Actor.system(),
    Actor(),  # nobody: no role in the shop, not the buyer
]
JUNK_ACTIONS = ["", "teleport", "CANCEL", "cancel ", "ship;drop"]


def inputs_strategy(reason_codes: list[str]):
    reasons = st.sampled_from([*reason_codes, "junk"])
    comment = st.sampled_from(["", "the buyer asked", "x" * 1001])
    track = st.sampled_from(["rr 1234 5678 ua", "20450012345678", "#bad", ""])
    return st.one_of(
        st.just({}),
        st.fixed_dictionaries(
            {"carrier": st.just("Nova Poshta"), "track_code": track, "reason": reasons},
            optional={"comment": comment},
        ),
    )


@pytest.mark.parametrize("preset", PRESETS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_actions_keep_the_order_in_the_workflow(preset, data):
    # given
    workflow = load_preset(preset)
    actions = sorted({t.code for t in workflow.transitions}) + JUNK_ACTIONS
    statuses = {s.code for s in workflow.statuses}
    order = OrderFacts(
        status=workflow.initial.code,
        payment_method=data.draw(st.sampled_from([*PAYMENT_METHODS, None])),
        delivery_method=data.draw(st.sampled_from([*DELIVERY_METHODS, None])),
        availability=data.draw(st.sampled_from([*AVAILABILITIES, None])),
    )
    inputs_of = inputs_strategy([r.code for r in workflow.cancel_reasons])
    length = data.draw(st.integers(min_value=1, max_value=30))

    for _ in range(length):
        # Mostly actions that start from the current status, so walks get deep into the workflow.
        nearby = [t.code for t in workflow.transitions_from(order.status)]
        capable = [
            a
            for a in ACTORS
            if any(capacity(t, a) for t in workflow.transitions_from(order.status))
        ]
        actor = data.draw(st.sampled_from(capable * 2 + ACTORS))
        action = data.draw(st.sampled_from(nearby * 4 + actions))
        inputs = data.draw(inputs_of)
        before = workflow.status(order.status)

        # when
        decision = decide(workflow, order, actor, action, inputs, NOW)

        # then
        if isinstance(decision, Refused):
            # A refusal carries no steps: the order stays where it was.
            assert not decision.applied and decision.code and decision.message
            continue
        assert isinstance(decision, Applied)
        assert not before.is_final, "a decision left a final status"
        first = decision.steps[0]
        assert first.transition in workflow.transitions
        assert first.transition.code == action
        assert first.from_status == order.status
        assert order.status in first.transition.sources
        assert guards_pass(first.transition, order)
        assert capacity(first.transition, actor) is first.capacity
        if first.capacity is ActorKind.STAFF:
            assert first.transition.staff_roles
            assert actor.roles & (first.transition.staff_roles | SUPERVISOR_ROLES)
        elif first.capacity is ActorKind.BUYER:
            assert actor.is_buyer and first.transition.buyer
        else:
            assert actor.is_system and first.transition.system
        for previous, step in zip(decision.steps, decision.steps[1:], strict=False):
            assert step.from_status == previous.to_status
            assert step.transition.automatic and step.capacity is ActorKind.SYSTEM
            assert guards_pass(step.transition, order)
        reason = workflow.reason(decision.inputs.get("reason", ""))
        assert decision.effects == tuple(
            e for s in decision.steps for e in s.transition.effects
        ) + (reason.effects if reason else ())
        assert {(t.code, t.due_at) for t in decision.timers} == {
            (t.code, NOW + t.after) for t in workflow.timers_for(decision.final_status)
        }
        order = replace(order, status=decision.final_status)
        assert order.status in statuses


@pytest.mark.parametrize("preset", PRESETS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_offered_button_is_accepted(preset, data):
    # given
    workflow = load_preset(preset)
    status = data.draw(st.sampled_from([s.code for s in workflow.statuses]))
    order = OrderFacts(
        status=status,
        payment_method=data.draw(st.sampled_from([*PAYMENT_METHODS, None])),
        delivery_method=data.draw(st.sampled_from([*DELIVERY_METHODS, None])),
        availability=data.draw(st.sampled_from([*AVAILABILITIES, None])),
    )
    actor = data.draw(st.sampled_from(ACTORS))
    inputs = {"carrier": "Nova Poshta", "track_code": "RR123456UA", "comment": "see the chat"}

    for option in available_actions(workflow, order, actor):
        reasons = [r.code for r in reasons_for(workflow, status, option.capacity)]

        # when
        decision = decide(
            workflow,
            order,
            actor,
            option.code,
            {**inputs, "reason": reasons[0]} if reasons else inputs,
            NOW,
        )

        # then
        assert isinstance(decision, Applied), (option, decision)
        assert decision.steps[0].to_status == option.target
        assert decision.steps[0].capacity is option.capacity
