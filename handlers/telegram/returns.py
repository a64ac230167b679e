"""Returns in Telegram (F1): the buyer asks from the order card, the shop handles the request.

The buyer taps "↩️ Return items", taps the goods (each tap adds a unit, up to what can still
go back, then back to none), writes the reason, and confirms. The shop gets the request with
its buttons (Approve, Reject with a reason, Goods received, Refund made) and finds the
order's requests from the card's "↩️ Returns". Callback data carries ids and a step code
only; the service decides who may do what, and a stale or forged button is refused by it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.format import esc, money, when
from services.money.returns import (
    ReturnOptions,
    ReturnProblem,
    ReturnRefused,
    ReturnService,
    ReturnStatus,
    ReturnView,
    Step,
    may_be_returned,
)
from services.orders.actors import ActorRef
from services.orders.service import OrderService, OrderView
from services.refusals import OrderRefused, Problem
from services.workflow.definition import StatusKind

MAX_SHOWN = 5  # return requests listed for one order, newest first


class ReturnAct(StrEnum):
    START = "s"  # the buyer starts choosing the goods of order `id`
    PICK = "p"  # one more unit of order item `arg`
    NEXT = "n"  # the goods are chosen: ask for the reason
    SEND = "y"  # the buyer confirms the request
    DROP = "x"  # the buyer gives up
    LIST = "l"  # the order's requests (staff)
    SHOW = "v"  # request `id` as a card
    STEP = "d"  # the shop takes step `arg` on request `id`


class ReturnCB(CallbackData, prefix="rt"):
    act: ReturnAct
    id: int
    arg: str = ""


class ReturnForm(StatesGroup):
    choosing = State()  # tapping the goods
    reason = State()  # typing the reason
    confirm = State()  # the summary is shown
    reject = State()  # staff type why they reject


# -- texts --------------------------------------------------------------------------------


def status_name(status: str) -> str:
    names = {
        ReturnStatus.REQUESTED: _("requested, waiting for the shop"),
        ReturnStatus.APPROVED: _("approved: send the goods back"),
        ReturnStatus.REJECTED: _("rejected"),
        ReturnStatus.GOODS_RECEIVED: _("goods received back by the shop"),
        ReturnStatus.REFUNDED: _("refunded"),
    }
    return names.get(status, status)


def step_name(step: Step) -> str:
    names = {
        Step.APPROVE: _("✅ Approve"),
        Step.REJECT: _("❌ Reject"),
        Step.GOODS_RECEIVED: _("📦 Goods received"),
        Step.REFUND: _("💸 Refund made"),
    }
    return names[step]


def describe(refusal: ReturnRefused, language: str, timezone: str = "UTC") -> str:
    """Why a return or a step was refused, naming the item."""
    params = refusal.params
    item = esc(params.get("item", ""))
    if refusal.code is ReturnProblem.NOT_RETURNABLE:
        return _("“{item}” cannot be returned: the shop does not take it back.").format(item=item)
    if refusal.code is ReturnProblem.PERIOD_OVER:
        until = params.get("until")
        return _("“{item}” can no longer be returned: its return period ended on {date}.").format(
            item=item, date=when(until, timezone, language) if until else "—"
        )
    if refusal.code is ReturnProblem.TOO_MANY:
        return _(
            "Only {available} of “{item}” can still be returned ({bought} bought, {taken} "
            "returned or being returned)."
        ).format(
            available=params.get("available", 0),
            item=item,
            bought=params.get("bought", 0),
            taken=params.get("taken", 0),
        )
    texts = {
        ReturnProblem.NOT_RECEIVED: _("Goods can be returned only after the order is received."),
        ReturnProblem.UNKNOWN_ITEM: _("This item is not in the order."),
        ReturnProblem.NO_ITEMS: _("Choose at least one item to return."),
        ReturnProblem.NO_REASON: _("Please write the reason (up to 1000 characters)."),
        ReturnProblem.ALREADY_DONE: _("Already done."),
        ReturnProblem.WRONG_STEP: _("Not possible in the return's current state."),
        ReturnProblem.NOT_FOUND: _("Return request not found."),
    }
    return texts.get(refusal.code, _("That did not work."))


def why_not(problem: ReturnProblem) -> str:
    texts = {
        ReturnProblem.NOT_RECEIVED: _("the order is not received yet"),
        ReturnProblem.NOT_RETURNABLE: _("not returnable"),
        ReturnProblem.PERIOD_OVER: _("the return period is over"),
        ReturnProblem.TOO_MANY: _("already returned or being returned"),
    }
    return texts.get(problem, str(problem))


def lines_text(lines: list, currency: str | None = None, language: str = "ru") -> str:
    """ "• Item × 2 — 20.00 ₽" per line (amounts when known)."""
    out = []
    for line in lines:
        name, quantity = line[0], line[1]
        text = f"• {esc(name)} × {quantity}"
        if currency is not None and len(line) > 2:
            text += " — " + money(line[2], currency, language)
        out.append(text)
    return "\n".join(out)


def return_card(view: ReturnView, language: str, timezone: str) -> str:
    request = view.request
    parts = [
        _("↩️ <b>Return #{id}</b> · order #{number}").format(id=request.id, number=view.number),
        _("State: <b>{state}</b>").format(state=status_name(request.status)),
        lines_text(view.lines, view.currency, language),
        _("Amount: {amount}").format(amount=money(request.amount, view.currency, language)),
        _("Reason: {reason}").format(reason=esc(request.reason)),
    ]
    if request.reject_reason:
        parts.append(_("Why rejected: {reason}").format(reason=esc(request.reject_reason)))
    if view.is_staff and request.status == ReturnStatus.REQUESTED:
        parts.append(
            _("Answer by {date}").format(date=when(request.answer_due_at, timezone, language))
        )
    return "\n".join(parts)


def return_keyboard(view: ReturnView) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for step in view.steps:
        builder.button(
            text=step_name(step),
            callback_data=ReturnCB(act=ReturnAct.STEP, id=view.request.id, arg=step).pack(),
        )
    builder.adjust(2)
    return builder.as_markup()


# -- on the order card (handlers.telegram.card_view) --------------------------------------


def card_buttons(view: OrderView) -> list[InlineKeyboardButton]:
    """The buyer's "Return items" while some goods may go back; the shop's "Returns"."""
    order = view.order
    if view.workflow.status(order.status).kind is not StatusKind.FINAL_SUCCESS:
        return []
    if view.who.is_staff:
        if any(item.returnable for item in order.items):
            return [
                InlineKeyboardButton(
                    text=_("↩️ Returns"),
                    callback_data=ReturnCB(act=ReturnAct.LIST, id=order.id).pack(),
                )
            ]
        return []
    if view.who.actor.is_buyer and may_be_returned(order, view.workflow, view.now):
        return [
            InlineKeyboardButton(
                text=_("↩️ Return items"),
                callback_data=ReturnCB(act=ReturnAct.START, id=order.id).pack(),
            )
        ]
    return []


# -- the buyer asks -----------------------------------------------------------------------


def picks_keyboard(options: ReturnOptions, picks: dict[str, int]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for option in options.items:
        if option.available <= 0:
            continue
        chosen = picks.get(str(option.item_id), 0)
        mark = "✅" if chosen else "▫️"
        builder.row(
            InlineKeyboardButton(
                text=f"{mark} {option.name[:40]} — {chosen}/{option.available}",
                callback_data=ReturnCB(
                    act=ReturnAct.PICK, id=options.order_id, arg=str(option.item_id)
                ).pack(),
            )
        )
    builder.row(
        InlineKeyboardButton(
            text=_("➡️ Next"), callback_data=ReturnCB(act=ReturnAct.NEXT, id=options.order_id).pack()
        ),
        InlineKeyboardButton(
            text=_("✖️ Cancel"),
            callback_data=ReturnCB(act=ReturnAct.DROP, id=options.order_id).pack(),
        ),
    )
    return builder.as_markup()


def picks_text(options: ReturnOptions) -> str:
    lines = [
        _("<b>Return from order #{number}</b>").format(number=options.number),
        _("Tap an item to add a unit; tap past the maximum to start again from none."),
    ]
    blocked = [o for o in options.items if o.available <= 0]
    if blocked:
        lines.append("")
        lines += [f"• {esc(o.name)}: {why_not(o.problem)}" for o in blocked if o.problem]
    return "\n".join(lines)


def alert(callback_answer: CallbackAnswer, text: str) -> None:
    """The callback's one answer (CallbackAnswerMiddleware sends it) as an alert."""
    callback_answer.text, callback_answer.show_alert = text, True


