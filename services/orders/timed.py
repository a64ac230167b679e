"""A due timer fired on its order: the system's turn to act (B1, B2).

Called by the sweep through `OrderService.fire_timer`, one timer per transaction, so a
timer's effect (a status change, a reminder, an SLA alert) and its being done commit
together or not at all: a crash in between leaves it pending for the next sweep.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, case, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services import metrics
from services.orders import notices
from services.orders.access import Who
from services.orders.actors import ActorRef, Channel
from services.orders.decisions import facts, write_decision
from services.orders.events import OrderEvents
from services.orders.unit import Unit
from services.time import sla, timers
from services.workflow.definition import Audience, TimerKind, Workflow
from services.workflow.engine import decide
from storage import direct
from storage.models import Order, Shop, Timer

PENDING = "pending"
DONE = "done"
CANCELLED = "cancelled"

# Outcomes, kept on the timer row for operators.
APPLIED = "applied"
SENT = "sent"
FLAGGED = "flagged"
CANCELLED_ORDER = "flagged, order cancelled"
MOVED_ON = "order moved on"  # left the status (a race with its cancellation)
GONE = "gone"  # fired or cancelled by someone else meanwhile


async def fire(unit: Unit, timer_id: int, order_id: int | None = None) -> str:
    """Fire one pending timer; returns what it did (GONE when there was nothing to do).
    `order_id`: the timer's order, when the caller knows it (the sweep claimed it with it)."""
    if order_id is None:
        order_id = await unit.session.scalar(
            select(Timer.order_id).where(Timer.id == timer_id, Timer.state == PENDING)
        )
        if order_id is None:
            return GONE
    # The order first, as every change does, then the timer: one lock order, no deadlocks.
    order = await unit.load(order_id, lock=True, items=False)
    timer = await _take(unit.session, timer_id, order_id, unit.now)
    if timer is None:
        return GONE
    if not timer.others_pending:  # a transition it applies has no timer left to cancel
        timers.none_pending(unit.session, order_id)
    if timer.kind == "return_sla":  # a return request's answer limit, whatever the status
        from services.money import returns

        outcome = await returns.fire_timer(unit, order, timer)
    elif order.status != timer.status:
        await _record(unit.session, timer, MOVED_ON, state=CANCELLED)
        return MOVED_ON
    else:
        outcome = await _run(unit, order, timer)
    await _record(unit.session, timer, outcome)
    return outcome


async def _run(unit: Unit, order: Order, timer: Row) -> str:
    """What a timer of the order's status does: an action, a reminder, a time limit."""
    workflow = await unit.workflow(order)
    who = await unit.who(order, ActorRef.system(Channel.SCHEDULER))
    details = {"timer": timer.code, "due_at": timer.due_at.isoformat()}
    if timer.kind == TimerKind.TRANSITION:
        return await _act(unit, order, workflow, who, timer.action, {}, details)
    if timer.kind == TimerKind.REMINDER:
        return await _remind(unit, order, workflow, who, timer, details)
    if timer.kind == sla.TIMER_KIND:
        return await _expire(unit, order, workflow, who, timer, details)
    return f"unknown kind {timer.kind}"


async def _take(session: AsyncSession, timer_id: int, order_id: int, now: datetime) -> Row | None:
    """Mark the timer done if it still is pending: exactly one transaction wins. One
    statement: the claim returns the timer's row (no read back), with the outcome its kind
    nearly always has already written (`_record` then writes only a different one), and
    whether the order has other timers pending (under the order's lock, so it holds)."""
    return (
        await session.execute(_TAKE, {"timer": timer_id, "of_order": order_id, "done_at": now})
    ).first()


async def _record(session: AsyncSession, timer: Row, outcome: str, state: str = DONE) -> None:
    """The timer's outcome and state, for operators, when the take did not guess them."""
    outcome = outcome[:64]
    if outcome != timer.outcome or state != DONE:
        await direct.execute(
            session, _RECORD, {"timer": timer.id, "outcome": outcome, "state": state}
        )


