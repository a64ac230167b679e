"""Editing an order's goods (A6): lines, quantities, goods typed in.

The goods are a draft in the conversation: ➖ ➕ 🗑 change a line, a typed
«name; quantity; price» adds lines, nothing reaches the order until «Save», when
OrderService checks the role and the workflow's editing rules again.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.format import esc, money
from handlers.telegram.manual_order import ItemLineError, parse_item_lines
from handlers.telegram.order_card import back_button, show_card
from handlers.telegram.order_edit.menu import (
    MAX_LINES,
    EditAct,
    EditCB,
    EditItems,
    checked_view,
    draft_of,
    short,
    stale,
    total_changed,
)
from services.orders.actors import ActorRef
from services.orders.drafts import MAX_QUANTITY, ItemDraft
from services.orders.service import OrderService


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
    i18n: I18n,
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
    i18n: I18n,
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


async def add_lines(message: Message, state: FSMContext, bot: Bot, i18n: I18n) -> None:
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
    i18n: I18n,
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


def router() -> Router:
    router = Router(name=__name__)
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
    return router
