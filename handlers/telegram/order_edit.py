"""Editing an order from its card (A6) and splitting it (A7).

The card's "✏️ Edit" opens a menu of exactly the edits this person may make now
(`OrderView.edits`). Drafts (the goods, what moves to a split-off order) live in the
conversation until saved; every save goes through OrderService, which checks the role and
the workflow's editing rules again. Each button carries the order version it was drawn
from: a draft or a menu older than the order is refused ("stale") and the current card shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from aiogram import BaseMiddleware, Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from handlers.telegram.callbacks import OrderAct, OrderCB
from handlers.telegram.card_view import card_text, method_name
from handlers.telegram.format import esc, money, title
from handlers.telegram.manual_order import ItemLineError, parse_amount, parse_item_lines
from handlers.telegram.order_card import abort_button, back_button, show_card
from handlers.telegram.refusals import describe
from services.orders.access import EDITOR_ROLES
from services.orders.actors import ActorRef
from services.orders.drafts import MAX_QUANTITY, ItemDraft
from services.orders.rows import delivery_price
from services.orders.service import OrderService, OrderView
from services.refusals import OrderRefused, Problem
from services.vocabulary import DELIVERY_METHODS, PAYMENT_METHODS
from services.workflow.definition import EDIT_KINDS

MAX_LINES = 30  # lines with buttons in one message: 3 buttons each, Telegram allows 100
SHOWN_NAME = 60  # characters of an item's name in the editor's lines


class EditAct(StrEnum):
    MENU = "m"  # the edit menu on the card
    ITEMS = "i"  # start editing the goods
    LESS = "l"  # goods line `n`: one fewer
    MORE = "g"  # goods line `n`: one more
    DROP = "r"  # goods line `n`: remove
    SAVE = "w"  # save the goods
    DELIVERY = "d"  # choose a delivery method
    METHOD = "dm"  # delivery method `a` chosen
    SHOP_COST = "dc"  # the shop's price for that method
    KEEP_ADDRESS = "da"  # keep the order's address
    PAYMENT = "p"  # choose a payment method
    PAY = "pm"  # payment method `a` chosen
    DISCOUNT = "c"  # choose what the discount is on
    DISCOUNT_ORDER = "co"  # on the whole order
    DISCOUNT_LINE = "cl"  # on the order's item `n` (its id)
    SPLIT = "s"  # start choosing what moves to a new order
    MOVE_LESS = "sl"  # split line `n`: move one fewer
    MOVE_MORE = "sg"  # split line `n`: move one more
    SPLIT_NEXT = "sn"  # on to the reason
    SPLIT_REASON = "sr"  # split reason number `n` of the order's workflow


# Client-controlled numbers stay within what the database's integer columns hold.
Number = Annotated[int, Field(ge=0, lt=2**31)]


class EditCB(CallbackData, prefix="ed"):
    act: EditAct
    id: Number
    v: Number = 0  # the order version the menu or draft was drawn from
    a: Annotated[str, Field(max_length=24)] = ""  # a payment or delivery method
    n: Number = 0  # a line's place in a draft, an item's id, a split reason's place


class EditItems(StatesGroup):
    lines = State()  # the goods draft: buttons change it, typed lines add to it


class EditDelivery(StatesGroup):
    cost = State()  # typing the delivery cost (or the shop's price)
    address = State()  # typing the address (or keeping the order's)


class EditDiscount(StatesGroup):
    amount = State()  # typing the discount


class EditSplit(StatesGroup):
    choose = State()  # choosing the quantities that move
    reason = State()  # choosing the reason
    comment = State()  # typing the comment the reason needs


# -- stale drafts and menus ------------------------------------------------------------


def stale(order_id: int) -> OrderRefused:
    return OrderRefused(
        Problem.STALE, "the order has changed since this was drawn", {"order_id": order_id}
    )


class StaleEdits(BaseMiddleware):
    """An edit drawn from an older order changes nothing: say so and show the card as it is."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        except OrderRefused as refusal:
            if refusal.code is not Problem.STALE or "order_id" not in refusal.params:
                raise
            await end_edit(data["state"])
            language = data["i18n"].current_locale
            view = await data["orders"].view(refusal.params["order_id"], data["actor"])
            if isinstance(event, CallbackQuery):
                answer = data["callback_answer"]
                answer.text, answer.show_alert = describe(refusal), True
                await show_card(event.message, view, language, edit=True)
            elif isinstance(event, Message):
                await event.answer(describe(refusal))
                await show_card(event, view, language)
            return None


