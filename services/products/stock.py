"""Stock counts inside the transaction of the change that moves them (issue 19).

An order reserves its in-stock lines in the transaction that creates it; a cancellation
releases them, shipping writes them off, a return puts them back, a person corrects them
with a reason. Each change is a conditional UPDATE of the product row plus a movement row:

- the race for the last item is decided by the database: `reserved + q` is written only
  while `on_hand - reserved >= q` holds (PostgreSQL re-checks it after waiting for the row
  lock; SQLite has one writer at a time), so of two orders for the last item one gets it;
- what an order holds is the sum of its movements, so every later step (release, write-off)
  is computed from the log and happens once, however often it is triggered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import load_only
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from services.messaging.notifications.outbox import Outbox
from services.products import notices
from services.refusals import OrderRefused, Problem
from services.vocabulary import IN_STOCK, MADE_TO_ORDER
from services.workflow.definition import Effect, Input, StatusKind, Workflow
from storage import direct
from storage.models import Order, OrderItem, Product, Shop, StockMovement

# The shop's choice for a line beyond the available stock (shop.settings).
BEYOND_STOCK_SETTING = "beyond_stock"
REFUSE = "refuse"  # the order is refused, naming the SKUs (API 409)
ACCEPT_MADE_TO_ORDER = "made_to_order"  # the line is taken as made to order
BEYOND_STOCK_CHOICES = (REFUSE, ACCEPT_MADE_TO_ORDER)


class Movement(StrEnum):
    RESERVE = "reserve"  # an order holds the goods
    RELEASE = "release"  # its cancellation gives them back to sale
    WRITE_OFF = "write_off"  # shipped: they leave the shop's hands
    RETURN = "return"  # a return brought them back
    CORRECTION = "correction"  # a person set the count, with a reason
    OUT_OF_STOCK = "out_of_stock"  # a cancellation for want of stock zeroed it (003)
    IMPORT = "import"  # a product file set the count
    SPLIT = "split"  # a split moved held goods to the new order (the counts stay)


def beyond_stock(shop: Shop) -> str:
    value = (shop.settings or {}).get(BEYOND_STOCK_SETTING, REFUSE)
    return value if value in BEYOND_STOCK_CHOICES else REFUSE


# What an order reads of its lines' products: their rules and counts, not their titles.
_RULES = (
    Product.id,
    Product.shop_id,
    Product.sku,
    Product.title,
    Product.availability,
    Product.archived,
    Product.returnable,
    Product.return_days,
    Product.low_stock_at,
    Product.on_hand,
    Product.reserved,
)


# Built once: every new order reads its products (issue 15: building the statement and its
# cache key, options included, cost more than running it).
_PRODUCTS = (
    select(Product)
    .where(
        Product.shop_id == bindparam("shop_id"),
        Product.sku.in_(bindparam("skus", expanding=True)),
    )
    .options(load_only(*_RULES, raiseload=True))
)


@dataclass
class Plan:
    """An order's lines after the products' rules, and what they reserved."""

    items: list[Any]  # services.orders.drafts.ItemDraft
    reserved: list[tuple[Product, int, int]] = field(default_factory=list)  # product, q, before


async def reserve(
    session: AsyncSession, shop: Shop, items: Sequence[Any], now: datetime, *, refuse: bool = False
) -> Plan:
    """Apply the products' rules to a new order's lines and reserve the in-stock ones.

    A line whose SKU the shop has no product for stays as it came (a free line). Raises
    OUT_OF_STOCK naming the SKUs short, unless the shop takes them as made to order.
    """
    skus = sorted({item.sku for item in items})
    found = await session.scalars(_PRODUCTS, {"shop_id": shop.id, "skus": skus})
    products = {product.sku: product for product in found}
    if not products:
        return Plan(list(items))
    wanted: dict[int, int] = defaultdict(int)
    by_id = {product.id: product for product in products.values()}
    for item in items:
        product = products.get(item.sku)
        if product is not None and product.availability == IN_STOCK:
            wanted[product.id] += item.quantity
    plan = Plan([])
    short = {i for i in wanted if by_id[i].archived}
    asked = {i: q for i, q in wanted.items() if i not in short}
    if asked:
        # One statement for every line: each row is reserved only while its own stock
        # covers it; the rows it returns are those reserved, the others are short.
        quantity = case(asked, value=Product.id)
        rows = await session.execute(
            update(Product)
            .where(Product.id.in_(sorted(asked)), Product.on_hand - Product.reserved >= quantity)
            .values(reserved=Product.reserved + quantity, updated_at=now)
            .returning(Product.id, Product.on_hand, Product.reserved)
            .execution_options(synchronize_session=False)
        )
        for row in rows:
            product = by_id[row.id]
            set_committed_value(product, "on_hand", row.on_hand)
            set_committed_value(product, "reserved", row.reserved)
            before = row.on_hand - row.reserved + asked[row.id]
            plan.reserved.append((product, asked[row.id], before))
        short |= set(asked) - {product.id for product, _, _ in plan.reserved}
    if short and (refuse or beyond_stock(shop) == REFUSE):
        names = sorted(by_id[i].sku for i in short)
        raise OrderRefused(
            Problem.OUT_OF_STOCK,
            f"not enough stock for: {', '.join(names)}",
            {"field": "items", "skus": names},
        )
    for item in items:
        product = products.get(item.sku)
        if product is None:
            plan.items.append(item)
            continue
        made = product.availability == MADE_TO_ORDER or product.id in short
        plan.items.append(
            replace(
                item,
                availability=MADE_TO_ORDER if made else IN_STOCK,
                returnable=product.returnable,
                return_days=product.return_days,
            )
        )
    return plan


async def record_reservations(
    session: AsyncSession, outbox: Outbox, plan: Plan, order_id: int, now: datetime
) -> None:
    """The movements of a new order's reservations, once the order has its id: one
    statement for all of them (the hot path of every order with products)."""
    if not plan.reserved:
        return
    rows = [
        {
            "shop_id": product.shop_id,
            "product_id": product.id,
            "order_id": order_id,
            "kind": str(Movement.RESERVE),
            "on_hand_delta": 0,
            "reserved_delta": quantity,
            "created_at": now,
        }
        for product, quantity, _ in plan.reserved
    ]
    await session.execute(insert(StockMovement), rows)
    await _holds_goods(session, order_id)
    for product, _, before in plan.reserved:
        notices.low_stock_if_crossed(outbox, product, before, now)


async def held(session: AsyncSession, order_id: int) -> dict[int, int]:
    """What the order holds now, per product: the sum of its reservation movements."""
    rows = await session.execute(_HELD, {"order_id": order_id})
    return {product_id: int(total or 0) for product_id, total in rows if total}


# Built once: a cancellation or shipping of an order that reserved goods reads it (issue 15).
_HELD = (
    select(StockMovement.product_id, func.sum(StockMovement.reserved_delta))
    .where(StockMovement.order_id == bindparam("order_id"))
    .group_by(StockMovement.product_id)
)


async def _holds_goods(session: AsyncSession, order_id: int) -> None:
    """Note on the order that goods were reserved for it (`Order.reserved_stock`): from now
    on its steps read its movements. The order row is this transaction's already (it was
    created, edited or split off in it); its version stays, as for the money totals."""
    await direct.execute(session, _RESERVED, {"order_id": order_id})
    loaded = session.identity_map.get(identity_key(Order, order_id))
    if loaded is not None:  # the order as this transaction knows it says so too
        set_committed_value(loaded, "reserved_stock", True)


_orders = Order.__table__
_RESERVED = update(_orders).where(_orders.c.id == bindparam("order_id")).values(reserved_stock=True)


async def release(
    session: AsyncSession, order_id: int, now: datetime, *, write_off: bool = False
) -> list[Product]:
    """Give back what the order holds (a cancellation), or write it off (shipped)."""
    holding = {k: v for k, v in (await held(session, order_id)).items() if v > 0}
    changed = []
    for product_id in sorted(holding):
        quantity = holding[product_id]
        on_hand = Product.on_hand - quantity if write_off else Product.on_hand
        await session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(reserved=Product.reserved - quantity, on_hand=on_hand, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        product = await _fresh(session, product_id)
        kind = Movement.WRITE_OFF if write_off else Movement.RELEASE
        session.add(
            _movement(
                product, kind, -quantity if write_off else 0, -quantity, now, order_id=order_id
            )
        )
        changed.append(product)
    return changed


async def edited(
    session: AsyncSession,
    outbox: Outbox,
    shop: Shop,
    order_id: int,
    items: Sequence[Any],
    now: datetime,
) -> Plan:
    """An in-stock order's goods replaced: what it held is released and the new lines are
    reserved, in the edit's transaction; a line beyond the stock refuses the edit (an
    order's goods never change availability by an edit)."""
    await release(session, order_id, now)
    plan = await reserve(session, shop, items, now, refuse=True)
    await record_reservations(session, outbox, plan, order_id, now)
    return plan


