"""Returns (F1, seed 002): the buyer sends goods back after receipt; the shop handles it.

A return request names order lines and how many units of each go back, with the buyer's
reason. Only lines marked returnable, only within each line's return period counted from
receipt (the time the order entered its final-success status, as the audit log has it), and
never more units than were bought minus those already returned or being returned.

    requested ──approve──> approved ──goods received──> goods_received ──refund──> refunded
        └──────reject (with a reason)──> rejected

The shop (owner, admin, manager) takes each step. Every step is one transaction on the
locked order: the request's new status, an audit event on the order, notifications to both
sides through the outbox; the refund also posts the ledger's reversal of the returned lines.
A double tap finds the step taken and changes nothing. The shop must answer a request within
a limit in its business hours (default 24 h); a timer row fired by the sweep alerts it when
the limit passes without an answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.money.ledger.income import LineShare, line_shares
from services.money.return_notices import notify_step, record_step
from services.orders.access import EDITOR_ROLES, Who
from services.orders.actors import ActorRef, ActorType
from services.orders.events import OrderEvents
from services.orders.unit import Unit
from services.orders.work import OrderWork
from services.products import stock
from services.refusals import OrderRefused, Problem
from services.time import sla
from services.workflow.definition import StatusKind, Workflow
from storage.database import reading
from storage.models import Order, OrderEvent, ReturnLine, ReturnRequest, Shop, Timer

if TYPE_CHECKING:
    from services.money.ledger.postings import ReturnMoney

# The shop's setting: how many business hours it has to answer a return request.
ANSWER_HOURS_SETTING = "return_answer_hours"
DEFAULT_ANSWER_HOURS = 24
# The timer row that alerts the shop when it has not answered in time (fired by the sweep
# through services.orders.timed).
TIMER_KIND = "return_sla"
TIMER_CODE = "return_answer"
MAX_REASON = 1000
NO_FEE = Decimal(0)  # what the buyer paid per line, before the shop's and platform's split


class ReturnStatus(StrEnum):
    REQUESTED = "requested"  # the buyer asked; the shop is to answer
    APPROVED = "approved"  # the shop agreed: the buyer sends the goods back
    REJECTED = "rejected"  # the shop refused, with its reason; final
    GOODS_RECEIVED = "goods_received"  # the goods are back at the shop
    REFUNDED = "refunded"  # the money went back to the buyer; final


# The units of these requests count against what can still be returned.
COUNTING = frozenset(s for s in ReturnStatus if s is not ReturnStatus.REJECTED)
OPEN = frozenset({ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.GOODS_RECEIVED})


class Step(StrEnum):
    """What the shop does to a request: the status it leads to, and from which."""

    APPROVE = "approve"
    REJECT = "reject"
    GOODS_RECEIVED = "receive"
    REFUND = "refund"


STEPS: dict[Step, tuple[ReturnStatus, ReturnStatus]] = {
    Step.APPROVE: (ReturnStatus.REQUESTED, ReturnStatus.APPROVED),
    Step.REJECT: (ReturnStatus.REQUESTED, ReturnStatus.REJECTED),
    Step.GOODS_RECEIVED: (ReturnStatus.APPROVED, ReturnStatus.GOODS_RECEIVED),
    Step.REFUND: (ReturnStatus.GOODS_RECEIVED, ReturnStatus.REFUNDED),
}


class ReturnProblem(StrEnum):
    NOT_RECEIVED = "not_received"  # the order has not reached a final success
    NOT_RETURNABLE = "not_returnable"  # the line is not marked returnable
    PERIOD_OVER = "period_over"  # the line's return period has ended
    TOO_MANY = "too_many"  # more units than can still be returned
    UNKNOWN_ITEM = "unknown_item"  # not a line of this order
    NO_ITEMS = "no_items"  # nothing chosen
    NO_REASON = "no_reason"  # the reason is empty or too long
    ALREADY_DONE = "already_done"  # the step was taken (a double tap)
    WRONG_STEP = "wrong_step"  # not possible in the request's current status
    NOT_FOUND = "not_found"  # no such request, or not one this person may see


class ReturnRefused(Exception):
    """A return request or step refused; nothing was changed. `params` name the item."""

    def __init__(self, code: ReturnProblem, message: str, params: Mapping[str, Any] | None = None):
        self.code = code
        self.message = message
        self.params = dict(params or {})
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class ReturnOption:
    """One order line as the buyer may return it now."""

    item_id: int
    name: str
    bought: int
    taken: int  # units returned or being returned already
    until: datetime | None  # the end of its return period; None: not returnable
    problem: ReturnProblem | None  # why none of it can be returned now

    @property
    def available(self) -> int:
        return 0 if self.problem else self.bought - self.taken


@dataclass(frozen=True)
class ReturnOptions:
    order_id: int
    number: int
    received_at: datetime | None
    items: list[ReturnOption]

    @property
    def possible(self) -> bool:
        return any(option.available > 0 for option in self.items)


@dataclass(frozen=True)
class ReturnView:
    """A request as one person sees it: its lines with the goods' names, what they may do."""

    request: ReturnRequest
    order_id: int
    number: int
    currency: str
    lines: list[tuple[str, int, int]]  # (name, quantity, amount)
    steps: tuple[Step, ...]  # what this person may do now
    is_staff: bool


