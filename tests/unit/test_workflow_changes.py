"""Edits of a workflow draft (services/workflow/changes.py): pure, on every preset."""

from __future__ import annotations

import pytest

from services.workflow.changes import (
    DraftError,
    add_status,
    insert_between,
    place_status,
    retire_status,
)
from services.workflow.definition import StatusKind
from services.workflow.presets import PRESETS, load_preset, preset_data
from services.workflow.reading import load_workflow

EXTRA = {"ru": "Сборка", "uk": "Збирання", "en": "Assembling"}


def steps(code: str) -> list[tuple[str, str]]:
    """Every (from, to) of a preset's transitions that is not a cancellation."""
    workflow = load_preset(code)
    found = []
    for transition in workflow.transitions:
        if workflow.status(transition.target).kind is StatusKind.FINAL_FAILURE:
            continue
        for source in transition.sources:
            if (source, transition.target) not in found:
                found.append((source, transition.target))
    return found


CASES = [(code, step) for code in PRESETS for step in steps(code)]


@pytest.mark.parametrize(("preset", "step"), CASES, ids=[f"{c}:{a}>{b}" for c, (a, b) in CASES])
@pytest.mark.parametrize("methods", [None, ["card"]], ids=["all", "card"])
def test_a_stage_put_in_any_step_of_any_preset_is_a_valid_workflow(preset, step, methods):
    body = preset_data(preset)
    add_status(body, "extra", EXTRA)
    try:
        insert_between(body, "extra", *step, payment_methods=methods)
    except DraftError as error:
        # The one refusal: a step already told apart by the payment method (edit the file).
        assert methods and "depends on the payment method" in str(error)
        return
    workflow = load_workflow(body)
    entered = [t for t in workflow.transitions if t.target == "extra"]
    assert [t.sources for t in entered] == [(step[0],)]
    assert workflow.transitions_from("extra")


def test_a_stage_cannot_be_retired_while_a_transition_needs_it():
    body = preset_data("marketplace")
    add_status(body, "extra", EXTRA)
    insert_between(body, "extra", "preparing_shipment", "shipped")
    with pytest.raises(DraftError, match="used by the transitions"):
        retire_status(body, "extra")


def test_place_status_moves_one_status_and_keeps_the_others_in_order():
    body = {"statuses": [{"code": c} for c in ("a", "b", "c", "d")]}
    place_status(body, "d", 1)
    assert [s["code"] for s in body["statuses"]] == ["a", "d", "b", "c"]
    place_status(body, "a", 3)
    assert [s["code"] for s in body["statuses"]] == ["d", "b", "c", "a"]
    for code, position in (("a", 4), ("a", -1), ("zz", 0), ("a", True)):
        with pytest.raises(DraftError):
            place_status(body, code, position)
    assert [s["code"] for s in body["statuses"]] == ["d", "b", "c", "a"]