async def split(
    session: AsyncSession,
    shop_id: int,
    from_id: int,
    to_id: int,
    moved: Sequence[Any],
    now: datetime,
) -> None:
    """Goods moved by a split take what the original order held of them along."""
    holding = await held(session, from_id)
    if not holding:
        return
    wanted: dict[str, int] = defaultdict(int)
    for item in moved:
        wanted[item.sku] += item.quantity
    products = await session.scalars(
        select(Product).where(Product.id.in_(list(holding)), Product.sku.in_(list(wanted)))
    )
    rows = []
    for product in products:
        quantity = min(holding[product.id], wanted[product.sku])
        if quantity <= 0:
            continue
        for order_id, delta in ((from_id, -quantity), (to_id, quantity)):
            rows.append(
                {
                    "shop_id": shop_id,
                    "product_id": product.id,
                    "order_id": order_id,
                    "kind": str(Movement.SPLIT),
                    "on_hand_delta": 0,
                    "reserved_delta": delta,
                    "created_at": now,
                }
            )
    if rows:
        await session.execute(insert(StockMovement), rows)
        await _holds_goods(session, to_id)


async def out_of_stock(
    session: AsyncSession, outbox: Outbox, order_id: int, shop_id: int, now: datetime
) -> list[Product]:
    """The shop cancelled for want of stock (003): what the order's lines name is not there.

    Its count is set so nothing is left for sale (what other open orders hold stays theirs),
    the storefront is told, and staff too when that crosses the product's threshold.
    Nothing is archived: the product is sold again once its stock is corrected.
    """
    skus = select(OrderItem.sku).where(OrderItem.order_id == order_id)
    products = list(
        await session.scalars(
            select(Product)
            .where(Product.shop_id == shop_id, Product.sku.in_(skus))
            .order_by(Product.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    for product in products:
        before = product.available
        if before > 0:
            product.on_hand = product.reserved
            product.updated_at = now
            session.add(
                _movement(
                    product,
                    Movement.OUT_OF_STOCK,
                    -before,
                    0,
                    now,
                    order_id=order_id,
                    reason="cancelled: out of stock",
                )
            )
        notices.product_updated(outbox, product, "out_of_stock", now)
        notices.low_stock_if_crossed(outbox, product, before, now)
    return products


async def after_decision(
    session: AsyncSession,
    outbox: Outbox,
    order: Any,  # storage.models.Order
    workflow: Workflow,
    steps: Sequence[Any],  # services.workflow.engine.Step
    effects: Sequence[Effect],  # the decision's, a cancellation reason's included
    now: datetime,
) -> None:
    """The stock side of a status change, in its transaction.

    Shipping (a step asking for the track code) or a successful end writes the goods off;
    an unsuccessful end releases them; a `fix_stock` effect zeroes what the lines name.
    Nothing is read for the many steps that are none of these, nor for an order that
    never had goods reserved (made to order, lines without a product in the catalogue).
    """
    final = workflow.status(steps[-1].to_status).kind
    shipped = final is StatusKind.FINAL_SUCCESS or any(
        Input.TRACK_CODE in step.transition.inputs for step in steps
    )
    fix = Effect.FIX_STOCK in effects
    if order.reserved_stock:  # else it holds nothing to give back or write off
        if shipped:
            await release(session, order.id, now, write_off=True)
        elif final is StatusKind.FINAL_FAILURE or fix:
            await release(session, order.id, now)
    if fix:
        await out_of_stock(session, outbox, order.id, order.shop_id, now)


async def returned(
    session: AsyncSession,
    shop_id: int,
    order_id: int,
    lines: Iterable[tuple[str, int]],
    now: datetime,
    user_id: int | None = None,
) -> None:
    """Returned goods are back on the shelf: their products' counts grow (sku, quantity)."""
    wanted: dict[str, int] = defaultdict(int)
    for sku, quantity in lines:
        wanted[sku] += quantity
    products = await session.scalars(
        select(Product).where(Product.shop_id == shop_id, Product.sku.in_(list(wanted)))
    )
    for product in sorted(products, key=lambda p: p.id):
        quantity = wanted[product.sku]
        await session.execute(
            update(Product)
            .where(Product.id == product.id)
            .values(on_hand=Product.on_hand + quantity, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        session.add(
            _movement(
                product, Movement.RETURN, quantity, 0, now, order_id=order_id, user_id=user_id
            )
        )


def set_count(
    session: AsyncSession,
    product: Product,
    on_hand: int,
    now: datetime,
    *,
    kind: Movement = Movement.CORRECTION,
    reason: str | None = None,
    user_id: int | None = None,
) -> int:
    """A person (or a file) says how many there are; returns the change. The product is
    loaded locked by the caller."""
    delta = on_hand - product.on_hand
    if delta:
        product.on_hand = on_hand
        product.updated_at = now
        session.add(_movement(product, kind, delta, 0, now, reason=reason, user_id=user_id))
    return delta


async def _fresh(session: AsyncSession, product_id: int) -> Product:
    return (
        await session.scalars(
            select(Product)
            .where(Product.id == product_id)
            .execution_options(populate_existing=True)
        )
    ).one()


def _movement(
    product: Product,
    kind: Movement,
    on_hand_delta: int,
    reserved_delta: int,
    now: datetime,
    *,
    order_id: int | None = None,
    reason: str | None = None,
    user_id: int | None = None,
) -> StockMovement:
    return StockMovement(
        shop_id=product.shop_id,
        product_id=product.id,
        order_id=order_id,
        kind=str(kind),
        on_hand_delta=on_hand_delta,
        reserved_delta=reserved_delta,
        reason=reason,
        user_id=user_id,
        created_at=now,
    )
