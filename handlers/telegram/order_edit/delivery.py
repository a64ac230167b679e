"""Changing an order's delivery (A6): the method, its cost, the address.

A method chosen on the card, then the cost typed (or the shop's price for it), then the
address typed (or the order's kept; none for pickup); the change is one OrderService call
that recalculates the total.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from handlers.telegram.card_view import method_name
from handlers.telegram.format import money
from handlers.telegram.manual_order import parse_amount
from handlers.telegram.order_card import abort_button, show_card
from handlers.telegram.order_edit.menu import (
    EditAct,
    EditCB,
    EditDelivery,
    checked_view,
    draft_of,
    methods_keyboard,
    stale,
    total_changed,
)
from services.orders.actors import ActorRef
from services.orders.rows import delivery_price
from services.orders.service import OrderService
from services.refusals import OrderRefused, Problem
from services.vocabulary import DELIVERY_METHODS


async def choose_delivery(
    query: CallbackQuery, callback_data: EditCB, orders: OrderService, actor: ActorRef
) -> None:
    view = await checked_view(orders, actor, callback_data.id, callback_data.v, "delivery")
    order = view.order
    await query.message.edit_reply_markup(
        reply_markup=methods_keyboard(
            order.id, order.version, DELIVERY_METHODS, order.delivery_method, EditAct.METHOD
        )
    )


async def delivery_method_chosen(
    query: CallbackQuery,
    callback_data: EditCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n: I18n,
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
    message: Message, state: FSMContext, orders: OrderService, actor: ActorRef, i18n: I18n
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
    i18n: I18n,
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
    message: Message, state: FSMContext, orders: OrderService, actor: ActorRef, i18n: I18n
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
    i18n: I18n,
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


def router() -> Router:
    router = Router(name=__name__)
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
    return router
