"""The edit menu on an order's card (A6), and what every kind of edit shares.

The card's "✏️ Edit" opens a menu of exactly the edits this person may make now
(`OrderView.edits`); each kind of edit has its module beside this one. Here: the callback
data and conversation states of all of them (their packed prefixes and stored state names
must never change: buttons already sent and drafts in progress carry them), the check every
edit starts with (`checked_view`), and `StaleEdits`, which answers an edit drawn from an
older version of the order by showing the card as it is now.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import Annotated, Any

from aiogram import BaseMiddleware, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from handlers.telegram.callbacks import OrderAct, OrderCB
from handlers.telegram.card_view import card_text, method_name
from handlers.telegram.format import money
from handlers.telegram.order_card import back_button, show_card
from handlers.telegram.refusals import describe
from services.orders.access import EDITOR_ROLES
from services.orders.actors import ActorRef
from services.orders.service import OrderService, OrderView
from services.refusals import OrderRefused, Problem
from services.workflow.definition import EDIT_KINDS

MAX_LINES = 30  # lines with buttons in one message: 3 buttons each, Telegram allows 100
SHOWN_NAME = 60  # characters of an item's name in the editor's lines


class EditAct(StrEnum):
    MENU = "m"  # the edit menu on the card
    ITEMS = "i"  # start editing the goods
    LESS = "l"  # goods line `n`: one fewer
    MORE = "g"  # goods line `n`: one more
    DROP = "r"  # goods line `n`: remove
    SAVE = "w"  # save the goods
    DELIVERY = "d"  # choose a delivery method
    METHOD = "dm"  # delivery method `a` chosen
    SHOP_COST = "dc"  # the shop's price for that method
    KEEP_ADDRESS = "da"  # keep the order's address
    PAYMENT = "p"  # choose a payment method
    PAY = "pm"  # payment method `a` chosen
    DISCOUNT = "c"  # choose what the discount is on
    DISCOUNT_ORDER = "co"  # on the whole order
    DISCOUNT_LINE = "cl"  # on the order's item `n` (its id)
    SPLIT = "s"  # start choosing what moves to a new order
    MOVE_LESS = "sl"  # split line `n`: move one fewer
    MOVE_MORE = "sg"  # split line `n`: move one more
    SPLIT_NEXT = "sn"  # on to the reason
    SPLIT_REASON = "sr"  # split reason number `n` of the order's workflow
    DATE = "dt"  # choose the day the goods are sent
    DATE_SET = "dy"  # the day `a` (ISO) chosen
    COURIER = "cv"  # ask the courier's visit window and phone


# Client-controlled numbers stay within what the database's integer columns hold.
Number = Annotated[int, Field(ge=0, lt=2**31)]


class EditCB(CallbackData, prefix="ed"):
    act: EditAct
    id: Number
    v: Number = 0  # the order version the menu or draft was drawn from
    a: Annotated[str, Field(max_length=24)] = ""  # a payment or delivery method
    n: Number = 0  # a line's place in a draft, an item's id, a split reason's place


class EditItems(StatesGroup):
    lines = State()  # the goods draft: buttons change it, typed lines add to it


class EditDelivery(StatesGroup):
    cost = State()  # typing the delivery cost (or the shop's price)
    address = State()  # typing the address (or keeping the order's)


class EditDiscount(StatesGroup):
    amount = State()  # typing the discount


class EditCourier(StatesGroup):
    window = State()  # typing the courier's visit window
    phone = State()  # typing the courier's phone


class EditSplit(StatesGroup):
    choose = State()  # choosing the quantities that move
    reason = State()  # choosing the reason
    comment = State()  # typing the comment the reason needs


# -- stale drafts and menus ------------------------------------------------------------


def stale(order_id: int) -> OrderRefused:
    return OrderRefused(
        Problem.STALE, "the order has changed since this was drawn", {"order_id": order_id}
    )


class StaleEdits(BaseMiddleware):
    """An edit drawn from an older order changes nothing: say so and show the card as it is."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        except OrderRefused as refusal:
            if refusal.code is not Problem.STALE or "order_id" not in refusal.params:
                raise
            await end_edit(data["state"])
            language = data["i18n"].current_locale
            view = await data["orders"].view(refusal.params["order_id"], data["actor"])
            if isinstance(event, CallbackQuery):
                answer = data["callback_answer"]
                answer.text, answer.show_alert = describe(refusal), True
                await show_card(event.message, view, language, edit=True)
            elif isinstance(event, Message):
                await event.answer(describe(refusal))
                await show_card(event, view, language)
            return None


async def checked_view(
    orders: OrderService, actor: ActorRef, order_id: int, version: int, kind: str | None = None
) -> OrderView:
    """The order, if this person may make the edit `kind` (any edit: None) on this version."""
    view = await orders.view(order_id, actor)  # strangers: "not found"
    if not view.who.actor.roles & EDITOR_ROLES:
        raise OrderRefused(Problem.FORBIDDEN, "only the shop's managers edit orders")
    if view.order.version != version:
        raise stale(order_id)
    if (kind is None and not view.edits) or (kind is not None and kind not in view.edits):
        raise OrderRefused(
            Problem.EDIT_NOT_ALLOWED,
            f"'{kind}' cannot be edited in the status '{view.order.status}'",
            {"edit": kind},
        )
    return view


