"""Drawing the order card (C3): its text and exactly the buttons this person may use now."""

from __future__ import annotations

import hashlib

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from handlers.telegram.callbacks import OrderAct, OrderCB
from handlers.telegram.dialog import BuyerAct, BuyerCB, DialogCB
from handlers.telegram.document_callbacks import DocAct, DocCB
from handlers.telegram.format import duration, esc, money, phone, title, when
from handlers.telegram.pay import pay_buttons
from handlers.telegram.returns import card_buttons as return_buttons
from handlers.telegram.reviews import card_buttons as review_buttons
from services.orders.payments import MONEY_ROLES, PAYMENT_PROBLEM
from services.orders.service import PARCEL_STALLED, OrderView
from services.time import sla
from services.workflow.definition import Input

# Long orders are cut so the card stays under Telegram's 4096 characters per message.
MAX_ITEMS_SHOWN = 30
ITEMS_BUDGET = 2500  # characters for the goods; the rest of the card needs far less
# Statuses in which the buyer is to pay: their card offers "How to pay" (000: awaiting payment).
PAYMENT_STATUSES = frozenset({"awaiting_payment"})


# A card's buttons are copies of one made once: a new button validated by pydantic (its eleven
# defaults, aiogram's hooks) costs twice a copy, and a staff card has ten of them, drawn on
# every tap and every redraw (issue 15). Only text and callback data differ between them.
_BUTTON = InlineKeyboardButton(text="·", callback_data="·")


def button(*, text: str, callback_data: str) -> InlineKeyboardButton:
    """`InlineKeyboardButton(text=text, callback_data=callback_data)`, made as a copy."""
    return _BUTTON.model_copy(update={"text": text, "callback_data": callback_data})


def card_digest(text: str, markup: InlineKeyboardMarkup | None) -> str:
    """What a card shows, digested: two drawings with the same digest look the same (the
    card registry keeps it, so an unchanged card is not drawn again)."""
    buttons = markup.model_dump_json(exclude_none=True) if markup is not None else ""
    return hashlib.sha256(f"{text}\x00{buttons}".encode()).hexdigest()


# Each name translated when it is asked for, not all nine for every card line (issue 15).
_METHOD_NAMES = {
    "cash": lambda: _("cash"),
    "cash_on_delivery": lambda: _("cash on delivery"),
    "card": lambda: _("card"),
    "bank_transfer": lambda: _("bank transfer"),
    "online": lambda: _("online payment"),
    "pickup": lambda: _("pickup"),
    "courier": lambda: _("courier"),
    "post": lambda: _("post"),
    "carrier": lambda: _("carrier"),
}


def method_name(method: str) -> str:
    """A payment or delivery method as people call it, in the current language; an unknown
    one (a storefront's own) as it came."""
    named = _METHOD_NAMES.get(method)
    return named() if named is not None else method


def card_text(view: OrderView, language: str) -> str:
    order, shop = view.order, view.shop
    status = view.workflow.status(order.status)
    lines = [
        _("<b>Order #{number}</b> · {shop}").format(number=order.number, shop=esc(shop.name)),
        _("Status: <b>{status}</b>").format(status=esc(title(status.title, language))),
    ]
    if order.problem and view.who.is_staff:  # the shop's own alarm, not the buyer's business
        lines.append(problem_line(order.problem_reason))
    if order.sla_deadline_at is not None and view.who.is_staff:
        lines.append(time_limit_line(view, language))
    lines.append(_("Created: {date}").format(date=when(order.created_at, shop.timezone, language)))
    buyer = order.buyer
    contacts = ", ".join(filter(None, [esc(buyer.name), phone(buyer.phone), esc(buyer.email)]))
    lines += ["", _("Buyer: {contacts}").format(contacts=contacts or "—"), ""]
    shown = 0
    budget = ITEMS_BUDGET
    for index, item in enumerate(order.items, 1):
        line = f"{index}. {esc(item.name)} × {item.quantity} — " + money(
            item.line_total, order.currency, language
        )
        if item.discount:
            line += " " + _("(discount {amount})").format(
                amount=money(item.discount, order.currency, language)
            )
        budget -= len(line) + 1
        if index > MAX_ITEMS_SHOWN or budget < 0:
            break
        lines.append(line)
        shown += 1
    if shown < len(order.items):
        lines.append(_("… and {count} more").format(count=len(order.items) - shown))
    lines.append("")
    if order.discount:
        lines.append(
            _("Discount: −{amount}").format(amount=money(order.discount, order.currency, language))
        )
    lines.append(
        _("Delivery: {method}, {cost}").format(
            method=method_name(order.delivery_method),
            cost=money(order.delivery_cost, order.currency, language),
        )
    )
    if order.delivery_address:
        lines.append(_("Address: {address}").format(address=esc(order.delivery_address)))
    if order.courier_window or order.courier_phone:  # seed 003 step 7
        lines.append(
            _("🚴 Courier: {window}, {phone}").format(
                window=esc(order.courier_window or "—"), phone=esc(order.courier_phone or "—")
            )
        )
    if order.delivery_date and not order.track_code:  # agreed, not yet sent
        lines.append(
            _("📅 Sending date: {date}").format(date=order.delivery_date.strftime("%d.%m.%Y"))
        )
    lines.append(_("Payment: {method}").format(method=method_name(order.payment_method)))
    lines.append(
        _("<b>Total: {total}</b>").format(total=money(order.total, order.currency, language))
    )
    lines += money_lines(order, language, final=status.is_final, for_buyer=not view.who.is_staff)
    if order.track_code:
        lines.append(
            _("Shipped with {carrier}, track code <code>{code}</code>").format(
                carrier=esc(order.carrier), code=esc(order.track_code)
            )
        )
        lines += parcel_lines(view, language)
    if order.buyer_comment:
        lines.append(_("Buyer's comment: {comment}").format(comment=esc(order.buyer_comment)))
    if view.closing is not None:
        lines += closing_lines(view, language)
    return "\n".join(lines)


