"""A return's notifications in Telegram (handlers.telegram.notifier renders them here): the
shop's "request", "step" and "overdue" with a button that opens the return, the buyer's news
of each step."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from handlers.telegram.format import esc, money
from handlers.telegram.returns import ReturnAct, ReturnCB, lines_text, status_name
from services.messaging.notifications.content import Notice
from services.money.returns import ReturnStatus

TOPICS = frozenset({"return_to_shop", "return_to_buyer", "return_overdue"})


def render_notice(
    topic: str, data: dict, notice: Notice
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The text and buttons of a return's notification, in the current locale."""
    order, language = notice.order, notice.language
    number, return_id = data.get("number", order.number), data.get("return_id", 0)
    step = data.get("step")
    amount = money(data.get("amount") or 0, order.currency, language)
    goods = lines_text(data.get("lines") or [])
    open_button = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("↩️ Open the return"),
                    callback_data=ReturnCB(act=ReturnAct.SHOW, id=return_id).pack(),
                )
            ]
        ]
    )
    if topic == "return_overdue":
        text = _("⚠️ Return request #{id} for order #{number} was not answered in time.")
        return text.format(id=return_id, number=number), open_button
    if topic == "return_to_shop":
        if step == ReturnStatus.REQUESTED:
            text = _("↩️ Return request #{id} for order #{number}:\n{goods}\nReason: {reason}")
            text = text.format(
                id=return_id, number=number, goods=goods, reason=esc(data.get("reason"))
            )
        else:
            text = _("↩️ Return #{id} of order #{number}: {state}").format(
                id=return_id, number=number, state=status_name(step)
            )
        return text, open_button
    shop = esc(notice.shop.name)
    texts = {
        ReturnStatus.REQUESTED: _(
            "↩️ Your return request #{id} for order #{number} at {shop} is sent:\n{goods}"
        ),
        ReturnStatus.APPROVED: _(
            "✅ {shop} approved your return #{id} (order #{number}). Please send the goods back."
        ),
        ReturnStatus.REJECTED: _(
            "❌ {shop} rejected your return #{id} (order #{number}): {reason}"
        ),
        ReturnStatus.GOODS_RECEIVED: _(
            "📦 {shop} has received the goods of your return #{id} (order #{number})."
        ),
        ReturnStatus.REFUNDED: _(
            "💸 {shop} has refunded your return #{id} (order #{number}): {amount}."
        ),
    }
    text = texts.get(step, _("↩️ Your return #{id} (order #{number}): {state}"))
    off_due = data.get("off_due") or 0
    if step == ReturnStatus.REFUNDED and "refunded" in data:
        # Paid in part: the goods came off what the buyer owed first, only the rest is paid.
        amount = money(data["refunded"], order.currency, language)
        if off_due and data["refunded"]:
            text = _(
                "💸 {shop} has refunded your return #{id} (order #{number}): {amount}; "
                "{off_due} came off what you owed for the order."
            )
        elif off_due:
            text = _(
                "💸 {shop} has taken your return #{id} (order #{number}) off what you owed "
                "for the order: {off_due}."
            )
    return text.format(
        off_due=money(off_due, order.currency, language),
        id=return_id,
        number=number,
        shop=shop,
        goods=goods,
        reason=esc(data.get("reject_reason")),
        amount=amount,
        state=status_name(step or ""),
    ), None