# Built once (a statement's cache key is memoized on it): every timer that fires runs them
# (issue 15). Core statements on the table: the timer is read from the row returned, never
# flushed through the session's unit of work.
_timers = Timer.__table__
# What a timer of each kind does when it fires, unless its order moved on or the workflow
# refuses the action: written by the take itself, so the usual fire has no second UPDATE.
_EXPECTED = {str(TimerKind.TRANSITION): APPLIED, str(TimerKind.REMINDER): SENT}
_others = _timers.alias("others")  # the order's other timers
_TAKE = (
    update(_timers)
    .where(
        _timers.c.id == bindparam("timer"),
        _timers.c.order_id == bindparam("of_order"),
        _timers.c.state == PENDING,
    )
    .values(
        state=DONE,
        finished_at=bindparam("done_at"),
        claimed_until=None,
        outcome=case(_EXPECTED, value=_timers.c.kind, else_=None),
    )
    .returning(
        _timers.c.id,
        _timers.c.kind,
        _timers.c.status,
        _timers.c.action,
        _timers.c.code,
        _timers.c.payload,
        _timers.c.due_at,
        _timers.c.outcome,
        exists()
        .where(
            _others.c.order_id == bindparam("of_order"),
            _others.c.state == PENDING,
            _others.c.id != bindparam("timer"),
        )
        .label("others_pending"),
    )
)
_RECORD = (
    update(_timers)
    .where(_timers.c.id == bindparam("timer"))
    .values(outcome=bindparam("outcome"), state=bindparam("state"))
)


async def _remind(
    unit: Unit,
    order: Order,
    workflow: Workflow,
    who: Who,
    timer: Row,
    details: dict[str, Any],
) -> str:
    to = timer.payload.get("to")
    message = timer.payload.get("message") or timer.code
    unit.add_event(
        order,
        who,
        action=OrderEvents.REMINDER,
        payload={**details, "to": to, "message": message},
        visible=to == Audience.BUYER,
    )
    if to == Audience.BUYER:
        notices.buyer_reminder(unit.outbox, order, timer.id, message)
    else:
        notices.shop_reminder(unit.outbox, order, workflow, timer.id, message)
    return SENT


async def _expire(
    unit: Unit,
    order: Order,
    workflow: Workflow,
    who: Who,
    timer: Row,
    details: dict[str, Any],
) -> str:
    """Past the acceptable limit: a problem, an alert, and the shop's chosen cancellation."""
    status = order.status
    order.problem, order.problem_reason = True, sla.PROBLEM
    order.updated_at = unit.now
    shop = await unit.session.get(Shop, order.shop_id)
    cancellation = sla.expiry_cancellation(workflow, status) if sla.auto_cancel(shop) else None
    unit.add_event(
        order,
        who,
        action=OrderEvents.SLA_EXPIRED,
        payload={
            **details,
            "status": status,
            "excellent_at": timer.payload.get("excellent_at"),
            "auto_cancel": cancellation.code if cancellation is not None else None,
        },
        visible=False,
    )
    await unit.session.flush()  # the new version: the cards redraw with the problem shown
    notices.sla_expired(unit.outbox, order, workflow, timer.id, status)
    unit.after_commit.append(metrics.SLA_BREACHES.inc)
    if cancellation is None:
        notices.cards_changed(unit.outbox, order)
        return FLAGGED
    outcome = await _act(
        unit, order, workflow, who, cancellation.code, {"reason": sla.EXPIRED_REASON}, details
    )
    return CANCELLED_ORDER if outcome == APPLIED else f"flagged; cancel {outcome}"


async def _act(
    unit: Unit,
    order: Order,
    workflow: Workflow,
    who: Who,
    action: str | None,
    inputs: dict[str, str],
    details: dict[str, Any],
) -> str:
    """Take a workflow action as the system, the way every other change is written.

    A refusal is only recorded: the workflow changed under the timer (a guard no longer
    matches, the action was removed), so there is nothing to apply and nothing to retry.
    """
    decision = decide(workflow, facts(order), who.actor, action or "", inputs, unit.now)
    if not decision.applied:
        return f"refused: {decision.code}"
    await write_decision(unit, order, workflow, who, decision, details=details)
    return APPLIED
