"""The order card (C3): status buttons, confirmation, reasons, the track-code conversation,
history, private comments and the call script. Every change goes through OrderService."""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.callbacks import OrderAct, OrderCB
from handlers.telegram.card_edits import edit_card_message
from handlers.telegram.card_memory import current_cards
from handlers.telegram.card_view import (
    card_digest,
    card_keyboard,
    card_text,
    confirm_keyboard,
    method_name,
)
from handlers.telegram.format import esc, money, phone, role_name, title, when
from handlers.telegram.refusals import describe
from handlers.telegram.stock_recount import ask_real_counts
from services.messaging.cards import CardRegistry
from services.orders.actors import ActorRef
from services.orders.events import OrderEvents
from services.orders.service import OrderService, OrderView, TransitionResult
from services.products.catalog import ProductService
from services.refusals import OrderRefused, Problem
from services.shops.users import Person, UserService
from services.workflow.definition import ActorKind, Effect, Input
from services.workflow.engine import reasons_for

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

# Carriers offered as buttons by the shop's country; "other" asks for the name.
CARRIERS = {
    "RU": ["Почта России", "СДЭК", "Boxberry", "DPD", "Яндекс Доставка"],
    "UA": ["Нова Пошта", "Укрпошта", "Meest", "Justin"],
}
DEFAULT_CARRIERS = ["DHL", "UPS", "FedEx", "DPD", "GLS"]


class TrackCode(StatesGroup):
    carrier = State()  # choosing a carrier (buttons) or typing one
    code = State()  # typing the track code


class Comment(StatesGroup):
    private = State()  # a private staff comment for the history
    reason = State()  # the comment a cancellation reason needs


def carriers_for(country: str) -> list[str]:
    return CARRIERS.get(country, DEFAULT_CARRIERS)


@dataclass(frozen=True)
class Drawing:
    """A card as drawn for one person: its text, its buttons and their digest."""

    text: str
    markup: InlineKeyboardMarkup | None
    digest: str


def drawing(view: OrderView, language: str) -> Drawing:
    text, markup = card_text(view, language), card_keyboard(view, language)
    return Drawing(text, markup, card_digest(text, markup))


async def show_card(
    message: Message,
    view: OrderView,
    language: str,
    *,
    edit: bool = False,
    cards: CardRegistry | None = None,
    remembered: Drawing | None = None,
) -> Message:
    """Draw the card (edit it in place, or send it); a sent card is remembered in `cards`
    so that later changes of the order redraw it too, and what it shows is remembered, so
    a redraw that would change nothing is not sent (the update's registry when not given:
    handlers.telegram.card_memory). `remembered`: the card, drawn and remembered as the
    message's in the transaction of the change (a tap, see `CardRemembered`)."""
    card = remembered or drawing(view, language)
    text, markup = card.text, card.markup
    cards = cards or current_cards()
    if edit:
        edited = not shows_already(message, text, markup)
        if edited:
            await edit_card_message(message, text, markup)
        if cards is not None and remembered is None:
            await cards.drawn(message.chat.id, message.message_id, card.digest, edited=edited)
        return message
    sent = await message.answer(text, reply_markup=markup)
    if cards is not None and view.who.ref.user_id is not None:
        await cards.remember(
            view.order.id, view.who.ref.user_id, sent.chat.id, sent.message_id, card.digest
        )
    return sent


_TAG = re.compile(r"<[^>]*>")


def plain_text(html_text: str) -> str:
    """What Telegram shows of a card's HTML as the message's text: its tags taken out, its
    character references read. aiogram's `html_text` escapes every <, > and & of a message's
    text, so this gives a message's `text` back from its `html_text`: if they differ in
    plain text, they differ as HTML."""
    return html.unescape(_TAG.sub("", html_text))


def shows_already(message: Message, text: str, markup: InlineKeyboardMarkup | None) -> bool:
    """The message shows exactly this card already (a refresh, a second tap, a stale card
    redrawn by an earlier tap): editing it would change nothing, and Telegram would answer
    "message is not modified". Telegram sends the message with the tap, so nothing is read."""
    if message.text is None or message.text != plain_text(text):
        # The commonest case, a tap that changed the order, told by the plain text: reading
        # the message back as HTML from its entities costs ten times as much (issue 15).
        return False
    if message.html_text != text:
        return False
    mine = markup.model_dump(exclude_none=True) if markup is not None else None
    shown = message.reply_markup
    theirs = shown.model_dump(exclude_none=True) if shown is not None else None
    return mine == theirs