async def checked_view(
    orders: OrderService, actor: ActorRef, order_id: int, version: int, kind: str | None = None
) -> OrderView:
    """The order, if this person may make the edit `kind` (any edit: None) on this version."""
    view = await orders.view(order_id, actor)  # strangers: "not found"
    if not view.who.actor.roles & EDITOR_ROLES:
        raise OrderRefused(Problem.FORBIDDEN, "only the shop's managers edit orders")
    if view.order.version != version:
        raise stale(order_id)
    if (kind is None and not view.edits) or (kind is not None and kind not in view.edits):
        raise OrderRefused(
            Problem.EDIT_NOT_ALLOWED,
            f"'{kind}' cannot be edited in the status '{view.order.status}'",
            {"edit": kind},
        )
    return view


EDIT_STATES = (EditItems, EditDelivery, EditDiscount, EditSplit)


async def end_edit(state: FSMContext) -> None:
    """Drop an editing draft; another conversation (a manual order...) goes on."""
    current = await state.get_state()
    if any(current in group.__all_states_names__ for group in EDIT_STATES):
        await state.clear()


async def draft_of(state: FSMContext, order_id: int) -> dict[str, Any] | None:
    """This conversation's draft, if it is about this order."""
    data = await state.get_data()
    return data if data.get("order_id") == order_id else None


def edit_labels() -> dict[str, str]:
    return {
        "items": _("📦 Goods"),
        "delivery": _("🚚 Delivery"),
        "payment": _("💳 Payment"),
        "discount": _("🏷 Discount"),
        "split": _("✂️ Split"),
    }


KIND_ACTS = {
    "items": EditAct.ITEMS,
    "delivery": EditAct.DELIVERY,
    "payment": EditAct.PAYMENT,
    "discount": EditAct.DISCOUNT,
    "split": EditAct.SPLIT,
}


def menu_button(order_id: int, version: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("↩️ Back"), callback_data=EditCB(act=EditAct.MENU, id=order_id, v=version).pack()
    )


def edit_menu(view: OrderView) -> InlineKeyboardMarkup:
    order = view.order
    builder = InlineKeyboardBuilder()
    labels = edit_labels()
    for kind in EDIT_KINDS:
        if kind in view.edits:
            builder.button(
                text=labels[kind],
                callback_data=EditCB(act=KIND_ACTS[kind], id=order.id, v=order.version).pack(),
            )
    builder.adjust(2)
    builder.row(back_button(order.id))
    return builder.as_markup()


def short(name: str) -> str:
    return name if len(name) <= SHOWN_NAME else name[: SHOWN_NAME - 1] + "…"


def total_changed(before: int, after: int, currency: str, language: str) -> str:
    if before == after:
        return _("Total: {total}.").format(total=money(after, currency, language))
    return _("Total: {total} (was {before}).").format(
        total=money(after, currency, language), before=money(before, currency, language)
    )


# -- the menu --------------------------------------------------------------------------


