"""Splitting an order (A7): some of its goods move to a new order of the same buyer.

➖ ➕ choose how many of each line move (a draft in the conversation), then a reason from
the order's workflow and the comment it may need; OrderService makes the split in one
transaction, and both cards are shown.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.format import esc, title
from handlers.telegram.order_card import abort_button, back_button, show_card
from handlers.telegram.order_edit.menu import (
    MAX_LINES,
    EditAct,
    EditCB,
    EditSplit,
    checked_view,
    draft_of,
    short,
    stale,
)
from services.orders.actors import ActorRef
from services.orders.service import OrderService
from services.refusals import OrderRefused, Problem


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
    i18n: I18n,
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
    i18n: I18n,
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
    message: Message, state: FSMContext, orders: OrderService, actor: ActorRef, i18n: I18n
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


def router() -> Router:
    router = Router(name=__name__)
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
    return router
