"""The buyer in Telegram (C5): the order link that binds their account, their order card,
"How to pay", /my with their orders in every shop, and "share my phone" (Telegram's own
contact button) that finds the orders placed with their phone.

The buyer's card is the same card staff get (handlers.telegram.order_card): its status
buttons are the workflow actions the service offers the buyer (cancel with a reason, confirm
receipt), and the same DO/SURE/REASON handlers take them; the service decides.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.card_view import PAYMENT_STATUSES
from handlers.telegram.dialog import BuyerAct, BuyerCB
from handlers.telegram.document_callbacks import DocAct, DocCB
from handlers.telegram.format import esc, money, phone, when
from handlers.telegram.order_card import show_card
from handlers.telegram.pay import pay_buttons
from services.buyers.service import BuyerOrder, BuyerService
from services.documents.service import offered_kinds
from services.messaging.cards import CardRegistry
from services.orders.actors import ActorRef
from services.orders.service import OrderService
from services.payments.instructions import payment_text
from services.refusals import Reason, Refused
from services.shops.users import Person

MAX_LISTED = 20  # orders in /my, newest first

# The shop's own words for paying, when it has written them in its settings.


async def open_by_link(
    message: Message,
    token: str,
    buyers: BuyerService,
    orders: OrderService,
    actor: ActorRef,
    user: Person,
    language: str,
    cards: CardRegistry,
) -> None:
    """/start <token>: the order's link binds this Telegram account to its buyer."""
    try:
        order = await buyers.bind(token, user.id, language=language)
    except Refused as refusal:
        if refusal.code is Reason.USED:
            await message.answer(
                _(
                    "🔒 This order is linked to another Telegram account, so it cannot be "
                    "opened here. If it is your order, contact the shop."
                )
            )
        elif refusal.code is Reason.NOT_FOUND:
            await message.answer(
                _(
                    "This link does not open any order. Check that you opened the whole link "
                    "from your order confirmation."
                )
            )
        else:
            raise
        return
    view = await orders.view(order.id, actor)
    await message.answer(
        _(
            "✅ Order #{number} from <b>{shop}</b> is linked to this chat: the shop's news "
            "about it will come here."
        ).format(number=order.number, shop=esc(view.shop.name))
    )
    await show_card(message, view, language, cards=cards)
    await message.answer(
        _("All your orders: /my. Language: /language. Questions: «💬 Write to the shop».")
    )


async def my_orders(message: Message, buyers: BuyerService, user: Person, i18n: I18n) -> None:
    # Orders placed since with the phone they confirmed become theirs first.
    await buyers.claim_verified(user.id)
    if await buyers.verified_phone(user.id) is None:
        await message.answer(
            _(
                "Ordered by phone or on a website, and the order is not here? Share your "
                "phone number with the button below: Telegram confirms the number is yours, "
                "and the orders placed with it come to /my."
            ),
            reply_markup=share_phone_keyboard(),
        )
    await list_orders(message, buyers, user, i18n.current_locale)


async def list_orders(message: Message, buyers: BuyerService, user: Person, language: str) -> None:
    mine = await buyers.my_orders(user.id, limit=MAX_LISTED)
    if not mine:
        await message.answer(
            _(
                "You have no orders here yet. Open the link from your order confirmation, "
                "and the order appears in this list."
            )
        )
        return
    lines = [_("<b>Your orders</b>")]
    lines += [order_line(order, language) for order in mine]
    await message.answer("\n".join(lines), reply_markup=orders_keyboard(mine))


