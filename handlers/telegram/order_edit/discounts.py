"""Discounts (A6): on the whole order or on one of its items, typed as an amount or a share.

The target is chosen on the card; the amount typed next ("150", "99.90" or "10%" of what the
target costs) is checked here for its form and range, and by OrderService for the rest.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.format import esc, money
from handlers.telegram.manual_order import parse_amount
from handlers.telegram.order_card import abort_button, show_card
from handlers.telegram.order_edit.menu import (
    MAX_LINES,
    EditAct,
    EditCB,
    EditDiscount,
    checked_view,
    menu_button,
    short,
    total_changed,
)
from services.orders.actors import ActorRef
from services.orders.service import OrderService
from services.refusals import OrderRefused, Problem


async def choose_discount(
    query: CallbackQuery, callback_data: EditCB, orders: OrderService, actor: ActorRef, i18n: I18n
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
    i18n: I18n,
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
    message: Message, state: FSMContext, orders: OrderService, actor: ActorRef, i18n: I18n
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


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(choose_discount, EditCB.filter(F.act == EditAct.DISCOUNT))
    router.callback_query.register(
        discount_target_chosen,
        EditCB.filter(F.act.in_({EditAct.DISCOUNT_ORDER, EditAct.DISCOUNT_LINE})),
    )
    router.message.register(discount_typed, EditDiscount.amount, F.text, ~F.text.startswith("/"))
    return router
