"""The Telegram side of the notification pump: each delivery written in its reader's language
and sent with aiogram, Telegram's answer turned into the pump's outcome.

The pump (services/messaging/notifications/pump.py) decides who gets what, when, and how often it is
tried; this module only renders and sends one message, and never retries by itself: give it a
`Bot` whose session does not wait out flood control (`build_bot(..., wait_out_floods=False)`),
so a 429 comes back to the pump, which pauses that chat and paces the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    ReplyParameters,
)
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from handlers.telegram import return_notices, storefront_notices
from handlers.telegram import reviews as review_notices
from handlers.telegram.card_edits import edit_card
from handlers.telegram.card_view import (
    PAYMENT_STATUSES,
    card_digest,
    card_keyboard,
    card_text,
    money_lines,
)
from handlers.telegram.format import esc, money, role_name
from handlers.telegram.order_list_view import ListAct, ListCB
from handlers.telegram.pay import pay_buttons
from services.deliveries.views import link_of
from services.documents.service import INVOICE_STATUSES, Document, DocumentService
from services.messaging.cards import CardRegistry
from services.messaging.dialog import DialogService, EmailedFile
from services.messaging.notifications.content import Notice, NoticeReader
from services.messaging.notifications.pump import (
    Outcome,
    Outgoing,
    Permanent,
    RetryAfter,
    Sent,
    Transient,
)
from services.messaging.notifications.recipients import BUYER, COPY, EDIT_CARD, SHOP_TOPICS
from services.orders.actors import ActorRef
from services.orders.service import OrderService
from services.payments.instructions import payment_text
from services.refusals import OrderRefused
from services.storefront.callbacks import CallbackRequests

log = logging.getLogger(__name__)

# Room for the tag ("💬 #12 · Ivan: ") inside Telegram's limits of 4096 (text), 1024 (caption).
TEXT_ROOM = 3800
CAPTION_ROOM = 900
MORE_FILES_ROOM = 200  # of CAPTION_ROOM: the names of an e-mail's other files
# Telegram's answers meaning the card can no longer be edited: forget it.
CARD_GONE = ("message to edit not found", "message can't be edited", "chat not found")


class TelegramSender:
    """`deliver(delivery) -> Outcome`, the pump's sender, through aiogram."""

    def __init__(
        self,
        bot: Bot,
        *,
        dialog: DialogService,
        orders: OrderService,
        cards: CardRegistry,
        notices: NoticeReader,
        documents: DocumentService,
        callbacks: CallbackRequests,
        i18n: I18n,
    ):
        self._bot = bot
        self._dialog = dialog
        self._orders = orders
        self._cards = cards
        self._notices = notices
        self._documents = documents
        self._i18n = i18n
        self._callbacks = callbacks

    async def deliver(self, delivery: Outgoing) -> Outcome:
        try:
            notice = await self._notices.read(delivery)
            if delivery.topic in SHOP_TOPICS:
                return await self._send_shop_notice(delivery, notice)
            if notice.order is None:
                return Permanent("the order is gone")
            if delivery.kind == EDIT_CARD:
                return await self._edit_card(delivery, notice)
            return await self._send(delivery, notice)
        except TelegramRetryAfter as flood:
            return RetryAfter(flood.retry_after)
        except TelegramBadRequest as error:
            if "message is not modified" in error.message:
                return Sent(delivery.target_message_id or None)
            return Permanent(f"bad request: {error.message}")
        except (
            TelegramForbiddenError,
            TelegramNotFound,
            TelegramEntityTooLarge,
            TelegramMigrateToChat,
        ) as error:
            # Blocked, kicked, never started the bot, the group became a supergroup: sending
            # again would be refused the same way.
            return Permanent(f"{type(error).__name__}: {error.message}")
        except TelegramAPIError as error:
            # TelegramNetworkError, TelegramServerError, and what else Telegram may answer.
            return Transient(f"{type(error).__name__}: {error.message}")

    # -- about the shop, not one order (H4) ---------------------------------------------------

    async def _send_shop_notice(self, delivery: Outgoing, notice: Notice) -> Outcome:
        with self._i18n.context(), self._i18n.use_locale(notice.language):
            rendered = await storefront_notices.render(delivery, notice, self._callbacks)
        if rendered is None:
            return Permanent("what it was about is gone")
        text, markup = rendered
        sent = await self._bot.send_message(delivery.chat_id, text, reply_markup=markup)
        return Sent(sent.message_id)

    # -- a new message -------------------------------------------------------------------

    async def _send(self, delivery: Outgoing, notice: Notice) -> Outcome:
        files = await self._emailed_files(delivery, notice)
        if files:
            return await self._send_files(delivery, notice, files)
        invoice = await self._invoice(delivery, notice)
        if invoice is not None:
            return await self._send_invoice(delivery, notice, invoice)
        with self._i18n.context(), self._i18n.use_locale(notice.language):
            text, markup = render(
                delivery, notice, CAPTION_ROOM if _copies(delivery, notice) else TEXT_ROOM
            )
        if _copies(delivery, notice):
            # A photo or a file the person sent: copied as it is, the tag as its caption.
            copied = await self._bot.copy_message(
                chat_id=delivery.chat_id,
                from_chat_id=notice.dialog.telegram_chat_id,
                message_id=notice.dialog.telegram_message_id,
                caption=text,
                reply_markup=markup,
            )
            return Sent(copied.message_id)
        sent = await self._bot.send_message(delivery.chat_id, text, reply_markup=markup)
        return Sent(sent.message_id)

    # -- the invoice with the buyer's "awaiting payment" (E3) ------------------------------

    async def _invoice(self, delivery: Outgoing, notice: Notice) -> Document | None:
        status = delivery.data.get("status") or notice.order.status
        if delivery.to != BUYER or delivery.topic != "status_changed":
            return None
        if status not in INVOICE_STATUSES:
            return None
        try:
            return await self._documents.invoice_for_buyer(notice.order.id, notice.language)
        except Exception:
            # The news matters more than its attachment: it goes as text, the buyer can
            # still download the invoice from their card.
            log.exception("delivery %s: the invoice could not be made", delivery.id)
            return None

    async def _send_invoice(self, delivery: Outgoing, notice: Notice, invoice: Document) -> Outcome:
        """The news as the caption of the invoice: one call, so it arrives whole or not at
        all and a retry never sends the text twice."""
        with self._i18n.context(), self._i18n.use_locale(notice.language):
            caption, markup = render(delivery, notice, CAPTION_ROOM)
        message_id, _ = await self._document_or_text(
            delivery, notice, invoice.pdf, invoice.name, caption, markup
        )
        return Sent(message_id)

    async def _document_or_text(
        self,
        delivery: Outgoing,
        notice: Notice,
        data: bytes,
        name: str,
        caption: str,
        markup: InlineKeyboardMarkup | None,
    ) -> tuple[int, bool]:
        """One call: the file with the news as its caption; if Telegram refuses the file (a
        bad request), the news as plain text instead. A chat that is gone refuses the text
        the same way: that is then the outcome. Returns the message id and whether the file
        went."""
        try:
            sent = await self._bot.send_document(
                delivery.chat_id,
                BufferedInputFile(data, filename=name),
                caption=caption,
                reply_markup=markup,
            )
            return sent.message_id, True
        except TelegramBadRequest as error:
            log.warning("delivery %s: the file was refused (%s); text only", delivery.id, error)
            with self._i18n.context(), self._i18n.use_locale(notice.language):
                text, markup = render(delivery, notice, TEXT_ROOM)
            sent = await self._bot.send_message(delivery.chat_id, text, reply_markup=markup)
            return sent.message_id, False

    # -- files a buyer e-mailed ----------------------------------------------------------

    async def _emailed_files(self, delivery: Outgoing, notice: Notice) -> list[EmailedFile]:
        """The files of a buyer's e-mail reply being relayed to the shop (none otherwise)."""
        dialog = notice.dialog
        if (
            delivery.topic != "dialog_to_shop"
            or dialog is None
            or dialog.channel != "email"
            or not dialog.attachments
        ):
            return []
        return await self._dialog.emailed_files(dialog.id)

    async def _send_files(
        self, delivery: Outgoing, notice: Notice, files: list[EmailedFile]
    ) -> Outcome:
        """An e-mail reply with files, relayed as documents.

        One delivery is one call that decides its outcome: the first file as a document whose
        caption carries the tag, the text and the names of the other files. It either arrives
        whole (text and all) or not at all, and the pump retries it whole, so the text can
        neither be lost nor sent twice by a partial failure. If Telegram refuses the file
        itself (a bad request), the text goes as a plain message naming the files instead.

        The other files then follow as documents replying to it (one sendDocument, or one
        sendMediaGroup for several), best effort: their failure does not make the delivery
        fail or be retried (the first message would come twice); it is logged, the caption
        has already named them, and they stay in the database (dialog_files). They are
        recorded as relays of the same message, so a staff reply to any of them reaches the
        buyer too."""
        first, more = files[0], files[1:]
        with self._i18n.context(), self._i18n.use_locale(notice.language):
            caption, markup = render(
                delivery, notice, CAPTION_ROOM, documents=[f.name for f in files]
            )
        message_id, file_went = await self._document_or_text(
            delivery, notice, first.data, first.name, caption, markup
        )
        if file_went and more:
            await self._send_more_files(delivery, notice, message_id, more)
        return Sent(message_id)

    async def _send_more_files(
        self, delivery: Outgoing, notice: Notice, first_id: int, files: list[EmailedFile]
    ) -> None:
        reply = ReplyParameters(message_id=first_id, allow_sending_without_reply=True)
        try:
            if len(files) == 1:
                [file] = files
                sent = [
                    await self._bot.send_document(
                        delivery.chat_id,
                        BufferedInputFile(file.data, filename=file.name),
                        reply_parameters=reply,
                    )
                ]
            else:
                sent = await self._bot.send_media_group(
                    delivery.chat_id,
                    [
                        InputMediaDocument(media=BufferedInputFile(f.data, filename=f.name))
                        for f in files
                    ],
                    reply_parameters=reply,
                )
        except TelegramAPIError as error:
            log.warning(
                "delivery %s: %d more e-mailed files not sent: %s", delivery.id, len(files), error
            )
            return
        try:
            await self._dialog.record_relays(
                notice.dialog.id,
                notice.dialog.order_id,
                delivery.chat_id,
                [message.message_id for message in sent],
            )
        except Exception:
            log.exception("delivery %s: the relays of the further files not recorded", delivery.id)

    # -- a card redrawn ------------------------------------------------------------------

    async def _edit_card(self, delivery: Outgoing, notice: Notice) -> Outcome:
        try:
            view = await self._orders.view(delivery.order_id, ActorRef.user(delivery.user_id))
        except OrderRefused as refusal:
            # The person may no longer see the order (left the shop): the card stays as it was.
            await self._cards.forget(delivery.chat_id, delivery.target_message_id)
            return Permanent(f"the card's reader may not see the order: {refusal}")
        with self._i18n.context(), self._i18n.use_locale(notice.language):
            text, markup = card_text(view, notice.language), card_keyboard(view, notice.language)
        chat_id, message_id = delivery.chat_id, delivery.target_message_id
        digest = card_digest(text, markup)
        if await self._cards.digest(chat_id, message_id) == digest:
            # Drawn so already (the tap that made the change redrew its own card): a second
            # drawing would only earn "message is not modified".
            return Sent(message_id)
        try:
            await edit_card(self._bot, chat_id, message_id, text, markup)
        except TelegramBadRequest as error:
            if any(gone in error.message for gone in CARD_GONE):
                await self._cards.forget(chat_id, message_id)
            if "message is not modified" not in error.message:
                raise
        await self._cards.drawn(chat_id, message_id, digest, edited=True)
        return Sent(message_id)


