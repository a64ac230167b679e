"""Editing an order (A6) and splitting it (A7).

Each function runs inside OrderService's transaction, after the service has loaded and
locked the order, checked that the person is one of the shop's editors and that the
workflow allows this edit in the order's status.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.messaging.webhooks import events as webhooks
from services.money.ledger import postings as ledger
from services.orders import drafts, notices
from services.orders.access import Who
from services.orders.drafts import ItemDraft
from services.orders.events import OrderEvents
from services.orders.rows import delivery_price, item_row, recalculate
from services.orders.unit import Unit
from services.products import stock
from services.refusals import OrderRefused, Problem
from services.shops.auth import new_buyer_token
from services.time import timers
from services.vocabulary import IN_STOCK
from services.workflow.definition import Workflow
from storage.models import Buyer, Order, OrderEvent, OrderItem, Shop


async def edit_items(
    unit: Unit, order: Order, _workflow: Workflow, who: Who, items: list[ItemDraft]
) -> Order:
    drafts.check_items(items)
    if order.availability == IN_STOCK:
        # The stock follows the goods (issue 19): released, and the new lines reserved.
        shop = await unit.session.get(Shop, order.shop_id)
        plan = await stock.edited(unit.session, unit.outbox, shop, order.id, items, unit.now)
        items = plan.items
    if any(item.availability != order.availability for item in items):
        raise drafts.invalid("items", "in-stock and made-to-order goods go in separate orders")
    before = summary(order.items)
    order.items.clear()
    await unit.session.flush()
    order.items.extend(item_row(n, item) for n, item in enumerate(items, 1))
    order.discount = min(order.discount, sum(item.line_total for item in items))
    recalculate(order)
    await changed(
        unit,
        order,
        who,
        OrderEvents.ITEMS_EDITED,
        {"before": before, "after": summary(order.items)},
    )
    return order


async def change_delivery(
    unit: Unit,
    order: Order,
    _workflow: Workflow,
    who: Who,
    method: str,
    address: str | None,
    cost: int | None,
) -> Order:
    drafts.check_methods(order.payment_method, method)
    shop = await unit.session.get(Shop, order.shop_id)
    new_cost = cost if cost is not None else delivery_price(shop, method)
    drafts.check_money(new_cost, "delivery.cost")
    if address is not None and len(address) > 1000:
        raise drafts.invalid("delivery.address", "the address is longer than 1000 characters")
    before = {
        "method": order.delivery_method,
        "address": order.delivery_address,
        "cost": order.delivery_cost,
    }
    order.delivery_method = method
    if address is not None:
        order.delivery_address = address.strip()
    order.delivery_cost = new_cost
    recalculate(order)
    after = {"method": method, "address": order.delivery_address, "cost": new_cost}
    await changed(
        unit, order, who, OrderEvents.DELIVERY_CHANGED, {"before": before, "after": after}
    )
    return order


async def set_delivery_date(
    unit: Unit, order: Order, _workflow: Workflow, who: Who, day: date
) -> Order:
    """The day the goods are sent, as agreed with the buyer (seed 003 step 3): from today
    (the shop's calendar) up to 90 days ahead; the buyer is told."""
    shop = await unit.session.get(Shop, order.shop_id)
    today = unit.now.astimezone(ZoneInfo(shop.timezone)).date()
    if not isinstance(day, date) or not today <= day <= today + timedelta(days=90):
        raise drafts.invalid("delivery_date", "a day from today up to 90 days ahead")
    if order.delivery_date == day:
        return order
    before, order.delivery_date = order.delivery_date, day
    await changed(
        unit,
        order,
        who,
        OrderEvents.DELIVERY_DATE_SET,
        {"before": before.isoformat() if before else None, "after": day.isoformat()},
        reprice=False,
    )
    return order


async def set_courier(
    unit: Unit, order: Order, _workflow: Workflow, who: Who, window: str, phone: str
) -> Order:
    """The courier's visit agreed with the buyer and the courier's phone (seed 003 step 7),
    for an order delivered by courier; the buyer is told."""
    if order.delivery_method != "courier":
        raise drafts.invalid("delivery.method", "only an order delivered by courier")
    window = " ".join((window or "").split())
    if not 1 <= len(window) <= 64:
        raise drafts.invalid("courier.window", "a visit window of 1 to 64 characters")
    shop = await unit.session.get(Shop, order.shop_id)
    try:
        phone = drafts.normalize_phone(phone or "", shop.country)
    except OrderRefused:
        raise drafts.invalid("courier.phone", "not a phone number") from None
    order.courier_window, order.courier_phone = window, phone
    # What the audit log keeps is the window; the phone stays on the order only.
    await changed(unit, order, who, OrderEvents.COURIER_SET, {"window": window}, reprice=False)
    return order


async def change_payment(
    unit: Unit, order: Order, _workflow: Workflow, who: Who, method: str
) -> Order:
    drafts.check_methods(method, order.delivery_method)
    before, order.payment_method = order.payment_method, method
    await changed(
        unit, order, who, OrderEvents.PAYMENT_CHANGED, {"before": before, "after": method}
    )
    return order


async def change_contact(
    unit: Unit,
    order: Order,
    _workflow: Workflow,
    who: Who,
    contact: Mapping[str, str | None],
) -> Order:
    """The buyer's contact for this order, as the storefront relays it (H4): `contact`
    holds the fields to change (None clears a phone or an e-mail).

    The order gets a buyer record of its own with the new contact, the Telegram account
    and language carried over: another order of the same person keeps what it had, and
    nobody else's record is touched or merged with on the strength of an unverified claim.
    """
    shop = await unit.session.get(Shop, order.shop_id)
    old = order.buyer
    given = drafts.BuyerDraft(
        name=contact.get("name", old.name) or "",
        phone=contact.get("phone", old.phone),
        email=contact.get("email", old.email),
        language=old.language,
        telegram_id=old.telegram_id,
    )
    try:
        checked = drafts.check_buyer(given, shop.country)
    except OrderRefused as refusal:
        field = str(refusal.params.get("field", "contact")).replace("buyer", "contact", 1)
        raise drafts.invalid(field, refusal.message) from None
    before = {"name": old.name, "phone": old.phone, "email": old.email}
    after = {"name": checked.name, "phone": checked.phone, "email": checked.email}
    if before == after:
        return order
    buyer = Buyer(
        shop_id=order.shop_id,
        user_id=old.user_id,
        telegram_id=old.telegram_id,
        name=checked.name,
        phone=checked.phone,
        email=checked.email,
        language=old.language,
        created_at=unit.now,
    )
    unit.session.add(buyer)
    await unit.session.flush()
    order.buyer_id, order.buyer = buyer.id, buyer
    await changed(unit, order, who, OrderEvents.CONTACT_CHANGED, {"before": before, "after": after})
    return order


async def change_comment(
    unit: Unit, order: Order, _workflow: Workflow, who: Who, comment: str
) -> Order:
    """The buyer's comment on the order, as the storefront relays it (H4)."""
    comment = comment.strip()
    if len(comment) > 2000:
        raise drafts.invalid("comment", "the comment is longer than 2000 characters")
    if comment == order.buyer_comment:
        return order
    before, order.buyer_comment = order.buyer_comment, comment
    await changed(
        unit, order, who, OrderEvents.COMMENT_CHANGED, {"before": before, "after": comment}
    )
    return order


async def set_discount(
    unit: Unit,
    order: Order,
    _workflow: Workflow,
    who: Who,
    order_discount: int | None,
    item_discounts: Mapping[int, int] | None,
) -> Order:
    lines = {item.id: item for item in order.items}
    changes: dict[str, Any] = {}
    for item_id, amount in (item_discounts or {}).items():
        item = lines.get(item_id)
        if item is None:
            raise drafts.invalid("item_id", f"the order has no item {item_id}")
        if not isinstance(amount, int) or not 0 <= amount <= item.unit_price * item.quantity:
            raise drafts.invalid(
                f"items[{item.position - 1}].discount", "a discount from zero to the line's price"
            )
        changes[item.sku] = {"before": item.discount, "after": amount}
        item.discount = amount
    items_total = sum(item.line_total for item in order.items)
    if order_discount is not None:
        if not isinstance(order_discount, int) or not 0 <= order_discount <= items_total:
            raise drafts.invalid("discount", "a discount from zero to the goods' total")
        changes["order"] = {"before": order.discount, "after": order_discount}
        order.discount = order_discount
    elif order.discount > items_total:
        order.discount = items_total
    recalculate(order)
    await changed(unit, order, who, OrderEvents.DISCOUNT_SET, changes)
    return order


async def split(
    unit: Unit,
    order: Order,
    workflow: Workflow,
    who: Who,
    move: Mapping[int, int],
    reason: str,
    comment: str,
) -> tuple[Order, Order]:
    reason_def = next((r for r in workflow.split_reasons if r.code == reason), None)
    if reason_def is None:
        raise drafts.invalid("reason", f"'{reason}' is not a reason to split")
    comment = comment.strip()
    if reason_def.comment_required and not comment:
        raise OrderRefused(
            Problem.INPUT_MISSING, f"the reason '{reason}' needs a comment", {"input": "comment"}
        )
    moved = take_out(order, move)
    if not order.items:
        raise drafts.invalid("items", "both orders need at least one item")
    new = Order(
        shop_id=order.shop_id,
        number=await unit.next_number(order.shop_id),
        buyer_id=order.buyer_id,
        workflow_id=order.workflow_id,
        status=order.status,
        # The split-off part keeps the clock of the order it came from (its timers too).
        status_changed_at=order.status_changed_at,
        sla_excellent_at=order.sla_excellent_at,
        sla_deadline_at=order.sla_deadline_at,
        availability=order.availability,
        payment_method=order.payment_method,
        delivery_method=order.delivery_method,
        delivery_address=order.delivery_address,
        currency=order.currency,
        discount=0,
        delivery_cost=0,
        source="split",
        split_from_id=order.id,
        buyer_token=new_buyer_token(),
        buyer_comment=order.buyer_comment,
        opened_at=order.opened_at,
        created_at=unit.now,
        updated_at=unit.now,
        items=[item_row(n, item) for n, item in enumerate(moved, 1)],
    )
    recalculate(new)
    unit.session.add(new)
    # The order discount stays with the original order, up to what its goods still cost.
    order.discount = min(order.discount, sum(item.line_total for item in order.items))
    recalculate(order)
    await unit.session.flush()
    new.buyer = order.buyer
    details = {"reason": reason, "comment": comment or None}
    split_event = await changed(
        unit,
        order,
        who,
        OrderEvents.SPLIT,
        {**details, "new_order_id": new.id, "new_order_number": new.number},
        reprice=False,
    )
    from_event = unit.add_event(
        new,
        who,
        action=OrderEvents.SPLIT_FROM,
        to_status=new.status,
        payload={**details, "from_order_id": order.id, "from_order_number": order.number},
    )
    await unit.session.flush()
    # A paid order's money goes with its goods (A7): the new order is paid as far as the
    # old one's money reaches, never paid twice (issue 14).
    await ledger.after_split(unit.session, order, new, (split_event, from_event), unit.now)
    await timers.copy_pending(unit.session, order.id, new.id, unit.now)
    await stock.split(unit.session, order.shop_id, order.id, new.id, moved, unit.now)
    webhooks.order_created(unit.outbox, new, unit.now.isoformat())  # every order is told (H4)
    notices.to_buyer(unit.outbox, new, "order_split", {"from_number": order.number})
    return order, new


def take_out(order: Order, move: Mapping[int, int]) -> list[ItemDraft]:
    """Remove the moved quantities from the order's lines and return them as new lines."""
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
    for item in [i for i in order.items if i.quantity == 0]:
        order.items.remove(item)
    if not moved:
        raise drafts.invalid("items", "both orders need at least one item")
    return moved


async def changed(
    unit: Unit, order: Order, who: Who, action: OrderEvents, payload: dict, *, reprice: bool = True
) -> OrderEvent:
    """Record an edit: bump the version (a concurrent edit then fails), log it, hold a paid
    order's money for its new total (what the buyer owes or is owed is posted), tell the
    buyer. `reprice` False: the caller settles the money itself (a split)."""
    order.updated_at = unit.now
    await unit.session.flush()
    event = unit.add_event(order, who, action=action, payload=payload)
    await unit.session.flush()  # the event's id names its webhook
    webhooks.order_updated(unit.outbox, order, event)
    if reprice:
        await ledger.after_edit(unit.session, order, event, unit.now)
    notices.cards_changed(unit.outbox, order)
    notices.to_buyer(unit.outbox, order, "order_changed", {"action": str(action)})
    return event


def summary(items: list[OrderItem]) -> list[dict[str, Any]]:
    return [
        {"sku": i.sku, "quantity": i.quantity, "unit_price": i.unit_price, "discount": i.discount}
        for i in items
    ]
