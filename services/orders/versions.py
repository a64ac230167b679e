"""Moving a shop's open orders to a new version of its workflow (issue 16).

Orders keep the version they started with; when the shop asks, its open orders move to the
newest one, each in the status the shop's mapping gives (by default the one of the same
code). Refused, changing nothing, when an open order's status is missing from the new
version and the mapping does not say where it goes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select

from services.orders.actors import ActorRef, ActorType
from services.orders.events import OrderEvents
from services.orders.unit import Unit
from services.refusals import OrderRefused, Problem
from services.shops.staff import require_supervisor
from services.time import sla, timers
from services.workflow.definition import Workflow
from services.workflow.engine import timer_plans
from storage.models import Order, Shop, WorkflowDefinition


@dataclass(frozen=True)
class MovePlan:
    """The shop's open orders on older versions, by status, and those whose status the new
    version lacks (they need a mapping)."""

    open_by_status: dict[str, int]
    vanished: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.open_by_status.values())


async def _open_orders(unit: Unit, shop_id: int, target_id: int, *, lock: bool) -> list[Order]:
    query = select(Order).where(Order.shop_id == shop_id, Order.workflow_id != target_id)
    if lock:
        query = query.with_for_update(of=Order)
    orders = list(await unit.session.scalars(query.order_by(Order.id)))
    still_open = []
    for order in orders:
        workflow = await unit.workflows.get(unit.session, order.workflow_id)
        status = next((s for s in workflow.statuses if s.code == order.status), None)
        if status is not None and not status.is_final:
            still_open.append(order)
    return still_open


def _destination(status: str, mapping: Mapping[str, str]) -> str:
    return mapping.get(status, status)


async def plan(unit: Unit, shop_id: int, target_id: int, mapping: Mapping[str, str]) -> MovePlan:
    """Counted per version and status in one grouped query: a save shows it at once, however
    many orders the shop has."""
    target = await unit.workflows.get(unit.session, target_id)
    known = {s.code for s in target.statuses}
    rows = await unit.session.execute(
        select(Order.workflow_id, Order.status, func.count())
        .where(Order.shop_id == shop_id, Order.workflow_id != target_id)
        .group_by(Order.workflow_id, Order.status)
    )
    by_status: Counter[str] = Counter()
    for workflow_id, status, count in rows:
        workflow = await unit.workflows.get(unit.session, workflow_id)
        found = next((s for s in workflow.statuses if s.code == status), None)
        if found is not None and not found.is_final:
            by_status[status] += count
    vanished = {s: n for s, n in by_status.items() if _destination(s, mapping) not in known}
    return MovePlan(dict(by_status), vanished)


def _check_mapping(target: Workflow, mapping: Mapping[str, str]) -> None:
    for source, destination in mapping.items():
        status = next((s for s in target.statuses if s.code == destination), None)
        if status is None:
            raise OrderRefused(
                Problem.INVALID,
                f"'{source}' is mapped to '{destination}', which the new version does not have",
                {"field": "mapping", "status": source},
            )
        if status.is_final:
            raise OrderRefused(
                Problem.INVALID,
                f"'{source}' is mapped to the final status '{destination}': open orders "
                "are moved to open statuses",
                {"field": "mapping", "status": source},
            )


async def move_open_orders(
    unit: Unit, shop_id: int, actor: ActorRef, target_id: int, mapping: Mapping[str, str]
) -> int:
    """Move every open order of the shop to version `target_id`; returns how many moved."""
    if actor.type is ActorType.USER:
        await require_supervisor(unit.session, shop_id, actor.user_id)
    definition = await unit.session.get(WorkflowDefinition, target_id)
    if definition is None or definition.shop_id != shop_id:
        raise OrderRefused(Problem.NOT_FOUND, "no such workflow version")
    target = await unit.workflows.get(unit.session, target_id)
    _check_mapping(target, mapping)
    orders = await _open_orders(unit, shop_id, target_id, lock=True)
    known = {s.code for s in target.statuses}
    vanished = sorted({o.status for o in orders if _destination(o.status, mapping) not in known})
    if vanished:
        names = ", ".join(f"'{s}'" for s in vanished)
        raise OrderRefused(
            Problem.INVALID,
            f"open orders are in statuses the new version does not have: {names}; "
            "say where each goes",
            {"field": "mapping", "statuses": vanished},
        )
    shop = await unit.session.get(Shop, shop_id)
    versions: dict[int, int] = {}
    moved = 0
    for order in orders:
        old_id = order.workflow_id
        old = await unit.workflows.get(unit.session, old_id)
        if old_id not in versions:
            versions[old_id] = (await unit.session.get(WorkflowDefinition, old_id)).version
        before, after = order.status, _destination(order.status, mapping)
        who = await unit.who(order, actor)
        entered = before != after
        # Same status, same rules: its clock and timers stay as they are.
        same_rules = (
            not entered
            and old.status(before).sla == target.status(after).sla
            and old.timers_for(before) == target.timers_for(after)
        )
        order.workflow_id = target_id
        order.updated_at = unit.now
        if entered:
            order.status = after
            order.status_changed_at = unit.now
            order.last_action = None
        limits = (
            None if same_rules else sla.enter_status(order, target, shop, order.status_changed_at)
        )
        unit.add_event(
            order,
            who,
            action=OrderEvents.WORKFLOW_MOVED,
            from_status=before,
            to_status=after,
            payload={"from_version": versions[old_id], "to_version": definition.version},
            visible=False,
        )
        await unit.session.flush()
        if not same_rules:
            await timers.cancel_pending(unit.session, order.id, unit.now)
            plans = timer_plans(target, order.status, order.status_changed_at)
            await timers.schedule(unit.session, order.id, order.status, plans, unit.now, shop)
            await sla.schedule_deadline(unit.session, order, limits, unit.now)
        moved += 1
    return moved
