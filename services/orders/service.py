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
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services import metrics
from services.deliveries.views import ParcelView, parcel_of
from services.money.ledger import postings as ledger_postings
from services.orders import (
    access,
    drafts,
    editing,
    links_used,
    notices,
    payments,
    timed,
    versions,
)
from services.orders.access import Who
from services.orders.actors import ActorRef, Channel
from services.orders.decisions import facts, write_decision
from services.orders.drafts import BuyerDraft, ItemDraft, OrderDraft
from services.orders.events import OrderEvents
from services.orders.rows import delivery_price, item_row, recalculate
from services.orders.unit import Unit
from services.orders.work import OrderWork
from services.products import stock
from services.refusals import OrderRefused, Problem
from services.shops.auth import new_buyer_token
from services.shops.suspension import refuse_if_suspended
from services.time import sla, timers
from services.vocabulary import IN_STOCK, MADE_TO_ORDER
from services.workflow.definition import EDIT_KINDS, StatusKind, Workflow
from services.workflow.engine import (
    ActionOption,
    Applied,
    available_actions,
    decide,
    initial_timers,
    open_action,
)
from storage.database import reading
from storage.models import Buyer, Order, OrderEvent, Shop

log = logging.getLogger(__name__)

T = TypeVar("T")

PARCEL_STALLED = "parcel_stalled"  # Order.problem_reason: the carrier reports no movement


@dataclass(frozen=True)
class OrderView:
    """Everything an order's card shows one person: the order, its shop, what they may do."""

    order: Order  # with items and buyer
    shop: Shop
    workflow: Workflow
    who: Who
    actions: list[ActionOption]
    edits: frozenset[str]  # the edits this person may make now (A6)
    now: datetime  # when it was read: the time left before the status's limit counts from it
    closing: Closing | None = None  # a cancelled order: why, as the canceller said (003)
    parcel: ParcelView | None = None  # shipped: the tracking page and the latest checkpoints


@dataclass(frozen=True)
class Closing:
    """Why an order ended cancelled: the reason's code and the comment given with it."""

    reason: str | None
    comment: str | None


@dataclass(frozen=True)
class TransitionResult:
    """An applied action; `view` is the order's card after it, when asked for."""

    order: Order
    decision: Applied
    events: list[OrderEvent]
    view: OrderView | None = None


@dataclass(frozen=True)
class PaymentApplied:
    """What a provider's confirmed payment did (services.orders.payments.provider_paid)."""

    outcome: payments.ProviderOutcome
    problem: str | None  # why it was not applied
    status: str  # the order's status after it
    events: list[OrderEvent]


@dataclass(frozen=True)
class TapResult:
    """A status button tapped: applied at once, or waiting for a confirmation or inputs."""

    view: OrderView  # the card as it is now
    option: ActionOption | None  # the action as offered to this person, if it is
    applied: TransitionResult | None  # None: ask for the confirmation or the inputs first

    @property
    def needs_more(self) -> bool:
        return self.applied is None