async def start(
    query: CallbackQuery,
    callback_data: ReturnCB,
    returns: ReturnService,
    actor: ActorRef,
    state: FSMContext,
) -> None:
    options = await returns.options(callback_data.id, actor)
    if not options.possible:
        reasons = [f"• {esc(o.name)}: {why_not(o.problem)}" for o in options.items if o.problem]
        await query.message.answer(
            "\n".join([_("Nothing from this order can be returned now."), *reasons])
        )
        return
    await state.set_state(ReturnForm.choosing)
    await state.set_data({"order_id": options.order_id, "picks": {}})
    await query.message.answer(picks_text(options), reply_markup=picks_keyboard(options, {}))


async def _selection(state: FSMContext, order_id: int) -> dict[str, Any] | None:
    """The buyer's choice in progress for this order; None when the button is from another."""
    data = await state.get_data()
    if await state.get_state() != ReturnForm.choosing.state or data.get("order_id") != order_id:
        return None
    return data


async def pick(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: ReturnCB,
    returns: ReturnService,
    actor: ActorRef,
    state: FSMContext,
) -> None:
    data = await _selection(state, callback_data.id)
    if data is None:
        alert(callback_answer, _("This choice is no longer open. Start again from the order."))
        return
    options = await returns.options(callback_data.id, actor)
    option = next((o for o in options.items if str(o.item_id) == callback_data.arg), None)
    if option is None or option.available <= 0:
        alert(callback_answer, _("This item cannot be returned."))
        return
    picks = dict(data.get("picks") or {})
    picks[callback_data.arg] = (picks.get(callback_data.arg, 0) + 1) % (option.available + 1)
    await state.update_data(picks=picks)
    await query.message.edit_reply_markup(reply_markup=picks_keyboard(options, picks))