async def cancel_command(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Cancelled: the order was not changed."))


async def edit_from_card(
    query: CallbackQuery,
    callback_data: OrderCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    callback_answer: CallbackAnswer,
) -> None:
    view = await checked_view(orders, actor, callback_data.id, callback_data.v)
    await end_edit(state)
    callback_answer.text = _("What do you want to change?")
    await query.message.edit_reply_markup(reply_markup=edit_menu(view))


async def back_to_menu(
    query: CallbackQuery,
    callback_data: EditCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n,
) -> None:
    view = await checked_view(orders, actor, callback_data.id, callback_data.v)
    await end_edit(state)
    await query.message.edit_text(
        card_text(view, i18n.current_locale), reply_markup=edit_menu(view)
    )


# -- goods (items and quantities) ------------------------------------------------------


def items_editor_text(data: dict[str, Any], language: str) -> str:
    currency = data["currency"]
    lines = [_("<b>Order #{number}: goods</b> (not saved yet)").format(number=data["number"])]
    goods = sum(line["price"] * line["quantity"] - line["discount"] for line in data["lines"])
    for index, line in enumerate(data["lines"][:MAX_LINES], 1):
        amount = line["price"] * line["quantity"] - line["discount"]
        lines.append(
            f"{index}. {esc(short(line['name']))} × {line['quantity']} — "
            + money(amount, currency, language)
        )
    if len(data["lines"]) > MAX_LINES:
        lines.append(
            _("… and {count} more, kept as they are").format(count=len(data["lines"]) - MAX_LINES)
        )
    if not data["lines"]:
        lines.append(_("(no goods: add some, an order needs at least one)"))
    lines += [
        "",
        _("Goods: {amount}").format(amount=money(goods, currency, language)),
        _("To add goods, send «name; quantity; price». Then tap «Save»."),
    ]
    return "\n".join(lines)


def items_editor_keyboard(data: dict[str, Any]) -> InlineKeyboardMarkup:
    order_id, version = data["order_id"], data["v"]
    builder = InlineKeyboardBuilder()
    for index in range(min(len(data["lines"]), MAX_LINES)):
        builder.row(
            *(
                InlineKeyboardButton(
                    text=f"{mark} {index + 1}",
                    callback_data=EditCB(act=act, id=order_id, v=version, n=index).pack(),
                )
                for mark, act in (("➖", EditAct.LESS), ("➕", EditAct.MORE), ("🗑", EditAct.DROP))
            )
        )
    builder.row(
        InlineKeyboardButton(
            text=_("💾 Save"),
            callback_data=EditCB(act=EditAct.SAVE, id=order_id, v=version).pack(),
        ),
        back_button(order_id),
    )
    return builder.as_markup()


async def edit_items(
    query: CallbackQuery,
    callback_data: EditCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n,
) -> None:
    view = await checked_view(orders, actor, callback_data.id, callback_data.v, "items")
    order = view.order
    data = {
        "order_id": order.id,
        "v": order.version,
        "number": order.number,
        "currency": order.currency,
        "availability": order.availability,
        "lines": [
            {
                "sku": item.sku,
                "name": item.name,
                "quantity": item.quantity,
                "price": item.unit_price,
                "discount": item.discount,
                "availability": item.availability,
                "returnable": item.returnable,
                "return_days": item.return_days,
            }
            for item in order.items
        ],
    }
    await state.set_state(EditItems.lines)
    await state.set_data({**data, "editor": query.message.message_id})
    await query.message.edit_text(
        items_editor_text(data, i18n.current_locale), reply_markup=items_editor_keyboard(data)
    )


async def change_line(
    query: CallbackQuery,
    callback_data: EditCB,
    state: FSMContext,
    i18n,
    callback_answer: CallbackAnswer,
) -> None:
    data = await draft_of(state, callback_data.id)
    if data is None or data["v"] != callback_data.v:
        raise stale(callback_data.id)
    lines = data["lines"]
    if not 0 <= callback_data.n < len(lines):
        callback_answer.text = _("No such line.")
        return
    line = lines[callback_data.n]
    if callback_data.act is EditAct.DROP:
        lines.pop(callback_data.n)
    elif callback_data.act is EditAct.MORE:
        if line["quantity"] >= MAX_QUANTITY:
            callback_answer.text = _("That is the most one line can hold.")
            return
        line["quantity"] += 1
    else:
        if line["quantity"] <= 1:
            callback_answer.text = _("One is the least: tap 🗑 to remove the line.")
            return
        line["quantity"] -= 1
        # A line's discount never exceeds what the line now costs.
        line["discount"] = min(line["discount"], line["price"] * line["quantity"])
    await state.update_data(lines=lines)
    await query.message.edit_text(
        items_editor_text(data, i18n.current_locale), reply_markup=items_editor_keyboard(data)
    )


async def add_lines(message: Message, state: FSMContext, bot: Bot, i18n) -> None:
    data = await state.get_data()
    try:
        parsed = parse_item_lines(message.text, data["currency"])
    except ItemLineError as error:
        await message.answer(
            _("{problem}\nFor example: <code>Oak chair; 2; 1500</code>").format(
                problem=esc(str(error))
            )
        )
        return
    lines = data["lines"]
    if len(lines) + len(parsed) > MAX_LINES:
        await message.answer(_("At most {count} lines can be edited here.").format(count=MAX_LINES))
        return
    taken = {line["sku"] for line in lines}
    for name, quantity, price in parsed:
        sku = next(f"manual-{n}" for n in range(1, 10_000) if f"manual-{n}" not in taken)
        taken.add(sku)
        lines.append(
            {
                "sku": sku,
                "name": name,
                "quantity": quantity,
                "price": price,
                "discount": 0,
                "availability": data["availability"],  # an order never mixes them (000)
                "returnable": False,
                "return_days": 0,
            }
        )
    # The draft moves to a new message below; the one above loses its buttons.
    if data.get("editor"):
        with suppress(TelegramBadRequest):
            await bot.edit_message_reply_markup(
                chat_id=message.chat.id, message_id=data["editor"], reply_markup=None
            )
    editor = await message.answer(
        items_editor_text(data, i18n.current_locale), reply_markup=items_editor_keyboard(data)
    )
    await state.update_data(lines=lines, editor=editor.message_id)


async def save_items(
    query: CallbackQuery,
    callback_data: EditCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n,
    callback_answer: CallbackAnswer,
) -> None:
    data = await draft_of(state, callback_data.id)
    if data is None:
        raise stale(callback_data.id)
    if not data["lines"]:
        callback_answer.text = _(
            "An order needs at least one item; to drop the whole order, cancel it."
        )
        callback_answer.show_alert = True
        return
    view = await checked_view(orders, actor, data["order_id"], data["v"], "items")
    before = view.order.total
    items = [
        ItemDraft(
            sku=line["sku"],
            name=line["name"],
            quantity=line["quantity"],
            unit_price=line["price"],
            availability=line["availability"],
            discount=line["discount"],
            returnable=line["returnable"],
            return_days=line["return_days"],
        )
        for line in data["lines"]
    ]
    order = await orders.edit_items(data["order_id"], actor, items, expected_version=data["v"])
    await state.clear()
    language = i18n.current_locale
    callback_answer.text = _("Goods saved. {total}").format(
        total=total_changed(before, order.total, order.currency, language)
    )
    await show_card(query.message, await orders.view(order.id, actor), language, edit=True)


# -- delivery ------------------------------------------------------------------------


async def choose_delivery(
    query: CallbackQuery, callback_data: EditCB, orders: OrderService, actor: ActorRef
) -> None:
    view = await checked_view(orders, actor, callback_data.id, callback_data.v, "delivery")
    await query.message.edit_reply_markup(
        reply_markup=methods_keyboard(
            view.order, DELIVERY_METHODS, view.order.delivery_method, EditAct.METHOD
        )
    )


async def delivery_method_chosen(
    query: CallbackQuery,
    callback_data: EditCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n,
) -> None:
    view = await checked_view(orders, actor, callback_data.id, callback_data.v, "delivery")
    method = callback_data.a
    if method not in DELIVERY_METHODS:
        raise OrderRefused(Problem.INVALID, "no such delivery method", {"field": "method"})
    order = view.order
    price = delivery_price(view.shop, method)
    await state.set_state(EditDelivery.cost)
    await state.set_data(
        {
            "order_id": order.id,
            "v": order.version,
            "method": method,
            "currency": order.currency,
            "address": order.delivery_address,
        }
    )
    language = i18n.current_locale
    shop_price = money(price, order.currency, language)
    await query.message.answer(
        _(
            "Order #{number}, delivery: <b>{method}</b>.\n"
            "Send the delivery cost, or use the shop's price, {price}."
        ).format(number=order.number, method=method_name(method), price=shop_price),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=_("Use {price}").format(price=shop_price),
                        callback_data=EditCB(
                            act=EditAct.SHOP_COST, id=order.id, v=order.version
                        ).pack(),
                    )
                ],
                [abort_button(order.id)],
            ]
        ),
    )


