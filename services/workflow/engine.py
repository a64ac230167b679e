"""The pure workflow engine: (workflow, order, actor, action, inputs, now) -> decision.

No I/O and no clock of its own, so every rule is tested exhaustively. The order service
loads the order, asks `decide`, and writes what the decision says in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.refusals import Problem
from services.vocabulary import SUPERVISOR_ROLES
from services.workflow.definition import (
    ActorKind,
    Audience,
    Effect,
    Input,
    TimerKind,
    Transition,
    Workflow,
)

# A track code is a carrier's waybill number: latin letters, digits, dashes (3..40).
TRACK_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]{2,39}$")
MAX_CARRIER = 64
MAX_COMMENT = 1000


@dataclass(frozen=True)
class OrderFacts:
    """What the engine needs to know about an order."""

    status: str
    payment_method: str | None = None
    delivery_method: str | None = None
    availability: str | None = None
    last_action: str | None = None  # the last action a person took, to recognise a double tap

    def value(self, name: str) -> str | None:
        return getattr(self, name)


@dataclass(frozen=True)
class Actor:
    """Who asks, as established by the service (never by what a button carried)."""

    roles: frozenset[str] = frozenset()  # staff roles in the order's shop
    is_buyer: bool = False  # the order's own buyer
    is_system: bool = False  # the scheduler, the storefront, automatic steps

    @classmethod
    def system(cls) -> Actor:
        return cls(is_system=True)

    @classmethod
    def buyer(cls) -> Actor:
        return cls(is_buyer=True)

    @classmethod
    def staff(cls, *roles: str) -> Actor:
        return cls(roles=frozenset(roles))


# The engine refuses with the order problems of services/refusals.py (ENGINE_PROBLEMS): one
# vocabulary from the engine to the buttons and the API.
Refusal = Problem


@dataclass(frozen=True)
class Refused:
    code: Refusal
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)

    applied = False


@dataclass(frozen=True)
class Step:
    """One status change; a decision may chain automatic steps after the chosen one."""

    transition: Transition
    from_status: str
    to_status: str
    capacity: ActorKind  # in which capacity the actor took it; automatic steps: system


@dataclass(frozen=True)
class TimerPlan:
    code: str
    kind: TimerKind
    due_at: datetime
    action: str | None = None
    to: Audience | None = None
    message: str | None = None
    # Set for a timer counted in business hours: due_at is then only the calendar-time
    # estimate, and the shop's hours move it (services/time/timers.schedule), which the
    # engine, knowing no shop, cannot do.
    business_after: timedelta | None = None


@dataclass(frozen=True)
class Applied:
    steps: tuple[Step, ...]
    inputs: Mapping[str, str]
    effects: tuple[Effect, ...]
    timers: tuple[TimerPlan, ...]  # for the status the order ends in; the old ones are cancelled

    applied = True

    @property
    def final_status(self) -> str:
        return self.steps[-1].to_status


Decision = Applied | Refused


@dataclass(frozen=True)
class ActionOption:
    """A button: an action this actor may take now."""

    code: str
    title: Mapping[str, str]
    target: str
    inputs: tuple[Input, ...]
    confirm: bool
    capacity: ActorKind


def capacity(transition: Transition, actor: Actor) -> ActorKind | None:
    """In which capacity `actor` may take `transition`, or None if they may not."""
    if actor.is_system:
        return ActorKind.SYSTEM if transition.system else None
    if transition.staff_roles and (
        actor.roles & transition.staff_roles or actor.roles & SUPERVISOR_ROLES
    ):
        return ActorKind.STAFF
    if transition.buyer and actor.is_buyer:
        return ActorKind.BUYER
    return None


def guards_pass(transition: Transition, order: OrderFacts) -> bool:
    return all(guard.allows(order.value(guard.field)) for guard in transition.guards)


def available_actions(workflow: Workflow, order: OrderFacts, actor: Actor) -> list[ActionOption]:
    """The actions to offer as buttons, in the workflow's order, one per action code."""
    options: dict[str, ActionOption] = {}
    for transition in workflow.transitions_from(order.status):
        if transition.automatic or transition.on_open or transition.code in options:
            continue
        if not guards_pass(transition, order):
            continue
        taken_as = capacity(transition, actor)
        if taken_as is None:
            continue
        options[transition.code] = ActionOption(
            code=transition.code,
            title=transition.title,
            target=transition.target,
            inputs=transition.inputs,
            confirm=transition.confirm,
            capacity=taken_as,
        )
    return list(options.values())


def open_action(workflow: Workflow, order: OrderFacts, actor: Actor) -> str | None:
    """The action to take when this staff member opens the order's card (A5), if any."""
    for transition in workflow.transitions_from(order.status):
        if transition.on_open and guards_pass(transition, order) and capacity(transition, actor):
            return transition.code
    return None