async def ask_reason(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: ReturnCB,
    state: FSMContext,
) -> None:
    data = await _selection(state, callback_data.id)
    if data is None:
        alert(callback_answer, _("This choice is no longer open. Start again from the order."))
        return
    if not any((data.get("picks") or {}).values()):
        alert(callback_answer, _("Choose at least one item to return."))
        return
    await state.set_state(ReturnForm.reason)
    await query.message.answer(_("Why are you returning them? Write the reason in one message."))


async def reason_typed(
    message: Message, state: FSMContext, returns: ReturnService, actor: ActorRef
) -> None:
    reason = message.text.strip()
    if not reason or len(reason) > 1000:
        await message.answer(_("Please write the reason (up to 1000 characters)."))
        return
    data = await state.get_data()
    options = await returns.options(data["order_id"], actor)
    names = {str(o.item_id): o.name for o in options.items}
    chosen = [(names.get(k, "?"), n) for k, n in data["picks"].items() if n]
    await state.update_data(reason=reason)
    await state.set_state(ReturnForm.confirm)
    order_id = data["order_id"]
    await message.answer(
        "\n".join(
            [
                _("<b>Return from order #{number}</b>").format(number=options.number),
                lines_text(chosen),
                _("Reason: {reason}").format(reason=esc(reason)),
                "",
                _("Send this request to the shop?"),
            ]
        ),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=_("📨 Send the request"),
                        callback_data=ReturnCB(act=ReturnAct.SEND, id=order_id).pack(),
                    ),
                    InlineKeyboardButton(
                        text=_("✖️ Cancel"),
                        callback_data=ReturnCB(act=ReturnAct.DROP, id=order_id).pack(),
                    ),
                ]
            ]
        ),
    )


async def send(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: ReturnCB,
    returns: ReturnService,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n: I18n,
) -> None:
    data = await state.get_data()
    if await state.get_state() != ReturnForm.confirm.state or data.get("order_id") != (
        callback_data.id
    ):
        alert(callback_answer, _("This request was sent or dropped already."))
        return
    await state.clear()  # sent or refused, this conversation is over
    picks = {int(k): n for k, n in data["picks"].items()}
    try:
        request = await returns.request(callback_data.id, actor, picks, data["reason"])
    except ReturnRefused as refusal:
        await query.message.edit_reply_markup(reply_markup=None)
        timezone = await _timezone(orders, callback_data.id, actor)
        await query.message.answer(describe(refusal, i18n.current_locale, timezone))
        return
    await query.message.edit_reply_markup(reply_markup=None)
    await query.message.answer(
        _(
            "📨 Return request #{id} is sent to the shop. You will get its answer here; do "
            "not send the goods before the shop approves."
        ).format(id=request.id)
    )


async def drop(query: CallbackQuery, state: FSMContext) -> None:
    if await state.get_state() in (
        ReturnForm.choosing.state,
        ReturnForm.reason.state,
        ReturnForm.confirm.state,
    ):
        await state.clear()
    await query.message.edit_reply_markup(reply_markup=None)
    await query.message.answer(_("The return request was not sent."))


