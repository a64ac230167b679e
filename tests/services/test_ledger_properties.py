"""The ledger over random lifecycles of every preset (hypothesis, real service and database).

Random people take random actions, time passes and the sweep fires timers, received orders
get random returns. After every step no reserve of the order is negative and the shop's
accounts sum to zero; at the end the order's balances are exactly what a small model of
seed 004's rules, fed the effects recorded in the audit log, says they should be.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import event as label
from hypothesis import strategies as st
from sqlalchemy import select

from services.money.ledger.income import line_shares, order_income
from services.money.ledger.postings import post_return_refund
from services.orders.actors import ActorRef
from services.refusals import OrderRefused
from services.time.sweep import TimerSweep
from services.workflow.definition import ActorKind, Input, StatusKind
from services.workflow.presets import PRESETS, load_preset
from storage.models import Order, OrderEvent, OrderItem, Shop
from tests.factories import bind_buyer, item, make_order, make_shop
from tests.services.ledger_helpers import balances, entries

PEOPLE = ("owner", "manager", "packer", "courier", "accountant", "buyer", "system")
WAITS = (
    timedelta(0),
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=16),
    timedelta(days=40),
)
HELD = ("reserved", "delivery_reserved", "fee_reserved")
INPUTS = {"carrier": "CDEK", "track_code": "RA123456789RU", "comment": "fine"}

lines = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=4),  # quantity
        st.integers(min_value=1, max_value=500_000),  # unit price
        st.integers(min_value=0, max_value=100),  # line discount, percent of the line
    ),
    min_size=1,
    max_size=3,
)


class Model:
    """Seed 004's rules, restated: what each money effect does to one order's accounts."""

    def __init__(self, goods: int, fee: int, delivery: int):
        self.goods, self.fee, self.delivery = goods, fee, delivery
        self.accounts: dict[str, int] = defaultdict(int)
        self.paid = self.credited = self.penalised = False

    def move(self, source: str, to: str, amount: int) -> None:
        self.accounts[source] -= amount
        self.accounts[to] += amount

    def effect(self, name: str) -> None:
        a = self.accounts
        if name in ("reserve_income", "credit_income") and not self.paid:
            self.paid = True
            self.move("buyer_payments", "reserved", self.goods - self.fee)
            self.move("buyer_payments", "fee_reserved", self.fee)
            self.move("buyer_payments", "delivery_reserved", self.delivery)
        if name == "credit_income" and not self.credited:
            self.credited = True
            self.move("reserved", "available", a["reserved"])
            self.move("delivery_reserved", "available", a["delivery_reserved"])
            self.move("fee_reserved", "platform_fee", a["fee_reserved"])
        if name == "refund_goods":
            self.move("reserved", "refunds", a["reserved"])
            self.move("fee_reserved", "refunds", a["fee_reserved"])
        if name == "refund_delivery":
            self.move("delivery_reserved", "refunds", a["delivery_reserved"])
        if name == "compensate_delivery":
            self.move("delivery_reserved", "available", a["delivery_reserved"])

    def penalty(self) -> None:
        if not self.penalised:
            self.penalised = True
            self.move("available", "platform_fee", self.fee)

    def returned(self, income: int, fee: int) -> None:
        self.move("available" if self.credited else "reserved", "refunds", income)
        self.move("platform_fee" if self.credited else "fee_reserved", "refunds", fee)


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


async def check_invariants(services, shop_id, order_id) -> None:
    order_balances = balances(await entries(services, order_id))
    assert all(order_balances.get(account, 0) >= 0 for account in HELD), order_balances
    assert sum(balances(await entries(services, shop_id=shop_id)).values()) == 0


@settings(
    max_examples=30,
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
    money = order_income(order, Decimal(str(percent)))
    model = Model(money.goods, money.fee, money.delivery)
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
    returns = 0

    # when random things happen to it
    for _ in range(data.draw(st.integers(min_value=1, max_value=14))):
        current = await fresh(services, order.id)
        status = workflow.status(current.status)
        if status.kind is StatusKind.FINAL_SUCCESS:
            returns += 1
            await random_return(services, data, current, returns)
            label("returned")
        elif status.is_final:
            break
        elif data.draw(st.integers(min_value=0, max_value=5)) == 0:
            services.clock.advance(data.draw(st.sampled_from(WAITS)))
            await sweep.run_once()
        else:
            # Mostly onwards, sometimes a cancellation: deep paths get walked too.
            transitions = workflow.transitions_from(current.status)
            onwards = [t for t in transitions if Input.REASON not in t.inputs] or transitions
            transition = data.draw(
                st.one_of(
                    st.sampled_from(onwards), st.sampled_from(onwards), st.sampled_from(transitions)
                )
            )
            # Mostly someone the transition names, so that deep paths are walked.
            person = data.draw(
                st.one_of(st.sampled_from(allowed(transition)), st.sampled_from(PEOPLE))
            )
            inputs = dict(INPUTS)
            if Input.REASON in transition.inputs:
                inputs["reason"] = data.draw(st.sampled_from(workflow.cancel_reasons)).code
            late = is_late(current, services.clock.now())
            try:
                result = await services.orders.apply(
                    order.id, people[person], transition.code, inputs
                )
            except OrderRefused:
                pass
            else:
                step = result.decision.steps[0]
                cancels = Input.REASON in step.transition.inputs and (
                    workflow.status(step.to_status).kind is StatusKind.FINAL_FAILURE
                )
                by_shop = step.capacity is ActorKind.STAFF or (
                    step.capacity is ActorKind.SYSTEM
                    and inputs.get("reason") == "processing_time_expired"
                )
                if late and late_cancel_fee and cancels and by_shop:
                    model.penalty()
        await check_invariants(services, shop.id, order.id)

    # then the order's accounts are what the rules say, given the effects the log records
    async with services.sessions() as session:
        events = await session.scalars(
            select(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.to_status.is_not(None))
            .order_by(OrderEvent.id)
        )
        for event in events:
            for name in event.payload.get("effects", []):
                model.effect(name)
    await apply_returns_to_model(services, order.id, model)
    label(f"ended {workflow.status((await fresh(services, order.id)).status).kind}")
    expected = {account: amount for account, amount in model.accounts.items() if amount}
    assert balances(await entries(services, order.id)) == expected


async def random_return(services, data, order, return_id) -> None:
    async with services.sessions() as session, session.begin():
        items = list(await session.scalars(select(OrderItem).where(OrderItem.order_id == order.id)))
        chosen = data.draw(st.sampled_from(items))
        quantity = data.draw(st.integers(min_value=1, max_value=chosen.quantity))
        row = await session.get(Order, order.id)
        try:
            await post_return_refund(
                session,
                order=row,
                lines=[(chosen, quantity)],
                return_id=return_id,
                now=services.clock.now(),
            )
        except ValueError as error:
            assert "returned already" in str(error)  # more than is left of the line


async def apply_returns_to_model(services, order_id, model) -> None:
    """What returns gave back, per line from the units the ledger recorded: the buyer gets
    the units' running share of the line's goods; the commission's part is at most its own
    running share, and all of it once the whole line is back."""
    rows = [r for r in await entries(services, order_id) if r.kind.startswith("return_")]
    if not rows:
        return
    async with services.sessions() as session:
        order = await session.get(Order, order_id)
        items = list(await session.scalars(select(OrderItem).where(OrderItem.order_id == order_id)))
        shop = await session.get(Shop, order.shop_id)
    shares = {
        s.item_id: s
        for s in line_shares(order, items, Decimal(shop.settings["commission_percent"]))
    }
    units: dict[int, int] = defaultdict(int)
    fees: dict[int, int] = defaultdict(int)
    for row in rows:
        if row.kind == "return_income":
            units[row.order_item_id] += row.quantity or 0
        else:
            fees[row.order_item_id] += row.amount
    for item_id, count in units.items():
        share = shares[item_id]
        assert count <= share.quantity
        goods = share.goods * count // share.quantity
        fee = fees[item_id]
        assert 0 <= fee <= share.fee * count // share.quantity
        if count == share.quantity:
            assert fee == share.fee
        model.returned(goods - fee, fee)
