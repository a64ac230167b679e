"""Drawing the order list (C4) and "my queue" (C2): a page's lines, its buttons, the
status filter; and their callback data (the filters, short codes only, travel in it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from handlers.telegram.format import duration, esc, money, phone, title, when
from handlers.telegram.menu import MenuAct, MenuCB
from services.orders.queries import OrderPage, OrderRow

BUTTON_NAME = 16  # characters of the buyer's name on an order's button

# A shop's statuses for the filter: code and titles by language (OrderQueries.statuses).
Statuses = Sequence[tuple[str, Mapping[str, str]]]


class ListAct(StrEnum):
    PAGE = "p"  # draw the list: `page` with the filters
    QUEUE = "q"  # draw "my queue": `page`
    OPEN = "o"  # open order `id`'s card
    STATUSES = "s"  # choose the status filter
    SEARCH = "f"  # ask for a number or a phone
    RESET = "r"  # the list without filters or search
    NOOP = "n"  # the page counter


# Client-controlled numbers stay within what the database's integer columns hold.
Id = Annotated[int, Field(ge=0, lt=2**31)]


class ListCB(CallbackData, prefix="l"):
    act: ListAct
    page: Annotated[int, Field(ge=0, lt=100_000)] = 0
    st: Annotated[str, Field(max_length=40)] = ""  # a status code; "" for every status
    pr: bool = False  # problem orders only
    mi: bool = False  # orders in the statuses this person is responsible for
    q: bool = False  # with the search kept for this chat
    id: Id = 0  # the order to open


def page_count(total: int, page_size: int) -> int:
    return max(1, math.ceil(total / max(page_size, 1)))


def status_name(statuses: Statuses, code: str, language: str) -> str:
    for status_code, titles in statuses:
        if status_code == code:
            return titles if isinstance(titles, str) else title(titles, language)
    return code


def order_line(row: OrderRow, timezone: str, language: str) -> str:
    parts = [
        f"<b>#{row.number}</b>",
        when(row.created_at, timezone, language),
        esc(row.buyer_name) or phone(row.buyer_phone) or "—",
        money(row.total, row.currency, language),
    ]
    if row.income is not None:
        parts.append(_("income {amount}").format(amount=money(row.income, row.currency, language)))
    parts.append(esc(title(row.status_title, language)))
    if row.time_left is not None and not row.problem:
        parts.append("⏱ " + duration(row.time_left))
    return ("⚠️ " if row.problem else "") + " · ".join(parts)


def order_buttons(builder: InlineKeyboardBuilder, rows: Sequence[OrderRow]) -> None:
    buttons = []
    for row in rows:
        name = row.buyer_name or phone(row.buyer_phone) or ""
        if len(name) > BUTTON_NAME:
            name = name[: BUTTON_NAME - 1] + "…"
        buttons.append(
            InlineKeyboardButton(
                text=f"#{row.number} {name}".strip(),
                callback_data=ListCB(act=ListAct.OPEN, id=row.id).pack(),
            )
        )
    for start in range(0, len(buttons), 2):
        builder.row(*buttons[start : start + 2])


def nav_row(cb: ListCB, page: int, pages: int) -> list[InlineKeyboardButton]:
    row = []
    if page > 0:
        row.append(
            InlineKeyboardButton(
                text=_("◀️ Previous"), callback_data=cb.model_copy(update={"page": page - 1}).pack()
            )
        )
    if pages > 1:
        row.append(
            InlineKeyboardButton(
                text=f"{page + 1}/{pages}", callback_data=ListCB(act=ListAct.NOOP).pack()
            )
        )
    if page + 1 < pages:
        row.append(
            InlineKeyboardButton(
                text=_("Next ▶️"), callback_data=cb.model_copy(update={"page": page + 1}).pack()
            )
        )
    return row


def rows_text(result: OrderPage, timezone: str, language: str) -> list[str]:
    pages = page_count(result.total, result.page_size)
    lines = [
        _("Page {page} of {pages} · orders: {total}").format(
            page=result.page + 1, pages=pages, total=result.total
        ),
        "",
    ]
    return lines + [order_line(row, timezone, language) for row in result.rows]


def list_text(
    result: OrderPage,
    cb: ListCB,
    search: str | None,
    shop_name: str,
    timezone: str,
    statuses: Statuses,
    language: str,
) -> str:
    lines = [_("<b>Orders</b> · {shop}").format(shop=esc(shop_name))]
    filters = []
    if cb.st:
        name = status_name(statuses, cb.st, language)
        filters.append(_("status «{status}»").format(status=esc(name)))
    if cb.pr:
        filters.append(_("problem orders"))
    if cb.mi:
        filters.append(_("mine"))
    if search:
        filters.append(_("search «{query}»").format(query=esc(search)))
    if filters:
        lines.append(_("Filters: {filters}").format(filters=", ".join(filters)))
    if not result.rows:
        if search:
            lines += ["", _("Nothing found for «{query}».").format(query=esc(search))]
        else:
            lines += ["", _("No orders here.")]
        return "\n".join(lines)
    return "\n".join(lines + rows_text(result, timezone, language))


def list_keyboard(
    result: OrderPage, cb: ListCB, statuses: Statuses, language: str
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    order_buttons(builder, result.rows)
    nav = nav_row(cb, result.page, page_count(result.total, result.page_size))
    if nav:
        builder.row(*nav)
    status_label = "🏷 " + status_name(statuses, cb.st, language) if cb.st else _("🏷 Status")
    builder.row(
        InlineKeyboardButton(
            text=status_label[:40],
            callback_data=cb.model_copy(update={"act": ListAct.STATUSES, "page": 0}).pack(),
        ),
        InlineKeyboardButton(
            text=("✅ " if cb.pr else "") + _("⚠️ Problem"),
            callback_data=cb.model_copy(update={"pr": not cb.pr, "page": 0}).pack(),
        ),
        InlineKeyboardButton(
            text=("✅ " if cb.mi else "") + _("👤 Mine"),
            callback_data=cb.model_copy(update={"mi": not cb.mi, "page": 0}).pack(),
        ),
    )
    tools = [
        InlineKeyboardButton(
            text=_("🔎 Search"), callback_data=cb.model_copy(update={"act": ListAct.SEARCH}).pack()
        )
    ]
    if cb.st or cb.pr or cb.mi or cb.q:
        tools.append(
            InlineKeyboardButton(text=_("♻️ Reset"), callback_data=ListCB(act=ListAct.RESET).pack())
        )
    tools.append(
        InlineKeyboardButton(text=_("🏠 Menu"), callback_data=MenuCB(act=MenuAct.HOME).pack())
    )
    builder.row(*tools)
    return builder.as_markup()


def statuses_keyboard(cb: ListCB, statuses: Statuses, language: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code, titles in statuses:
        name = titles if isinstance(titles, str) else title(titles, language)
        builder.button(
            text=("✅ " if code == cb.st else "") + name,
            callback_data=cb.model_copy(update={"act": ListAct.PAGE, "st": code}).pack(),
        )
    builder.adjust(2)
    builder.row(
        InlineKeyboardButton(
            text=_("All statuses"),
            callback_data=cb.model_copy(update={"act": ListAct.PAGE, "st": ""}).pack(),
        )
    )
    return builder.as_markup()