async def delivery_cost_typed(
    message: Message, state: FSMContext, orders: OrderService, actor: ActorRef, i18n
) -> None:
    data = await state.get_data()
    try:
        cost = parse_amount(message.text, data["currency"])
    except ValueError:
        await message.answer(
            _("That is not an amount. Send the delivery cost, like 300 or 249.90."),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[abort_button(data["order_id"])]]),
        )
        return
    await state.update_data(cost=cost)
    await ask_address(message, state, orders, actor, i18n.current_locale)


async def shop_cost_chosen(
    query: CallbackQuery,
    callback_data: EditCB,
    state: FSMContext,
    orders: OrderService,
    actor: ActorRef,
    i18n,
) -> None:
    if await draft_of(state, callback_data.id) is None:
        raise stale(callback_data.id)
    await state.update_data(cost=None)
    await query.message.edit_reply_markup(reply_markup=None)
    await ask_address(query.message, state, orders, actor, i18n.current_locale)


async def ask_address(
    message: Message, state: FSMContext, orders: OrderService, actor: ActorRef, language: str
) -> None:
    data = await state.get_data()
    if data["method"] == "pickup":
        await finish_delivery(message, state, orders, actor, language, address="")
        return
    await state.set_state(EditDelivery.address)
    rows = []
    if data.get("address"):
        rows.append(
            [
                InlineKeyboardButton(
                    text=_("Keep: {address}").format(address=data["address"][:40]),
                    callback_data=EditCB(
                        act=EditAct.KEEP_ADDRESS, id=data["order_id"], v=data["v"]
                    ).pack(),
                )
            ]
        )
    rows.append([abort_button(data["order_id"])])
    await message.answer(
        _("The delivery address?"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )


async def address_typed(
    message: Message, state: FSMContext, orders: OrderService, actor: ActorRef, i18n
) -> None:
    address = message.text.strip()
    if not 1 <= len(address) <= 1000:
        await message.answer(_("An address is 1 to 1000 characters. The delivery address?"))
        return
    await finish_delivery(message, state, orders, actor, i18n.current_locale, address=address)


async def address_kept(
    query: CallbackQuery,
    callback_data: EditCB,
    state: FSMContext,
    orders: OrderService,
    actor: ActorRef,
    i18n,
) -> None:
    if await draft_of(state, callback_data.id) is None:
        raise stale(callback_data.id)
    await query.message.edit_reply_markup(reply_markup=None)
    await finish_delivery(query.message, state, orders, actor, i18n.current_locale, address=None)


async def finish_delivery(
    message: Message,
    state: FSMContext,
    orders: OrderService,
    actor: ActorRef,
    language: str,
    *,
    address: str | None,
) -> None:
    data = await state.get_data()
    view = await checked_view(orders, actor, data["order_id"], data["v"], "delivery")
    before = view.order.total
    order = await orders.change_delivery(
        view.order.id,
        actor,
        method=data["method"],
        address=address,
        cost=data.get("cost"),
        expected_version=view.order.version,
    )
    await state.clear()
    await message.answer(
        _("Delivery changed: {method}, {cost}. {total}").format(
            method=method_name(order.delivery_method),
            cost=money(order.delivery_cost, order.currency, language),
            total=total_changed(before, order.total, order.currency, language),
        )
    )
    await show_card(message, await orders.view(order.id, actor), language)


# -- payment -------------------------------------------------------------------------


async def choose_payment(
    query: CallbackQuery, callback_data: EditCB, orders: OrderService, actor: ActorRef
) -> None:
    view = await checked_view(orders, actor, callback_data.id, callback_data.v, "payment")
    await query.message.edit_reply_markup(
        reply_markup=methods_keyboard(
            view.order, PAYMENT_METHODS, view.order.payment_method, EditAct.PAY
        )
    )


def methods_keyboard(order, methods, current: str, act: EditAct) -> InlineKeyboardMarkup:
    """A button per delivery or payment method, the current one marked."""
    builder = InlineKeyboardBuilder()
    for method in methods:
        builder.button(
            text=("• " if method == current else "") + method_name(method),
            callback_data=EditCB(act=act, id=order.id, v=order.version, a=method).pack(),
        )
    builder.adjust(2)
    builder.row(menu_button(order.id, order.version))
    return builder.as_markup()


async def payment_chosen(
    query: CallbackQuery,
    callback_data: EditCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n,
    callback_answer: CallbackAnswer,
) -> None:
    await checked_view(orders, actor, callback_data.id, callback_data.v, "payment")
    order = await orders.change_payment(
        callback_data.id, actor, callback_data.a, expected_version=callback_data.v
    )
    await end_edit(state)
    callback_answer.text = _("Payment: {method}").format(method=method_name(order.payment_method))
    await show_card(
        query.message, await orders.view(order.id, actor), i18n.current_locale, edit=True
    )


# -- discounts -----------------------------------------------------------------------


async def choose_discount(
    query: CallbackQuery, callback_data: EditCB, orders: OrderService, actor: ActorRef, i18n
) -> None:
    view = await checked_view(orders, actor, callback_data.id, callback_data.v, "discount")
    order, language = view.order, i18n.current_locale
    builder = InlineKeyboardBuilder()
    builder.row(
        InlineKeyboardButton(
            text=_("On the whole order"),
            callback_data=EditCB(act=EditAct.DISCOUNT_ORDER, id=order.id, v=order.version).pack(),
        )
    )
    for index, item in enumerate(order.items[:MAX_LINES], 1):
        text = f"{index}. {short(item.name)[:30]}"
        if item.discount:
            text += " (−" + money(item.discount, order.currency, language) + ")"
        builder.row(
            InlineKeyboardButton(
                text=text,
                callback_data=EditCB(
                    act=EditAct.DISCOUNT_LINE, id=order.id, v=order.version, n=item.id
                ).pack(),
            )
        )
    builder.row(menu_button(order.id, order.version))
    await query.message.edit_reply_markup(reply_markup=builder.as_markup())


async def discount_target_chosen(
    query: CallbackQuery,
    callback_data: EditCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n,
) -> None:
    view = await checked_view(orders, actor, callback_data.id, callback_data.v, "discount")
    order, language = view.order, i18n.current_locale
    if callback_data.act is EditAct.DISCOUNT_ORDER:
        item_id, base, current = 0, order.items_total, order.discount
        target = _("the whole order #{number}").format(number=order.number)
    else:
        item = next((i for i in order.items if i.id == callback_data.n), None)
        if item is None:
            raise OrderRefused(Problem.INVALID, "the order has no such item", {"field": "item"})
        item_id, base, current = item.id, item.unit_price * item.quantity, item.discount
        target = _("«{name}» in order #{number}").format(
            name=esc(short(item.name)), number=order.number
        )
    await state.set_state(EditDiscount.amount)
    await state.set_data(
        {
            "order_id": order.id,
            "v": order.version,
            "item_id": item_id,
            "base": base,
            "currency": order.currency,
        }
    )
    await query.message.answer(
        _(
            "Discount on {target}, now {current}, at most {base}.\n"
            "Send an amount like 150 or 99.90, or a share like 10%. 0 removes it."
        ).format(
            target=target,
            current=money(current, order.currency, language),
            base=money(base, order.currency, language),
        ),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[abort_button(order.id)]]),
    )


