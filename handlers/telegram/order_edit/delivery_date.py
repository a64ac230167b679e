"""Delivery details agreed with the buyer (issue 18): the day the goods are sent (seed 003
step 3; a tap on one of the next days in the edit menu) and, for courier delivery, the
courier's visit window and phone (step 7; typed). One OrderService call each; the buyer is
told; the card (and the call script, for the date) shows them."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.order_card import abort_button, show_card
from handlers.telegram.order_edit.menu import (
    EditAct,
    EditCB,
    EditCourier,
    checked_view,
    end_edit,
    menu_button,
)
from services.orders.actors import ActorRef
from services.orders.service import OrderService, OrderView
from services.refusals import OrderRefused, Problem

DAYS = 8  # today and the week after it


def days_keyboard(view: OrderView) -> InlineKeyboardMarkup:
    order = view.order
    today = view.now.astimezone(ZoneInfo(view.shop.timezone)).date()
    builder = InlineKeyboardBuilder()
    for offset in range(DAYS):
        day = today + timedelta(days=offset)
        builder.button(
            text=("• " if day == order.delivery_date else "") + day.strftime("%d.%m"),
            callback_data=EditCB(
                act=EditAct.DATE_SET, id=order.id, v=order.version, a=day.isoformat()
            ).pack(),
        )
    builder.adjust(4)
    builder.row(menu_button(order.id, order.version))
    return builder.as_markup()


async def choose_date(
    query: CallbackQuery,
    callback_data: EditCB,
    orders: OrderService,
    actor: ActorRef,
    callback_answer: CallbackAnswer,
) -> None:
    view = await checked_view(orders, actor, callback_data.id, callback_data.v, "delivery")
    callback_answer.text = _("When are the goods sent?")
    await query.message.edit_reply_markup(reply_markup=days_keyboard(view))


async def date_chosen(
    query: CallbackQuery,
    callback_data: EditCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    try:
        day = date.fromisoformat(callback_data.a)
    except ValueError:  # callback data is the client's: a forged one changes nothing
        raise OrderRefused(Problem.INPUT_INVALID, "not a day") from None
    order = await orders.set_delivery_date(
        callback_data.id, actor, day, expected_version=callback_data.v
    )
    await end_edit(state)
    callback_answer.text = _("Sending date: {date}").format(date=day.strftime("%d.%m.%Y"))
    await show_card(
        query.message, await orders.view(order.id, actor), i18n.current_locale, edit=True
    )


# -- the courier's visit (seed 003 step 7) ------------------------------------------------------


async def ask_courier(
    query: CallbackQuery,
    callback_data: EditCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
) -> None:
    view = await checked_view(orders, actor, callback_data.id, callback_data.v, "delivery")
    await end_edit(state)
    await state.set_state(EditCourier.window)
    await state.update_data(order_id=view.order.id, v=view.order.version)
    await query.message.answer(
        _("When does the courier come? For example: 26.11, 14:00–18:00"),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[abort_button(view.order.id)]]),
    )


async def courier_window_typed(message: Message, state: FSMContext) -> None:
    window = " ".join(message.text.split())
    if not 1 <= len(window) <= 64:
        await message.answer(_("A visit window is 1 to 64 characters. When does the courier come?"))
        return
    await state.update_data(window=window)
    await state.set_state(EditCourier.phone)
    await message.answer(_("The courier's phone?"))


async def courier_phone_typed(
    message: Message, state: FSMContext, orders: OrderService, actor: ActorRef, i18n: I18n
) -> None:
    data = await state.get_data()
    try:
        order = await orders.set_courier(
            data["order_id"], actor, data["window"], message.text, expected_version=data["v"]
        )
    except OrderRefused as refusal:
        if refusal.params.get("field") != "courier.phone":
            await state.clear()
            raise
        await message.answer(_("That is not a phone number. The courier's phone?"))
        return
    await state.clear()
    await show_card(message, await orders.view(order.id, actor), i18n.current_locale)


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(choose_date, EditCB.filter(F.act == EditAct.DATE))
    router.callback_query.register(date_chosen, EditCB.filter(F.act == EditAct.DATE_SET))
    router.callback_query.register(ask_courier, EditCB.filter(F.act == EditAct.COURIER))
    router.message.register(
        courier_window_typed, EditCourier.window, F.text, ~F.text.startswith("/")
    )
    router.message.register(courier_phone_typed, EditCourier.phone, F.text, ~F.text.startswith("/"))
    return router