class ReturnService:
    def __init__(self, work: OrderWork):
        self._work = work
        self._sessions = work.sessions

    # -- reading -----------------------------------------------------------------

    async def options(self, order_id: int, actor: ActorRef) -> ReturnOptions:
        """What the order's buyer may return now, line by line, and why not where not."""
        async with reading(self._sessions) as session:
            unit = self._work.unit(session)
            order = await unit.load(order_id, asking=actor)
            await unit.who(order, actor)
            return await _options(unit, order)

    async def get(self, return_id: int, actor: ActorRef) -> ReturnView:
        async with reading(self._sessions) as session:
            unit = self._work.unit(session)
            order, who = await _order_of(unit, return_id, actor, lock=False)
            request = await _request(session, return_id)
            return _view(request, order, who)

    async def of_order(self, order_id: int, actor: ActorRef) -> list[ReturnView]:
        """The order's return requests, newest first."""
        async with reading(self._sessions) as session:
            unit = self._work.unit(session)
            order = await unit.load(order_id, asking=actor)
            who = await unit.who(order, actor)
            requests = await session.scalars(
                select(ReturnRequest)
                .where(ReturnRequest.order_id == order_id)
                .options(selectinload(ReturnRequest.lines))
                .order_by(ReturnRequest.id.desc())
            )
            return [_view(request, order, who) for request in requests]

    # -- the buyer asks ---------------------------------------------------------------

    async def request(
        self, order_id: int, actor: ActorRef, lines: Mapping[int, int], reason: str
    ) -> ReturnRequest:
        """The buyer asks to return `lines` (order item id -> units) for `reason`."""
        reason = (reason or "").strip()
        if not reason or len(reason) > MAX_REASON:
            raise ReturnRefused(
                ReturnProblem.NO_REASON, f"a reason of 1 to {MAX_REASON} characters is needed"
            )
        if any(quantity < 0 for quantity in lines.values()):
            raise ReturnRefused(ReturnProblem.TOO_MANY, "a quantity cannot be negative")
        picks = {item_id: quantity for item_id, quantity in lines.items() if quantity > 0}
        if not picks:
            raise ReturnRefused(ReturnProblem.NO_ITEMS, "choose at least one unit to return")

        async def work(unit: Unit) -> ReturnRequest:
            order = await unit.load(order_id, lock=True, asking=actor)
            who = await unit.who(order, actor)
            if not who.actor.is_buyer:
                raise OrderRefused(Problem.FORBIDDEN, "only the order's buyer asks for a return")
            if await _same_pending(unit.session, order.id, picks, reason):
                # The same request again while the first waits: a double tap, not a second.
                raise ReturnRefused(ReturnProblem.ALREADY_DONE, "this request was sent already")
            options = {option.item_id: option for option in (await _options(unit, order)).items}
            items = {item.id: item for item in order.items}
            for item_id, quantity in picks.items():
                _check(options.get(item_id), quantity)
            shop = await unit.session.get(Shop, order.shop_id)
            worth = {share.item_id: share for share in line_shares(order, order.items, NO_FEE)}
            request = ReturnRequest(
                order_id=order.id,
                shop_id=order.shop_id,
                status=ReturnStatus.REQUESTED,
                reason=reason,
                requested_by_user_id=actor.user_id if actor.type is ActorType.USER else None,
                created_at=unit.now,
                answer_due_at=answer_due(shop, unit.now),
                lines=[
                    ReturnLine(
                        order_item_id=item_id,
                        quantity=quantity,
                        amount=_share(worth[item_id], options[item_id].taken, quantity),
                    )
                    for item_id, quantity in sorted(picks.items())
                ],
            )
            request.amount = sum(line.amount for line in request.lines)
            unit.session.add(request)
            await unit.session.flush()
            await unit.session.execute(
                insert(Timer.__table__),
                [
                    {
                        "order_id": order.id,
                        "code": TIMER_CODE,
                        "kind": TIMER_KIND,
                        "status": order.status,
                        "action": None,
                        "due_at": request.answer_due_at,
                        "state": "pending",
                        "payload": {"return_id": request.id},
                        "created_at": unit.now,
                        "attempts": 0,
                    }
                ],
            )
            record_step(unit, order, who, request, OrderEvents.RETURN_REQUESTED, comment=reason)
            notify_step(unit.outbox, order, request, items, "requested")
            return request

        return await self._work.run(work)

    # -- the shop handles it ------------------------------------------------------------

    async def approve(self, return_id: int, actor: ActorRef) -> ReturnRequest:
        return await self.take(return_id, actor, Step.APPROVE)

    async def reject(self, return_id: int, actor: ActorRef, reason: str) -> ReturnRequest:
        return await self.take(return_id, actor, Step.REJECT, reason=reason)

    async def goods_received(self, return_id: int, actor: ActorRef) -> ReturnRequest:
        return await self.take(return_id, actor, Step.GOODS_RECEIVED)

    async def refund(self, return_id: int, actor: ActorRef) -> ReturnRequest:
        return await self.take(return_id, actor, Step.REFUND)

    async def take(
        self, return_id: int, actor: ActorRef, step: Step, *, reason: str | None = None
    ) -> ReturnRequest:
        """The shop takes `step` on the request: one transaction, once."""
        source, target = STEPS[step]
        if step is Step.REJECT:
            reason = (reason or "").strip()
            if not reason or len(reason) > MAX_REASON:
                raise ReturnRefused(
                    ReturnProblem.NO_REASON, f"a reason of 1 to {MAX_REASON} characters is needed"
                )

        async def work(unit: Unit) -> ReturnRequest:
            order, who = await _order_of(unit, return_id, actor, lock=True)
            if not who.actor.roles & EDITOR_ROLES:
                raise OrderRefused(Problem.FORBIDDEN, "only the shop's managers handle returns")
            request = await _request(unit.session, return_id)
            if request.status == target:
                raise ReturnRefused(ReturnProblem.ALREADY_DONE, "already done")
            if request.status != source:
                raise ReturnRefused(
                    ReturnProblem.WRONG_STEP,
                    f"not possible while the return is '{request.status}'",
                    {"status": request.status},
                )
            request.status = target
            money = None  # what the refund did to the buyer's money (the refund step's)
            user_id = actor.user_id if actor.type is ActorType.USER else None
            if step in (Step.APPROVE, Step.REJECT):
                request.decided_at, request.decided_by_user_id = unit.now, user_id
                request.reject_reason = reason
            elif step is Step.GOODS_RECEIVED:
                request.goods_received_at = unit.now
                # Back on the shelf: the products the lines name count them again (19).
                skus = {item.id: item.sku for item in order.items}
                await stock.returned(
                    unit.session,
                    order.shop_id,
                    order.id,
                    [(skus[line.order_item_id], line.quantity) for line in request.lines],
                    unit.now,
                    user_id,
                )
            else:
                request.refunded_at = unit.now
                money = await _post_refund(unit, order, request)
            await unit.session.flush()
            record_step(
                unit,
                order,
                who,
                request,
                OrderEvents(f"return_{target}"),
                comment=reason,
                money=money,
            )
            items = {item.id: item for item in order.items}
            notify_step(unit.outbox, order, request, items, str(target), money=money)
            return request

        return await self._work.run(work)