def share_phone_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_("📱 Share my phone number"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


async def contact_shared(message: Message, buyers: BuyerService, user: Person, i18n: I18n) -> None:
    """A contact in the private chat: only the person's own, as Telegram vouches for it
    (the button sends it with their user id), confirms their phone."""
    contact = message.contact
    try:
        verified = await buyers.share_contact(
            user.id,
            phone=contact.phone_number,
            contact_user_id=contact.user_id,
            sender_telegram_id=message.from_user.id,
        )
    except Refused as refusal:
        if refusal.code is not Reason.INVALID:
            raise
        await message.answer(
            _(
                "That is not your own number as Telegram knows it, so it proves nothing. "
                "Tap «📱 Share my phone number» below: Telegram then sends your own."
            ),
            reply_markup=share_phone_keyboard(),
        )
        return
    found = (
        _("Orders placed with it that are now in your list: {count}.").format(
            count=verified.claimed
        )
        if verified.claimed
        else _("No other orders were placed with it.")
    )
    await message.answer(
        _("✅ Your phone number {phone} is confirmed.").format(phone=phone(verified.phone))
        + "\n"
        + found,
        reply_markup=ReplyKeyboardRemove(),
    )
    await list_orders(message, buyers, user, i18n.current_locale)


def order_line(order: BuyerOrder, language: str) -> str:
    return "{number} · {shop} · {date}\n   {status} · {total}".format(
        number=f"#{order.number}",
        shop=esc(order.shop_name),
        date=when(order.created_at, order.timezone, language),
        status=esc(order.title(language)),
        total=money(order.total, order.currency, language),
    )


def orders_keyboard(mine: list[BuyerOrder]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for order in mine:
        builder.button(
            text=f"#{order.number} · {order.shop_name}"[:60],
            callback_data=BuyerCB(act=BuyerAct.OPEN, id=order.id).pack(),
        )
    builder.adjust(2)
    return builder.as_markup()


async def open_order(
    query: CallbackQuery,
    callback_data: BuyerCB,
    orders: OrderService,
    actor: ActorRef,
    i18n: I18n,
    cards: CardRegistry,
) -> None:
    view = await orders.view(callback_data.id, actor)  # someone else's order: "not found"
    await show_card(query.message, view, i18n.current_locale, cards=cards)


async def how_to_pay(
    query: CallbackQuery,
    callback_data: BuyerCB,
    orders: OrderService,
    actor: ActorRef,
    i18n: I18n,
) -> None:
    language = i18n.current_locale
    view = await orders.view(callback_data.id, actor)
    order = view.order
    instructions = payment_text(view.shop.settings, language, view.shop.language)
    text = _("<b>How to pay for order #{number}</b>\nAmount: {total}").format(
        number=order.number, total=money(order.total, order.currency, language)
    )
    if instructions:
        text += "\n\n" + esc(instructions)
    else:
        text += "\n\n" + _(
            "The shop sends the payment details in this order's dialog. If they have not "
            "arrived yet, ask the shop: «💬 Write to the shop»."
        )
    markup = write_keyboard(order.id)
    buttons = pay_buttons(order.id, view.shop.settings)
    if buttons and order.status in PAYMENT_STATUSES:
        markup.inline_keyboard.insert(0, buttons)  # issue 17: pay right here
    markup.inline_keyboard.append(  # E3: the documents to pay by (handlers.telegram.documents)
        [
            InlineKeyboardButton(
                text=label,
                callback_data=DocCB(act=DocAct.GET, id=order.id, kind=kind, v=order.version).pack(),
            )
            for label, kind in (
                (_("📄 Invoice"), "invoice"),
                (_("📄 Payment slip"), "payment_slip"),
            )
            if kind in offered_kinds(view.shop, is_staff=False)
        ]
    )
    await query.message.answer(text, reply_markup=markup)


def write_keyboard(order_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("💬 Write to the shop"),
                    callback_data=BuyerCB(act=BuyerAct.WRITE, id=order_id).pack(),
                )
            ]
        ]
    )


def router() -> Router:
    router = Router(name=__name__)
    router.message.register(my_orders, Command("my"))
    router.message.register(contact_shared, F.contact, F.chat.type == "private")
    router.callback_query.register(open_order, BuyerCB.filter(F.act == BuyerAct.OPEN))
    router.callback_query.register(how_to_pay, BuyerCB.filter(F.act == BuyerAct.PAY))
    return router
