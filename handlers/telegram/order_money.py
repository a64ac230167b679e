"""The staff card's money buttons (issue 14): after an edit of a paid order, the buyer's
payment of what they owe, or the refund the shop made of what it owed them.

A tap asks first (the amount on the button is what the card showed); "Yes" records it through
OrderService, which checks the person's role and the order's version and decides the amount.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from handlers.telegram.callbacks import OrderAct, OrderCB
from handlers.telegram.format import money
from handlers.telegram.order_card import redraw_after_refusal, show_card
from services.orders.actors import ActorRef
from services.orders.service import OrderService
from services.refusals import OrderRefused, Problem

SURE = "sure"
PAY, REFUND = "pay", "refund"


async def settle(
    query: CallbackQuery,
    callback_data: OrderCB,
    orders: OrderService,
    actor: ActorRef,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    language, order_id = i18n.current_locale, callback_data.id
    if callback_data.arg not in (PAY, REFUND):
        raise OrderRefused(Problem.UNKNOWN_ACTION, "not a money button")
    try:
        if callback_data.x != SURE:
            await ask(query, callback_data, orders, actor, language, callback_answer)
            return
        if callback_data.arg == PAY:
            amount = await orders.record_payment(order_id, actor, expected_version=callback_data.v)
        else:
            amount = await orders.record_refund(order_id, actor, expected_version=callback_data.v)
    except OrderRefused as refusal:
        await redraw_after_refusal(
            query, orders, actor, order_id, refusal, language, callback_answer
        )
        return
    view = await orders.view(order_id, actor)
    amount_text = money(amount, view.order.currency, language)
    callback_answer.text = (
        _("Recorded: the buyer paid {amount}.")
        if callback_data.arg == PAY
        else _("Recorded: {amount} refunded to the buyer.")
    ).format(amount=amount_text)
    await show_card(query.message, view, language, edit=True)


async def ask(
    query: CallbackQuery,
    callback_data: OrderCB,
    orders: OrderService,
    actor: ActorRef,
    language: str,
    callback_answer: CallbackAnswer,
) -> None:
    view = await orders.view(callback_data.id, actor)
    order = view.order
    if order.version != callback_data.v:
        raise OrderRefused(Problem.STALE, "the card is older than the order")
    owed = order.balance_due if callback_data.arg == PAY else -order.balance_due
    if owed <= 0:
        raise OrderRefused(Problem.ALREADY_DONE, "nothing is open")
    amount = money(owed, order.currency, language)
    callback_answer.text = (
        _("Did the buyer pay {amount}?")
        if callback_data.arg == PAY
        else _("Did you give the buyer back {amount}?")
    ).format(amount=amount)
    await query.message.edit_reply_markup(
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=_("✅ Yes"),
                        callback_data=OrderCB(
                            act=OrderAct.MONEY,
                            id=order.id,
                            arg=callback_data.arg,
                            x=SURE,
                            v=order.version,
                        ).pack(),
                    ),
                    InlineKeyboardButton(
                        text=_("↩️ No"),
                        callback_data=OrderCB(
                            act=OrderAct.SHOW, id=order.id, v=order.version
                        ).pack(),
                    ),
                ]
            ]
        )
    )


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(settle, OrderCB.filter(F.act == OrderAct.MONEY))
    return router
