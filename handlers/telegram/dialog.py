"""The per-order dialog in Telegram (C6), the inbound side: what people write to the bot.

A buyer writes in an order's context: after "💬 Write to the shop" on its card (the
conversation stays on that order until "Done"), or by replying to the order's card or to a
relayed shop message. A message with no context is never guessed into an order: the buyer is
asked which one, even when there is only one. Staff answer by replying to a relayed buyer
message, in the staff group or in their private chat. The pump (services.messaging.notifications)
relays what is stored here; this module only receives.

Callback data of the buyer's card buttons lives here too, so the card (card_view) can draw
them without importing the handlers that draw the card: prefixes "b" (the buyer's buttons)
and "dg" (an order's dialog, shown from the card).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.callbacks import QuickPack
from handlers.telegram.format import esc, money, when
from services.buyers.service import BuyerOrder, BuyerService
from services.messaging.dialog import MAX_TEXT, DialogService, Direction, ReplyTarget
from services.orders.actors import ActorRef
from services.orders.service import OrderService
from services.refusals import OrderRefused, Problem
from services.shops.users import Person

if TYPE_CHECKING:
    from storage.models import DialogMessage  # as a Thread holds them

GROUPS = ("group", "supergroup")
MAX_PENDING = 10  # messages kept while the buyer chooses their order
MAX_CHOICES = 20  # open orders offered as buttons
HISTORY_BUDGET = 3800  # characters of the dialog shown from the card


class BuyerAct(StrEnum):
    WRITE = "w"  # "💬 Write to the shop": what the buyer sends next goes to order `id`
    DONE = "x"  # leave the conversation
    PICK = "k"  # the buyer chose order `id` for the messages they sent without context
    PAY = "p"  # "💳 How to pay" (handlers.telegram.buyer)
    OPEN = "o"  # open the buyer's card of order `id` (handlers.telegram.buyer, from /my)


class BuyerCB(QuickPack, CallbackData, prefix="b"):
    act: BuyerAct
    id: int = 0


class DialogCB(QuickPack, CallbackData, prefix="dg"):
    """The order's dialog, read from the card."""

    id: int


class Writing(StatesGroup):
    order = State()  # the buyer's messages go to the order in the state's data
    choosing = State()  # messages without context wait for the buyer to choose the order


class ReplyCB(CallbackData, prefix="dr"):
    """Staff answer the buyer from the order's dialog shown from the card."""

    id: int


class StaffReply(StatesGroup):
    text = State()  # the staff member's answer to the order's buyer, in the state's data


# Content the dialog carries: text (not commands), photos with captions, documents.
CONTENT = (F.text & ~F.text.startswith("/")) | F.photo | F.document


def content(message: Message) -> tuple[str, list[dict[str, Any]]]:
    """A message's text (or caption) and files as the dialog stores them."""
    text = message.text or message.caption or ""
    files: list[dict[str, Any]] = []
    if message.photo:
        files.append({"kind": "photo", "file_id": message.photo[-1].file_id, "name": None})
    if message.document:
        document = message.document
        files.append({"kind": "document", "file_id": document.file_id, "name": document.file_name})
    return text, files


def done_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("✅ Done"), callback_data=BuyerCB(act=BuyerAct.DONE).pack()
                )
            ]
        ]
    )


def sent_text(number: int) -> str:
    return _("Sent to the shop, order #{number}.").format(number=number)


# -- the buyer writes from the card ----------------------------------------------------------


async def start_writing(
    query: CallbackQuery,
    callback_data: BuyerCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
) -> None:
    view = await orders.view(callback_data.id, actor)  # strangers: "not found"
    if not view.who.actor.is_buyer:
        raise OrderRefused(Problem.FORBIDDEN, "only the order's buyer writes to the shop")
    await state.set_state(Writing.order)
    await state.set_data({"order_id": view.order.id, "number": view.order.number})
    await query.message.answer(
        _(
            "Write to <b>{shop}</b> about order #{number}: text, photos or files. "
            "Everything you send now goes to this order, until you tap «Done»."
        ).format(shop=esc(view.shop.name), number=view.order.number),
        reply_markup=done_keyboard(),
    )


async def stop_writing(
    query: CallbackQuery, state: FSMContext, callback_answer: CallbackAnswer
) -> None:
    await state.clear()
    callback_answer.text = _("Done. To write again, use the order's card (/my).")
    await query.message.edit_reply_markup(reply_markup=None)


