"""The order service: the one way an order changes (DESIGN "The core").

A button in Telegram, a one-click e-mail link, the storefront API and the scheduler all
call these methods. Each runs in one transaction: load and lock the order, decide who is
asking and what they may do, ask the workflow engine, then write the status, the audit
events, the timers and the outbox notifications together, or nothing at all.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from services.auth import new_buyer_token
from services.clock import Clock
from services.notifications.outbox import enqueue
from services.orders import drafts
from services.orders.actors import ActorRef, ActorType
from services.orders.drafts import ItemDraft, OrderDraft
from services.orders.errors import OrderRefused, Problem
from services.orders.money import order_total
from services.vocabulary import IN_STOCK, MADE_TO_ORDER, SUPERVISOR_ROLES
from services.workflow.definition import ActorKind, Workflow
from services.workflow.engine import (
    ActionOption,
    Actor,
    Applied,
    OrderFacts,
    TimerPlan,
    available_actions,
    decide,
    initial_timers,
    open_action,
)
from services.workflows import WorkflowStore
from storage.models import Buyer, Order, OrderEvent, OrderItem, Shop, StaffMember, Timer

log = logging.getLogger(__name__)

# Who may edit an order's contents (A6: "only the shop edits"): not packers or couriers.
EDITOR_ROLES = frozenset({"owner", "admin", "manager"})
MAX_ATTEMPTS = 5
T = TypeVar("T")


@dataclass(frozen=True)
class TransitionResult:
    order: Order
    decision: Applied
    events: list[OrderEvent]


@dataclass(frozen=True)
class _Who:
    """The asking person as the engine sees them, plus what the audit log records."""

    actor: Actor
    ref: ActorRef

    def role_for(self, roles: frozenset[str]) -> str | None:
        """The staff role in which they act: one the step lists, else their supervisor role."""
        for role in sorted(self.actor.roles & roles) or sorted(self.actor.roles & SUPERVISOR_ROLES):
            return role
        return None


class OrderService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        workflows: WorkflowStore,
    ):
        self._sessions = sessions
        self._clock = clock
        self._workflows = workflows

    # -- reading -----------------------------------------------------------------

    async def get(self, order_id: int, actor: ActorRef) -> Order:
        """The order, if this person may see it (staff of its shop or its buyer)."""
        async with self._sessions() as session:
            order = await self._load(session, order_id)
            await self._who(session, order, actor)
            return order

    async def actions(self, order_id: int, actor: ActorRef) -> list[ActionOption]:
        """The buttons this person gets on the order's card right now."""
        async with self._sessions() as session:
            order = await self._load(session, order_id)
            who = await self._who(session, order, actor)
            workflow = await self._workflows.get(session, order.workflow_id)
            return available_actions(workflow, _facts(order), who.actor)

    async def workflow_of(self, order_id: int) -> Workflow:
        async with self._sessions() as session:
            order = await self._load(session, order_id)
            return await self._workflows.get(session, order.workflow_id)

    async def history(self, order_id: int, actor: ActorRef) -> list[OrderEvent]:
        """The audit log; the buyer sees only what is meant for them (A9)."""
        async with self._sessions() as session:
            order = await self._load(session, order_id)
            who = await self._who(session, order, actor)
            query = select(OrderEvent).where(OrderEvent.order_id == order_id)
            if not who.actor.roles and not who.actor.is_system:
                query = query.where(OrderEvent.visible_to_buyer.is_(True))
            return list(await session.scalars(query.order_by(OrderEvent.id)))

    # -- creating ----------------------------------------------------------------

    async def create_orders(
        self, shop_id: int, draft: OrderDraft, actor: ActorRef, *, source: str = "manual"
    ) -> list[Order]:
        """Create the order, split in two when it mixes in-stock and made-to-order goods (000)."""

        async def work(session: AsyncSession) -> list[Order]:
            shop = await session.get(Shop, shop_id)
            if shop is None:
                raise OrderRefused(Problem.NOT_FOUND, "no such shop")
            await self._check_creator(session, shop_id, actor)
            checked = drafts.check_draft(draft, shop.country)
            definition = await self._workflows.current(session, shop_id)
            workflow = await self._workflows.get(session, definition.id)
            buyer = await self._buyer_for(session, shop_id, checked.buyer)
            delivery_cost = (
                checked.delivery_cost
                if checked.delivery_cost is not None
                else _delivery_price(shop, checked.delivery_method)
            )
            groups = [
                [item for item in checked.items if item.availability == availability]
                for availability in (IN_STOCK, MADE_TO_ORDER)
            ]
            groups = [group for group in groups if group]
            orders = []
            for index, items in enumerate(groups):
                # The delivery cost and the order discount stay with the first order, so
                # the buyer pays what the storefront showed, once.
                order = await self._insert_order(
                    session,
                    shop=shop,
                    workflow_id=definition.id,
                    workflow=workflow,
                    buyer=buyer,
                    draft=checked,
                    items=items,
                    delivery_cost=delivery_cost if index == 0 else 0,
                    discount=checked.discount if index == 0 else 0,
                    source=source,
                    actor=actor,
                )
                orders.append(order)
            if len(orders) > 1:
                for order in orders:
                    order_ids = [o.id for o in orders if o.id != order.id]
                    await self._event(
                        session,
                        order,
                        None,
                        action="split_by_availability",
                        payload={"sibling_order_ids": order_ids},
                        system=True,
                        channel=actor.channel,
                    )
            return orders

        try:
            return await self._transaction(work)
        except IntegrityError as error:
            if draft.external_id is not None:
                raise OrderRefused(
                    Problem.DUPLICATE,
                    f"an order with external id '{draft.external_id}' exists already",
                    {"field": "external_id"},
                ) from error
            raise

    async def _insert_order(
        self,
        session: AsyncSession,
        *,
        shop: Shop,
        workflow_id: int,
        workflow: Workflow,
        buyer: Buyer,
        draft: OrderDraft,
        items: list[ItemDraft],
        delivery_cost: int,
        discount: int,
        source: str,
        actor: ActorRef,
    ) -> Order:
        now = self._clock.now()
        number = await session.scalar(
            update(Shop)
            .where(Shop.id == shop.id)
            .values(last_order_number=Shop.last_order_number + 1)
            .returning(Shop.last_order_number)
        )
        items_total = sum(item.line_total for item in items)
        discount = min(discount, items_total)
        order = Order(
            shop_id=shop.id,
            number=number,
            buyer_id=buyer.id,
            workflow_id=workflow_id,
            status=workflow.initial.code,
            status_changed_at=now,
            availability=items[0].availability,
            payment_method=draft.payment_method,
            delivery_method=draft.delivery_method,
            delivery_address=draft.delivery_address,
            currency=shop.currency,
            items_total=items_total,
            discount=discount,
            delivery_cost=delivery_cost,
            total=order_total(items_total, discount, delivery_cost),
            source=source,
            external_id=draft.external_id,
            buyer_token=new_buyer_token(),
            buyer_comment=draft.comment,
            created_at=now,
            updated_at=now,
            items=[_item_row(position, item) for position, item in enumerate(items, 1)],
        )
        session.add(order)
        await session.flush()
        order.buyer = buyer
        await self._event(
            session,
            order,
            self._creator(actor),
            action="create",
            to_status=order.status,
            payload={"source": source, "total": order.total},
            channel=actor.channel,
        )
        await self._schedule(session, order, initial_timers(workflow, now), now)
        await self._notify_new_order(session, order, shop, workflow)
        return order

    # -- changing the status -------------------------------------------------------

    async def apply(
        self,
        order_id: int,
        actor: ActorRef,
        action: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        expected_version: int | None = None,
    ) -> TransitionResult:
        """Take a workflow action on an order: the one entry for every status change."""

        async def work(session: AsyncSession) -> TransitionResult:
            order = await self._load(session, order_id, lock=True)
            if expected_version is not None and order.version != expected_version:
                raise OrderRefused(Problem.STALE, "the order has changed since this card was shown")
            who = await self._who(session, order, actor)
            workflow = await self._workflows.get(session, order.workflow_id)
            now = self._clock.now()
            decision = decide(workflow, _facts(order), who.actor, action, inputs, now)
            if not decision.applied:
                raise OrderRefused(decision.code, decision.message, decision.params)
            events = await self._write_decision(session, order, workflow, who, decision, now)
            return TransitionResult(order=order, decision=decision, events=events)

        return await self._transaction(work)

    async def open(self, order_id: int, actor: ActorRef) -> Order:
        """Staff open the order's card: the first opening may move it on (003: agreement)."""

        async def work(session: AsyncSession) -> Order:
            order = await self._load(session, order_id, lock=True)
            who = await self._who(session, order, actor)
            if not who.actor.roles:
                return order
            now = self._clock.now()
            if order.opened_at is None:
                order.opened_at = now
            workflow = await self._workflows.get(session, order.workflow_id)
            action = open_action(workflow, _facts(order), who.actor)
            if action is not None:
                decision = decide(workflow, _facts(order), who.actor, action, {}, now)
                if decision.applied:
                    await self._write_decision(session, order, workflow, who, decision, now)
            await session.flush()
            return order

        return await self._transaction(work)

    async def _write_decision(
        self,
        session: AsyncSession,
        order: Order,
        workflow: Workflow,
        who: _Who,
        decision: Applied,
        now,
    ) -> list[OrderEvent]:
        events = []
        for index, step in enumerate(decision.steps):
            first = index == 0
            event = await self._event(
                session,
                order,
                who if first else None,
                action=step.transition.code,
                from_status=step.from_status,
                to_status=step.to_status,
                payload={
                    "effects": [str(e) for e in step.transition.effects],
                    **({"inputs": dict(decision.inputs)} if first and decision.inputs else {}),
                    **({"automatic": True} if not first else {}),
                },
                comment=decision.inputs.get("comment") if first else None,
                capacity=step.capacity,
                role=who.role_for(step.transition.staff_roles) if first else None,
                channel=who.ref.channel,
            )
            events.append(event)
        if "track_code" in decision.inputs:
            order.track_code = decision.inputs["track_code"]
        if "carrier" in decision.inputs:
            order.carrier = decision.inputs["carrier"]
        order.status = decision.final_status
        order.status_changed_at = now
        order.updated_at = now
        order.last_action = decision.steps[0].transition.code
        await session.flush()  # the version check: a concurrent change fails here
        await self._cancel_timers(session, order.id, now)
        await self._schedule(session, order, decision.timers, now)
        await self._notify_status(session, order, workflow, events[-1])
        return events

    # -- editing (A6, A7) -------------------------------------------------------------

    async def edit_items(self, order_id: int, actor: ActorRef, items: list[ItemDraft]) -> Order:
        """Replace the goods (during the call with the buyer, where the workflow allows)."""

        async def work(session: AsyncSession) -> Order:
            order, _workflow, who = await self._editable(session, order_id, actor, "items")
            drafts.check_items(items)
            if any(item.availability != order.availability for item in items):
                raise drafts.invalid(
                    "items", "in-stock and made-to-order goods go in separate orders"
                )
            before = _items_summary(order.items)
            order.items.clear()
            await session.flush()
            order.items.extend(_item_row(n, item) for n, item in enumerate(items, 1))
            self._recalculate(order)
            await self._changed(
                session,
                order,
                who,
                "edit_items",
                {"before": before, "after": _items_summary(order.items)},
            )
            return order

        return await self._transaction(work)

    async def change_delivery(
        self,
        order_id: int,
        actor: ActorRef,
        *,
        method: str,
        address: str | None = None,
        cost: int | None = None,
    ) -> Order:
        """Change how the goods travel; the total follows the new delivery cost (001)."""

        async def work(session: AsyncSession) -> Order:
            order, _workflow, who = await self._editable(session, order_id, actor, "delivery")
            drafts.check_methods(order.payment_method, method)
            shop = await session.get(Shop, order.shop_id)
            new_cost = cost if cost is not None else _delivery_price(shop, method)
            drafts.check_money(new_cost, "delivery.cost")
            if address is not None and len(address) > 1000:
                raise drafts.invalid("delivery.address", "longer than 1000 characters")
            before = {
                "method": order.delivery_method,
                "address": order.delivery_address,
                "cost": order.delivery_cost,
            }
            order.delivery_method = method
            if address is not None:
                order.delivery_address = address.strip()
            order.delivery_cost = new_cost
            self._recalculate(order)
            after = {"method": method, "address": order.delivery_address, "cost": new_cost}
            await self._changed(
                session, order, who, "change_delivery", {"before": before, "after": after}
            )
            return order

        return await self._transaction(work)

    async def change_payment(self, order_id: int, actor: ActorRef, method: str) -> Order:
        async def work(session: AsyncSession) -> Order:
            order, _workflow, who = await self._editable(session, order_id, actor, "payment")
            drafts.check_methods(method, order.delivery_method)
            before = order.payment_method
            order.payment_method = method
            await self._changed(
                session, order, who, "change_payment", {"before": before, "after": method}
            )
            return order

        return await self._transaction(work)

    async def set_discount(
        self,
        order_id: int,
        actor: ActorRef,
        *,
        order_discount: int | None = None,
        item_discounts: Mapping[int, int] | None = None,
    ) -> Order:
        """A discount on the whole order, on single lines, or both (001)."""

        async def work(session: AsyncSession) -> Order:
            order, _workflow, who = await self._editable(session, order_id, actor, "discount")
            lines = {item.id: item for item in order.items}
            changes: dict[str, Any] = {}
            for item_id, amount in (item_discounts or {}).items():
                item = lines.get(item_id)
                if item is None:
                    raise drafts.invalid("item_id", f"the order has no item {item_id}")
                if (
                    not isinstance(amount, int)
                    or not 0 <= amount <= item.unit_price * item.quantity
                ):
                    raise drafts.invalid(
                        f"items[{item.position - 1}].discount",
                        "a discount from zero to the line's price",
                    )
                changes[item.sku] = {"before": item.discount, "after": amount}
                item.discount = amount
            items_total = sum(item.line_total for item in order.items)
            if order_discount is not None:
                if not isinstance(order_discount, int) or not 0 <= order_discount <= items_total:
                    raise drafts.invalid("discount", "a discount from zero to the goods' total")
                changes["order"] = {"before": order.discount, "after": order_discount}
                order.discount = order_discount
            self._recalculate(order)
            await self._changed(session, order, who, "set_discount", changes)
            return order

        return await self._transaction(work)

    async def split(
        self,
        order_id: int,
        actor: ActorRef,
        *,
        move: Mapping[int, int],
        reason: str,
        comment: str = "",
    ) -> tuple[Order, Order]:
        """Move some goods (item id -> quantity) into a new order handled on its own (A7)."""

        async def work(session: AsyncSession) -> tuple[Order, Order]:
            order, workflow, who = await self._editable(session, order_id, actor, "split")
            reason_def = next((r for r in workflow.split_reasons if r.code == reason), None)
            if reason_def is None:
                raise drafts.invalid("reason", f"'{reason}' is not a reason to split")
            if reason_def.comment_required and not comment.strip():
                raise OrderRefused(
                    Problem.INPUT_MISSING,
                    f"the reason '{reason}' needs a comment",
                    {"input": "comment"},
                )
            lines = {item.id: item for item in order.items}
            moved: list[ItemDraft] = []
            for item_id, quantity in move.items():
                item = lines.get(item_id)
                if item is None:
                    raise drafts.invalid("items", f"the order has no item {item_id}")
                if not isinstance(quantity, int) or not 1 <= quantity <= item.quantity:
                    raise drafts.invalid("quantity", f"move 1 to {item.quantity} of {item.sku}")
                # A moved share of a line takes its share of the line's discount along.
                share = item.discount * quantity // item.quantity
                moved.append(
                    ItemDraft(
                        item.sku,
                        item.name,
                        quantity,
                        item.unit_price,
                        item.availability,
                        share,
                        item.returnable,
                        item.return_days,
                    )
                )
                item.discount -= share
                item.quantity -= quantity
            for item in list(order.items):
                if item.quantity == 0:
                    order.items.remove(item)
            if not moved or not order.items:
                raise drafts.invalid("items", "both orders need at least one item")
            now = self._clock.now()
            shop = await session.get(Shop, order.shop_id)
            number = await session.scalar(
                update(Shop)
                .where(Shop.id == shop.id)
                .values(last_order_number=Shop.last_order_number + 1)
                .returning(Shop.last_order_number)
            )
            items_total = sum(item.line_total for item in moved)
            new = Order(
                shop_id=order.shop_id,
                number=number,
                buyer_id=order.buyer_id,
                workflow_id=order.workflow_id,
                status=order.status,
                status_changed_at=now,
                availability=order.availability,
                payment_method=order.payment_method,
                delivery_method=order.delivery_method,
                delivery_address=order.delivery_address,
                currency=order.currency,
                items_total=items_total,
                discount=0,
                delivery_cost=0,
                total=items_total,
                source="split",
                split_from_id=order.id,
                buyer_token=new_buyer_token(),
                buyer_comment=order.buyer_comment,
                opened_at=order.opened_at,
                created_at=now,
                updated_at=now,
                items=[_item_row(n, item) for n, item in enumerate(moved, 1)],
            )
            session.add(new)
            self._recalculate(order)
            order.discount = min(order.discount, order.items_total)
            self._recalculate(order)
            await session.flush()
            new.buyer = order.buyer
            details = {"reason": reason, "comment": comment.strip() or None}
            await self._changed(
                session,
                order,
                who,
                "split",
                {**details, "new_order_id": new.id, "new_order_number": number},
            )
            await self._event(
                session,
                new,
                who,
                action="split_from",
                to_status=new.status,
                payload={**details, "from_order_id": order.id, "from_order_number": order.number},
                channel=who.ref.channel,
            )
            await self._copy_timers(session, order.id, new.id, now)
            await self._notify_buyer(session, new, "order_split", {"from_number": order.number})
            return order, new

        return await self._transaction(work)

    async def add_comment(self, order_id: int, actor: ActorRef, text: str) -> OrderEvent:
        """A private staff comment in the history; the buyer never sees it (003)."""

        async def work(session: AsyncSession) -> OrderEvent:
            order = await self._load(session, order_id)
            who = await self._who(session, order, actor)
            if not who.actor.roles:
                raise OrderRefused(Problem.FORBIDDEN, "only the shop's staff write comments")
            text_ = text.strip()
            if not text_ or len(text_) > 2000:
                raise drafts.invalid("comment", "a comment of 1 to 2000 characters is needed")
            return await self._event(
                session,
                order,
                who,
                action="comment",
                comment=text_,
                visible=False,
                channel=actor.channel,
            )

        return await self._transaction(work)

    # -- the transaction ----------------------------------------------------------

    async def _transaction(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in one transaction, again from scratch if it lost a race."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self._sessions() as session, session.begin():
                    return await work(session)
            except StaleDataError:
                log.info("order changed concurrently; attempt %s of %s", attempt, MAX_ATTEMPTS)
            except OperationalError as error:
                # SQLite's "database is locked" after the busy timeout, PostgreSQL's
                # serialization and deadlock errors: the transaction rolled back whole.
                if not _is_retryable(error):
                    raise
                log.warning("database busy; attempt %s of %s: %s", attempt, MAX_ATTEMPTS, error)
        raise OrderRefused(Problem.BUSY, "the order is being changed by someone else; try again")

    # -- helpers ---------------------------------------------------------------------

    async def _load(self, session: AsyncSession, order_id: int, *, lock: bool = False) -> Order:
        query = (
            select(Order)
            .where(Order.id == order_id)
            .options(selectinload(Order.items))
            .execution_options(populate_existing=True)
        )
        if lock:
            # PostgreSQL: concurrent changes of one order queue up here. SQLite has one
            # writer at a time already (BEGIN IMMEDIATE) and ignores FOR UPDATE.
            query = query.with_for_update(of=Order)
        order = await session.scalar(query)
        if order is None:
            raise OrderRefused(Problem.NOT_FOUND, "no such order")
        return order

    async def _who(self, session: AsyncSession, order: Order, ref: ActorRef) -> _Who:
        """Decide who is asking, from identity alone; strangers learn nothing (NOT_FOUND)."""
        if ref.type is ActorType.SYSTEM:
            return _Who(Actor.system(), ref)
        if ref.type is ActorType.BUYER:
            if ref.buyer_id != order.buyer_id:
                raise OrderRefused(Problem.NOT_FOUND, "no such order")
            return _Who(Actor.buyer(), ref)
        roles = frozenset(
            await session.scalars(
                select(StaffMember.role).where(
                    StaffMember.shop_id == order.shop_id, StaffMember.user_id == ref.user_id
                )
            )
        )
        is_buyer = order.buyer.user_id is not None and order.buyer.user_id == ref.user_id
        if not roles and not is_buyer:
            raise OrderRefused(Problem.NOT_FOUND, "no such order")
        return _Who(Actor(roles=roles, is_buyer=is_buyer), ref)

    async def _check_creator(self, session: AsyncSession, shop_id: int, actor: ActorRef) -> None:
        if actor.type is ActorType.SYSTEM:
            return
        if actor.type is ActorType.USER:
            role = await session.scalar(
                select(StaffMember.role)
                .where(StaffMember.shop_id == shop_id, StaffMember.user_id == actor.user_id)
                .limit(1)
            )
            if role is not None:
                return
        raise OrderRefused(Problem.FORBIDDEN, "only the shop's staff create orders by hand")

    def _creator(self, actor: ActorRef) -> _Who | None:
        if actor.type is ActorType.USER:
            return _Who(Actor(), actor)
        return None

    async def _editable(
        self, session: AsyncSession, order_id: int, actor: ActorRef, kind: str
    ) -> tuple[Order, Workflow, _Who]:
        order = await self._load(session, order_id, lock=True)
        who = await self._who(session, order, actor)
        if not who.actor.roles & EDITOR_ROLES:
            raise OrderRefused(
                Problem.FORBIDDEN, "only the shop's managers edit orders", {"edit": kind}
            )
        workflow = await self._workflows.get(session, order.workflow_id)
        if not workflow.may_edit(kind, order.status):
            raise OrderRefused(
                Problem.EDIT_NOT_ALLOWED,
                f"'{kind}' cannot be edited in the status '{order.status}'",
                {"edit": kind, "status": order.status},
            )
        return order, workflow, who

    def _recalculate(self, order: Order) -> None:
        order.items_total = sum(item.line_total for item in order.items)
        order.total = order_total(order.items_total, order.discount, order.delivery_cost)

    async def _changed(
        self, session: AsyncSession, order: Order, who: _Who, action: str, payload: dict
    ) -> None:
        now = self._clock.now()
        order.updated_at = now
        await session.flush()  # bumps the version: a concurrent edit fails one of the two
        await self._event(
            session, order, who, action=action, payload=payload, channel=who.ref.channel
        )
        await self._notify_buyer(session, order, "order_changed", {"action": action})

    async def _event(
        self,
        session: AsyncSession,
        order: Order,
        who: _Who | None,
        *,
        action: str,
        from_status: str | None = None,
        to_status: str | None = None,
        payload: dict | None = None,
        comment: str | None = None,
        capacity: ActorKind | None = None,
        role: str | None = None,
        visible: bool = True,
        system: bool = False,
        channel: str = "system",
    ) -> OrderEvent:
        if who is None or system or who.actor.is_system or capacity is ActorKind.SYSTEM:
            kind, user_id, role = ActorKind.SYSTEM, None, None
        elif capacity is ActorKind.BUYER or (not who.actor.roles and who.actor.is_buyer):
            kind, user_id, role = ActorKind.BUYER, who.ref.user_id, None
        else:
            kind, user_id = ActorKind.STAFF, who.ref.user_id
            role = role or who.role_for(frozenset(who.actor.roles))
        event = OrderEvent(
            order_id=order.id,
            created_at=self._clock.now(),
            actor_kind=str(kind),
            actor_user_id=user_id,
            actor_role=role,
            channel=str(channel),
            action=action,
            from_status=from_status,
            to_status=to_status,
            payload=payload or {},
            comment=comment,
            visible_to_buyer=visible,
        )
        session.add(event)
        await session.flush()
        return event

    async def _buyer_for(self, session: AsyncSession, shop_id: int, draft) -> Buyer:
        """The shop's existing buyer with this phone (else e-mail), or a new one."""
        buyer = None
        for column, value in ((Buyer.phone, draft.phone), (Buyer.email, draft.email)):
            if value and buyer is None:
                buyer = await session.scalar(
                    select(Buyer).where(Buyer.shop_id == shop_id, column == value).limit(1)
                )
        if buyer is None:
            buyer = Buyer(
                shop_id=shop_id,
                name=draft.name,
                phone=draft.phone,
                email=draft.email,
                language=draft.language,
                telegram_id=draft.telegram_id,
                created_at=self._clock.now(),
            )
            session.add(buyer)
            await session.flush()
        else:
            # Only fill what the shop did not know; what the buyer gave before stays (A6).
            buyer.email = buyer.email or draft.email
            buyer.phone = buyer.phone or draft.phone
            buyer.name = buyer.name or draft.name
            buyer.language = buyer.language or draft.language
        return buyer

    async def _schedule(
        self, session: AsyncSession, order: Order, plans: tuple[TimerPlan, ...], now
    ) -> None:
        for plan in plans:
            session.add(
                Timer(
                    order_id=order.id,
                    code=plan.code,
                    kind=str(plan.kind),
                    status=order.status,
                    action=plan.action,
                    due_at=plan.due_at,
                    created_at=now,
                    payload={"to": str(plan.to), "message": plan.message} if plan.to else {},
                )
            )

    async def _cancel_timers(self, session: AsyncSession, order_id: int, now) -> None:
        """Leaving a status cancels what was due in it."""
        await session.execute(
            update(Timer)
            .where(Timer.order_id == order_id, Timer.state == "pending")
            .values(state="cancelled", finished_at=now)
        )

    async def _copy_timers(self, session: AsyncSession, from_id: int, to_id: int, now) -> None:
        """A split-off order keeps the clock of the order it came from."""
        pending = await session.scalars(
            select(Timer).where(Timer.order_id == from_id, Timer.state == "pending")
        )
        for timer in pending:
            session.add(
                Timer(
                    order_id=to_id,
                    code=timer.code,
                    kind=timer.kind,
                    status=timer.status,
                    action=timer.action,
                    due_at=timer.due_at,
                    payload=dict(timer.payload),
                    created_at=now,
                )
            )

    async def _notify_new_order(
        self, session: AsyncSession, order: Order, shop: Shop, workflow: Workflow
    ) -> None:
        now = self._clock.now()
        payload = {"number": order.number, "status": order.status}
        await enqueue(
            session,
            key=f"order:{order.id}:new:telegram",
            now=now,
            channel="telegram",
            audience="shop",
            topic="new_order",
            shop_id=shop.id,
            order_id=order.id,
            payload={**payload, "role": workflow.initial.responsible},
        )
        if shop.email:
            await enqueue(
                session,
                key=f"order:{order.id}:new:email",
                now=now,
                channel="email",
                audience="shop",
                topic="new_order",
                shop_id=shop.id,
                order_id=order.id,
                payload=payload,
            )
        await self._notify_buyer(session, order, "order_created", payload, key="created")

    async def _notify_status(
        self, session: AsyncSession, order: Order, workflow: Workflow, event: OrderEvent
    ) -> None:
        status = workflow.status(order.status)
        payload = {"event_id": event.id, "status": order.status, "number": order.number}
        if status.responsible:
            await enqueue(
                session,
                key=f"order:{order.id}:event:{event.id}:staff",
                now=self._clock.now(),
                channel="telegram",
                audience="staff",
                topic="order_assigned",
                shop_id=order.shop_id,
                order_id=order.id,
                payload={**payload, "role": status.responsible},
            )
        if status.buyer_visible:
            await self._notify_buyer(
                session, order, "status_changed", payload, key=f"event:{event.id}"
            )

    async def _notify_buyer(
        self,
        session: AsyncSession,
        order: Order,
        topic: str,
        payload: dict,
        key: str | None = None,
    ) -> None:
        """One outbox row per channel the buyer can be reached on."""
        now = self._clock.now()
        key = key or f"{topic}:{order.version}"
        buyer = order.buyer
        channels = []
        if buyer.telegram_id or buyer.user_id:
            channels.append("telegram")
        if buyer.email:
            channels.append("email")
        for channel in channels:
            await enqueue(
                session,
                key=f"order:{order.id}:{key}:buyer:{channel}",
                now=now,
                channel=channel,
                audience="buyer",
                topic=topic,
                shop_id=order.shop_id,
                order_id=order.id,
                payload={"number": order.number, **payload},
            )


def _facts(order: Order) -> OrderFacts:
    return OrderFacts(
        status=order.status,
        payment_method=order.payment_method,
        delivery_method=order.delivery_method,
        availability=order.availability,
        last_action=order.last_action,
    )


def _item_row(position: int, item: ItemDraft) -> OrderItem:
    return OrderItem(
        position=position,
        sku=item.sku,
        name=item.name.strip(),
        quantity=item.quantity,
        unit_price=item.unit_price,
        discount=item.discount,
        availability=item.availability,
        returnable=item.returnable,
        return_days=item.return_days,
    )


def _items_summary(items) -> list[dict[str, Any]]:
    return [
        {"sku": i.sku, "quantity": i.quantity, "unit_price": i.unit_price, "discount": i.discount}
        for i in items
    ]


def _delivery_price(shop: Shop, method: str) -> int:
    """The shop's price for a delivery method (settings.delivery_prices), else free."""
    prices = (shop.settings or {}).get("delivery_prices", {})
    return int(prices.get(method, 0))


def _is_retryable(error: OperationalError) -> bool:
    text = str(error.orig).lower()
    return any(s in text for s in ("database is locked", "deadlock", "could not serialize"))