async def open_card(
    message: Message,
    orders: OrderService,
    actor: ActorRef,
    order_id: int,
    language: str,
    cards: CardRegistry | None = None,
) -> Message:
    """Staff open an order: the first opening may move it on (A5), then the card is shown."""
    await orders.open(order_id, actor)
    return await show_card(message, await orders.view(order_id, actor), language, cards=cards)


async def order_command(
    message: Message,
    command: CommandObject,
    orders: OrderService,
    users: UserService,
    actor: ActorRef,
    user: Person,
    i18n: I18n,
    cards: CardRegistry,
) -> None:
    number = (command.args or "").strip().lstrip("#")
    if not number.isdigit():
        await message.answer(_("Send the order's number: /order 12"))
        return
    membership = await users.current_shop(user.id)
    if membership is None:
        raise OrderRefused(Problem.NOT_FOUND, "no shop")
    order_id = await orders.find(membership.shop.id, int(number), actor)
    await open_card(message, orders, actor, order_id, i18n.current_locale, cards)


async def refresh(
    query: CallbackQuery,
    callback_data: OrderCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    """Draw the card again; also how any conversation about the order is left."""
    await state.clear()
    if callback_data.act is OrderAct.ABORT:
        callback_answer.text = _("Cancelled.")
    view = await orders.view(callback_data.id, actor)
    await show_card(query.message, view, i18n.current_locale, edit=True)


async def take_action(
    query: CallbackQuery,
    callback_data: OrderCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    order_id, action, language = callback_data.id, callback_data.arg, i18n.current_locale
    redraw = CardRemembered(query.message, language)
    try:
        tapped = await orders.tap(
            order_id, actor, action, expected_version=callback_data.v, redrawing=redraw
        )
    except OrderRefused as refusal:
        await redraw_after_refusal(
            query, orders, actor, order_id, refusal, language, callback_answer
        )
        return
    view, option = tapped.view, tapped.option
    if not tapped.needs_more:
        callback_answer.text = done_text(view, language)
    elif Input.REASON in option.inputs:
        await query.message.edit_reply_markup(
            reply_markup=reasons_keyboard(view, action, option.capacity, language)
        )
        callback_answer.text = _("Choose the reason")
        return
    elif Input.TRACK_CODE in option.inputs or Input.CARRIER in option.inputs:
        await state.set_state(TrackCode.carrier)
        await state.update_data(order_id=order_id, action=action, v=view.order.version)
        await query.message.answer(
            _("Which carrier took the parcel? Choose or type its name."),
            reply_markup=carriers_keyboard(order_id, view.shop.country),
        )
        return
    elif Input.COMMENT in option.inputs:
        await state.set_state(Comment.reason)
        await state.update_data(order_id=order_id, action=action, v=view.order.version, inputs={})
        await query.message.answer(
            _("Write a comment for this step."), reply_markup=abort_keyboard(order_id)
        )
        return
    else:  # an irreversible step: ask first
        await query.message.edit_reply_markup(
            reply_markup=confirm_keyboard(order_id, action, view.order.version)
        )
        callback_answer.text = _("Confirm: {action}?").format(action=title(option.title, language))
        return
    await redraw_and_answer(query, view, language, callback_answer, redraw.drawn)


class CardRemembered:
    """OrderService.tap's `redrawing`: in the tap's transaction, draw the card as it will be
    redrawn and remember its digest as the tapped message's (the update's card registry).
    If the edit then fails, the card shows the old version: its next tap is refused as
    stale and redraws it."""

    def __init__(self, message: Message | None, language: str):
        self._message = message
        self._language = language
        self.drawn: Drawing | None = None

    async def __call__(self, session: AsyncSession, view: OrderView) -> None:
        cards = current_cards()
        if cards is None or self._message is None:
            return
        self.drawn = drawing(view, self._language)
        await cards.drawn_in(
            session, self._message.chat.id, self._message.message_id, self.drawn.digest
        )


async def confirmed(
    query: CallbackQuery,
    callback_data: OrderCB,
    orders: OrderService,
    actor: ActorRef,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    await apply_and_redraw(
        query,
        orders,
        actor,
        callback_data.id,
        callback_data.arg,
        {},
        callback_data.v,
        i18n.current_locale,
        callback_answer,
    )


async def reason_chosen(
    query: CallbackQuery,
    callback_data: OrderCB,
    orders: OrderService,
    products: ProductService,
    actor: ActorRef,
    state: FSMContext,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    workflow = await orders.workflow_of(callback_data.id)
    reason = workflow.reason(callback_data.arg)
    inputs = {"reason": callback_data.arg}
    if reason is not None and reason.comment_required:
        await state.set_state(Comment.reason)
        await state.update_data(
            order_id=callback_data.id, action=callback_data.x, v=callback_data.v, inputs=inputs
        )
        await query.message.answer(
            _("«{reason}» needs a comment: write it.").format(
                reason=title(reason.title, i18n.current_locale)
            ),
            reply_markup=abort_keyboard(callback_data.id),
        )
        return
    result = await apply_and_redraw(
        query,
        orders,
        actor,
        callback_data.id,
        callback_data.x,
        inputs,
        callback_data.v,
        i18n.current_locale,
        callback_answer,
    )
    await after_cancelling(query.message, products, actor, result)


async def after_cancelling(
    message: Message, products: ProductService, actor: ActorRef, result: TransitionResult | None
) -> None:
    """An out-of-stock cancellation zeroed the lines' stock (fix_stock): the staff member who
    did it is asked for the real counts (issue 19)."""
    if result is None or actor.user_id is None:
        return
    if Effect.FIX_STOCK in result.decision.effects:
        await ask_real_counts(
            message, products, actor.user_id, result.order.id, result.order.number
        )


async def apply_and_redraw(
    query: CallbackQuery,
    orders: OrderService,
    actor: ActorRef,
    order_id: int,
    action: str,
    inputs: dict[str, Any],
    version: int,
    language: str,
    callback_answer: CallbackAnswer,
) -> TransitionResult | None:
    """Apply through the service; on success or on a stale card, redraw the card in place."""
    try:
        result = await orders.apply(
            order_id, actor, action, inputs, expected_version=version, with_view=True
        )
    except OrderRefused as refusal:
        await redraw_after_refusal(
            query, orders, actor, order_id, refusal, language, callback_answer
        )
        return None
    callback_answer.text = done_text(result.view, language)
    await redraw_and_answer(query, result.view, language, callback_answer)
    return result


async def redraw_and_answer(
    query: CallbackQuery,
    view: OrderView,
    language: str,
    callback_answer: CallbackAnswer,
    remembered: Drawing | None = None,
) -> None:
    """The card redrawn and the tap answered at the same time: two Bot API calls that do
    not depend on each other, so the spinner stops and the card changes one round trip
    sooner than one after the other (issue 15). The answer is the one the handler set.
    `remembered`: see `show_card`."""
    redraw = show_card(query.message, view, language, edit=True, remembered=remembered)
    if callback_answer.disabled or callback_answer.answered:
        await redraw
        return
    text, alert = callback_answer.text, callback_answer.show_alert
    callback_answer.disable()  # answered here, so the middleware does not answer again

    async def answer() -> None:
        await query.answer(text=text, show_alert=alert)

    await asyncio.gather(redraw, answer())


async def redraw_after_refusal(
    query: CallbackQuery,
    orders: OrderService,
    actor: ActorRef,
    order_id: int,
    refusal: OrderRefused,
    language: str,
    callback_answer: CallbackAnswer,
) -> None:
    """A stale card or a double tap: say so and show the order as it is now."""
    if refusal.code not in (Problem.STALE, Problem.ALREADY_DONE):
        raise refusal
    callback_answer.text, callback_answer.show_alert = describe(refusal), True
    await show_card(query.message, await orders.view(order_id, actor), language, edit=True)


def done_text(view: OrderView, language: str) -> str:
    status = view.workflow.status(view.order.status)
    return _("Done: {status}").format(status=title(status.title, language))


async def require_staff(orders: OrderService, actor: ActorRef, order_id: int) -> OrderView:
    """Staff tools (comments, the call script) are refused to anyone else, buyers included."""
    view = await orders.view(order_id, actor)
    if not view.who.is_staff:
        raise OrderRefused(Problem.FORBIDDEN, "staff only")
    return view


def reasons_keyboard(view: OrderView, action: str, capacity: ActorKind, language: str):
    builder = InlineKeyboardBuilder()
    for reason in reasons_for(view.workflow, view.order.status, capacity):
        builder.row(
            InlineKeyboardButton(
                text=title(reason.title, language),
                callback_data=OrderCB(
                    act=OrderAct.REASON,
                    id=view.order.id,
                    arg=reason.code,
                    x=action,
                    v=view.order.version,
                ).pack(),
            )
        )
    builder.row(back_button(view.order.id))
    return builder.as_markup()


def carriers_keyboard(order_id: int, country: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for index, carrier in enumerate(carriers_for(country)):
        builder.button(
            text=carrier,
            callback_data=OrderCB(act=OrderAct.CARRIER, id=order_id, arg=str(index)).pack(),
        )
    builder.adjust(2)
    builder.row(abort_button(order_id))
    return builder.as_markup()


def back_button(order_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("↩️ Back"), callback_data=OrderCB(act=OrderAct.SHOW, id=order_id).pack()
    )


def abort_button(order_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("✖️ Cancel"), callback_data=OrderCB(act=OrderAct.ABORT, id=order_id).pack()
    )


def abort_keyboard(order_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[abort_button(order_id)]])


# -- the track-code conversation ------------------------------------------------------


async def carrier_chosen(
    query: CallbackQuery,
    callback_data: OrderCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
) -> None:
    data = await state.get_data()
    if data.get("order_id") != callback_data.id:
        await state.clear()
        raise OrderRefused(Problem.STALE, "another conversation")
    view = await orders.view(callback_data.id, actor)
    options = carriers_for(view.shop.country)
    if not callback_data.arg.isdigit() or int(callback_data.arg) >= len(options):
        raise OrderRefused(Problem.INPUT_INVALID, "no such carrier")
    await ask_track_code(query.message, state, options[int(callback_data.arg)])


async def carrier_typed(message: Message, state: FSMContext) -> None:
    name = message.text.strip()
    if not 1 <= len(name) <= 64:
        await message.answer(_("A carrier's name is 1 to 64 characters. Try again."))
        return
    await ask_track_code(message, state, name)


async def ask_track_code(message: Message, state: FSMContext, carrier: str) -> None:
    data = await state.get_data()
    await state.update_data(carrier=carrier)
    await state.set_state(TrackCode.code)
    await message.answer(
        _("Carrier: {carrier}. Now send the track code.").format(carrier=esc(carrier)),
        reply_markup=abort_keyboard(data["order_id"]),
    )


async def track_code_typed(
    message: Message,
    state: FSMContext,
    orders: OrderService,
    actor: ActorRef,
    i18n: I18n,
) -> None:
    data = await state.get_data()
    inputs = {"carrier": data["carrier"], "track_code": message.text}
    try:
        result = await orders.apply(
            data["order_id"],
            actor,
            data["action"],
            inputs,
            expected_version=data["v"],
            with_view=True,
        )
    except OrderRefused as refusal:
        if refusal.code is Problem.INPUT_INVALID and refusal.params.get("input") == "track_code":
            await message.answer(
                _(
                    "That is not a track code: 3 to 40 latin letters, digits or dashes. "
                    "Send it again."
                ),
                reply_markup=abort_keyboard(data["order_id"]),
            )
            return
        await state.clear()
        raise
    await state.clear()
    await message.answer(_("Shipped. The buyer will get the track code."))
    await show_card(message, result.view, i18n.current_locale)


# -- comments -----------------------------------------------------------------------


async def ask_comment(
    query: CallbackQuery,
    callback_data: OrderCB,
    state: FSMContext,
    orders: OrderService,
    actor: ActorRef,
) -> None:
    await require_staff(orders, actor, callback_data.id)
    await state.set_state(Comment.private)
    await state.update_data(order_id=callback_data.id)
    await query.message.answer(
        _("Write the comment. Only the shop's staff will see it."),
        reply_markup=abort_keyboard(callback_data.id),
    )


async def private_comment(
    message: Message, state: FSMContext, orders: OrderService, actor: ActorRef
) -> None:
    data = await state.get_data()
    await state.clear()  # refused or saved, the conversation is over
    await orders.add_comment(data["order_id"], actor, message.text)
    await message.answer(_("Comment saved in the order's history."))


async def step_comment(
    message: Message,
    state: FSMContext,
    orders: OrderService,
    products: ProductService,
    actor: ActorRef,
    i18n: I18n,
) -> None:
    data = await state.get_data()
    inputs = {**data.get("inputs", {}), "comment": message.text}
    await state.clear()
    result = await orders.apply(
        data["order_id"],
        actor,
        data["action"],
        inputs,
        expected_version=data["v"],
        with_view=True,
    )
    await show_card(message, result.view, i18n.current_locale)
    await after_cancelling(message, products, actor, result)


# -- history and the call script ------------------------------------------------------


def event_names() -> dict[OrderEvents, str]:
    """What each audit event that changes no status says in the history (all of them)."""
    return {
        OrderEvents.CREATED: _("order placed"),
        OrderEvents.COMMENT: _("private comment"),
        OrderEvents.BUYER_LINKED: _("the buyer opened the order in Telegram"),
        OrderEvents.REMINDER: _("reminder sent"),
        OrderEvents.SLA_EXPIRED: _("processing time expired"),
        OrderEvents.SPLIT_BY_AVAILABILITY: _("split by availability"),
        OrderEvents.SPLIT: _("split into two orders"),
        OrderEvents.SPLIT_FROM: _("split from another order"),
        OrderEvents.ITEMS_EDITED: _("goods changed"),
        OrderEvents.DELIVERY_CHANGED: _("delivery changed"),
        OrderEvents.PAYMENT_CHANGED: _("payment method changed"),
        OrderEvents.DISCOUNT_SET: _("discount changed"),
        OrderEvents.CONTACT_CHANGED: _("buyer's contact changed"),
        OrderEvents.COMMENT_CHANGED: _("buyer's comment changed"),
        OrderEvents.RETURN_REQUESTED: _("return requested"),
        OrderEvents.RETURN_APPROVED: _("return approved"),
        OrderEvents.RETURN_REJECTED: _("return rejected"),
        OrderEvents.RETURN_GOODS_RECEIVED: _("returned goods received"),
        OrderEvents.RETURN_REFUNDED: _("refund for the return made"),
        OrderEvents.RETURN_OVERDUE: _("return request not answered in time"),
        OrderEvents.REVIEW_LEFT: _("rating left"),
        OrderEvents.REVIEW_TEXT: _("review written"),
        OrderEvents.REVIEW_ANSWERED: _("the shop answered the review"),
        OrderEvents.PERSONAL_DATA_ERASED: _("the buyer's personal data was erased"),
        OrderEvents.PAYMENT_RECORDED: _("payment received"),
        OrderEvents.REFUND_RECORDED: _("money given back to the buyer"),
        OrderEvents.WORKFLOW_MOVED: _("moved to the shop's new workflow version"),
        OrderEvents.CARRIER_REPORTED: _("news from the carrier"),
        OrderEvents.DELIVERY_DATE_SET: _("sending date agreed"),
        OrderEvents.COURIER_SET: _("courier's visit agreed"),
        OrderEvents.PAYMENT_NOT_APPLIED: _("a payment that does not fit the order"),
    }


def event_name(action: str) -> str:
    return event_names().get(action, action)


async def history(
    query: CallbackQuery,
    callback_data: OrderCB,
    orders: OrderService,
    actor: ActorRef,
    i18n: I18n,
) -> None:
    language = i18n.current_locale
    view = await orders.view(callback_data.id, actor)
    events = await orders.history(callback_data.id, actor)
    lines = [_("<b>History of order #{number}</b>").format(number=view.order.number)]
    for event in events[-40:]:
        who = {
            "staff": role_name(event.actor_role) if event.actor_role else _("staff"),
            "buyer": _("buyer"),
            "system": _("system"),
        }.get(event.actor_kind, event.actor_kind)
        what = event_name(event.action)
        if event.to_status:
            what = title(view.workflow.status(event.to_status).title, language)
        line = f"{when(event.created_at, view.shop.timezone, language)} · {esc(who)}: {esc(what)}"
        if event.comment:
            line += f"\n   {'🔒 ' if not event.visible_to_buyer else ''}{esc(event.comment)}"
        lines.append(line)
    await query.message.answer("\n".join(lines)[:4000])


async def call_script(
    query: CallbackQuery,
    callback_data: OrderCB,
    orders: OrderService,
    actor: ActorRef,
    user: Person,
    i18n: I18n,
) -> None:
    """The greeting script of seed 003, with this order's data filled in (A10)."""
    language = i18n.current_locale
    view = await require_staff(orders, actor, callback_data.id)
    order = view.order
    goods = ", ".join(f"{esc(i.name)} × {i.quantity}" for i in order.items)
    text = _(
        "<b>Call script</b>\n"
        "Hello! My name is {staff}, shop «{shop}». Is it convenient to talk?\n"
        "You ordered {goods}, for a total of {total}.\n"
        "Delivery: {delivery}{address}. Is that right?\n"
        "We will send the goods on {date}. Thank you for ordering from our shop!\n"
        "{courier}"
        "We would be grateful for a review of our shop and goods.\n"
        "Have a nice day!\n\n"
        "Buyer: {buyer}, {phone}"
    ).format(
        staff=esc(user.name or "…"),
        shop=esc(view.shop.name),
        goods=goods,
        total=money(order.total, order.currency, language),
        delivery=method_name(order.delivery_method),
        address=f", {esc(order.delivery_address)}" if order.delivery_address else "",
        buyer=esc(order.buyer.name) or "—",
        phone=phone(order.buyer.phone) or "—",
        # the day agreed with the buyer (issue 18); until then the blank to fill in the call
        date=order.delivery_date.strftime("%d.%m.%Y") if order.delivery_date else _("(date)"),
        courier=courier_line(order),
    )
    await query.message.answer(text)


def courier_line(order) -> str:
    """Seed 003 step 7: for courier delivery, the visit agreed and the courier's phone, or
    the question to agree them (issue 18); nothing for other deliveries."""
    if order.delivery_method != "courier":
        return ""
    if order.courier_window:
        return (
            _("Our courier comes {window}, the courier's phone: {phone}.")
            .replace("{window}", esc(order.courier_window))
            .replace("{phone}", phone(order.courier_phone) or "—")
            + "\n"
        )
    return _("When would it suit you for our courier to come?") + "\n"


def buttons() -> Router:
    """The card's buttons: the update staff send most. Only OrderCB ("o:") data matches them,
    which no router before them handles, so they are tried first (handlers.telegram)."""
    router = Router(name=f"{__name__}.buttons")
    # Each filter takes one act, so their order changes nothing but how many are tried: a
    # status button, the commonest, is tried first (each try unpacks the data again).
    router.callback_query.register(take_action, OrderCB.filter(F.act == OrderAct.DO))
    router.callback_query.register(
        refresh, OrderCB.filter(F.act.in_({OrderAct.SHOW, OrderAct.ABORT}))
    )
    router.callback_query.register(confirmed, OrderCB.filter(F.act == OrderAct.SURE))
    router.callback_query.register(reason_chosen, OrderCB.filter(F.act == OrderAct.REASON))
    router.callback_query.register(
        carrier_chosen, TrackCode.carrier, OrderCB.filter(F.act == OrderAct.CARRIER)
    )
    router.callback_query.register(ask_comment, OrderCB.filter(F.act == OrderAct.COMMENT))
    router.callback_query.register(history, OrderCB.filter(F.act == OrderAct.HISTORY))
    router.callback_query.register(call_script, OrderCB.filter(F.act == OrderAct.SCRIPT))
    return router


def router() -> Router:
    """/order and the card's conversations (track code, comments): after /cancel."""
    router = Router(name=__name__)
    router.message.register(order_command, Command("order"))
    router.message.register(carrier_typed, TrackCode.carrier, F.text)
    router.message.register(track_code_typed, TrackCode.code, F.text)
    router.message.register(private_comment, Comment.private, F.text)
    router.message.register(step_comment, Comment.reason, F.text)
    return router