async def cancel_writing(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Done. To write again, use the order's card (/my)."))


# -- replies: to a relayed dialog message (staff and buyer), to a buyer's order card ----------


async def reply_target(message: Message, bot: Bot, dialog: DialogService) -> dict | bool:
    """A reply to one of the bot's messages that belongs to an order's dialog."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != bot.id:
        return False
    target = await dialog.reply_target(message.chat.id, replied.message_id)
    return {"target": target} if target is not None else False


async def reply_in_dialog(
    message: Message,
    target: ReplyTarget,
    dialog: DialogService,
    actor: ActorRef | None = None,  # None: an anonymous group admin, no person to authorize
) -> None:
    text, files = content(message)
    replied = message.reply_to_message.message_id
    if target.direction is Direction.TO_BUYER:
        try:
            if actor is None:
                raise OrderRefused(Problem.NOT_FOUND, "nobody to authorize")
            await dialog.from_staff_reply(
                message.chat.id,
                replied,
                actor,
                text=text,
                attachments=files,
                message_id=message.message_id,
            )
        except OrderRefused as refusal:
            if refusal.code is Problem.INVALID:
                await message.reply(too_long_text())
                return
            if refusal.code not in (Problem.NOT_FOUND, Problem.FORBIDDEN):
                raise
            await message.reply(_("Only the shop's staff can answer the buyer; nothing was sent."))
            return
        await message.reply(_("Sent to the buyer."))
        return
    if actor is None:
        return
    try:
        await dialog.from_buyer_reply(
            message.chat.id,
            replied,
            actor,
            text=text,
            attachments=files,
            message_id=message.message_id,
        )
    except OrderRefused as refusal:
        if refusal.code is not Problem.INVALID:
            raise
        await message.answer(too_long_text())
        return
    await message.reply(sent_text(target.number))


# -- the buyer's conversation about one order ------------------------------------------------


async def write_to_order(
    message: Message, dialog: DialogService, actor: ActorRef, state: FSMContext
) -> None:
    data = await state.get_data()
    text, files = content(message)
    try:
        await dialog.from_buyer(
            data["order_id"],
            actor,
            text=text,
            attachments=files,
            chat_id=message.chat.id,
            message_id=message.message_id,
        )
    except OrderRefused as refusal:
        if refusal.code is Problem.INVALID:
            await message.answer(too_long_text(), reply_markup=done_keyboard())
            return
        await state.clear()
        raise
    await message.answer(sent_text(data["number"]), reply_markup=done_keyboard())


async def unsupported_content(message: Message) -> None:
    await message.answer(
        _("Only text, photos and files go to the shop. Send one of those, or tap «Done»."),
        reply_markup=done_keyboard(),
    )


def too_long_text() -> str:
    return _("A message is 1 to 4000 characters. Please send it shorter.")


# -- a message with no context: ask which order, never guess ---------------------------------


async def has_open_orders(
    message: Message, buyers: BuyerService, user: Person | None = None
) -> dict | bool:
    if user is None:
        return False
    open_orders = await buyers.open_orders(user.id)
    return {"open_orders": open_orders} if open_orders else False


def choices_keyboard(open_orders: list[BuyerOrder], language: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for order in open_orders[:MAX_CHOICES]:
        builder.row(
            InlineKeyboardButton(
                text=f"#{order.number} · {order.shop_name} · "
                f"{money(order.total, order.currency, language)}",
                callback_data=BuyerCB(act=BuyerAct.PICK, id=order.id).pack(),
            )
        )
    return builder.as_markup()


async def ask_which_order(
    message: Message, state: FSMContext, open_orders: list[BuyerOrder], language: str
) -> None:
    data = await state.get_data()
    pending = data.get("pending", [])[-(MAX_PENDING - 1) :]
    text, files = content(message)
    if len(text.strip()) > MAX_TEXT:
        await message.answer(too_long_text())
        return
    pending.append({"text": text, "attachments": files, "message_id": message.message_id})
    await state.set_state(Writing.choosing)
    await state.set_data(
        {"pending": pending, "numbers": {str(o.id): o.number for o in open_orders}}
    )
    await message.answer(
        _("Which order is this about? Choose it, and your message goes to that shop."),
        reply_markup=choices_keyboard(open_orders, language),
    )


async def more_while_choosing(
    message: Message, state: FSMContext, open_orders: list[BuyerOrder], i18n: I18n
) -> None:
    await ask_which_order(message, state, open_orders, i18n.current_locale)


async def message_without_context(
    message: Message, state: FSMContext, open_orders: list[BuyerOrder], i18n: I18n
) -> None:
    """Free text, or a reply to a bot message that is no order's: which order is it about?"""
    await ask_which_order(message, state, open_orders, i18n.current_locale)


async def order_picked(
    query: CallbackQuery,
    callback_data: BuyerCB,
    dialog: DialogService,
    actor: ActorRef,
    state: FSMContext,
    callback_answer: CallbackAnswer,
) -> None:
    data = await state.get_data()
    pending = data.get("pending", [])
    number = data.get("numbers", {}).get(str(callback_data.id))
    if not pending or number is None:
        # Not one of the orders offered (an old question, or forged): nothing goes anywhere.
        await stale_pick(query, callback_answer)
        return
    for waiting in pending:
        await dialog.from_buyer(
            callback_data.id,
            actor,
            text=waiting["text"],
            attachments=waiting["attachments"],
            chat_id=query.message.chat.id,
            message_id=waiting["message_id"],
        )
    # What they write next goes to the same order, until they say they are done.
    await state.set_state(Writing.order)
    await state.set_data({"order_id": callback_data.id, "number": number})
    callback_answer.text = sent_text(number)
    await query.message.edit_text(
        sent_text(number) + "\n" + _("Anything else you send now goes to this order too."),
        reply_markup=done_keyboard(),
    )


async def stale_pick(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    callback_answer.text, callback_answer.show_alert = (
        _("That question is no longer open; send your message again."),
        True,
    )


# -- the dialog shown from the card ----------------------------------------------------------


async def show_dialog(
    query: CallbackQuery,
    callback_data: DialogCB,
    dialog: DialogService,
    actor: ActorRef,
    i18n: I18n,
) -> None:
    language = i18n.current_locale
    thread = await dialog.thread(callback_data.id, actor)
    heading = _("<b>Dialog of order #{number}</b>").format(number=thread.number)
    markup = reply_keyboard(thread.order_id) if thread.for_staff else None
    if not thread.messages:
        await query.message.answer(
            heading + "\n" + _("No messages yet. The buyer writes from their order's card."),
            reply_markup=markup,
        )
        return
    lines: list[str] = []
    budget = HISTORY_BUDGET
    for message in reversed(thread.messages):
        line = dialog_line(message, thread.authors, thread.timezone, language)
        budget -= len(line) + 1
        if budget < 0:
            lines.append("…")
            break
        lines.append(line)
    await query.message.answer("\n".join([heading, *reversed(lines)]), reply_markup=markup)


def reply_keyboard(order_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("↩️ Reply to the buyer"), callback_data=ReplyCB(id=order_id).pack()
                )
            ]
        ]
    )


