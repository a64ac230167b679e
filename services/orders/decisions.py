"""Writing a workflow decision on an order: the one write path of every status change.

A button, a link, the storefront and a due timer all end here, in the transaction of their
change: the status, one audit event per step, the timers and time limits of the new status,
the notifications.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services import metrics
from services.deliveries import tracking
from services.money.ledger import postings as ledger
from services.orders import notices
from services.orders.access import Who
from services.orders.events import record
from services.orders.status_rows import write_status
from services.orders.unit import Unit
from services.payments import refunds
from services.products import stock
from services.storefront.connections import platform_status
from services.time import sla, timers
from services.workflow.definition import Effect, StatusKind, Workflow
from services.workflow.engine import Applied, OrderFacts
from storage.models import Order, OrderEvent

# order.problem_reason: a provider's payment that could not be applied (services.orders.payments)
PAYMENT_PROBLEM = "payment"


async def write_decision(
    unit: Unit,
    order: Order,
    workflow: Workflow,
    who: Who,
    decision: Applied,
    *,
    details: Mapping[str, Any] | None = None,
) -> list[OrderEvent]:
    """Write what the engine decided: status, one event per step, timers, notifications.

    `details` go into the first step's audit event (a timer's code and due time).
    """
    # Read before anything is written: `write_status` below is the one UPDATE of the order.
    shop = (
        await unit.shop(order.shop_id)  # read with the order mostly
        if sla.has_limits(workflow, decision.final_status)
        or any(plan.business_after for plan in decision.timers)
        else None
    )
    was_late = ledger.sla_expired(order, unit.now)  # entering the new status rewrites it
    events = []
    for index, step in enumerate(decision.steps):
        first = index == 0
        payload: dict[str, Any] = {"effects": [str(e) for e in step.transition.effects]}
        if first and decision.inputs:
            payload["inputs"] = dict(decision.inputs)
            payload["effects"] = [str(e) for e in decision.effects]
        if first and details:
            payload.update(details)
        if not first:
            payload["automatic"] = True
        events.append(
            record(
                order,
                who,
                unit.now,
                action=step.transition.code,
                from_status=step.from_status,
                to_status=step.to_status,
                payload=payload,
                comment=decision.inputs.get("comment") if first else None,
                capacity=step.capacity,
                role=who.role_for(step.transition.staff_roles) if first else None,
            )
        )
    order.track_code = decision.inputs.get("track_code", order.track_code)
    order.carrier = decision.inputs.get("carrier", order.carrier)
    if order.problem and order.problem_reason == PAYMENT_PROBLEM:
        # A payment that did not fit: the status moving on is the shop's answer to it.
        order.problem, order.problem_reason = False, None
    order.status = decision.final_status
    order.status_changed_at = unit.now
    order.updated_at = unit.now
    order.last_action = decision.steps[0].transition.code
    limits = sla.enter_status(order, workflow, shop, unit.now)
    await write_status(unit, order, events)  # the version check: a concurrent change fails here
    # The old status's timers cancelled, the new one's and its deadline set: on PostgreSQL
    # one statement, written with the outbox's rows at the end of the transaction.
    await unit.change_timers(
        order.id,
        cancel=timers.may_have_pending(workflow, decision.steps[0].from_status),
        rows=timers.rows_for(order.id, order.status, decision.timers, unit.now, shop)
        + sla.deadline_rows(order, limits, unit.now),
    )
    if Effect.TRACK_PARCEL in decision.effects:  # shipped: follow the parcel at its carrier
        await tracking.follow(unit.session, order, unit.now)
    # The money effects (004) and a late cancellation's fee (F4), in this same transaction.
    await ledger.apply_effects(
        unit.session,
        order,
        workflow,
        decision.steps,
        events,
        inputs=dict(decision.inputs),
        was_late=was_late,
        now=unit.now,
    )
    # Stock: released on a cancellation, written off on shipping, zeroed by fix_stock (19).
    await stock.after_decision(
        unit.session, unit.outbox, order, workflow, decision.steps, decision.effects, unit.now
    )
    if workflow.status(order.status).kind is StatusKind.FINAL_FAILURE:
        # Paid through a provider, then cancelled: the money goes back the way it came.
        await refunds.owe_back(unit.session, order, unit.now)
    notices.status_changed(unit.outbox, order, workflow, events[-1], events[0])
    # An order from a connected platform is told back to it (H4), from all the steps.
    platform_status.status_changed(unit.outbox, order, workflow, events)
    actions = [step.transition.code for step in decision.steps]
    unit.after_commit.append(lambda: metrics.count_transitions(actions, str(who.ref.channel)))
    return events


def facts(order: Order) -> OrderFacts:
    return OrderFacts(
        status=order.status,
        payment_method=order.payment_method,
        delivery_method=order.delivery_method,
        availability=order.availability,
        last_action=order.last_action,
    )