def parcel_lines(view: OrderView, language: str) -> list[str]:
    """The carrier's tracking page and its latest checkpoints, in the shop's time zone."""
    parcel = view.parcel
    if parcel is None:
        return []
    lines = []
    if parcel.link:
        lines.append(
            '<a href="{url}">{text}</a>'.format(url=esc(parcel.link), text=_("Follow the parcel"))
        )
    for checkpoint in parcel.checkpoints:
        where = f", {esc(checkpoint.location)}" if checkpoint.location else ""
        lines.append(
            f"📍 {when(checkpoint.at, view.shop.timezone, language)} — "
            f"{esc(checkpoint.description or checkpoint.kind)}{where}"
        )
    return lines


def money_lines(order, language: str, *, final: bool = False, for_buyer: bool = True) -> list[str]:
    """What is paid and what is open once the order was paid (issue 14); for cash on delivery
    not yet collected, that it is paid at the door."""
    currency = order.currency
    if not order.amount_paid and not order.balance_due:
        if order.payment_method == "cash_on_delivery" and not final:
            return [
                _("To pay on delivery: {amount}").format(
                    amount=money(order.total, currency, language)
                )
            ]
        return []
    lines = [_("Paid: {amount}").format(amount=money(order.amount_paid, currency, language))]
    if order.balance_due > 0:
        lines.append(
            _("⚠️ Still to pay: {amount}").format(
                amount=money(order.balance_due, currency, language)
            )
        )
    elif order.balance_due < 0:
        text = (
            _("↩️ To be refunded to you: {amount}")
            if for_buyer
            else _("↩️ To be refunded to the buyer: {amount}")
        )
        lines.append(text.format(amount=money(-order.balance_due, currency, language)))
    return lines


def closing_lines(view: OrderView, language: str) -> list[str]:
    """Why the order was cancelled, for the shop and the buyer alike (003)."""
    closing, lines = view.closing, []
    if closing.reason:
        reason = view.workflow.reason(closing.reason)
        text = title(reason.title, language) if reason is not None else closing.reason
        lines.append(_("Reason: {reason}").format(reason=esc(text)))
    if closing.comment:
        lines.append(_("Comment: {comment}").format(comment=esc(closing.comment[:1000])))
    return lines


def problem_line(reason: str | None) -> str:
    if reason == sla.PROBLEM:
        return _("⚠️ Problem: the time limit for this status has passed")
    if reason == PARCEL_STALLED:
        return _("⚠️ Problem: the parcel has not moved at the carrier for days")
    if reason == PAYMENT_PROBLEM:
        return _("⚠️ Problem: a payment arrived that does not fit the order")
    return _("⚠️ Problem: {reason}").format(reason=esc(reason or ""))


def time_limit_line(view: OrderView, language: str) -> str:
    """How much working time is left in this status (B2), and until when in the shop's time."""
    order, shop, now = view.order, view.shop, view.now
    deadline = when(order.sla_deadline_at, shop.timezone, language)
    if now >= order.sla_deadline_at:
        return _("⏱ The time limit passed at {deadline}").format(deadline=deadline)
    hours = sla.calendar(shop)
    left = duration(hours.between(now, order.sla_deadline_at))
    if order.sla_excellent_at is not None and now < order.sla_excellent_at:
        return _(
            "⏱ {left} of working time left, until {deadline} (excellent within {excellent})"
        ).format(
            left=left,
            deadline=deadline,
            excellent=duration(hours.between(now, order.sla_excellent_at)),
        )
    return _("⏱ {left} of working time left, until {deadline}").format(left=left, deadline=deadline)