# -- staff answer from the dialog ------------------------------------------------------------


async def start_staff_reply(
    query: CallbackQuery,
    callback_data: ReplyCB,
    dialog: DialogService,
    actor: ActorRef,
    state: FSMContext,
) -> None:
    thread = await dialog.thread(callback_data.id, actor)  # strangers: "not found"
    if not thread.for_staff:
        raise OrderRefused(Problem.FORBIDDEN, "only the shop's staff answer the buyer")
    await state.set_state(StaffReply.text)
    await state.set_data({"order_id": thread.order_id, "number": thread.number})
    await query.message.answer(
        _(
            "Write your answer to the buyer of order #{number}: text, a photo or a file. "
            "/cancel to leave it."
        ).format(number=thread.number)
    )


async def staff_reply(
    message: Message, dialog: DialogService, actor: ActorRef, state: FSMContext
) -> None:
    data = await state.get_data()
    text, files = content(message)
    try:
        await dialog.from_staff(
            data["order_id"],
            actor,
            text=text,
            attachments=files,
            chat_id=message.chat.id,
            message_id=message.message_id,
        )
    except OrderRefused as refusal:
        if refusal.code is Problem.INVALID:
            await message.answer(too_long_text())
            return
        await state.clear()
        raise
    await state.clear()
    await message.answer(_("Sent to the buyer of order #{number}.").format(number=data["number"]))


def dialog_line(
    message: DialogMessage, authors: Mapping[int, str], timezone: str, language: str
) -> str:
    name = authors.get(message.author_user_id, "") if message.author_user_id else ""
    if message.direction == Direction.TO_SHOP:
        who = _("Buyer")
    else:
        who = _("Shop")
    if name:
        who = f"{who} ({name})"
    parts = [esc(message.text)] if message.text else []
    for attachment in message.attachments or []:
        if attachment.get("kind") == "photo":
            parts.append(_("🖼 photo"))
        else:
            parts.append("📎 " + esc(attachment.get("name") or _("file")))
    return f"{when(message.created_at, timezone, language)} · <b>{esc(who)}</b>: " + " ".join(parts)


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(start_writing, BuyerCB.filter(F.act == BuyerAct.WRITE))
    router.callback_query.register(stop_writing, BuyerCB.filter(F.act == BuyerAct.DONE))
    router.message.register(cancel_writing, StateFilter(Writing), Command("cancel"))
    router.message.register(reply_in_dialog, CONTENT, reply_target)
    router.message.register(write_to_order, Writing.order, CONTENT)
    router.callback_query.register(start_staff_reply, ReplyCB.filter())
    router.message.register(staff_reply, StaffReply.text, CONTENT)
    router.message.register(
        unsupported_content, Writing.order, F.chat.type == "private", ~F.text.startswith("/")
    )
    router.message.register(more_while_choosing, Writing.choosing, CONTENT, has_open_orders)
    router.message.register(
        message_without_context,
        StateFilter(None),
        F.chat.type == "private",
        CONTENT,
        has_open_orders,
    )
    router.callback_query.register(
        order_picked, Writing.choosing, BuyerCB.filter(F.act == BuyerAct.PICK)
    )
    router.callback_query.register(stale_pick, BuyerCB.filter(F.act == BuyerAct.PICK))
    router.callback_query.register(show_dialog, DialogCB.filter())
    return router
