"""The ledger over random lifecycles of every preset (hypothesis, real service and database).

Random people take random actions, time passes and the sweep fires timers; the shop edits the
delivery cost and discounts and splits the order (the split-off order then lives its own
random life), records payments with an amount (as a payment provider does) and what an edit
left due, gives back what it owes; received orders get random returns; some orders are paid
cash on delivery. After every step no account an order holds is negative, no buyer has been
given back more than they paid, each order's `amount_paid` / `balance_due` are what its
entries say and every entry the step posted moves a positive amount for an order (or is a
zero memo); at the end each order's balances are exactly what a small model of the rules, fed
the changes the audit log records and the returns as they are taken, says they should be.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import event as label
from hypothesis import strategies as st
from sqlalchemy import select

from services.money.ledger.income import LineShare, line_shares, order_income
from services.money.ledger.postings import post_return_refund
from services.orders.actors import ActorRef, Channel
from services.refusals import OrderRefused
from services.time.sweep import TimerSweep
from services.workflow.definition import ActorKind, Input, StatusKind
from services.workflow.presets import PRESETS, load_preset
from storage.models import Order, OrderEvent, OrderItem, Shop
from tests.factories import bind_buyer, item, make_order, make_shop
from tests.services.ledger_helpers import balances, entries, last_entry_id

PEOPLE = ("owner", "manager", "packer", "courier", "accountant", "buyer", "system")
WAITS = (
    timedelta(0),
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=16),
    timedelta(days=40),
)
HELD = ("reserved", "delivery_reserved", "fee_reserved", "refund_due")
OPEN = (*HELD, "amount_due")
INPUTS = {"carrier": "CDEK", "track_code": "RA123456789RU", "comment": "fine"}
EDITS = ("change_delivery", "set_discount")
MONEY_EFFECTS = frozenset(
    {"reserve_income", "credit_income", "refund_goods", "refund_delivery", "compensate_delivery"}
)
ZERO_MEMOS = ("reserve_income", "credit_income", "return_income")
# Mostly the workflow's own steps, so that orders get far (received, returned, cancelled).
KINDS_OF_STEP = ("act",) * 6 + ("wait", "edit", "split", "pay", "settle")

lines = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=4),  # quantity
        st.integers(min_value=1, max_value=500_000),  # unit price
        st.integers(min_value=0, max_value=100),  # line discount, percent of the line
    ),
    min_size=1,
    max_size=3,
)


def rule(goods: int, fee: int, delivery: int, in_hand: int) -> dict[str, int]:
    """The holding rule, restated: the buyer's money for an order pays the commission, then
    the delivery, then the shop's income; beyond the total it is owed back, short of it the
    buyer owes the rest."""
    total = goods + delivery
    keep = min(in_hand, total)
    to_fee = min(keep, fee)
    to_delivery = min(keep - to_fee, delivery)
    return {
        "reserved": keep - to_fee - to_delivery,
        "delivery_reserved": to_delivery,
        "fee_reserved": to_fee,
        "refund_due": in_hand - keep,
        "amount_due": total - keep,
    }


class Model:
    """Seed 004's rules and issue 14's, restated: what each change does to one order's
    accounts. `money` is (goods, fee, delivery) as the order is priced now; `kept` the same
    with the returned goods taken out."""

    def __init__(self, money: tuple[int, int, int], cash_at_door: bool):
        self.money = money
        self.cash_at_door = cash_at_door
        self.a: dict[str, int] = defaultdict(int)
        self.paid = self.credited = self.refunded = self.penalised = False
        self.units_back: dict[int, int] = defaultdict(int)  # returned, per line
        self.returned_goods = self.returned_fee = 0  # the returned units' shares

    @property
    def kept(self) -> tuple[int, int, int]:
        goods, fee, delivery = self.money
        return goods - self.returned_goods, fee - self.returned_fee, delivery

    @property
    def total(self) -> int:
        return self.kept[0] + self.kept[2]

    @property
    def amount_paid(self) -> int:
        return -(self.a["buyer_payments"] + self.a["amount_due"] + self.a["refunds"])

    @property
    def in_hand(self) -> int:
        return sum(self.a[k] for k in HELD)

    def move(self, source: str, to: str, amount: int) -> None:
        self.a[source] -= amount
        self.a[to] += amount

    def hold(self, in_hand: int) -> None:
        """Held by the rule for `in_hand`; what the buyer owes follows, against payments."""
        target = rule(*self.kept, in_hand)
        for account in HELD:
            self.a[account] = target[account]
        owed = target["amount_due"] - self.a["amount_due"]
        self.move("buyer_payments", "amount_due", owed)

    def pay(self, amount: int) -> None:
        if self.refunded:
            self.move("buyer_payments", "refund_due", amount)
            return
        settled = min(amount, self.a["amount_due"])
        if self.credited:
            # the commission gets what it lacks of the kept goods', first
            to_fee = min(settled, max(self.kept[1] - self.a["platform_fee"], 0))
            self.move("amount_due", "platform_fee", to_fee)
            self.move("amount_due", "available", settled - to_fee)
            self.move("buyer_payments", "refund_due", amount - settled)
            return
        self.paid = True
        self.a["amount_due"] -= settled
        self.a["buyer_payments"] -= amount - settled
        self.hold(self.in_hand + amount)

    def reprice(self, money: tuple[int, int, int]) -> None:
        self.money = money
        if self.paid and not self.credited and not self.refunded:
            self.hold(self.in_hand)

    def split_to(self, new: Model, money: tuple[int, int, int]) -> None:
        self.money = money
        if not (self.paid and not self.credited and not self.refunded):
            return
        moved = min(self.in_hand, new.total)
        left = self.in_hand - moved
        self.a["buyer_payments"] += moved
        for account in HELD:
            self.a[account] = 0
        self.hold(left)
        if moved:
            new.pay(moved)
        else:
            new.move("buyer_payments", "amount_due", new.total)

    def effect(self, name: str) -> None:
        a = self.a
        if name == "reserve_income" and not self.paid and not self.cash_at_door:
            self.pay(self.total)
        if name == "credit_income" and not self.paid:
            self.pay(self.total)  # collected when the deal is done (cash at the door)
        if name == "credit_income" and not self.credited:
            self.credited = True
            self.move("reserved", "available", a["reserved"])
            self.move("delivery_reserved", "available", a["delivery_reserved"])
            self.move("fee_reserved", "platform_fee", a["fee_reserved"])
        if name == "refund_goods" and not self.refunded:
            self.refunded = True
            self.move("reserved", "refunds", a["reserved"])
            self.move("fee_reserved", "refunds", a["fee_reserved"])
            self.move("refund_due", "refunds", a["refund_due"])
            self.move("amount_due", "buyer_payments", a["amount_due"])
        if name == "refund_delivery":
            self.move("delivery_reserved", "refunds", a["delivery_reserved"])
        if name == "compensate_delivery":
            self.move("delivery_reserved", "available", a["delivery_reserved"])

    def refund_made(self, amount: int) -> None:
        self.move("refund_due", "refunds", min(amount, self.a["refund_due"]))

    def penalty(self) -> None:
        if not self.penalised:
            self.penalised = True
            self.move("available", "platform_fee", self.money[1])

    def returned(self, share: LineShare, quantity: int) -> tuple[int, int]:
        """`quantity` units of a line back (F1): the units' running share of the line's
        goods comes off what the buyer owes first; only the rest is refunded. The platform
        then holds the commission of the goods kept as far as the buyer's money kept pays
        it (the holding rule): what it gives back goes with the refund, the rest to the
        shop. Returns (refunded, taken off the due)."""
        before = self.units_back[share.item_id]
        self.units_back[share.item_id] += quantity
        goods = running(share.goods, share, before + quantity) - running(share.goods, share, before)
        fee_share = running(share.fee, share, before + quantity) - running(share.fee, share, before)
        self.returned_goods += goods
        self.returned_fee += fee_share
        owed = min(goods, self.a["amount_due"])
        self.move("amount_due", "buyer_payments", owed)
        back = goods - owed
        shop, platform = (
            ("available", "platform_fee") if self.credited else ("reserved", "fee_reserved")
        )
        paid = self.amount_paid - self.a["refund_due"] - back
        fee_back = max(self.a[platform] - min(max(paid, 0), self.kept[1]), 0)
        fee = min(fee_back, back)
        self.move(shop, "refunds", back - fee)
        self.move(platform, "refunds", fee)
        self.move(platform, shop, fee_back - fee)
        return back, owed

    def expected(self) -> dict[str, int]:
        return {account: amount for account, amount in self.a.items() if amount}


def running(amount: int, share: LineShare, units: int) -> int:
    """What the first `units` of a line carry of its `amount` (floors of its share)."""
    return amount * units // share.quantity


def allowed(transition) -> list[str]:
    people = [role for role in transition.staff_roles if role in PEOPLE]
    if transition.buyer:
        people.append("buyer")
    if transition.system:
        people.append("system")
    return people or ["owner"]


def is_late(order: Order, now) -> bool:
    return order.problem_reason == "sla_expired" or (
        order.sla_deadline_at is not None and now >= order.sla_deadline_at
    )


async def fresh(services, order_id) -> Order:
    async with services.sessions() as session:
        return await session.get(Order, order_id)


async def priced(services, order_id, percent: Decimal) -> tuple[int, int, int]:
    money = order_income(await fresh(services, order_id), percent)
    return money.goods, money.fee, money.delivery


async def check_invariants(services, shop_id, order_ids, seen: int) -> int:
    """Every order's accounts after a step; returns the last ledger entry id checked."""
    for order_id in order_ids:
        held = balances(await entries(services, order_id))
        assert all(held.get(account, 0) >= 0 for account in OPEN), held
        order = await fresh(services, order_id)
        paid = -(held.get("buyer_payments", 0) + held.get("amount_due", 0) + held.get("refunds", 0))
        due = held.get("amount_due", 0) - held.get("refund_due", 0)
        assert (order.amount_paid, order.balance_due) == (paid, due)
        assert paid >= 0, held  # nobody is given back more than they paid
    # What the step posted in the shop's ledger (the shop is shared by examples, so only the
    # new entries; the sweep may fire an earlier example's timers): each for an order, a
    # positive amount between two accounts, or a zero memo (a free order paid or credited, a
    # return's units).
    for row in await entries(services, shop_id=shop_id, after=seen):
        assert row.order_id is not None, row.kind
        memo = row.amount == 0 and row.kind in ZERO_MEMOS
        moved = row.amount > 0 and row.debit_account != row.credit_account
        assert memo or moved, (row.kind, row.amount, row.debit_account, row.credit_account)
        seen = row.id
    return seen


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    preset=st.sampled_from(PRESETS),
    payment=st.sampled_from(["card", "cash", "cash_on_delivery", "online"]),
    delivery=st.sampled_from(["pickup", "courier", "post"]),
    goods=lines,
    order_discount=st.integers(min_value=0, max_value=100),
    delivery_cost=st.integers(min_value=0, max_value=100_000),
    percent=st.decimals(min_value=0, max_value=100, places=2),
    late_cancel_fee=st.booleans(),
    data=st.data(),
)
async def test_random_lifecycles_keep_the_ledger_exact(
    services,
    shops_cache,
    preset,
    payment,
    delivery,
    goods,
    order_discount,
    delivery_cost,
    percent,
    late_cancel_fee,
    data,
):
    # given a shop with random terms and a random order
    shop = shops_cache.get(preset)
    if shop is None:
        shop = shops_cache[preset] = await make_shop(services, preset)
    async with services.sessions() as session, session.begin():
        row = await session.get(Shop, shop.id)
        row.settings = {
            **row.settings,
            "commission_percent": str(percent),
            "late_cancel_fee": late_cancel_fee,
        }
    drafts = [
        item(f"L{index}", quantity=q, price=p, discount=q * p * d // 100)
        for index, (q, p, d) in enumerate(goods)
    ]
    items_total = sum(d.line_total for d in drafts)
    order = await make_order(
        services,
        shop,
        *drafts,
        payment=payment,
        delivery=delivery,
        delivery_cost=delivery_cost,
        discount=items_total * order_discount // 100,
        email=None,
    )
    await bind_buyer(services, order, shop.buyer_user)
    percent = Decimal(str(percent))
    cash_at_door = payment == "cash_on_delivery"
    models = {order.id: Model(await priced(services, order.id, percent), cash_at_door)}
    workflow = load_preset(preset)
    people = {
        "owner": ActorRef.user(shop.owner.id),
        "manager": ActorRef.user(shop.manager.id),
        "packer": ActorRef.user(shop.packer.id),
        "courier": ActorRef.user(shop.courier.id),
        "accountant": ActorRef.user(shop.accountant.id),
        "buyer": ActorRef.user(shop.buyer_user.id),
        "system": ActorRef.system(),
    }
    sweep = TimerSweep(services.sessions, services.clock, services.orders)
    if data.draw(st.booleans()):
        await services.orders.open(order.id, people["manager"])
    seen = 0  # the audit log is fed to the models as it grows
    posted = await last_entry_id(services)  # and the shop's new ledger entries checked
    returns = 0

    # when random things happen to the orders
    for _ in range(data.draw(st.integers(min_value=2, max_value=24))):
        order_id = data.draw(st.sampled_from(sorted(models)))
        current = await fresh(services, order_id)
        status = workflow.status(current.status)
        step = data.draw(st.sampled_from(KINDS_OF_STEP))
        penalty_due = False
        if status.kind is StatusKind.FINAL_SUCCESS and step in ("act", "split"):
            returns += 1
            await random_return(services, data, current, returns, models[order_id])
            label("returned")
        elif step == "wait":
            services.clock.advance(data.draw(st.sampled_from(WAITS)))
            await sweep.run_once()
        elif step == "edit":
            await random_edit(services, data, current, people["manager"])
        elif step == "split":
            await random_split(services, data, current, workflow, people["manager"])
        elif step in ("pay", "settle"):
            await random_money(services, data, current, people, step)
        elif not status.is_final:
            penalty_due = await random_action(
                services, data, workflow, current, people, late_cancel_fee
            )
        seen = await feed(services, models, workflow, seen, percent, cash_at_door)
        if penalty_due:
            models[order_id].penalty()
        posted = await check_invariants(services, shop.id, list(models), posted)

    # then each order's accounts are what the rules say, given what the log records
    for order_id, model in models.items():
        ended = workflow.status((await fresh(services, order_id)).status).kind
        label(f"ended {ended}")
        assert balances(await entries(services, order_id)) == model.expected(), order_id
    label(f"{len(models)} orders")


async def random_action(services, data, workflow, current, people, late_cancel_fee) -> bool:
    """A workflow action, mostly onwards; True if it was a late cancellation by the shop."""
    transitions = workflow.transitions_from(current.status)
    onwards = [t for t in transitions if Input.REASON not in t.inputs] or transitions
    transition = data.draw(
        st.one_of(st.sampled_from(onwards), st.sampled_from(onwards), st.sampled_from(transitions))
    )
    # Mostly someone the transition names, so that deep paths are walked.
    person = data.draw(st.one_of(st.sampled_from(allowed(transition)), st.sampled_from(PEOPLE)))
    inputs = dict(INPUTS)
    if Input.REASON in transition.inputs:
        inputs["reason"] = data.draw(st.sampled_from(workflow.cancel_reasons)).code
    late = is_late(current, services.clock.now())
    try:
        result = await services.orders.apply(current.id, people[person], transition.code, inputs)
    except OrderRefused:
        return False
    step = result.decision.steps[0]
    cancels = Input.REASON in step.transition.inputs and (
        workflow.status(step.to_status).kind is StatusKind.FINAL_FAILURE
    )
    by_shop = step.capacity is ActorKind.STAFF or (
        step.capacity is ActorKind.SYSTEM and inputs.get("reason") == "processing_time_expired"
    )
    return late and late_cancel_fee and cancels and by_shop


async def random_edit(services, data, current, manager) -> None:
    edit = data.draw(st.sampled_from(EDITS))
    try:
        if edit == "change_delivery":
            cost = data.draw(st.integers(min_value=0, max_value=200_000))
            await services.orders.change_delivery(
                current.id, manager, method=current.delivery_method, cost=cost
            )
        else:
            share = data.draw(st.integers(min_value=0, max_value=100))
            await services.orders.set_discount(
                current.id, manager, order_discount=current.items_total * share // 100
            )
        label(f"edited: {edit}")
    except OrderRefused:
        pass


async def random_split(services, data, current, workflow, manager) -> None:
    async with services.sessions() as session:
        items = list(
            await session.scalars(
                select(OrderItem)
                .where(OrderItem.order_id == current.id)
                .order_by(OrderItem.position)
            )
        )
    units = sum(line.quantity for line in items)
    if units < 2 or not workflow.split_reasons:
        return
    chosen = data.draw(st.sampled_from(items))
    most = chosen.quantity - 1 if len(items) == 1 else chosen.quantity
    quantity = data.draw(st.integers(min_value=1, max_value=most))
    reason = workflow.split_reasons[0]
    try:
        await services.orders.split(
            current.id, manager, move={chosen.id: quantity}, reason=reason.code, comment="x"
        )
        label("split")
    except OrderRefused:
        pass


async def random_money(services, data, current, people, step) -> None:
    """A provider's payment with an amount, or staff settling what an edit left open."""
    try:
        if step == "pay":
            amount = data.draw(st.integers(min_value=1, max_value=max(current.total, 1) * 2))
            reference = f"pay-{data.draw(st.integers(min_value=1, max_value=3))}"
            await services.orders.record_payment(
                current.id, ActorRef.system(Channel.PAYMENT), amount, reference=reference
            )
            label("paid with an amount")
        elif current.balance_due > 0:
            await services.orders.record_payment(current.id, people["accountant"])
            label("due paid")
        elif current.balance_due < 0:
            await services.orders.record_refund(current.id, people["owner"])
            label("refund made")
    except OrderRefused:
        pass


async def feed(services, models, workflow, seen: int, percent: Decimal, cash_at_door: bool) -> int:
    """The audit log's new events, in order, told to the models; returns the last event id."""
    async with services.sessions() as session:
        events = list(
            await session.scalars(
                select(OrderEvent)
                .where(OrderEvent.order_id.in_(list(models)), OrderEvent.id > seen)
                .order_by(OrderEvent.id)
            )
        )
    for event in events:
        model = models[event.order_id]
        payload = event.payload or {}
        if event.to_status is not None and event.action not in ("create", "split_from"):
            effects = [name for name in payload.get("effects", []) if name in MONEY_EFFECTS]
            if not effects and workflow.status(event.to_status).kind is StatusKind.FINAL_FAILURE:
                effects = ["refund_goods", "refund_delivery"]  # a dead order holds nothing
            for name in effects:
                model.effect(name)
        elif event.action in ("change_delivery", "set_discount", "edit_items"):
            model.reprice(await priced(services, event.order_id, percent))
        elif event.action == "split":
            new_id = payload["new_order_id"]
            models[new_id] = Model(await priced(services, new_id, percent), cash_at_door)
            model.split_to(models[new_id], await priced(services, event.order_id, percent))
        elif event.action == "payment_recorded":
            model.pay(payload.get("amount", 0))
        elif event.action == "refund_recorded":
            model.refund_made(payload.get("amount", 0))
    return events[-1].id if events else seen


async def random_return(services, data, order, return_id, model) -> None:
    """Random units of a line back; the model told, if the ledger took the return (an order
    the ledger never saw paid moves nothing; more than is left of the line is refused)."""
    async with services.sessions() as session, session.begin():
        items = list(await session.scalars(select(OrderItem).where(OrderItem.order_id == order.id)))
        chosen = data.draw(st.sampled_from(items))
        quantity = data.draw(st.integers(min_value=1, max_value=chosen.quantity))
        row = await session.get(Order, order.id)
        shop = await session.get(Shop, order.shop_id)
        percent = Decimal(shop.settings["commission_percent"])
        share = next(s for s in line_shares(row, items, percent) if s.item_id == chosen.id)
        try:
            money = await post_return_refund(
                session,
                order=row,
                lines=[(chosen, quantity)],
                return_id=return_id,
                now=services.clock.now(),
            )
        except ValueError as error:
            assert "returned already" in str(error)  # more than is left of the line
            return
    if money is not None:
        assert (money.refunded, money.off_due) == model.returned(share, quantity)
        label("returned, partly off the due" if money.off_due else "returned, all refunded")