EDIT_STATES = (EditItems, EditDelivery, EditDiscount, EditSplit, EditCourier)


async def end_edit(state: FSMContext) -> None:
    """Drop an editing draft; another conversation (a manual order...) goes on."""
    current = await state.get_state()
    if any(current in group.__all_states_names__ for group in EDIT_STATES):
        await state.clear()


async def draft_of(state: FSMContext, order_id: int) -> dict[str, Any] | None:
    """This conversation's draft, if it is about this order."""
    data = await state.get_data()
    return data if data.get("order_id") == order_id else None


def edit_labels() -> dict[str, str]:
    return {
        "items": _("📦 Goods"),
        "delivery": _("🚚 Delivery"),
        "payment": _("💳 Payment"),
        "discount": _("🏷 Discount"),
        "split": _("✂️ Split"),
    }


KIND_ACTS = {
    "items": EditAct.ITEMS,
    "delivery": EditAct.DELIVERY,
    "payment": EditAct.PAYMENT,
    "discount": EditAct.DISCOUNT,
    "split": EditAct.SPLIT,
}


def menu_button(order_id: int, version: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("↩️ Back"), callback_data=EditCB(act=EditAct.MENU, id=order_id, v=version).pack()
    )


def edit_menu(view: OrderView) -> InlineKeyboardMarkup:
    order = view.order
    builder = InlineKeyboardBuilder()
    labels = edit_labels()
    for kind in EDIT_KINDS:
        if kind in view.edits:
            builder.button(
                text=labels[kind],
                callback_data=EditCB(act=KIND_ACTS[kind], id=order.id, v=order.version).pack(),
            )
    builder.adjust(2)
    if "delivery" in view.edits:  # the sending date is the delivery's (issue 18)
        builder.row(
            InlineKeyboardButton(
                text=_("📅 Sending date"),
                callback_data=EditCB(act=EditAct.DATE, id=order.id, v=order.version).pack(),
            )
        )
        if order.delivery_method == "courier":  # seed 003 step 7
            builder.row(
                InlineKeyboardButton(
                    text=_("🚴 Courier visit"),
                    callback_data=EditCB(act=EditAct.COURIER, id=order.id, v=order.version).pack(),
                )
            )
    builder.row(back_button(order.id))
    return builder.as_markup()


def short(name: str) -> str:
    return name if len(name) <= SHOWN_NAME else name[: SHOWN_NAME - 1] + "…"


def total_changed(before: int, after: int, currency: str, language: str) -> str:
    if before == after:
        return _("Total: {total}.").format(total=money(after, currency, language))
    return _("Total: {total} (was {before}).").format(
        total=money(after, currency, language), before=money(before, currency, language)
    )


def methods_keyboard(
    order_id: int, version: int, methods: Sequence[str], current: str, act: EditAct
) -> InlineKeyboardMarkup:
    """A button per delivery or payment method, the current one marked."""
    builder = InlineKeyboardBuilder()
    for method in methods:
        builder.button(
            text=("• " if method == current else "") + method_name(method),
            callback_data=EditCB(act=act, id=order_id, v=version, a=method).pack(),
        )
    builder.adjust(2)
    builder.row(menu_button(order_id, version))
    return builder.as_markup()


# -- the menu --------------------------------------------------------------------------


async def cancel_command(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Cancelled: the order was not changed."))


async def edit_from_card(
    query: CallbackQuery,
    callback_data: OrderCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    callback_answer: CallbackAnswer,
) -> None:
    view = await checked_view(orders, actor, callback_data.id, callback_data.v)
    await end_edit(state)
    callback_answer.text = _("What do you want to change?")
    await query.message.edit_reply_markup(reply_markup=edit_menu(view))


async def back_to_menu(
    query: CallbackQuery,
    callback_data: EditCB,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n: I18n,
) -> None:
    view = await checked_view(orders, actor, callback_data.id, callback_data.v)
    await end_edit(state)
    await query.message.edit_text(
        card_text(view, i18n.current_locale), reply_markup=edit_menu(view)
    )


# -- buttons of an editing step that is over ---------------------------------------------


async def step_over(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    # A draft's button after the draft was saved, cancelled or replaced: change nothing.
    callback_answer.text = _("This editing step is over: open ✏️ Edit on the card again.")
    callback_answer.show_alert = True


def router() -> Router:
    router = Router(name=__name__)
    router.message.register(cancel_command, StateFilter(*EDIT_STATES), Command("cancel"))
    router.callback_query.register(edit_from_card, OrderCB.filter(F.act == OrderAct.EDIT))
    router.callback_query.register(back_to_menu, EditCB.filter(F.act == EditAct.MENU))
    return router


def steps_over() -> Router:
    """Last of the editing routers: any edit button no step above took."""
    router = Router(name=f"{__name__}.steps_over")
    router.callback_query.register(step_over, EditCB.filter())
    return router