def card_keyboard(view: OrderView, language: str) -> InlineKeyboardMarkup:
    order = view.order
    # Rows of buttons, not aiogram's InlineKeyboardBuilder: its as_markup() deep-copies every
    # button (pydantic models), about a millisecond per card on the tap's hot path (issue 15).
    rows: list[list[InlineKeyboardButton]] = []
    for action in view.actions:
        rows.append(
            [
                button(
                    text=title(action.title, language),
                    callback_data=OrderCB(
                        act=OrderAct.DO, id=order.id, arg=action.code, v=order.version
                    ).pack(),
                )
            ]
        )
    if view.who.is_staff:
        rows.append(
            [
                button(
                    text=_("📜 History"),
                    callback_data=OrderCB(
                        act=OrderAct.HISTORY, id=order.id, v=order.version
                    ).pack(),
                ),
                button(text=_("💬 Dialog"), callback_data=DialogCB(id=order.id).pack()),
            ]
        )
        tools = [
            (_("💬 Comment"), OrderAct.COMMENT),
            (_("📞 Script"), OrderAct.SCRIPT),
        ]
        if view.edits:
            tools.append((_("✏️ Edit"), OrderAct.EDIT))
        rows.append(
            [
                *(
                    button(
                        text=text,
                        callback_data=OrderCB(act=act, id=order.id, v=order.version).pack(),
                    )
                    for text, act in tools
                )
            ]
        )
        rows.append(
            [  # E1-E3: invoice, waybill, payment slip (handlers.telegram.documents)
                button(
                    text=_("📄 Documents"),
                    callback_data=DocCB(act=DocAct.ORDER, id=order.id, v=order.version).pack(),
                ),
                button(
                    text=_("👤 Customer"),
                    callback_data=OrderCB(
                        act=OrderAct.CUSTOMER, id=order.id, v=order.version
                    ).pack(),
                ),
            ]
        )
        money_button = settle_button(view, language)
        if money_button is not None:
            rows.append([money_button])
    elif view.who.actor.is_buyer:
        # The buyer's own tools (C5): the order's dialog, and how to pay while they are to.
        rows.append(
            [
                button(
                    text=_("💬 Write to the shop"),
                    callback_data=BuyerCB(act=BuyerAct.WRITE, id=order.id).pack(),
                )
            ]
        )
        if order.status in PAYMENT_STATUSES:
            # Issue 17: pay online right from the card, when the shop set a provider up.
            online = pay_buttons(order.id, view.shop.settings)
            if online:
                rows.append([*online])
            rows.append(
                [
                    button(
                        text=_("💳 How to pay"),
                        callback_data=BuyerCB(act=BuyerAct.PAY, id=order.id).pack(),
                    )
                ]
            )
        # E3, seed 002: the invoice is the buyer's from the moment the order is placed.
        rows.append(
            [
                button(
                    text=_("📄 Invoice"),
                    callback_data=DocCB(
                        act=DocAct.GET, id=order.id, kind="invoice", v=order.version
                    ).pack(),
                )
            ]
        )
    # A received order (F1, F3): the buyer's "Return items"; the shop's "Returns", "Review".
    feedback = [*return_buttons(view), *review_buttons(view)]
    if feedback:
        rows.append([*feedback])
    rows.append(
        [
            button(
                text=_("🔄 Refresh"),
                callback_data=OrderCB(act=OrderAct.SHOW, id=order.id, v=order.version).pack(),
            )
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def settle_button(view: OrderView, language: str) -> InlineKeyboardButton | None:
    """What an edit left open, settled by staff who handle money (handlers.telegram.order_money):
    the buyer's payment of the difference, or the refund made to them."""
    order = view.order
    if not view.who.actor.roles & MONEY_ROLES or not order.balance_due:
        return None
    amount = money(abs(order.balance_due), order.currency, language)
    if order.balance_due > 0:
        text, arg = _("💰 Payment of {amount} received").format(amount=amount), "pay"
    else:
        text, arg = _("💸 Refund of {amount} made").format(amount=amount), "refund"
    return button(
        text=text,
        callback_data=OrderCB(act=OrderAct.MONEY, id=order.id, arg=arg, v=order.version).pack(),
    )


def confirm_keyboard(order_id: int, action: str, version: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                button(
                    text=_("✅ Yes"),
                    callback_data=OrderCB(
                        act=OrderAct.SURE, id=order_id, arg=action, v=version
                    ).pack(),
                ),
                button(
                    text=_("↩️ No"),
                    callback_data=OrderCB(act=OrderAct.SHOW, id=order_id, v=version).pack(),
                ),
            ]
        ]
    )


def needs_conversation(inputs: tuple[Input, ...]) -> bool:
    return bool(set(inputs) - {Input.REASON})