# -- the rules ---------------------------------------------------------------------


def answer_due(shop: Shop, now: datetime) -> datetime:
    """When the shop must have answered a request made now: N of its business hours."""
    try:
        hours = int((shop.settings or {}).get(ANSWER_HOURS_SETTING, DEFAULT_ANSWER_HOURS))
    except (TypeError, ValueError):
        hours = DEFAULT_ANSWER_HOURS
    return sla.calendar(shop).add(now, timedelta(hours=max(hours, 1)))


def may_be_returned(order: Order, workflow: Workflow, now: datetime) -> bool:
    """Whether some line of a received order may still go back, read from the order alone
    (for drawing its card without a query): it entered its final status at receipt. A
    request is checked exactly (receipt from the audit log, units already returned)."""
    if workflow.status(order.status).kind is not StatusKind.FINAL_SUCCESS:
        return False
    return any(
        item.returnable and now <= order.status_changed_at + timedelta(days=item.return_days)
        for item in order.items
    )


async def received_at(session: AsyncSession, order: Order, workflow: Workflow) -> datetime | None:
    """When the buyer got the goods: the order's entry into its final-success status."""
    if workflow.status(order.status).kind is not StatusKind.FINAL_SUCCESS:
        return None
    entered = await session.scalar(
        select(func.max(OrderEvent.created_at)).where(
            OrderEvent.order_id == order.id, OrderEvent.to_status == order.status
        )
    )
    return entered or order.status_changed_at