def parse_discount(text: str, base: int, currency: str) -> int:
    """'150', '99.90' or '10%' of `base`, in minor units; ValueError when it is none of these."""
    text = text.strip()
    if text.endswith("%"):
        try:
            share = Decimal(text[:-1].strip().replace(",", "."))
        except InvalidOperation as error:
            raise ValueError(text) from error
        if not share.is_finite() or not 0 <= share <= 100:
            raise ValueError(text)
        return int((Decimal(base) * share / 100).to_integral_value(rounding=ROUND_DOWN))
    return parse_amount(text, currency)


async def discount_typed(
    message: Message, state: FSMContext, orders: OrderService, actor: ActorRef, i18n
) -> None:
    data = await state.get_data()
    language = i18n.current_locale
    retry = InlineKeyboardMarkup(inline_keyboard=[[abort_button(data["order_id"])]])
    try:
        amount = parse_discount(message.text, data["base"], data["currency"])
    except ValueError:
        await message.answer(
            _("That is not an amount. Send one like 150 or 99.90, or a share like 10%."),
            reply_markup=retry,
        )
        return
    if amount > data["base"]:
        await message.answer(
            _("A discount can be at most {base}. Send another amount.").format(
                base=money(data["base"], data["currency"], language)
            ),
            reply_markup=retry,
        )
        return
    view = await checked_view(orders, actor, data["order_id"], data["v"], "discount")
    before = view.order.total
    if data["item_id"]:
        order = await orders.set_discount(
            view.order.id,
            actor,
            item_discounts={data["item_id"]: amount},
            expected_version=view.order.version,
        )
    else:
        order = await orders.set_discount(
            view.order.id, actor, order_discount=amount, expected_version=view.order.version
        )
    await state.clear()
    await message.answer(
        _("Discount saved: {amount}. {total}").format(
            amount=money(amount, order.currency, language),
            total=total_changed(before, order.total, order.currency, language),
        )
    )
    await show_card(message, await orders.view(order.id, actor), language)


