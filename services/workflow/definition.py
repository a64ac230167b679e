"""The workflow definition: a shop's order lifecycle as data (SPEC A1).

A definition is read from a mapping and validated by services/workflow/reading.py, which
turns it into these frozen dataclasses the pure engine works on. Validation collects every
problem it finds and names each one exactly ("transitions[3] 'ship': unknown status
'shiped'"), so a shop owner editing a workflow and an engineer writing a preset both learn
what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any


class StatusKind(StrEnum):
    INITIAL = "initial"  # every new order starts here; exactly one per workflow
    ACTIVE = "active"  # the order is being worked on
    FINAL_SUCCESS = "final_success"  # the deal is done: received, completed
    FINAL_FAILURE = "final_failure"  # the deal is off: cancelled, not paid

    @property
    def is_final(self) -> bool:
        return self in (StatusKind.FINAL_SUCCESS, StatusKind.FINAL_FAILURE)


class Input(StrEnum):
    """What a person must supply to perform a transition."""

    CARRIER = "carrier"  # the delivery service that took the parcel
    TRACK_CODE = "track_code"  # its waybill / tracking number
    REASON = "reason"  # a cancellation reason from the workflow's list
    COMMENT = "comment"  # free text, required


class Effect(StrEnum):
    """Side effects a transition declares; the services that own them apply them."""

    RESERVE_INCOME = "reserve_income"  # payment arrived: the shop's income is reserved (004)
    CREDIT_INCOME = "credit_income"  # reserved income and delivery cost go to the balance (004)
    REFUND_GOODS = "refund_goods"  # the buyer gets the goods' price back (004)
    REFUND_DELIVERY = "refund_delivery"  # ...and the delivery cost, if not yet shipped (004)
    COMPENSATE_DELIVERY = "compensate_delivery"  # the shop is paid its delivery cost (004)
    REQUEST_REVIEW = "request_review"  # ask the buyer for stars and a review (000)
    FIX_STOCK = "fix_stock"  # out of stock: remind the shop to correct its stock (003)
    TRACK_PARCEL = "track_parcel"  # follow the parcel by its track code (003, G4)


class ActorKind(StrEnum):
    STAFF = "staff"
    BUYER = "buyer"
    SYSTEM = "system"


class TimerKind(StrEnum):
    TRANSITION = "transition"  # performs `action` as the system
    REMINDER = "reminder"  # sends `message` to `to`


class Audience(StrEnum):
    BUYER = "buyer"
    SHOP = "shop"


# Edits an order allows, each permitted in a list of statuses (A6).
EDIT_KINDS = ("items", "delivery", "payment", "discount", "split")

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_DURATION = re.compile(r"^(\d+)([mhd])$")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


class WorkflowError(ValueError):
    """A definition that cannot be used; `problems` lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def parse_duration(text: str) -> timedelta:
    """'90m', '3h', '35d' -> timedelta. Durations are whole minutes, hours or days."""
    match = _DURATION.match(str(text).strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"bad duration {text!r}: use a positive number with m, h or d")
    return timedelta(**{_DURATION_UNITS[match.group(2)]: int(match.group(1))})