async def _options(unit: Unit, order: Order) -> ReturnOptions:
    workflow = await unit.workflow(order)
    receipt = await received_at(unit.session, order, workflow)
    taken = await _taken(unit.session, order.id)
    items = []
    for item in order.items:
        until = receipt + timedelta(days=item.return_days) if receipt and item.returnable else None
        if receipt is None:
            problem = ReturnProblem.NOT_RECEIVED
        elif not item.returnable:
            problem = ReturnProblem.NOT_RETURNABLE
        elif unit.now > until:
            problem = ReturnProblem.PERIOD_OVER
        elif taken.get(item.id, 0) >= item.quantity:
            problem = ReturnProblem.TOO_MANY
        else:
            problem = None
        items.append(
            ReturnOption(item.id, item.name, item.quantity, taken.get(item.id, 0), until, problem)
        )
    return ReturnOptions(order.id, order.number, receipt, items)


def _check(option: ReturnOption | None, quantity: int) -> None:
    """Refuse a line that cannot go back, naming the item and why."""
    if option is None:
        raise ReturnRefused(ReturnProblem.UNKNOWN_ITEM, "not an item of this order")
    params = {
        "item": option.name,
        "bought": option.bought,
        "taken": option.taken,
        "available": option.bought - option.taken,
        "until": option.until,
    }
    if option.problem is ReturnProblem.NOT_RECEIVED:
        raise ReturnRefused(
            option.problem, "goods can be returned only after the order is received", params
        )
    if option.problem is ReturnProblem.NOT_RETURNABLE:
        raise ReturnRefused(option.problem, f"'{option.name}' is not returnable", params)
    if option.problem is ReturnProblem.PERIOD_OVER:
        raise ReturnRefused(
            option.problem,
            f"the return period of '{option.name}' ended at {option.until.isoformat()}",
            params,
        )
    if quantity > option.bought - option.taken:
        raise ReturnRefused(
            ReturnProblem.TOO_MANY,
            f"only {option.bought - option.taken} of '{option.name}' can still be returned",
            params,
        )


async def _taken(session: AsyncSession, order_id: int) -> dict[int, int]:
    """Units per order line in requests that are not rejected."""
    rows = await session.execute(
        select(ReturnLine.order_item_id, func.sum(ReturnLine.quantity))
        .join(ReturnRequest, ReturnRequest.id == ReturnLine.return_id)
        .where(
            ReturnRequest.order_id == order_id,
            ReturnRequest.status.in_([str(s) for s in COUNTING]),
        )
        .group_by(ReturnLine.order_item_id)
    )
    return {item_id: int(units) for item_id, units in rows}