# -- splitting (A7) --------------------------------------------------------------------


def split_text(data: dict[str, Any]) -> str:
    lines = [
        _("<b>Split order #{number}</b>").format(number=data["number"]),
        _("Choose what moves to a new order with ➖ and ➕:"),
    ]
    for index, line in enumerate(data["lines"][:MAX_LINES], 1):
        moved = data["move"].get(str(line["id"]), 0)
        lines.append(
            _("{index}. {name}: {moved} of {quantity} to the new order").format(
                index=index, name=esc(short(line["name"])), moved=moved, quantity=line["quantity"]
            )
        )
    return "\n".join(lines)


def split_keyboard(data: dict[str, Any]) -> InlineKeyboardMarkup:
    order_id, version = data["order_id"], data["v"]
    builder = InlineKeyboardBuilder()
    for index, _line in enumerate(data["lines"][:MAX_LINES]):
        builder.row(
            InlineKeyboardButton(
                text=f"➖ {index + 1}",
                callback_data=EditCB(act=EditAct.MOVE_LESS, id=order_id, v=version, n=index).pack(),
            ),
            InlineKeyboardButton(
                text=f"➕ {index + 1}",
                callback_data=EditCB(act=EditAct.MOVE_MORE, id=order_id, v=version, n=index).pack(),
            ),
        )
    builder.row(
        InlineKeyboardButton(
            text=_("Next ▶️"),
            callback_data=EditCB(act=EditAct.SPLIT_NEXT, id=order_id, v=version).pack(),
        ),
        back_button(order_id),
    )
    return builder.as_markup()