def format_duration(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


Title = Mapping[str, str]


@dataclass(frozen=True)
class Sla:
    """Limits on time in a status, counted in the shop's business hours (B2), or round the
    clock when the status says `hours: calendar` (a parcel travels at night too)."""

    excellent: timedelta | None
    acceptable: timedelta
    calendar: bool = False


@dataclass(frozen=True)
class Status:
    code: str
    kind: StatusKind
    title: Title
    responsible: str | None = None  # the staff role that works orders in this status
    buyer_visible: bool = True  # entering it is news for the buyer (002)
    sla: Sla | None = None

    @property
    def is_final(self) -> bool:
        return self.kind.is_final


@dataclass(frozen=True)
class Guard:
    """An order field the transition depends on: allowed values, or excluded ones."""

    field: str  # payment_method | delivery_method | availability
    values: frozenset[str]
    negate: bool = False

    def allows(self, value: str | None) -> bool:
        inside = value in self.values
        return not inside if self.negate else inside


@dataclass(frozen=True)
class Transition:
    code: str  # the action a person picks; several transitions may share it, told apart by guards
    sources: tuple[str, ...]
    target: str
    title: Title
    staff_roles: frozenset[str] = frozenset()
    buyer: bool = False
    system: bool = False
    guards: tuple[Guard, ...] = ()
    inputs: tuple[Input, ...] = ()
    effects: tuple[Effect, ...] = ()
    confirm: bool = False  # irreversible: the UI asks "are you sure?" first
    automatic: bool = False  # taken by the engine itself as soon as its source is entered
    on_open: bool = False  # taken when staff first open a new order (003, A5)

    @property
    def is_cancellation(self) -> bool:
        return Input.REASON in self.inputs


@dataclass(frozen=True)
class Timer:
    code: str
    status: str
    after: timedelta
    kind: TimerKind
    action: str | None = None  # for TimerKind.TRANSITION
    to: Audience | None = None  # for TimerKind.REMINDER
    message: str | None = None  # for TimerKind.REMINDER: the notification's template key
    business: bool = False  # `after` counted in the shop's business hours, not the clock's


@dataclass(frozen=True)
class CancelReason:
    code: str
    title: Title
    staff: bool = True
    buyer: bool = False
    statuses: frozenset[str] | None = None  # None: wherever the cancellation is possible
    comment_required: bool = False
    effects: tuple[Effect, ...] = ()  # e.g. out of stock -> fix_stock (003)


# The carriers' event kinds an `on_carrier:` map may name (services.carriers.EventKind; kept
# here as words so the pure workflow model imports nothing of the outside world).
CARRIER_EVENTS = (
    "accepted",
    "in_transit",
    "arrived_at_pickup_point",
    "delivered",
    "returned_to_sender",
    "refused",
    "lost",
)


@dataclass(frozen=True)
class CarrierReaction:
    """What a carrier's event does to an order (`on_carrier:`): the first of `actions` that
    leads out of the order's status is taken as the system (with `reason`, for a
    cancellation); `tell_shop` sends the shop a notice (and flags the order) instead, or
    when no action fits."""

    actions: tuple[str, ...] = ()
    reason: str | None = None
    tell_shop: bool = False


@dataclass(frozen=True)
class Workflow:
    code: str
    title: Title
    statuses: tuple[Status, ...]
    transitions: tuple[Transition, ...]
    timers: tuple[Timer, ...] = ()
    cancel_reasons: tuple[CancelReason, ...] = ()
    split_reasons: tuple[CancelReason, ...] = ()
    editing: Mapping[str, frozenset[str]] = field(default_factory=dict)
    on_carrier: Mapping[str, CarrierReaction] = field(default_factory=dict)
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def status(self, code: str) -> Status:
        return self._statuses[code]

    @property
    def initial(self) -> Status:
        return next(s for s in self.statuses if s.kind is StatusKind.INITIAL)

    def transitions_from(self, status: str) -> list[Transition]:
        return list(self._leaving.get(status, ()))

    def transitions_named(self, code: str) -> tuple[Transition, ...]:
        """The transitions of one action code (one per set of sources), in their order."""
        return self._named.get(code, ())

    def timers_for(self, status: str) -> list[Timer]:
        return [t for t in self.timers if t.status == status]

    # Looked up by code on every decision and every card, so indexed once per workflow (a
    # frozen workflow's cached values are written past its frozen __setattr__, as
    # functools.cached_property does, and are not fields: equality ignores them).
    @cached_property
    def _statuses(self) -> Mapping[str, Status]:
        found: dict[str, Status] = {}
        for status in self.statuses:
            found.setdefault(status.code, status)  # the first, as a search would find
        return found

    @cached_property
    def _leaving(self) -> Mapping[str, tuple[Transition, ...]]:
        leaving: dict[str, list[Transition]] = {}
        for transition in self.transitions:
            for source in dict.fromkeys(transition.sources):
                leaving.setdefault(source, []).append(transition)
        return {status: tuple(found) for status, found in leaving.items()}

    @cached_property
    def _named(self) -> Mapping[str, tuple[Transition, ...]]:
        named: dict[str, list[Transition]] = {}
        for transition in self.transitions:
            named.setdefault(transition.code, []).append(transition)
        return {code: tuple(found) for code, found in named.items()}

    def reason(self, code: str) -> CancelReason | None:
        return next((r for r in self.cancel_reasons if r.code == code), None)

    def may_edit(self, kind: str, status: str) -> bool:
        return status in self.editing.get(kind, frozenset())

    def to_dict(self) -> dict[str, Any]:
        """The mapping this workflow was read from (what is stored and shown)."""
        return dict(self.source)
