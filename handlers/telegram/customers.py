"""The staff card's "👤 Customer": the shop's orders of the same person, grouped by what
proved who they are (their Telegram account, an e-mail address a link was used from), never
by a phone or e-mail typed into an order (services.buyers.customers)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.callbacks import OrderAct, OrderCB
from handlers.telegram.format import esc, money, when
from handlers.telegram.order_list import ListAct, ListCB
from services.buyers.customers import Customer, CustomerService
from services.orders.actors import ActorRef

MAX_BUTTONS = 10


def customer_text(customer: Customer, language: str) -> str:
    lines = [
        _("👤 <b>Customer of order #{number}</b>: {name}").format(
            number=customer.order_number, name=esc(customer.name) or "—"
        )
    ]
    if customer.by_telegram:
        lines.append(_("Proven by their Telegram account."))
    if customer.verified_email:
        lines.append(
            _("Proven by their e-mail {email}.").format(email=esc(customer.verified_email))
        )
    if not customer.verified:
        lines.append(
            _(
                "Not proven yet: only this order is surely theirs. A phone or e-mail on an "
                "order is what someone typed; orders come together once the buyer opens "
                "their link in Telegram or uses a link from their e-mail."
            )
        )
    lines.append("")
    for order in customer.orders:
        date = when(order.created_at, customer.timezone, language)
        total = money(order.total, order.currency, language)
        lines.append(f"#{order.number} · {date} · {esc(order.title(language))} · {total}")
    return "\n".join(lines)


async def show_customer(
    query: CallbackQuery,
    callback_data: OrderCB,
    customers: CustomerService,
    actor: ActorRef,
    i18n: I18n,
) -> None:
    language = i18n.current_locale
    customer = await customers.of_order(callback_data.id, actor)  # staff only
    builder = InlineKeyboardBuilder()
    for order in customer.orders[:MAX_BUTTONS]:
        if order.number != customer.order_number:
            builder.button(
                text=f"#{order.number}", callback_data=ListCB(act=ListAct.OPEN, id=order.id).pack()
            )
    builder.adjust(5)
    await query.message.answer(customer_text(customer, language), reply_markup=builder.as_markup())


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(show_customer, OrderCB.filter(F.act == OrderAct.CUSTOMER))
    return router
