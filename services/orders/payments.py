"""Money recorded against an order outside its workflow steps: a payment with its amount (the
difference an edit left, or what a payment provider reports), and a refund made of what the
shop owed back.

Each runs inside OrderService's transaction, after the order was loaded and locked. The
workflow's "paid" step stays the way an order becomes paid; these keep the money right around
it (issue 14): the buyer's card and the staff card show what is paid and what is open.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from services.money.ledger import postings as ledger
from services.orders import drafts, notices
from services.orders.access import Who
from services.orders.decisions import PAYMENT_PROBLEM, facts, write_decision
from services.orders.events import OrderEvents
from services.orders.unit import Unit
from services.refusals import OrderRefused, Problem
from services.workflow.definition import StatusKind, Workflow
from services.workflow.engine import decide
from storage.models import LedgerEntry, Order

# Who records money by hand: the people who see the money (not packers or couriers).
MONEY_ROLES = frozenset({"owner", "admin", "accountant", "manager"})
# A payment's own id at its source (a provider's payment id): the same one is recorded once.
_REFERENCE = re.compile(r"^[A-Za-z0-9._:-]{1,40}$")


def require_money_role(who: Who) -> None:
    if who.actor.is_system:
        return
    if not who.actor.roles & MONEY_ROLES:
        raise OrderRefused(
            Problem.FORBIDDEN, "only the shop's owner, admins, accountant and managers do"
        )


def check_amount(amount: int | None) -> None:
    if amount is None:
        return
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise drafts.invalid("amount", "an amount above zero, in minor units")
    drafts.check_money(amount, "amount")


async def record_payment(
    unit: Unit,
    order: Order,
    workflow: Workflow,
    who: Who,
    amount: int | None,
    reference: str | None,
) -> int:
    """The buyer paid: `amount` in minor units, None for what they owe now. A `reference`
    seen before for this order records nothing again (a provider's repeated notice).
    Returns the amount recorded (0: nothing was)."""
    require_money_role(who)
    check_amount(amount)
    if workflow.status(order.status).kind is StatusKind.FINAL_FAILURE:
        raise OrderRefused(Problem.ORDER_CLOSED, "the order is cancelled")
    if reference is not None:
        if not _REFERENCE.match(reference):
            raise drafts.invalid("reference", "1 to 40 of A-Z a-z 0-9 . _ : -")
        prefix = f"payment:{order.id}:{reference}:"
        seen = await unit.session.scalar(
            select(LedgerEntry.id)
            .where(LedgerEntry.dedupe_key.startswith(prefix, autoescape=True))
            .limit(1)
        )
        if seen is not None:
            return 0
    if amount is None and order.balance_due <= 0:
        raise OrderRefused(Problem.ALREADY_DONE, "the buyer owes nothing on this order")
    await _new_version(unit, order)  # cards drawn before show the old money
    event = unit.add_event(
        order,
        who,
        action=OrderEvents.PAYMENT_RECORDED,
        payload={"reference": reference},
    )
    await unit.session.flush()
    key = f"payment:{order.id}:{reference}" if reference else f"event:{event.id}"
    recorded = await ledger.record_payment(unit.session, order, amount, key, event, unit.now)
    event.payload = {**event.payload, "amount": recorded}
    _tell(unit, order, "payment_recorded", recorded)
    return recorded


async def record_refund(
    unit: Unit, order: Order, _workflow: Workflow, who: Who, amount: int | None
) -> int:
    """The shop gave back what it owed the buyer (`amount`, None: all of it)."""
    require_money_role(who)
    check_amount(amount)
    if order.balance_due >= 0:
        raise OrderRefused(Problem.ALREADY_DONE, "the shop owes the buyer nothing on this order")
    await _new_version(unit, order)
    event = unit.add_event(order, who, action=OrderEvents.REFUND_RECORDED, payload={})
    await unit.session.flush()
    recorded = await ledger.record_refund(
        unit.session, order, amount, f"event:{event.id}", event, unit.now
    )
    event.payload = {"amount": recorded}
    _tell(unit, order, "refund_recorded", recorded)
    return recorded


async def _new_version(unit: Unit, order: Order) -> None:
    """The order's money changes while nothing else of it does: its version moves on all the
    same (flagged, as the same clock reading would change no column), so cards drawn before
    are redrawn and their buttons are stale."""
    order.updated_at = unit.now
    flag_modified(order, "updated_at")
    await unit.session.flush()


def _tell(unit: Unit, order: Order, action: str, amount: int) -> None:
    """Every card redrawn with the money as it is now; the buyer told what was recorded."""
    if amount <= 0:
        return
    notices.cards_changed(unit.outbox, order)
    notices.to_buyer(unit.outbox, order, "order_changed", {"action": action, "amount": amount})


# -- a payment provider's confirmed payment (issue 17) ---------------------------------------


class ProviderOutcome(StrEnum):
    PAID = "paid"  # the workflow's "paid" step was taken with this payment
    DUPLICATE = "duplicate"  # this payment was recorded before: nothing changed
    MISMATCH = "mismatch"  # not applied: the order got the problem flag, the shop was told


@dataclass(frozen=True)
class ProviderPaid:
    """What a provider confirmed (fetched back from it, never read off a notification)."""

    provider: str  # telegram | yookassa | storefront
    payment_id: str  # the provider's own id
    amount: int  # minor units
    currency: str
    action: str = "mark_paid"  # the workflow's step a confirmed payment takes

    @property
    def reference(self) -> str:
        """The ledger's reference: the provider and its id, hashed when too long to keep."""
        plain = f"{self.provider}:{self.payment_id}"
        if _REFERENCE.match(plain):
            return plain
        return f"{self.provider}:{hashlib.sha256(self.payment_id.encode()).hexdigest()[:24]}"


def amount_due(order: Order) -> int:
    """What the buyer is to pay now: the whole total before any payment, else what is open."""
    return order.balance_due if order.amount_paid else order.total


async def provider_paid(
    unit: Unit, order: Order, workflow: Workflow, who: Who, paid: ProviderPaid
) -> tuple[ProviderOutcome, str | None, list]:
    """A confirmed payment for `order` (locked): recorded once, and the workflow's "paid" step
    taken with it when it is what the order is waiting for; else the order is flagged and the
    shop told, and nothing of the money is booked (the shop decides: a refund, or by hand).
    Returns the outcome, why it was not applied, and the events of the step taken."""
    prefix = f"payment:{order.id}:{paid.reference}:"
    seen = await unit.session.scalar(
        select(LedgerEntry.id)
        .where(LedgerEntry.dedupe_key.startswith(prefix, autoescape=True))
        .limit(1)
    )
    if seen is not None:
        return ProviderOutcome.DUPLICATE, None, []
    due = amount_due(order)
    problem = None
    decision = decide(workflow, facts(order), who.actor, paid.action, {}, unit.now)
    if paid.currency != order.currency:
        problem = f"currency {paid.currency}, the order is in {order.currency}"
    elif paid.amount != due:
        problem = f"amount {paid.amount}, {due} is due"
    elif not decision.applied:
        problem = f"{decision.code}: {decision.message}"
    if problem is not None:
        _flag(unit, order, who, paid, due, problem)
        return ProviderOutcome.MISMATCH, problem, []
    await record_payment(unit, order, workflow, who, paid.amount, paid.reference)
    events = await write_decision(unit, order, workflow, who, decision)
    unit.outbox.add(
        key=f"order:{order.id}:payment:{paid.reference}:received",
        channel="telegram",
        audience="staff",
        topic=PAYMENT_NOTICE,
        shop_id=order.shop_id,
        order_id=order.id,
        payload={"kind": "received", "amount": paid.amount, "provider": paid.provider},
    )
    return ProviderOutcome.PAID, None, events


PAYMENT_NOTICE = "payment_notice"  # the shop's: a payment received, or one not applied


def _flag(unit: Unit, order: Order, who: Who, paid: ProviderPaid, due: int, problem: str) -> None:
    order.problem, order.problem_reason = True, PAYMENT_PROBLEM
    unit.add_event(
        order,
        who,
        action=OrderEvents.PAYMENT_NOT_APPLIED,
        visible=False,
        payload={
            "provider": paid.provider,
            "payment_id": paid.payment_id[:128],
            "amount": paid.amount,
            "currency": paid.currency,
            "problem": problem,
        },
    )
    notices.cards_changed(unit.outbox, order)
    unit.outbox.add(
        key=f"order:{order.id}:payment:{paid.reference}:problem",
        channel="telegram",
        audience="staff",
        topic=PAYMENT_NOTICE,
        shop_id=order.shop_id,
        order_id=order.id,
        payload={
            "kind": "mismatch",
            "amount": paid.amount,
            "currency": paid.currency,
            "due": due,
            "provider": paid.provider,
            "status": order.status,
        },
    )