async def _same_pending(
    session: AsyncSession, order_id: int, picks: Mapping[int, int], reason: str
) -> bool:
    pending = await session.scalars(
        select(ReturnRequest)
        .where(
            ReturnRequest.order_id == order_id,
            ReturnRequest.status == ReturnStatus.REQUESTED,
            ReturnRequest.reason == reason,
        )
        .options(selectinload(ReturnRequest.lines))
    )
    return any(
        {line.order_item_id: line.quantity for line in request.lines} == dict(picks)
        for request in pending
    )


def _share(line: LineShare, before: int, quantity: int) -> int:
    """What these units cost the buyer: their part of the line after its own discount and
    its share of the order's (split as the ledger splits it, services.money.ledger.income).

    Counted as the difference of running shares, so however a line is returned in parts,
    the parts add up to exactly what the line cost: no kopeck lost or made up by rounding.
    """
    return line.part(line.goods, before, quantity)


async def _order_of(
    unit: Unit, return_id: int, actor: ActorRef, *, lock: bool
) -> tuple[Order, Who]:
    if not 0 < return_id <= 2**31 - 1:
        raise ReturnRefused(ReturnProblem.NOT_FOUND, "no such return")
    order_id = await unit.session.scalar(
        select(ReturnRequest.order_id).where(ReturnRequest.id == return_id)
    )
    if order_id is None:
        raise ReturnRefused(ReturnProblem.NOT_FOUND, "no such return")
    order = await unit.load(order_id, lock=lock, asking=actor)
    return order, await unit.who(order, actor)


async def _request(session: AsyncSession, return_id: int) -> ReturnRequest:
    """The request as it is now (read after the order's lock: a concurrent step is seen)."""
    return await session.scalar(
        select(ReturnRequest)
        .where(ReturnRequest.id == return_id)
        .options(selectinload(ReturnRequest.lines))
        .execution_options(populate_existing=True)
    )


def _view(request: ReturnRequest, order: Order, who: Who) -> ReturnView:
    names = {item.id: item.name for item in order.items}
    is_staff = bool(who.actor.roles & EDITOR_ROLES)
    steps = tuple(
        step for step, (source, _) in STEPS.items() if is_staff and request.status == source
    )
    return ReturnView(
        request=request,
        order_id=order.id,
        number=order.number,
        currency=order.currency,
        lines=[
            (names.get(line.order_item_id, "?"), line.quantity, line.amount)
            for line in request.lines
        ],
        steps=steps,
        is_staff=who.is_staff,
    )


async def _post_refund(unit: Unit, order: Order, request: ReturnRequest) -> ReturnMoney | None:
    """The ledger reverses the returned lines, in the refund's transaction (F2); what the
    buyer is paid back goes back through the provider that took it, if it can (issue 17)."""
    from services.money.ledger.postings import post_return_refund

    items = {item.id: item for item in order.items}
    money = await post_return_refund(
        unit.session,
        order=order,
        lines=[(items[line.order_item_id], line.quantity) for line in request.lines],
        return_id=request.id,
        now=unit.now,
    )
    from services.payments.refunds import owe_back_return

    # What came off a debt the buyer still had is not paid out: only the refund goes back.
    amount = request.amount if money is None else money.refunded
    await owe_back_return(unit.session, order, request.id, amount, unit.now)
    return money


# -- the time limit of the shop's answer -------------------------------------------------


async def fire_timer(unit: Unit, order: Order, timer: Timer) -> str:
    """The shop's time to answer a request has passed: alert it, unless it answered."""
    request = await unit.session.get(ReturnRequest, timer.payload.get("return_id"))
    if request is None or request.status != ReturnStatus.REQUESTED:
        return "answered"
    request.overdue_at = unit.now
    who = await unit.who(order, ActorRef.system())
    unit.add_event(
        order,
        who,
        action=OrderEvents.RETURN_OVERDUE,
        payload={"return_id": request.id, "due_at": timer.due_at.isoformat()},
        visible=False,
    )
    unit.outbox.add(
        key=f"return:{request.id}:overdue",
        channel="telegram",
        audience="staff",
        topic="return_overdue",
        shop_id=order.shop_id,
        order_id=order.id,
        payload={"return_id": request.id, "number": order.number, "role": "manager"},
    )
    return "flagged"