class OrderService:
    def __init__(self, work: OrderWork):
        """`work`: the transaction runner the returns and reviews services share."""
        self._work = work
        self._sessions = work.sessions
        self._clock = work.clock
        self._workflows = work.workflows

    # -- reading -----------------------------------------------------------------

    async def get(self, order_id: int, actor: ActorRef) -> Order:
        """The order with its items, if this person may see it (its shop's staff, its buyer)."""
        async with reading(self._sessions) as session:
            unit = self._unit(session)
            order = await unit.load(order_id, asking=actor)
            await unit.who(order, actor)
            return order

    async def view(self, order_id: int, actor: ActorRef) -> OrderView:
        """The order's card for this person, read in one transaction."""
        async with reading(self._sessions) as session:
            return await self._view(self._unit(session), order_id, actor)

    async def _view(
        self, unit: Unit, order_id: int, actor: ActorRef, order: Order | None = None
    ) -> OrderView:
        """The card; given the order this transaction just changed, only its goods are read."""
        if order is None:
            order = await unit.load(order_id, asking=actor)
        else:
            await unit.load_items(order)
        who = await unit.who(order, actor)
        workflow = await unit.workflow(order)
        shop = await unit.shop(order.shop_id)  # read with the order mostly
        edits = frozenset(
            kind
            for kind in EDIT_KINDS
            if who.actor.roles & access.EDITOR_ROLES and workflow.may_edit(kind, order.status)
        )
        actions = available_actions(workflow, facts(order), who.actor)
        closing = await self._closing(unit, order, workflow)
        parcel = await parcel_of(unit.session, order)
        return OrderView(order, shop, workflow, who, actions, edits, unit.now, closing, parcel)

    async def _closing(self, unit: Unit, order: Order, workflow: Workflow) -> Closing | None:
        """The step that cancelled the order, read only for a cancelled one."""
        try:
            failed = workflow.status(order.status).kind is StatusKind.FINAL_FAILURE
        except KeyError:
            return None
        if not failed:
            return None
        event = await unit.session.scalar(
            select(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.from_status.is_not(None))
            .order_by(OrderEvent.id.desc())
            .limit(1)
        )
        inputs = ((event.payload or {}).get("inputs") or {}) if event is not None else {}
        if not inputs.get("reason") and not (event is not None and event.comment):
            return None
        return Closing(inputs.get("reason"), event.comment if inputs.get("reason") else None)

    async def find(self, shop_id: int, number: int, actor: ActorRef) -> int:
        """The id of the shop's order with this public number, if this person may see it."""
        async with reading(self._sessions) as session:
            order_id = await session.scalar(
                select(Order.id).where(Order.shop_id == shop_id, Order.number == number)
            )
            if order_id is None:
                raise OrderRefused(Problem.NOT_FOUND, "no such order")
            unit = self._unit(session)
            await unit.who(await unit.load(order_id, items=False, asking=actor), actor)
            return order_id

    async def actions(self, order_id: int, actor: ActorRef) -> list[ActionOption]:
        """The buttons this person gets on the order's card right now."""
        async with reading(self._sessions) as session:
            unit = self._unit(session)
            order = await unit.load(order_id, items=False, asking=actor)
            who = await unit.who(order, actor)
            return available_actions(await unit.workflow(order), facts(order), who.actor)

    async def workflow_of(self, order_id: int) -> Workflow:
        async with reading(self._sessions) as session:
            unit = self._unit(session)
            return await unit.workflow(await unit.load(order_id, items=False))

    async def link_used(self, nonce: str) -> bool:
        """Whether the one-click e-mail link with this nonce has made its change (D2)."""
        async with reading(self._sessions) as session:
            return await links_used.used(session, nonce)

    async def history(self, order_id: int, actor: ActorRef) -> list[OrderEvent]:
        """The audit log; the buyer sees only what is meant for them (A9)."""
        async with reading(self._sessions) as session:
            unit = self._unit(session)
            order = await unit.load(order_id, items=False, asking=actor)
            who = await unit.who(order, actor)
            query = select(OrderEvent).where(OrderEvent.order_id == order_id)
            if not who.is_staff and not who.actor.is_system:
                query = query.where(OrderEvent.visible_to_buyer.is_(True))
            return list(await session.scalars(query.order_by(OrderEvent.id)))

    # -- creating ----------------------------------------------------------------

    async def create_orders(
        self,
        shop_id: int,
        draft: OrderDraft,
        actor: ActorRef,
        *,
        source: str = "manual",
        before: Callable[[AsyncSession], Awaitable[None]] | None = None,
        with_orders: Callable[[AsyncSession, list[Order]], Awaitable[None]] | None = None,
    ) -> list[Order]:
        """Create the order, split in two when it mixes in-stock and made-to-order goods (000).

        `before` runs first in the transaction, `with_orders` last: the storefront API
        reserves the request's Idempotency-Key there, and keeps its answer, committed with
        the orders or not at all.
        """

        async def work(unit: Unit) -> list[Order]:
            if before is not None:
                await before(unit.session)
            shop = await unit.shop_for_new_orders(shop_id, len(draft.items))
            if shop is None:
                raise OrderRefused(Problem.NOT_FOUND, "no such shop")
            if shop.suspended_at is not None:  # no new orders from anywhere
                await refuse_if_suspended(unit.session, shop_id)
            who = await access.creator(unit.session, shop_id, actor)
            checked = drafts.check_draft(draft, shop.country)
            definition_id = await self._workflows.current_id(unit.session, shop_id, unit.now)
            workflow = await self._workflows.get(unit.session, definition_id)
            buyer = _new_buyer(shop_id, checked.buyer, unit.now)
            delivery_cost = (
                checked.delivery_cost
                if checked.delivery_cost is not None
                else delivery_price(shop, checked.delivery_method)
            )
            # The products' rules and the reservation, in this transaction (issue 19).
            plan = await stock.reserve(unit.session, shop, checked.items, unit.now)
            groups = [
                [item for item in plan.items if item.availability == availability]
                for availability in (IN_STOCK, MADE_TO_ORDER)
            ]
            orders = []
            for items in filter(None, groups):
                # The delivery cost and the order discount stay with the first order, so
                # the buyer pays what the storefront showed, once.
                first = not orders
                order = Order(
                    shop_id=shop.id,
                    number=await unit.next_number(shop.id),
                    buyer=buyer,  # written with the order (Unit.add_new_order)
                    workflow_id=definition_id,
                    status=workflow.initial.code,
                    status_changed_at=unit.now,
                    availability=items[0].availability,
                    payment_method=checked.payment_method,
                    delivery_method=checked.delivery_method,
                    delivery_address=checked.delivery_address,
                    currency=shop.currency,
                    discount=checked.discount if first else 0,
                    delivery_cost=delivery_cost if first else 0,
                    source=source,
                    external_id=checked.external_id,
                    storefront_number=checked.storefront_number,
                    buyer_token=new_buyer_token(),
                    buyer_comment=checked.comment,
                    created_at=unit.now,
                    updated_at=unit.now,
                    items=[item_row(position, item) for position, item in enumerate(items, 1)],
                )
                order.discount = min(order.discount, sum(i.line_total for i in items))
                recalculate(order)
                limits = sla.enter_status(order, workflow, shop, unit.now)
                await unit.add_new_order(order)
                await unit.add_event_unread(
                    order,
                    who,
                    action=OrderEvents.CREATED,
                    to_status=order.status,
                    payload={"source": source, "total": order.total},
                )
                await timers.schedule(
                    unit.session,
                    order.id,
                    order.status,
                    initial_timers(workflow, unit.now),
                    unit.now,
                    shop,
                )
                await sla.schedule_deadline(unit.session, order, limits, unit.now)
                notices.new_order(unit.outbox, order, shop, workflow)
                if order.availability == IN_STOCK:
                    await stock.record_reservations(
                        unit.session, unit.outbox, plan, order.id, unit.now
                    )
                orders.append(order)
            if len(orders) > 1:
                for order in orders:
                    await unit.add_event_unread(
                        order,
                        None,
                        action=OrderEvents.SPLIT_BY_AVAILABILITY,
                        channel=actor.channel,
                        payload={"sibling_order_ids": [o.id for o in orders if o is not order]},
                    )
            unit.after_commit.append(lambda: metrics.ORDERS_CREATED.labels(source).inc(len(orders)))
            if with_orders is not None:
                await with_orders(unit.session, orders)
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

    # -- changing the status -------------------------------------------------------

    async def apply(
        self,
        order_id: int,
        actor: ActorRef,
        action: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        expected_version: int | None = None,
        with_view: bool = False,
        link_nonce: str | None = None,
        once: Callable[[AsyncSession, datetime], Awaitable[bool]] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> TransitionResult:
        """Take a workflow action on an order: the one entry for every status change.

        `with_view`: also read the order's card as it is after the change, in the same
        transaction (a button tap redraws the card without a second round of reads).
        `link_nonce`: the action comes from a one-click e-mail link, which works once: the
        nonce is recorded with the change, and a link used before is refused.
        `once`: an outside event's claim (a carrier's checkpoint), made in this transaction:
        False (claimed before) refuses, so the event is applied once. `details` go into the
        audit event (what the carrier said).
        """

        async def work(unit: Unit) -> TransitionResult:
            order = await unit.load(order_id, lock=True, items=False, asking=actor)
            if expected_version is not None and order.version != expected_version:
                raise OrderRefused(Problem.STALE, "the order has changed since this card was shown")
            who = await unit.who(order, actor)
            await _staff_may_change(unit, order, who)
            workflow = await unit.workflow(order)
            if link_nonce is not None and not await links_used.record(
                unit.session, link_nonce, order.id, action, unit.now
            ):
                raise OrderRefused(Problem.LINK_USED, "this link has been used already")
            if once is not None and not await once(unit.session, unit.now):
                raise OrderRefused(Problem.ALREADY_DONE, "this event was applied already")
            if link_nonce is not None and order.buyer.email_verified_at is None:
                # The link went to the order's e-mail only: using it proves the address.
                order.buyer.email_verified_at = unit.now
            decision = decide(workflow, facts(order), who.actor, action, inputs, unit.now)
            if not decision.applied:
                raise OrderRefused(decision.code, decision.message, decision.params)
            events = await write_decision(unit, order, workflow, who, decision, details=details)
            view = await self._view(unit, order_id, actor, order) if with_view else None
            return TransitionResult(order=order, decision=decision, events=events, view=view)

        return await self._transaction(work)

    async def tap(
        self,
        order_id: int,
        actor: ActorRef,
        action: str,
        *,
        expected_version: int,
        redrawing: Callable[[AsyncSession, OrderView], Awaitable[None]] | None = None,
    ) -> TapResult:
        """A status button: apply it now, unless it asks for a confirmation or inputs (C3).

        One transaction for the commonest thing staff do, card included: `redrawing` is
        called with the card as it is after the change, in that transaction (the chat
        layer remembers there what the tapped card will show).
        """

        async def work(unit: Unit) -> TapResult:
            order = await unit.load(order_id, lock=True, items=False, asking=actor)
            if order.version != expected_version:
                raise OrderRefused(Problem.STALE, "the order has changed since this card was shown")
            who = await unit.who(order, actor)
            await _staff_may_change(unit, order, who)
            workflow = await unit.workflow(order)
            offered = available_actions(workflow, facts(order), who.actor)
            option = next((o for o in offered if o.code == action), None)
            if option is not None and (option.inputs or option.confirm):
                return TapResult(await self._view(unit, order_id, actor, order), option, None)
            # Not offered (forged, or not for this person): the engine refuses with the reason.
            decision = decide(workflow, facts(order), who.actor, action, {}, unit.now)
            if not decision.applied:
                raise OrderRefused(decision.code, decision.message, decision.params)
            events = await write_decision(unit, order, workflow, who, decision)
            view = await self._view(unit, order_id, actor, order)
            if redrawing is not None:
                await redrawing(unit.session, view)
            return TapResult(view, option, TransitionResult(order, decision, events, view))

        return await self._transaction(work)

    async def open(self, order_id: int, actor: ActorRef) -> Order:
        """Staff open the order's card: the first opening may move it on (003: agreement)."""

        async def work(unit: Unit) -> Order:
            order = await unit.load(order_id, lock=True, asking=actor)
            who = await unit.who(order, actor)
            if not who.is_staff or await _suspended(unit, order):
                return order  # a suspended shop's staff may look, not move it on
            if order.opened_at is None:
                order.opened_at = unit.now
            workflow = await unit.workflow(order)
            action = open_action(workflow, facts(order), who.actor)
            if action is not None:
                decision = decide(workflow, facts(order), who.actor, action, {}, unit.now)
                if decision.applied:
                    await write_decision(unit, order, workflow, who, decision)
            await unit.session.flush()
            return order

        return await self._transaction(work)

    async def add_comment(self, order_id: int, actor: ActorRef, text: str) -> OrderEvent:
        """A private staff comment in the history; the buyer never sees it (003)."""

        async def work(unit: Unit) -> OrderEvent:
            order = await unit.load(order_id, items=False, asking=actor)
            who = await unit.who(order, actor)
            if not who.is_staff:
                raise OrderRefused(Problem.FORBIDDEN, "only the shop's staff write comments")
            comment = text.strip()
            if not comment or len(comment) > 2000:
                raise drafts.invalid("comment", "a comment of 1 to 2000 characters is needed")
            event = unit.add_event(
                order, who, action=OrderEvents.COMMENT, comment=comment, visible=False
            )
            await unit.session.flush()
            return event

        return await self._transaction(work)

    # -- money recorded against the order (services.orders.payments) --------------------

    async def record_payment(
        self,
        order_id: int,
        actor: ActorRef,
        amount: int | None = None,
        *,
        reference: str | None = None,
        expected_version: int | None = None,
    ) -> int:
        """The buyer paid `amount` (minor units; None: what they owe now). Staff with a money
        role, or the system for a payment provider (`reference`: the provider's payment id,
        recorded once). Returns the amount recorded; 0 when `reference` was recorded before."""

        async def work(unit: Unit) -> int:
            order = await unit.load(order_id, lock=True, items=False, asking=actor)
            if expected_version is not None and order.version != expected_version:
                raise OrderRefused(Problem.STALE, "the order has changed since this was shown")
            who = await unit.who(order, actor)
            workflow = await unit.workflow(order)
            return await payments.record_payment(unit, order, workflow, who, amount, reference)

        return await self._transaction(work)

    async def apply_payment(
        self, order_id: int, actor: ActorRef, paid: payments.ProviderPaid
    ) -> PaymentApplied:
        """A payment provider confirmed a payment (services.payments.service, the system on
        the channel `payment`): in one transaction, the money recorded once per provider id
        and the workflow's "paid" step decided by the engine as for any `apply`; money that
        does not fit the order (amount, currency, status) flags it and tells the shop."""

        async def work(unit: Unit) -> PaymentApplied:
            order = await unit.load(order_id, lock=True, items=False, asking=actor)
            who = await unit.who(order, actor)
            workflow = await unit.workflow(order)
            outcome, problem, events = await payments.provider_paid(
                unit, order, workflow, who, paid
            )
            return PaymentApplied(outcome, problem, order.status, events)

        return await self._transaction(work)

    async def record_provider_refund(
        self, order_id: int, actor: ActorRef, *, provider: str, refund_id: str, amount: int
    ) -> bool:
        """The provider refunded `amount` of the order's payment (services.payments.refund_pump):
        recorded in the ledger under its refund id, once; the shop's card redrawn."""

        async def work(unit: Unit) -> bool:
            order = await unit.load(order_id, lock=True, items=False, asking=actor)
            who = await unit.who(order, actor)
            event = unit.add_event(
                order,
                who,
                action=OrderEvents.REFUND_RECORDED,
                payload={"amount": amount, "provider": provider, "refund_id": refund_id},
            )
            await unit.session.flush()
            recorded = await ledger_postings.record_provider_refund(
                unit.session, order, amount, provider, refund_id, event, unit.now
            )
            if not recorded:
                await unit.session.delete(event)
            return recorded

        return await self._transaction(work)

    async def record_refund(
        self,
        order_id: int,
        actor: ActorRef,
        amount: int | None = None,
        *,
        expected_version: int | None = None,
    ) -> int:
        """The shop gave back `amount` (None: all) of what it owes the buyer after an edit."""

        async def work(unit: Unit) -> int:
            order = await unit.load(order_id, lock=True, items=False, asking=actor)
            if expected_version is not None and order.version != expected_version:
                raise OrderRefused(Problem.STALE, "the order has changed since this was shown")
            who = await unit.who(order, actor)
            workflow = await unit.workflow(order)
            return await payments.record_refund(unit, order, workflow, who, amount)

        return await self._transaction(work)

    # -- the scheduler ---------------------------------------------------------------

    async def fire_timer(self, timer_id: int, order_id: int | None = None) -> str:
        """A due timer's turn, as the system, in its own transaction (services.orders.timed).
        `order_id`, when known, saves looking the timer's order up."""
        return await self._transaction(lambda unit: timed.fire(unit, timer_id, order_id))

    async def tell_shop(
        self,
        order_id: int,
        topic_key: str,
        message: str,
        once: Callable[[AsyncSession, datetime], Awaitable[bool]],
        details: Mapping[str, Any],
    ) -> bool:
        """An outside event the shop must handle itself (a parcel going back): a notice to
        the staff and a line in the history, once (`once` as for `apply`). No status moves."""

        async def work(unit: Unit) -> bool:
            order = await unit.load(order_id, lock=True, items=False)
            if not await once(unit.session, unit.now):
                return False
            workflow = await unit.workflow(order)
            who = await unit.who(order, ActorRef.system(Channel.CARRIER))
            unit.add_event(
                order,
                who,
                action=OrderEvents.CARRIER_REPORTED,
                payload=dict(details),
                visible=False,
            )
            notices.shop_notice(unit.outbox, order, workflow, topic_key, message, details)
            return True

        return await self._transaction(work)

    async def set_delivery_date(
        self, order_id: int, actor: ActorRef, day: date, *, expected_version: int | None = None
    ) -> Order:
        """The day agreed with the buyer to send the goods: where the workflow lets staff
        change the delivery (until shipping); the buyer is told (issue 18, seed 003)."""
        return await self._edit(
            order_id, actor, "delivery", expected_version, editing.set_delivery_date, day
        )

    async def set_courier(
        self,
        order_id: int,
        actor: ActorRef,
        window: str,
        phone: str,
        *,
        expected_version: int | None = None,
    ) -> Order:
        """The courier's visit window and phone, told to the buyer (seed 003 step 7)."""
        return await self._edit(
            order_id, actor, "delivery", expected_version, editing.set_courier, window, phone
        )

    async def parcel_stalled(
        self, order_id: int, stalled: bool, key: str, details: Mapping[str, Any]
    ) -> None:
        """The order's parcel has not moved at the carrier for too long: the order gets the
        problem flag and the staff a notice (issue 18); `stalled=False`, it moves again: the
        flag it got for that goes. No status moves."""

        async def work(unit: Unit) -> None:
            order = await unit.load(order_id, lock=True, items=False)
            if stalled == (order.problem and order.problem_reason == PARCEL_STALLED):
                return
            if not stalled:
                order.problem, order.problem_reason = False, None
                order.updated_at = unit.now
                await unit.session.flush()
                notices.cards_changed(unit.outbox, order)
                return
            if order.problem:  # flagged for something else already: that flag stays
                return
            order.problem, order.problem_reason = True, PARCEL_STALLED
            order.updated_at = unit.now
            workflow = await unit.workflow(order)
            who = await unit.who(order, ActorRef.system(Channel.CARRIER))
            unit.add_event(
                order,
                who,
                action=OrderEvents.CARRIER_REPORTED,
                payload=dict(details),
                visible=False,
            )
            await unit.session.flush()
            notices.shop_notice(unit.outbox, order, workflow, key, "carrier_stalled", details)
            notices.cards_changed(unit.outbox, order)

        await self._transaction(work)

    # -- editing (A6, A7): the rules live in services.orders.editing -----------------

    async def edit_items(
        self,
        order_id: int,
        actor: ActorRef,
        items: list[ItemDraft],
        *,
        expected_version: int | None = None,
    ) -> Order:
        """Replace the goods (during the call with the buyer, where the workflow allows)."""
        return await self._edit(
            order_id, actor, "items", expected_version, editing.edit_items, items
        )

    async def change_delivery(
        self,
        order_id: int,
        actor: ActorRef,
        *,
        method: str,
        address: str | None = None,
        cost: int | None = None,
        expected_version: int | None = None,
    ) -> Order:
        """Change how the goods travel; the total follows the new delivery cost (001)."""
        return await self._edit(
            order_id,
            actor,
            "delivery",
            expected_version,
            editing.change_delivery,
            method,
            address,
            cost,
        )

    async def change_payment(
        self, order_id: int, actor: ActorRef, method: str, *, expected_version: int | None = None
    ) -> Order:
        return await self._edit(
            order_id, actor, "payment", expected_version, editing.change_payment, method
        )

    async def set_discount(
        self,
        order_id: int,
        actor: ActorRef,
        *,
        order_discount: int | None = None,
        item_discounts: Mapping[int, int] | None = None,
        expected_version: int | None = None,
    ) -> Order:
        """A discount on the whole order, on single lines, or both (001)."""
        return await self._edit(
            order_id,
            actor,
            "discount",
            expected_version,
            editing.set_discount,
            order_discount,
            item_discounts,
        )

    async def split(
        self,
        order_id: int,
        actor: ActorRef,
        *,
        move: Mapping[int, int],
        reason: str,
        comment: str = "",
        expected_version: int | None = None,
    ) -> tuple[Order, Order]:
        """Move some goods (item id -> quantity) into a new order handled on its own (A7)."""
        return await self._edit(
            order_id, actor, "split", expected_version, editing.split, move, reason, comment
        )

    async def edit_many(
        self,
        order_id: int,
        actor: ActorRef,
        edits: list[tuple[str, Callable[..., Awaitable[Any]], tuple[Any, ...]]],
        *,
        expected_version: int | None = None,
    ) -> Order:
        """Several edits in one transaction, all or none (the storefront's PATCH): each is
        (the workflow's edit kind whose rule governs it, an editing function, its args)."""

        async def work(unit: Unit) -> Order:
            order = await unit.load(order_id, lock=True, asking=actor)
            who = await unit.who(order, actor)
            if expected_version is not None and order.version != expected_version:
                raise OrderRefused(Problem.STALE, "the order has changed since this was shown")
            workflow = await unit.workflow(order)
            for kind, _, _ in edits:
                access.require_editor(who, kind)
                if not workflow.may_edit(kind, order.status):
                    raise OrderRefused(
                        Problem.EDIT_NOT_ALLOWED,
                        f"'{kind}' cannot be edited in the status '{order.status}'",
                        {"edit": kind, "status": order.status},
                    )
            for _, change, args in edits:
                await change(unit, order, workflow, who, *args)
            return order

        return await self._transaction(work)

    async def _edit(
        self,
        order_id: int,
        actor: ActorRef,
        kind: str,
        expected_version: int | None,
        change,
        *args,
    ):
        async def work(unit: Unit):
            order = await unit.load(order_id, lock=True, asking=actor)
            who = await unit.who(order, actor)
            access.require_editor(who, kind)
            await _staff_may_change(unit, order, who)
            if expected_version is not None and order.version != expected_version:
                raise OrderRefused(Problem.STALE, "the order has changed since this was shown")
            workflow = await unit.workflow(order)
            if not workflow.may_edit(kind, order.status):
                raise OrderRefused(
                    Problem.EDIT_NOT_ALLOWED,
                    f"'{kind}' cannot be edited in the status '{order.status}'",
                    {"edit": kind, "status": order.status},
                )
            return await change(unit, order, workflow, who, *args)

        return await self._transaction(work)

    # -- workflow versions ----------------------------------------------------------

    async def move_plan(
        self, shop_id: int, target_id: int, mapping: Mapping[str, str] | None = None
    ) -> versions.MovePlan:
        """The shop's open orders on older versions, and those a move would strand."""
        async with reading(self._sessions) as session:
            return await versions.plan(self._unit(session), shop_id, target_id, mapping or {})

    async def move_to_version(
        self,
        shop_id: int,
        actor: ActorRef,
        target_id: int,
        mapping: Mapping[str, str] | None = None,
    ) -> int:
        """Move the shop's open orders to workflow version `target_id`, all or none: the one
        change of many orders at once, so it runs here like every other order change."""

        async def work(unit: Unit) -> int:
            return await versions.move_open_orders(
                unit, shop_id, actor, target_id, dict(mapping or {})
            )

        return await self._transaction(work)

    # -- the transaction ----------------------------------------------------------

    def _unit(self, session: AsyncSession) -> Unit:
        return self._work.unit(session)

    async def _transaction(self, work: Callable[[Unit], Awaitable[T]]) -> T:
        """Run `work` in one transaction, again from scratch if it lost a race."""
        return await self._work.run(work)


async def _suspended(unit: Unit, order: Order) -> bool:
    shop = await unit.shop(order.shop_id)  # read with the order
    return shop is not None and shop.suspended_at is not None


async def _staff_may_change(unit: Unit, order: Order, who: Who) -> None:
    """A suspended shop's staff cannot change its orders; its buyers and the system can
    (services/shops/suspension.py says why)."""
    if who.is_staff and await _suspended(unit, order):
        await refuse_if_suspended(unit.session, order.shop_id)


def _new_buyer(shop_id: int, draft: BuyerDraft, now: datetime) -> Buyer:
    """A new buyer for every order placed, never one found by its phone or e-mail.

    What arrives with an order is a claim nobody checked: matching it to an earlier
    buyer would show that buyer's orders (address, door code) to whoever typed their
    phone, and send them their news. The same person's orders come together only
    through a proof (services.buyers.service), and the shop's customer view groups them
    by it (services.buyers.customers). It is written with its first order.
    """
    return Buyer(
        shop_id=shop_id,
        name=draft.name,
        phone=draft.phone,
        email=draft.email,
        language=draft.language,
        telegram_id=draft.telegram_id,
        created_at=now,
    )