def decide(
    workflow: Workflow,
    order: OrderFacts,
    actor: Actor,
    action: str,
    inputs: Mapping[str, Any] | None,
    now: datetime,
) -> Decision:
    inputs = inputs or {}
    same_action = workflow.transitions_named(action)
    if not same_action:
        return Refused(Refusal.UNKNOWN_ACTION, f"unknown action '{action}'", {"action": action})
    current = workflow.status(order.status)
    candidates = [t for t in same_action if order.status in t.sources]
    if not candidates:
        if action == order.last_action or any(t.target == order.status for t in same_action):
            return Refused(
                Refusal.ALREADY_DONE,
                f"already done: the order is in '{order.status}'",
                {"status": order.status},
            )
        if current.is_final:
            return Refused(
                Refusal.ORDER_CLOSED,
                f"the order is closed in '{order.status}'",
                {"status": order.status},
            )
        return Refused(
            Refusal.NOT_AVAILABLE,
            f"'{action}' is not possible in '{order.status}'",
            {"action": action, "status": order.status},
        )
    guarded = [t for t in candidates if guards_pass(t, order)]
    if not guarded:
        return Refused(
            Refusal.NOT_FOR_THIS_ORDER,
            f"'{action}' does not apply to this order's payment, delivery or goods",
            {"action": action},
        )
    allowed = [(t, c) for t in guarded if (c := capacity(t, actor)) is not None]
    if not allowed:
        return Refused(Refusal.FORBIDDEN, f"you may not '{action}' this order", {"action": action})
    transition, taken_as = allowed[0]
    cleaned = _check_inputs(workflow, transition, order.status, taken_as, inputs)
    if isinstance(cleaned, Refused):
        return cleaned
    steps = [Step(transition, order.status, transition.target, taken_as)]
    steps.extend(_automatic_steps(workflow, order, transition.target))
    final = steps[-1].to_status
    timers = timer_plans(workflow, final, now)
    effects = tuple(effect for step in steps for effect in step.transition.effects)
    reason = workflow.reason(cleaned.get(Input.REASON, ""))
    if reason is not None:
        effects += reason.effects
    return Applied(steps=tuple(steps), inputs=cleaned, effects=effects, timers=timers)


def timer_plans(workflow: Workflow, status: str, since: datetime) -> tuple[TimerPlan, ...]:
    """The timers of an order entering `status` at `since`."""
    return tuple(
        TimerPlan(
            code=timer.code,
            kind=timer.kind,
            due_at=since + timer.after,
            action=timer.action,
            to=timer.to,
            message=timer.message,
            business_after=timer.after if timer.business else None,
        )
        for timer in workflow.timers_for(status)
    )


def initial_timers(workflow: Workflow, now: datetime) -> tuple[TimerPlan, ...]:
    """Timers of the initial status, set when an order is created."""
    return timer_plans(workflow, workflow.initial.code, now)


def _automatic_steps(workflow: Workflow, order: OrderFacts, entered: str) -> list[Step]:
    """Follow automatic transitions (e.g. paid -> preparing for shipment) from `entered`."""
    steps: list[Step] = []
    visited = {entered}
    current = entered
    while True:
        facts = OrderFacts(current, order.payment_method, order.delivery_method, order.availability)
        follow = next(
            (
                t
                for t in workflow.transitions_from(current)
                if t.automatic and guards_pass(t, facts)
            ),
            None,
        )
        if follow is None or follow.target in visited:
            return steps
        steps.append(Step(follow, current, follow.target, ActorKind.SYSTEM))
        visited.add(follow.target)
        current = follow.target


def _check_inputs(
    workflow: Workflow,
    transition: Transition,
    status: str,
    taken_as: ActorKind,
    inputs: Mapping[str, Any],
) -> dict[str, str] | Refused:
    cleaned: dict[str, str] = {}
    raw = {key: str(value).strip() for key, value in inputs.items() if value is not None}
    comment = raw.get(Input.COMMENT, "")
    if len(comment) > MAX_COMMENT:
        return _invalid("comment", f"the comment is longer than {MAX_COMMENT} characters")
    if comment:
        cleaned[Input.COMMENT] = comment
    for needed in transition.inputs:
        value = raw.get(needed, "")
        if not value:
            return Refused(Refusal.INPUT_MISSING, f"'{needed}' is required", {"input": str(needed)})
        if needed is Input.TRACK_CODE:
            value = value.replace(" ", "").upper()
            if not TRACK_CODE.match(value):
                return _invalid(needed, "a track code is 3 to 40 latin letters, digits or dashes")
        elif needed is Input.CARRIER and len(value) > MAX_CARRIER:
            return _invalid(needed, f"the carrier's name is longer than {MAX_CARRIER} characters")
        elif needed is Input.REASON:
            reason = workflow.reason(value)
            if reason is None or not _reason_fits(reason, status, taken_as):
                return _invalid(needed, f"'{value}' is not a reason that can be given here")
            if reason.comment_required and not comment:
                return Refused(
                    Refusal.INPUT_MISSING,
                    f"the reason '{value}' needs a comment",
                    {"input": "comment", "reason": value},
                )
        cleaned[needed] = value
    return cleaned


def reasons_for(workflow: Workflow, status: str, taken_as: ActorKind):
    """The cancellation reasons this kind of actor may give in `status`."""
    return [r for r in workflow.cancel_reasons if _reason_fits(r, status, taken_as)]


def _reason_fits(reason, status: str, taken_as: ActorKind) -> bool:
    if reason.statuses is not None and status not in reason.statuses:
        return False
    if taken_as is ActorKind.BUYER:
        return reason.buyer
    return reason.staff or taken_as is ActorKind.SYSTEM


def _invalid(name: str, message: str) -> Refused:
    return Refused(Refusal.INPUT_INVALID, message, {"input": str(name)})
