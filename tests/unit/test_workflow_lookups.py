"""A workflow's statuses and transitions looked up by code: what a search of its lists finds,
in every preset, duplicates and unknown codes included."""

from __future__ import annotations

import dataclasses

import pytest

from services.workflow.presets import PRESETS, load_preset


@pytest.mark.parametrize("code", PRESETS)
def test_lookups_find_what_a_search_of_the_lists_finds(code):
    workflow = load_preset(code)
    for status in workflow.statuses:
        assert workflow.status(status.code) is status
        assert workflow.transitions_from(status.code) == [
            t for t in workflow.transitions if status.code in t.sources
        ]
    for transition in workflow.transitions:
        assert workflow.transitions_named(transition.code) == tuple(
            t for t in workflow.transitions if t.code == transition.code
        )
    with pytest.raises(KeyError):
        workflow.status("no_such_status")
    assert workflow.transitions_from("no_such_status") == []
    assert workflow.transitions_named("no_such_action") == ()


def test_a_changed_copy_is_looked_up_in_its_own_lists():
    workflow = load_preset("marketplace")
    workflow.status(workflow.initial.code)  # the original's lookups made first
    first, *rest = workflow.transitions
    renamed = dataclasses.replace(first, code="renamed")
    changed = dataclasses.replace(workflow, transitions=(renamed, *rest))
    assert changed.transitions_named("renamed") == (renamed,)
    assert workflow.transitions_named("renamed") == ()
    assert changed == dataclasses.replace(workflow, transitions=(renamed, *rest))
    # a listed twice source is left once, as the search leaves it
    twice = dataclasses.replace(first, sources=(*first.sources, *first.sources))
    doubled = dataclasses.replace(workflow, transitions=(twice,))
    assert doubled.transitions_from(first.sources[0]) == [twice]
