"""Changing an order's payment method (A6): one tap on the card, one OrderService call."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from handlers.telegram.card_view import method_name
from handlers.telegram.order_card import show_card
from handlers.telegram.order_edit.menu import (
    EditAct,
    EditCB,
    checked_view,
    end_edit,
    methods_keyboard,
)
from services.orders.actors import ActorRef
from services.orders.service import OrderService
from services.vocabulary import PAYMENT_METHODS


async def choose_payment(
    query: CallbackQuery, callback_data: EditCB, orders: OrderService, actor: ActorRef
) -> None:
    view = await checked_view(orders, actor, callback_data.id, callback_data.v, "payment")
    order = view.order
    await query.message.edit_reply_markup(
        reply_markup=methods_keyboard(
            order.id, order.version, PAYMENT_METHODS, order.payment_method, EditAct.PAY
        )
    )


async def payment_chosen(
    query: CallbackQuery,
    callback_data: EditCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n: I18n,
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


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(choose_payment, EditCB.filter(F.act == EditAct.PAYMENT))
    router.callback_query.register(payment_chosen, EditCB.filter(F.act == EditAct.PAY))
    return router
