"""Time limits on statuses, counted in the shop's business hours (B2, seed 003).

A status may say how long an order should stay in it: "excellent" and "acceptable" (003: a
new order 60 min / 3 h). The clock starts when the order enters the status and runs only in
the shop's working hours. The limits are written on the order (its card and list show the
time left) and the acceptable one is also a timer row: when it fires, the order becomes a
problem, the admin and the responsible staff are alerted, and the shop may have it cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.time import timers
from services.time.business_hours import BusinessCalendar, business_calendar
from services.workflow.definition import ActorKind, Input, StatusKind, Transition, Workflow
from services.workflow.engine import Actor, capacity, reasons_for
from storage.models import Order, Shop

TIMER_KIND = "sla"
TIMER_CODE = "sla_deadline"
# Order.problem_reason of an order past its limit; cleared when it leaves that status.
PROBLEM = "sla_expired"
# The cancellation reason the system gives when the shop chose auto-cancellation (003:
# "the order will be cancelled"). Presets with limits declare it for the system alone.
EXPIRED_REASON = "processing_time_expired"
AUTO_CANCEL_SETTING = "sla_auto_cancel"


def calendar(shop: Shop) -> BusinessCalendar:
    return business_calendar(shop)


@dataclass(frozen=True)
class Limits:
    excellent_at: datetime | None
    deadline_at: datetime


def limits(workflow: Workflow, status: str, shop: Shop, since: datetime) -> Limits | None:
    """When an order entering `status` at `since` should leave it, in business time."""
    sla = workflow.status(status).sla
    if sla is None:
        return None
    if sla.calendar:
        return Limits(
            excellent_at=since + sla.excellent if sla.excellent is not None else None,
            deadline_at=since + sla.acceptable,
        )
    hours = calendar(shop)
    return Limits(
        excellent_at=hours.add(since, sla.excellent) if sla.excellent is not None else None,
        deadline_at=hours.add(since, sla.acceptable),
    )


def enter_status(
    order: Order, workflow: Workflow, shop: Shop | None, now: datetime
) -> Limits | None:
    """The order is entering its status now: write that status's limits on it.

    `shop` is needed only when the status has limits. A problem that was about the old
    status's time is over with it. Returns the limits, for `schedule_deadline` once the
    timers of the old status are cancelled.
    """
    if order.problem and order.problem_reason == PROBLEM:
        order.problem, order.problem_reason = False, None
    planned = limits(workflow, order.status, shop, now) if shop is not None else None
    if planned is None:
        order.sla_excellent_at = order.sla_deadline_at = None
        return None
    order.sla_excellent_at, order.sla_deadline_at = planned.excellent_at, planned.deadline_at
    return planned


async def schedule_deadline(
    session: AsyncSession, order: Order, planned: Limits | None, now: datetime
) -> None:
    """The timer that fires when the acceptable limit has passed."""
    await timers.change(
        session, order.id, now, cancel=False, rows=deadline_rows(order, planned, now)
    )


def deadline_rows(order: Order, planned: Limits | None, now: datetime) -> list[dict[str, Any]]:
    """The deadline's timer row (none without limits), for `timers.change` to write."""
    if planned is None:
        return []
    payload = {"excellent_at": _iso(planned.excellent_at)}
    return [
        timers.row(
            order.id, TIMER_CODE, TIMER_KIND, order.status, None, planned.deadline_at, now, payload
        )
    ]


def has_limits(workflow: Workflow, status: str) -> bool:
    return workflow.status(status).sla is not None


def auto_cancel(shop: Shop) -> bool:
    return bool((shop.settings or {}).get(AUTO_CANCEL_SETTING))


def expiry_cancellation(workflow: Workflow, status: str) -> Transition | None:
    """The transition that cancels an order in `status` for its expired time, if any.

    One the system may take to a failure status, asking for a reason, where the workflow's
    reasons include EXPIRED_REASON for this status.
    """
    if not any(r.code == EXPIRED_REASON for r in reasons_for(workflow, status, ActorKind.SYSTEM)):
        return None
    for transition in workflow.transitions_from(status):
        if (
            not transition.automatic
            and Input.REASON in transition.inputs
            and workflow.status(transition.target).kind is StatusKind.FINAL_FAILURE
            and capacity(transition, Actor.system()) is not None
        ):
            return transition
    return None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
