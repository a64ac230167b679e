"""Reading a shop's ledger back in tests, and the example order seed 004's scenarios use."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from services.orders.actors import ActorRef
from storage.models import LedgerEntry, Order, OrderItem
from tests.factories import bind_buyer, item, make_order, make_shop

# The example order, worked out by hand (12.5 % commission):
#   line A: 3 x 10.00 minus 1.00 line discount = 29.00; line B: 1 x 25.01 = 25.01
#   items 54.01, order discount 3.33 -> goods 50.68; delivery 3.50; paid 54.18
#   commission 12.5 % of 50.68 = 6.335 -> 6.34 (half up); income 50.68 - 6.34 = 44.34
#   the 3.33 discount by line (largest remainder): A 1.79, B 1.54 -> goods A 27.21, B 23.47
#   the 6.34 commission by line: A 3.40, B 2.94 -> income A 23.81, B 20.53
PERCENT = "12.5"
GOODS, FEE, INCOME, DELIVERY = 5068, 634, 4434, 350
LINE_A = {"goods": 2721, "fee": 340, "income": 2381}
LINE_B = {"goods": 2347, "fee": 294, "income": 2053}


async def example_shop(services, preset="reseller", **settings):
    return await make_shop(services, preset, commission_percent=PERCENT, **settings)


async def example_order(services, shop, **draft_args):
    draft_args.setdefault("delivery_cost", DELIVERY)
    draft_args.setdefault("discount", 333)
    order = await make_order(
        services,
        shop,
        item("A", quantity=3, price=1000, discount=100, returnable=True, return_days=14),
        item("B", quantity=1, price=2501, returnable=True, return_days=14),
        **draft_args,
    )
    await bind_buyer(services, order, shop.buyer_user)
    return order


async def act(services, shop, order, who, action, **inputs):
    person = ActorRef.user(who.id)
    return await services.orders.apply(order.id, person, action, inputs)


async def entries(services, order_id=None, shop_id=None, after=None) -> list[LedgerEntry]:
    query = select(LedgerEntry).order_by(LedgerEntry.id)
    if after is not None:
        query = query.where(LedgerEntry.id > after)
    if order_id is not None:
        query = query.where(LedgerEntry.order_id == order_id)
    if shop_id is not None:
        query = query.where(LedgerEntry.shop_id == shop_id)
    async with services.sessions() as session:
        return list(await session.scalars(query))


async def last_entry_id(services) -> int:
    async with services.sessions() as session:
        return await session.scalar(select(func.coalesce(func.max(LedgerEntry.id), 0)))


def balances(rows: list[LedgerEntry]) -> dict[str, int]:
    """Debits minus credits per account, recomputed here, independently of the service."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row.debit_account] += row.amount
        totals[row.credit_account] -= row.amount
    return {account: amount for account, amount in totals.items() if amount}


def postings(rows: list[LedgerEntry]) -> list[tuple[str, str, str, int]]:
    return [(r.kind, r.credit_account, r.debit_account, r.amount) for r in rows]


async def order_items(services, order_id) -> dict[str, OrderItem]:
    async with services.sessions() as session:
        rows = await session.scalars(select(OrderItem).where(OrderItem.order_id == order_id))
        return {row.sku: row for row in rows}


async def load_order(services, order_id) -> Order:
    async with services.sessions() as session:
        return await session.get(Order, order_id)
