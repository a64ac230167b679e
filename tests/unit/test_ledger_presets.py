"""Every preset declares the money effects seed 004 implies, so the ledger follows any of them.

- the deal done (a final success status) credits the income with the delivery;
- a payment reserves it, once, before or with the credit;
- a cancellation of an order that may have been paid refunds the goods, and either refunds
  the delivery (not yet sent) or compensates the shop for it (sent), never both.
"""

from __future__ import annotations

import pytest

from services.workflow.definition import Effect, StatusKind
from services.workflow.presets import PRESETS, load_preset

MONEY = {
    Effect.RESERVE_INCOME,
    Effect.CREDIT_INCOME,
    Effect.REFUND_GOODS,
    Effect.REFUND_DELIVERY,
    Effect.COMPENSATE_DELIVERY,
}


def may_be_paid(workflow) -> set[str]:
    """Statuses an order can be in after a transition that reserved its income."""
    reached = {t.target for t in workflow.transitions if Effect.RESERVE_INCOME in t.effects}
    frontier = list(reached)
    while frontier:
        status = frontier.pop()
        for transition in workflow.transitions_from(status):
            if transition.target not in reached:
                reached.add(transition.target)
                frontier.append(transition.target)
    return reached


@pytest.mark.parametrize("code", PRESETS)
def test_the_deal_done_credits_the_income(code):
    workflow = load_preset(code)
    for transition in workflow.transitions:
        if workflow.status(transition.target).kind is StatusKind.FINAL_SUCCESS:
            assert Effect.CREDIT_INCOME in transition.effects, transition.code


@pytest.mark.parametrize("code", PRESETS)
def test_cancelling_a_paid_order_refunds_by_how_far_it_went(code):
    workflow = load_preset(code)
    paid = may_be_paid(workflow)
    for transition in workflow.transitions:
        if workflow.status(transition.target).kind is not StatusKind.FINAL_FAILURE:
            continue
        effects = set(transition.effects) & MONEY
        if not set(transition.sources) & paid:
            assert not effects, (transition.code, transition.sources)  # nothing to refund
            continue
        assert Effect.REFUND_GOODS in effects, (transition.code, transition.sources)
        assert len(effects & {Effect.REFUND_DELIVERY, Effect.COMPENSATE_DELIVERY}) == 1


@pytest.mark.parametrize("code", PRESETS)
def test_income_is_reserved_only_before_it_is_credited(code):
    workflow = load_preset(code)
    paid = may_be_paid(workflow)
    for transition in workflow.transitions:
        if Effect.RESERVE_INCOME in transition.effects:
            # never reserved twice: no reserving transition starts where money is held
            assert not set(transition.sources) & paid, transition.code


def test_the_presets_with_a_payment_step_reserve_on_it():
    for code in ("marketplace", "stages", "reseller"):
        marks = [t for t in load_preset(code).transitions if t.code == "mark_paid"]
        assert marks and all(Effect.RESERVE_INCOME in t.effects for t in marks), code
