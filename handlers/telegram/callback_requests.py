"""One-click buy in Telegram (seed 002): the staff's ping about a callback request, and its
button, which opens the manual-order form (handlers/telegram/manual_order.py) prefilled with
the buyer's name and phone and the product, in the tapper's private chat.

The first staff member to take a request is recorded (services.storefront.callbacks); a
colleague tapping later is told who is calling. The form goes on as a phone order does:
more goods, "Done", delivery, payment, "Create".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from handlers.telegram.format import esc, money, phone
from handlers.telegram.manual_order import NewOrder, cancel_keyboard, items_keyboard, items_text
from services.orders.rows import delivery_price
from services.shops.users import UserService
from services.storefront.callbacks import CallbackRequests, CallbackView
from services.vocabulary import DELIVERY_METHODS, IN_STOCK

if TYPE_CHECKING:
    # The person the identity middleware gives (on this branch the User row; the read-only
    # Person where services.shops.users defines it).
    from services.shops.users import Person

TOPIC = "callback_request"


class CallbackRequestCB(CallbackData, prefix="cr"):
    id: int


def render_ping(request: CallbackView, language: str) -> tuple[str, InlineKeyboardMarkup]:
    """The staff's ping: who, which product, what they wrote, and the button to take it."""
    lines = [
        _("📞 <b>Call back: one-click buy</b>"),
        _("Buyer: {name}, {phone}").format(
            name=esc(request.name) or "—", phone=phone(request.phone)
        ),
    ]
    if request.product_name:
        product = esc(request.product_name)
        if request.product_sku:
            product += f" ({esc(request.product_sku)})"
        if request.product_price is not None:
            product += " — " + money(request.product_price, request.currency, language)
        lines.append(_("Product: {product}").format(product=product))
    if request.comment:
        lines.append(_("Comment: {comment}").format(comment=esc(request.comment[:1000])))
    lines.append(_("Call them back and take the order by phone."))
    button = InlineKeyboardButton(
        text=_("📞 Take it: the order form"),
        callback_data=CallbackRequestCB(id=request.id).pack(),
    )
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=[[button]])


async def take(
    query: CallbackQuery,
    callback_data: CallbackRequestCB,
    user: Person,
    callbacks: CallbackRequests,
    users: UserService,
    state: FSMContext,
    bot: Bot,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    taken = await callbacks.take(callback_data.id, user.id)
    request = taken.request
    if not taken.mine:
        callback_answer.text = _("{name} is calling them back already.").format(
            name=request.taken_by
        )
        callback_answer.show_alert = True
        return
    # The form lives in the tapper's private chat, wherever the ping was tapped.
    private = FSMContext(
        storage=state.storage,
        key=StorageKey(bot_id=bot.id, chat_id=user.telegram_id, user_id=user.telegram_id),
    )
    data = await _form(users, user.id, request)
    await private.set_state(NewOrder.items)
    await private.set_data(data)
    language = i18n.current_locale
    intro = _(
        "📞 <b>Order for {name}, {phone}</b>, from their call-back request.\n"
        "Call them; then add or change the goods, and tap «Done»."
    ).format(name=esc(request.name) or "—", phone=phone(request.phone))
    if not data["items"]:
        intro += "\n" + _("Send the goods as «name; quantity; price», like «{example}».").format(
            example=esc(f"{request.product_name or 'Oak chair'}; 1; 1500")
        )
    try:
        if data["items"]:
            await bot.send_message(
                user.telegram_id,
                f"{intro}\n\n{items_text(data, language)}",
                reply_markup=items_keyboard(data),
            )
        else:
            await bot.send_message(user.telegram_id, intro, reply_markup=cancel_keyboard())
    except TelegramForbiddenError:
        await private.clear()
        callback_answer.text = _("Open a private chat with the bot first (send it /start).")
        callback_answer.show_alert = True
        return
    callback_answer.text = _("The order form is in your private chat with the bot.")


async def _form(users: UserService, user_id: int, request: CallbackView) -> dict:
    """The manual-order form's data as /new starts it, with the request's answers in."""
    memberships = await users.memberships(user_id)
    shop = next(m.shop for m in memberships if m.shop.id == request.shop_id)
    items = []
    if request.product_name and request.product_price is not None:
        items.append(
            {
                "name": request.product_name[:100],
                "quantity": 1,
                "price": request.product_price,
                "availability": IN_STOCK,
            }
        )
    return {
        "shop_id": shop.id,
        "currency": shop.currency,
        "country": shop.country,
        "prices": {method: delivery_price(shop, method) for method in DELIVERY_METHODS},
        "items": items,
        "name": request.name or request.phone,
        "phone": request.phone,
        "callback_request_id": request.id,
    }


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(take, CallbackRequestCB.filter(F.id > 0))
    return router