async def start_split(
    query: CallbackQuery,
    callback_data: EditCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    callback_answer: CallbackAnswer,
) -> None:
    view = await checked_view(orders, actor, callback_data.id, callback_data.v, "split")
    order = view.order
    if sum(item.quantity for item in order.items) < 2:
        callback_answer.text = _("An order of a single item cannot be split.")
        callback_answer.show_alert = True
        return
    data = {
        "order_id": order.id,
        "v": order.version,
        "number": order.number,
        "lines": [{"id": i.id, "name": i.name, "quantity": i.quantity} for i in order.items],
        "move": {},  # item id (as text: storages keep JSON) -> quantity moving
    }
    await state.set_state(EditSplit.choose)
    await state.set_data(data)
    await query.message.edit_text(split_text(data), reply_markup=split_keyboard(data))


async def change_move(
    query: CallbackQuery, callback_data: EditCB, state: FSMContext, callback_answer: CallbackAnswer
) -> None:
    data = await draft_of(state, callback_data.id)
    if data is None or data["v"] != callback_data.v:
        raise stale(callback_data.id)
    if not 0 <= callback_data.n < len(data["lines"]):
        callback_answer.text = _("No such line.")
        return
    line = data["lines"][callback_data.n]
    key = str(line["id"])
    moved = data["move"].get(key, 0) + (1 if callback_data.act is EditAct.MOVE_MORE else -1)
    if not 0 <= moved <= line["quantity"]:
        callback_answer.text = _("From 0 to {quantity}.").format(quantity=line["quantity"])
        return
    if moved:
        data["move"][key] = moved
    else:
        data["move"].pop(key, None)
    await state.update_data(move=data["move"])
    await query.message.edit_text(split_text(data), reply_markup=split_keyboard(data))


async def split_reason(
    query: CallbackQuery,
    callback_data: EditCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n,
    callback_answer: CallbackAnswer,
) -> None:
    data = await draft_of(state, callback_data.id)
    if data is None:
        raise stale(callback_data.id)
    moving = sum(data["move"].values())
    if not moving:
        callback_answer.text = _("Choose what moves to the new order first.")
        callback_answer.show_alert = True
        return
    if moving >= sum(line["quantity"] for line in data["lines"]):
        callback_answer.text = _("Something must stay in this order.")
        callback_answer.show_alert = True
        return
    view = await checked_view(orders, actor, data["order_id"], data["v"], "split")
    await state.set_state(EditSplit.reason)
    builder = InlineKeyboardBuilder()
    for index, reason in enumerate(view.workflow.split_reasons):
        builder.row(
            InlineKeyboardButton(
                text=title(reason.title, i18n.current_locale),
                callback_data=EditCB(
                    act=EditAct.SPLIT_REASON, id=data["order_id"], v=data["v"], n=index
                ).pack(),
            )
        )
    builder.row(back_button(data["order_id"]))
    await query.message.edit_text(
        split_text(data) + "\n\n" + _("Why is the order split?"),
        reply_markup=builder.as_markup(),
    )


async def split_reason_chosen(
    query: CallbackQuery,
    callback_data: EditCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n,
) -> None:
    data = await draft_of(state, callback_data.id)
    if data is None:
        raise stale(callback_data.id)
    view = await checked_view(orders, actor, data["order_id"], data["v"], "split")
    # By its place in the order's own workflow version, which never changes: codes are long.
    reasons = view.workflow.split_reasons
    reason = reasons[callback_data.n] if 0 <= callback_data.n < len(reasons) else None
    if reason is None:
        raise OrderRefused(Problem.INVALID, "no such split reason", {"field": "reason"})
    await state.update_data(reason=reason.code)
    if reason.comment_required:
        await state.set_state(EditSplit.comment)
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(
            _("«{reason}» needs a comment: write it.").format(
                reason=title(reason.title, i18n.current_locale)
            ),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[abort_button(data["order_id"])]]),
        )
        return
    await finish_split(query.message, state, orders, actor, i18n.current_locale, edit=True)