def _copies(delivery: Outgoing, notice: Notice) -> bool:
    dialog = notice.dialog
    return (
        delivery.kind == COPY
        and dialog is not None
        and dialog.telegram_chat_id is not None
        and dialog.telegram_message_id is not None
    )


def render(
    delivery: Outgoing,
    notice: Notice,
    room: int = TEXT_ROOM,
    *,
    documents: Sequence[str] = (),
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The text and buttons of a notification, in the current locale (`i18n.use_locale`).

    `documents`: the names of a dialog message's files when they are sent as documents and
    this is the first one's caption (its name Telegram shows; the others are listed)."""
    order, shop, data = notice.order, notice.shop, delivery.data
    number = order.number
    total = money(order.total, order.currency, notice.language)
    shop_name = esc(shop.name)
    status = esc(notice.status_title(data.get("status")))
    topic = delivery.topic
    if topic == "new_order":
        text = _("🆕 New order #{number} · {total}").format(number=number, total=total)
        return text, _open(order.id)
    if topic == "order_assigned":
        text = _("📌 Order #{number}: {status}. Your turn as {role}.").format(
            number=number, status=status, role=esc(role_name(data.get("role") or ""))
        )
        return text, _open(order.id)
    if topic == "buyer_acted":
        lines = [
            _("👤 The buyer of order #{number}: «{action}». Now: {status}").format(
                number=number,
                action=esc(notice.action_title(data.get("action"), data.get("from_status"))),
                status=status,
            ),
            *reason_lines(notice, data),
        ]
        return "\n".join(lines), _open(order.id)
    if topic == "status_changed":
        lines = [
            _("Order #{number} at {shop}: {status}").format(
                number=number, shop=shop_name, status=status
            ),
            *reason_lines(notice, data),
        ]
        checkpoint = data.get("checkpoint") or {}
        if checkpoint.get("description"):  # what the carrier said (issue 18)
            where = f", {esc(checkpoint['location'])}" if checkpoint.get("location") else ""
            lines.append(f"📍 {esc(checkpoint['description'])}{where}")
        code = data.get("status") or order.status
        if order.track_code and not notice.is_final(code):
            # On its way: where to follow it.
            lines.append(
                _("Track code: <code>{code}</code> ({carrier})").format(
                    code=esc(order.track_code), carrier=esc(order.carrier or "")
                )
            )
            link = link_of(order)
            if link:
                lines.append(
                    '<a href="{url}">{text}</a>'.format(url=esc(link), text=_("Follow the parcel"))
                )
        markup = None
        if code in PAYMENT_STATUSES and delivery.to == BUYER:
            # How to pay, right in the message that asks for the money (issue 17).
            how = payment_text(shop.settings, notice.language, shop.language)
            if how:
                used = sum(len(line) + 1 for line in lines) + 2
                lines += ["", esc(_cut(how, room - used))]
            buttons = pay_buttons(order.id, shop.settings)
            if buttons:
                markup = InlineKeyboardMarkup(inline_keyboard=[buttons])
        return "\n".join(lines), markup
    if topic == "order_created":
        text = _("Your order #{number} at {shop} is placed: {total}.").format(
            number=number, shop=shop_name, total=total
        )
        status_line = _("Status: <b>{status}</b>").format(status=status)
        return f"{text}\n{status_line}", None
    if topic == "order_changed":
        if data.get("action") == "payment_recorded":
            text = _("{shop} has received your payment of {amount} for order #{number}.")
        elif data.get("action") == "refund_recorded":
            text = _("{shop} has sent you back {amount} for order #{number}.")
        elif data.get("action") == "set_courier" and order.courier_window:
            text = (
                _("The courier of {shop} comes with order #{number}: {window}. Phone: {phone}")
                .replace("{window}", esc(order.courier_window))
                .replace("{phone}", esc(order.courier_phone or "—"))
            )
        elif data.get("action") == "set_delivery_date" and order.delivery_date:
            text = _("{shop} will send your order #{number} on {date}.").replace(
                "{date}", order.delivery_date.strftime("%d.%m.%Y")
            )
        else:
            text = _("Your order #{number} at {shop} was changed. Total: {total}")
        amount = money(int(data.get("amount") or 0), order.currency, notice.language)
        lines = [text.format(number=number, shop=shop_name, total=total, amount=amount)]
        lines += money_lines(order, notice.language)
        return "\n".join(lines), None
    if topic == "order_split":
        text = _("Part of your order #{from_number} at {shop} is now order #{number}: {total}")
        return text.format(
            from_number=data.get("from_number", "?"), shop=shop_name, number=number, total=total
        ), None
    if topic == "reminder":
        if data.get("message") == "payment_reminder":
            text = _(
                "⏰ Order #{number} at {shop} is waiting for your payment: {total}. "
                "Open it with /my to see how to pay."
            ).format(number=number, shop=shop_name, total=total)
        else:
            text = _("⏰ A reminder about your order #{number} at {shop}: {status}").format(
                number=number, shop=shop_name, status=status
            )
        return text, None
    if topic == "shop_reminder":
        if data.get("message") == "carrier_stalled":  # issue 18: no movement for days
            days = int((data.get("stalled") or {}).get("days") or 0)
            text = ngettext(
                "📦 Order #{number}: the parcel has not moved at the carrier for {days} day. "
                "Check it with the carrier.",
                "📦 Order #{number}: the parcel has not moved at the carrier for {days} days. "
                "Check it with the carrier.",
                days,
            ).format(number=number, days=days)
        elif str(data.get("message") or "").startswith("carrier_"):  # issue 18: the shop acts
            checkpoint = data.get("checkpoint") or {}
            text = _(
                "📦 Order #{number}: the carrier reports “{event}”. The parcel will not "
                "reach the buyer: check it with the carrier."
            ).format(number=number, event=esc(checkpoint.get("description") or ""))
        elif data.get("message") == "pickup_not_collected":
            text = _(
                "⏰ Order #{number} has waited at the pickup point for 3 days: "
                "call the buyer and remind them."
            ).format(number=number)
        else:
            text = _("⏰ A reminder about order #{number}: {status}").format(
                number=number, status=status
            )
        return text, _open(order.id)
    if topic == "sla_expired":
        text = _("⚠️ Order #{number} is past its time limit in “{status}”.").format(
            number=number, status=status
        )
        if notice.is_final(order.status):
            text += "\n" + _("It was cancelled automatically, as the shop's settings say.")
        return text, _open(order.id)
    if topic == "payment_notice":
        amount = money(
            int(data.get("amount") or 0), data.get("currency") or order.currency, notice.language
        )
        if data.get("kind") == "refund_by_hand":
            text = _(
                "💸 Order #{number} was paid online ({amount}) and is cancelled: give the money "
                "back in the payment provider's account."
            ).format(number=number, amount=amount)
        elif data.get("kind") == "refund_failed":
            text = _(
                "⚠️ Order #{number}: the refund of {amount} through the payment provider failed. "
                "Refund it in the provider's account."
            ).format(number=number, amount=amount)
        elif data.get("kind") == "received":
            text = _("💳 Order #{number}: the buyer paid {amount} online. Now: {status}").format(
                number=number, amount=amount, status=esc(notice.status_title(order.status))
            )
        else:
            text = _(
                "⚠️ Order #{number}: a payment of {amount} arrived that does not fit the order "
                "({due} due, now «{status}»). It was not applied: check it, refund it or mark "
                "the order paid by hand."
            ).format(
                number=number,
                amount=amount,
                due=money(int(data.get("due") or 0), order.currency, notice.language),
                status=esc(notice.status_title(data.get("status"))),
            )
        return text, _open(order.id)
    if topic == "email_failed":
        # Never the mail server's own text: it may carry a relay's internals (the outbox row
        # keeps it for the operator); the only reason a shop is told is a refused address.
        if data.get("audience") == "shop":
            text = _(
                "📧 The e-mail about order #{number} could not be delivered to the shop's "
                "address: it does not exist or does not accept mail. Check the e-mail in "
                "/settings."
            )
        else:
            text = _(
                "📧 The e-mail about order #{number} could not be delivered to the buyer: "
                "their address does not exist or does not accept mail. Please reach them "
                "another way."
            )
        return text.format(number=number), _open(order.id)
    if topic == "dialog_to_shop":
        buyer = esc(order.buyer.name) or _("buyer")
        text = _("💬 #{number} · {buyer}: {text}").format(
            number=number, buyer=buyer, text=_dialog_text(notice, delivery, room, documents)
        )
        return text, _open(order.id)
    if topic == "dialog_to_buyer":
        text = _("💬 Order #{number} · {shop}: {text}").format(
            number=number, shop=shop_name, text=_dialog_text(notice, delivery, room)
        )
        return text, None
    if topic in return_notices.TOPICS:
        return return_notices.render_notice(topic, data, notice)
    if topic in review_notices.TOPICS:
        return review_notices.render_notice(topic, data, notice)
    raise ValueError(f"no text for the topic {topic!r}")


def reason_lines(notice: Notice, data: dict) -> list[str]:
    """A cancellation's reason and comment, as the person who cancelled gave them (003)."""
    lines = []
    if data.get("reason"):
        lines.append(_("Reason: {reason}").format(reason=esc(notice.reason_title(data["reason"]))))
    if data.get("comment"):
        lines.append(_("Comment: {comment}").format(comment=esc(_cut(data["comment"], 1000))))
    return lines


def _dialog_text(
    notice: Notice, delivery: Outgoing, room: int, documents: Sequence[str] = ()
) -> str:
    dialog = notice.dialog
    if dialog is None:
        return ""
    more = ""
    if len(documents) > 1:
        names = _cut(", ".join(documents[1:]), MORE_FILES_ROOM)
        more = _("📎 +{count} more: {names}").format(count=len(documents) - 1, names=esc(names))
        room -= len(more) + 1
    text = _cut(dialog.text, room)
    parts = [esc(text)] if text else []
    if documents:
        # Sent as documents: the first is this message, the others are named.
        return "\n".join([*parts, more] if more else parts)
    if dialog.attachments and not _copies(delivery, notice):
        # Files that cannot be copied from where they were sent (e-mail): named, at least.
        parts += [f"📎 {esc(a.get('name') or a.get('kind', ''))}" for a in dialog.attachments]
    return "\n".join(parts)


def _cut(text: str, room: int) -> str:
    return text if len(text) <= room else text[: max(0, room - 1)] + "…"


def _open(order_id: int) -> InlineKeyboardMarkup:
    """Opens the order's card as a new message in this chat, for whoever taps it (if they may)."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("📂 Open the order"),
                    callback_data=ListCB(act=ListAct.OPEN, id=order_id).pack(),
                )
            ]
        ]
    )
