"""The shop's webhook delivery log in /settings (H4): the latest events sent to the
storefront, those waiting for a retry and those that failed with the storefront's answer,
and "retry now" for one or all failed. Owners and admins only (services.messaging.webhooks.log);
callback data carries the shop's and the row's ids only."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.format import esc
from services.messaging.webhooks.log import LogLine, WebhookLog

if TYPE_CHECKING:
    from services.shops.users import Person  # what the identity middleware gives

RETRY_BUTTONS = 5


class LogAct(StrEnum):
    SHOW = "l"  # the log
    RETRY = "r"  # retry row `row` now
    RETRY_ALL = "a"  # retry every failed row now


class WebhookLogCB(CallbackData, prefix="wl"):
    act: LogAct
    shop: int
    row: int = 0


def log_button(shop_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("📜 Webhook deliveries"),
        callback_data=WebhookLogCB(act=LogAct.SHOW, shop=shop_id).pack(),
    )


def _state(line: LogLine) -> str:
    if line.state == "sent":
        return _("✅ sent")
    if line.state == "failed":
        tries = line.attempts
        return ngettext("❌ failed after {n} try", "❌ failed after {n} tries", tries).format(
            n=tries
        )
    if line.attempts:
        return _("⏳ retry {n} at {time} UTC").format(
            n=line.attempts + 1, time=line.next_attempt_at.strftime("%H:%M")
        )
    return _("⏳ waiting")


def _line(line: LogLine) -> str:
    order = f" #{line.number}" if line.number is not None else ""
    text = f"• {line.created_at.strftime('%m-%d %H:%M')} <code>{esc(line.event)}</code>{order}: "
    text += _state(line)
    if line.last_error and line.state != "sent":
        text += f"\n   {esc(line.last_error[:200])}"
    return text


async def log_screen(
    webhook_log: WebhookLog, shop_id: int, user_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    lines = await webhook_log.recent(shop_id, user_id=user_id)
    text = [_("📜 <b>Webhook deliveries</b>, newest first (times in UTC)")]
    text += [_line(line) for line in lines] or [_("Nothing sent yet.")]
    builder = InlineKeyboardBuilder()
    failed = [line for line in lines if line.state == "failed" or line.attempts]
    for line in failed[:RETRY_BUTTONS]:
        order = f" #{line.number}" if line.number is not None else ""
        builder.button(
            text=_("🔁 Retry {event}{order} now").format(event=line.event, order=order),
            callback_data=WebhookLogCB(act=LogAct.RETRY, shop=shop_id, row=line.id).pack(),
        )
    if any(line.state == "failed" for line in lines):
        builder.button(
            text=_("🔁 Retry every failed one"),
            callback_data=WebhookLogCB(act=LogAct.RETRY_ALL, shop=shop_id).pack(),
        )
    from handlers.telegram.api_tokens import TokensAct, TokensCB

    builder.button(
        text=_("🔄 Refresh"), callback_data=WebhookLogCB(act=LogAct.SHOW, shop=shop_id).pack()
    )
    builder.button(
        text=_("↩️ Back"), callback_data=TokensCB(act=TokensAct.MENU, shop=shop_id).pack()
    )
    builder.adjust(1)
    return "\n".join(text)[:4000], builder.as_markup()


async def _redraw(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup) -> None:
    try:
        await query.message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as error:
        if "message is not modified" not in error.message:
            raise


async def show_log(
    query: CallbackQuery, callback_data: WebhookLogCB, user: Person, webhook_log: WebhookLog
) -> None:
    text, markup = await log_screen(webhook_log, callback_data.shop, user.id)
    await _redraw(query, text, markup)


async def retry(
    query: CallbackQuery,
    callback_data: WebhookLogCB,
    user: Person,
    webhook_log: WebhookLog,
    callback_answer: CallbackAnswer,
) -> None:
    row = callback_data.row if callback_data.act is LogAct.RETRY else None
    count = await webhook_log.retry(callback_data.shop, user_id=user.id, row_id=row)
    callback_answer.text = _("Sending again now: {count}.").format(count=count)
    text, markup = await log_screen(webhook_log, callback_data.shop, user.id)
    await _redraw(query, text, markup)


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(show_log, WebhookLogCB.filter(F.act == LogAct.SHOW))
    router.callback_query.register(
        retry, WebhookLogCB.filter(F.act.in_({LogAct.RETRY, LogAct.RETRY_ALL}))
    )
    return router
