"""The buyer pays in Telegram (issue 17): "💳 Pay" sends the invoice, the pre-checkout query
is answered at once (refused when the order changed, was cancelled or paid, or the amount
differs), and Telegram's successful_payment marks the order paid through the payments service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from services.orders.actors import ActorRef
from services.orders.payments import ProviderOutcome
from services.payments.settings import takes_telegram_payments, takes_yookassa
from services.payments.telegram import TelegramPayments, Unpayable
from services.payments.yookassa import ProviderError
from services.payments.yookassa_payments import YooKassaPayments

TELEGRAM, YOOKASSA = "t", "y"


class PayCB(CallbackData, prefix="po"):
    id: int  # the order to pay
    via: str = TELEGRAM  # TELEGRAM: an invoice here; YOOKASSA: a link to YooKassa's page


def pay_buttons(order_id: int, settings: Mapping[str, Any] | None) -> list[InlineKeyboardButton]:
    """The ways to pay online the shop set up (none: the buyer pays as the instructions say)."""
    buttons = []
    if takes_telegram_payments(settings):
        buttons.append(
            InlineKeyboardButton(text=_("💳 Pay"), callback_data=PayCB(id=order_id).pack())
        )
    if takes_yookassa(settings):
        buttons.append(
            InlineKeyboardButton(
                text=_("💳 Pay by card"), callback_data=PayCB(id=order_id, via=YOOKASSA).pack()
            )
        )
    return buttons


def unpayable_text(reason: Unpayable) -> str:
    return {
        Unpayable.UNKNOWN: _("This invoice is not for an order of this shop."),
        Unpayable.CHANGED: _("The order has changed since this invoice: tap «💳 Pay» again."),
        Unpayable.CLOSED: _("The order is no longer waiting for payment."),
        Unpayable.AMOUNT: _("The amount differs from what is due: tap «💳 Pay» again."),
    }[reason]


async def pay(
    query: CallbackQuery,
    callback_data: PayCB,
    telegram_payments: TelegramPayments,
    yookassa_payments: YooKassaPayments,
    actor: ActorRef,
    callback_answer: CallbackAnswer,
) -> None:
    if callback_data.via == YOOKASSA:
        try:
            link = await yookassa_payments.payment_link(
                callback_data.id, actor, _("Order #{id}").format(id=callback_data.id)
            )
        except ProviderError:
            callback_answer.text = _("The payment service is not answering: try again later.")
            callback_answer.show_alert = True
            return
        await query.message.answer(
            _("Pay on YooKassa's secure page:"),
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text=_("💳 Pay by card"), url=link.url)]]
            ),
        )
        return
    invoice = await telegram_payments.invoice(
        callback_data.id,
        actor,
        {
            "title": _("Order #{id}").format(id=callback_data.id),
            "description": _("Payment for the order"),
            "discount": _("Discount"),
            "delivery": _("Delivery"),
            "paid": _("Paid already"),
        },
    )
    await query.message.answer_invoice(
        title=invoice.title,
        description=invoice.description,
        payload=invoice.payload,
        currency=invoice.currency,
        prices=[LabeledPrice(label=label, amount=amount) for label, amount in invoice.prices],
        provider_token=invoice.provider_token,
    )


async def pre_checkout(query: PreCheckoutQuery, telegram_payments: TelegramPayments) -> None:
    refusal = await telegram_payments.check(
        query.invoice_payload, query.currency, query.total_amount
    )
    if refusal is None:
        await query.answer(ok=True)
    else:
        await query.answer(ok=False, error_message=unpayable_text(refusal))


async def payment_made(message: Message, telegram_payments: TelegramPayments) -> None:
    payment = message.successful_payment
    result = await telegram_payments.paid(
        payment.invoice_payload,
        payment.currency,
        payment.total_amount,
        payment.telegram_payment_charge_id,
        payment.model_dump(mode="json", exclude_none=True),
    )
    # Paid: the buyer's news comes from the order's change (the outbox), not from here.
    if result is not None and result.outcome is ProviderOutcome.MISMATCH:
        await message.answer(
            _("Your payment has arrived, but it does not match the order: the shop will check it.")
        )


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(pay, PayCB.filter())
    router.pre_checkout_query.register(pre_checkout)
    router.message.register(payment_made, F.successful_payment)
    return router