async def split_comment(
    message: Message, state: FSMContext, orders: OrderService, actor: ActorRef, i18n
) -> None:
    comment = message.text.strip()
    if not 1 <= len(comment) <= 2000:
        await message.answer(_("A comment is 1 to 2000 characters. Write it again."))
        return
    await state.update_data(comment=comment)
    await finish_split(message, state, orders, actor, i18n.current_locale, edit=False)


async def finish_split(
    message: Message,
    state: FSMContext,
    orders: OrderService,
    actor: ActorRef,
    language: str,
    *,
    edit: bool,
) -> None:
    data = await state.get_data()
    await checked_view(orders, actor, data["order_id"], data["v"], "split")
    kept, new = await orders.split(
        data["order_id"],
        actor,
        move={int(item_id): quantity for item_id, quantity in data["move"].items()},
        reason=data["reason"],
        comment=data.get("comment", ""),
        expected_version=data["v"],
    )
    await state.clear()
    await show_card(message, await orders.view(kept.id, actor), language, edit=edit)
    await message.answer(
        _("Order #{number} is split: the goods moved are now order #{new}.").format(
            number=kept.number, new=new.number
        )
    )
    await show_card(message, await orders.view(new.id, actor), language)


# -- buttons of an editing step that is over ---------------------------------------------


async def step_over(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    # A draft's button after the draft was saved, cancelled or replaced: change nothing.
    callback_answer.text = _("This editing step is over: open ✏️ Edit on the card again.")
    callback_answer.show_alert = True


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.middleware(StaleEdits())
    router.message.middleware(StaleEdits())
    router.message.register(cancel_command, StateFilter(*EDIT_STATES), Command("cancel"))
    router.callback_query.register(edit_from_card, OrderCB.filter(F.act == OrderAct.EDIT))
    router.callback_query.register(back_to_menu, EditCB.filter(F.act == EditAct.MENU))
    router.callback_query.register(edit_items, EditCB.filter(F.act == EditAct.ITEMS))
    router.callback_query.register(
        change_line,
        EditItems.lines,
        EditCB.filter(F.act.in_({EditAct.LESS, EditAct.MORE, EditAct.DROP})),
    )
    router.message.register(add_lines, EditItems.lines, F.text, ~F.text.startswith("/"))
    router.callback_query.register(
        save_items, EditItems.lines, EditCB.filter(F.act == EditAct.SAVE)
    )
    router.callback_query.register(choose_delivery, EditCB.filter(F.act == EditAct.DELIVERY))
    router.callback_query.register(delivery_method_chosen, EditCB.filter(F.act == EditAct.METHOD))
    router.message.register(delivery_cost_typed, EditDelivery.cost, F.text, ~F.text.startswith("/"))
    router.callback_query.register(
        shop_cost_chosen, EditDelivery.cost, EditCB.filter(F.act == EditAct.SHOP_COST)
    )
    router.message.register(address_typed, EditDelivery.address, F.text, ~F.text.startswith("/"))
    router.callback_query.register(
        address_kept, EditDelivery.address, EditCB.filter(F.act == EditAct.KEEP_ADDRESS)
    )
    router.callback_query.register(choose_payment, EditCB.filter(F.act == EditAct.PAYMENT))
    router.callback_query.register(payment_chosen, EditCB.filter(F.act == EditAct.PAY))
    router.callback_query.register(choose_discount, EditCB.filter(F.act == EditAct.DISCOUNT))
    router.callback_query.register(
        discount_target_chosen,
        EditCB.filter(F.act.in_({EditAct.DISCOUNT_ORDER, EditAct.DISCOUNT_LINE})),
    )
    router.message.register(discount_typed, EditDiscount.amount, F.text, ~F.text.startswith("/"))
    router.callback_query.register(start_split, EditCB.filter(F.act == EditAct.SPLIT))
    router.callback_query.register(
        change_move,
        EditSplit.choose,
        EditCB.filter(F.act.in_({EditAct.MOVE_LESS, EditAct.MOVE_MORE})),
    )
    router.callback_query.register(
        split_reason, EditSplit.choose, EditCB.filter(F.act == EditAct.SPLIT_NEXT)
    )
    router.callback_query.register(
        split_reason_chosen, EditSplit.reason, EditCB.filter(F.act == EditAct.SPLIT_REASON)
    )
    router.message.register(split_comment, EditSplit.comment, F.text, ~F.text.startswith("/"))
    router.callback_query.register(step_over, EditCB.filter())
    return router