# -- the shop handles it ----------------------------------------------------------------


async def _timezone(orders: OrderService, order_id: int, actor: ActorRef) -> str:
    return (await orders.view(order_id, actor)).shop.timezone


async def list_returns(
    query: CallbackQuery,
    callback_data: ReturnCB,
    returns: ReturnService,
    orders: OrderService,
    actor: ActorRef,
    i18n: I18n,
) -> None:
    views = await returns.of_order(callback_data.id, actor)
    if not views:
        await query.message.answer(_("No return requests for this order."))
        return
    timezone = await _timezone(orders, callback_data.id, actor)
    for view in views[:MAX_SHOWN]:
        await query.message.answer(
            return_card(view, i18n.current_locale, timezone), reply_markup=return_keyboard(view)
        )


async def show(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: ReturnCB,
    returns: ReturnService,
    orders: OrderService,
    actor: ActorRef,
    i18n: I18n,
) -> None:
    try:
        view = await returns.get(callback_data.id, actor)
    except ReturnRefused as refusal:
        alert(callback_answer, describe(refusal, i18n.current_locale))
        return
    timezone = await _timezone(orders, view.order_id, actor)
    await query.message.answer(
        return_card(view, i18n.current_locale, timezone), reply_markup=return_keyboard(view)
    )


async def take_step(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: ReturnCB,
    returns: ReturnService,
    orders: OrderService,
    actor: ActorRef,
    state: FSMContext,
    i18n: I18n,
) -> None:
    language = i18n.current_locale
    try:
        step = Step(callback_data.arg)
    except ValueError:
        alert(callback_answer, _("This button is not valid."))
        return
    try:
        if step is Step.REJECT:
            view = await returns.get(callback_data.id, actor)
            if view.request.status == ReturnStatus.REQUESTED and not view.steps:
                raise OrderRefused(Problem.FORBIDDEN, "only the shop's managers handle returns")
            if Step.REJECT not in view.steps:
                raise ReturnRefused(
                    ReturnProblem.ALREADY_DONE
                    if view.request.status == ReturnStatus.REJECTED
                    else ReturnProblem.WRONG_STEP,
                    "not open for rejection",
                )
            await state.set_state(ReturnForm.reject)
            await state.set_data({"return_id": callback_data.id})
            await query.message.answer(
                _("Why do you reject return #{id}? The buyer will read it.").format(
                    id=callback_data.id
                )
            )
            return
        await returns.take(callback_data.id, actor, step)
        view = await returns.get(callback_data.id, actor)
    except ReturnRefused as refusal:
        alert(callback_answer, describe(refusal, language))
        return
    timezone = await _timezone(orders, view.order_id, actor)
    await query.message.edit_text(
        return_card(view, language, timezone), reply_markup=return_keyboard(view)
    )


async def reject_reason(
    message: Message,
    state: FSMContext,
    returns: ReturnService,
    orders: OrderService,
    actor: ActorRef,
    i18n: I18n,
) -> None:
    language = i18n.current_locale
    data = await state.get_data()
    try:
        await returns.reject(data["return_id"], actor, message.text)
    except ReturnRefused as refusal:
        if refusal.code is not ReturnProblem.NO_REASON:
            await state.clear()
        await message.answer(describe(refusal, language))
        return
    await state.clear()
    view = await returns.get(data["return_id"], actor)
    timezone = await _timezone(orders, view.order_id, actor)
    await message.answer(return_card(view, language, timezone), reply_markup=return_keyboard(view))


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(start, ReturnCB.filter(F.act == ReturnAct.START))
    router.callback_query.register(pick, ReturnCB.filter(F.act == ReturnAct.PICK))
    router.callback_query.register(ask_reason, ReturnCB.filter(F.act == ReturnAct.NEXT))
    router.message.register(reason_typed, ReturnForm.reason, F.text)
    router.callback_query.register(send, ReturnCB.filter(F.act == ReturnAct.SEND))
    router.callback_query.register(drop, ReturnCB.filter(F.act == ReturnAct.DROP))
    router.callback_query.register(list_returns, ReturnCB.filter(F.act == ReturnAct.LIST))
    router.callback_query.register(show, ReturnCB.filter(F.act == ReturnAct.SHOW))
    router.callback_query.register(take_step, ReturnCB.filter(F.act == ReturnAct.STEP))
    router.message.register(reject_reason, ReturnForm.reject, F.text)
    return router
