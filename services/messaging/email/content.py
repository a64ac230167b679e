"""What an e-mail outbox row says, and to whom (SPEC D1, D2): the order as it is when the mail
is sent, rendered in the reader's language, with the buyer's one-click links.

`MailContentReader.read(row, now)` reads the order (items, buyer), its shop and workflow, and
the dialog message for `dialog_to_buyer`, in one read-only session, and gives a `Mail`: the
recipient, both parts and the subject, Reply-To, a Message-ID that stays the same when the
row is built again, and References that thread an order's mails together. None when there
is nobody to send to: the shop or the buyer has no e-mail address, the order is gone.
`services.messaging.email.compose.compose(mail, ...)` makes the message to send.

Who reads what:
  - `new_order` (audience shop): to the shop's address, in the shop's language; the order with
    the buyer's contacts; Reply-To the buyer's e-mail, so answering writes to the buyer.
  - every other topic (audience buyer): to the buyer's address, in the buyer's language (else
    the shop's); Reply-To the order's signed reply address, so an answer lands in the order's
    dialog (handlers.email.replies); links `{public_url}/l/{token}` for each action the
    buyer may take now (handlers.http.links.pages), and the order's Telegram deep link when
    the bot is known.

The template context (every key is always there; see services/messaging/email/templates):
  audience      "buyer" | "shop"
  shop_name     the shop's name
  order         number, created (date and time in the shop's zone), lines (name, sku,
                quantity, unit_price, discount ("" when none), amount), more (lines not shown),
                items_total, discount ("" when none), delivery_method, delivery_cost,
                delivery_address, payment_method (method codes), total, comment, paid ("" when
                nothing), due (what the buyer still owes, "" when nothing), refund_due (what
                the shop owes back, "" when nothing); amounts are formatted for the language
  status        the title of the order's status now
  event_status  status_changed: the title of the status the row announces (else `status`)
  next_step     buyer: "pay" | "act" | "done" | "closed" | "wait"; shop: "open"
  track         {code, carrier} while a shipped order is on its way, else None
  payment       {total, instructions ("" when the shop has none)} in payment statuses, else None
  actions       [{code, title, url, danger}]: the buyer's one-click links (cancellations last)
  link_days     how many days the links work
  telegram_url  the buyer's deep link to the order / the bot for the shop; None: no bot known
  invoice_url   buyer: a signed link to the order's invoice (PDF), from the moment it is placed
  buyer         {name, phone, email}
  message       dialog_to_buyer: {text, files: [{name, kind}]} (files not attached), else None
  change        order_changed: the edit ("edit_items", "change_delivery", ...), else None
  from_number   order_split: the number of the order it was split from, else None
  reminder      reminder: the timer's message ("payment_reminder", ...), else None
  reason        status_changed to a cancellation: {title, comment ("" when none)}, else None
  feedback      return_to_buyer: {step, return_id, lines: [{name, quantity}], amount (a
                refund's: paid back), paid_back, off_due (taken off what the buyer owed, ""
                when nothing), reject_reason}; review_answer: {answer}; else None
  reply_note    "shop": replies reach the shop; "buyer": replies reach the buyer; "none"
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.deliveries.views import link_of
from services.documents.service import INVOICE_STATUSES, DocumentService
from services.messaging.email.formatting import money, one_line, phone, when
from services.messaging.email.invoice import attaches_invoice
from services.messaging.email.links import DOWNLOAD_INVOICE, LINK_LIFETIME, LinkSigner
from services.messaging.email.order_read import read_only_engine, read_order
from services.messaging.email.render import MailRenderer, language_of
from services.messaging.notifications.recipients import UnknownTopic
from services.orders.decisions import facts
from services.payments.instructions import payment_text
from services.payments.settings import PAY_BY_CARD, takes_yookassa
from services.time.clock import SystemClock
from services.vocabulary import DEFAULT_LANGUAGE
from services.workflow.definition import ActorKind, Input, StatusKind, Workflow
from services.workflow.engine import ActionOption, Actor, available_actions, reasons_for
from services.workflow.store import WorkflowStore
from storage.database import reading
from storage.models import DialogFile, DialogMessage, Order, OutboxMessage, Shop

SHOP_TOPICS = frozenset({"new_order"})
BUYER_TOPICS = frozenset(
    {
        "order_created",
        "status_changed",
        "order_changed",
        "order_split",
        "reminder",
        "dialog_to_buyer",
        "return_to_buyer",  # services.money.returns
        "review_request",  # services.buyers.reviews
        "review_answer",
    }
)
TOPICS = SHOP_TOPICS | BUYER_TOPICS
# Statuses in which the buyer is to pay: their mail says how (as their card's "How to pay",
# handlers.telegram.card_view.PAYMENT_STATUSES), with the shop's own words when it has them.
PAYMENT_STATUSES = frozenset({"awaiting_payment"})
PAYMENT_INSTRUCTIONS = "payment_instructions"  # the shop's settings key
MAX_INSTRUCTIONS = 4000  # the shop's words (3000 at most) and its bank details
MAX_FIELD = 1000  # characters of one name or address in a mail
MAX_LINES = 100  # goods listed in one mail; the totals always count them all
_BOT_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


@dataclass(frozen=True)
class Mail:
    """One e-mail, ready to be composed (services.messaging.email.compose)."""

    to_address: str
    to_name: str
    language: str
    subject: str
    text: str
    html: str
    reply_to: str | None
    message_id: str  # "<outbox-12.3f9a…@reply.domain>": the same each time the row is built
    references: list[str]  # ["<order-7@reply.domain>"]: an order's mails thread together
    attachments: list[tuple[str, str, bytes]]  # (file name, content type, data)
    from_name: str = "ShopBot"  # "Shop via ShopBot", in the mail's language
    date: datetime | None = None  # when it was built (the Date header)
    topic: str = ""


def message_id(row: OutboxMessage, domain: str) -> str:
    """Deterministic per outbox row: a row sent twice (a crash after the server took it) is
    recognised by mail clients as one message."""
    digest = hashlib.sha256(row.dedupe_key.encode()).hexdigest()[:16]
    return f"<outbox-{row.id}.{digest}@{domain}>"


def order_reference(order_id: int, domain: str) -> str:
    return f"<order-{order_id}@{domain}>"


class MailContentReader:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        workflows: WorkflowStore,
        signer: LinkSigner,
        *,
        public_url: str,
        reply_domain: str,
        bot_username: str | None,
        renderer: MailRenderer | None = None,
        documents: DocumentService | None = None,
    ):
        reply_domain = (reply_domain or "").strip().lower()
        if not _DOMAIN.match(reply_domain):
            raise ValueError(f"not a mail domain for replies: {reply_domain!r}")
        bot_username = (bot_username or "").strip().removeprefix("@") or None
        if bot_username is not None and not _BOT_USERNAME.match(bot_username):
            raise ValueError(f"not a Telegram bot username: {bot_username!r}")
        public_url = (public_url or "").strip().rstrip("/")
        if not public_url.startswith(("https://", "http://")):
            raise ValueError(f"the public URL must start with http(s)://: {public_url!r}")
        self._sessions = sessions
        # Mails read on a connection of their own that only reads: no session, no write lock.
        self._reads = read_only_engine(sessions)
        self._workflows = workflows
        # A workflow version never changes (services.workflow.store): the ones met are kept,
        # so that a mail needs no session to look its version up.
        self._known_workflows: dict[int, Workflow] = {}
        self._signer = signer
        self._public_url = public_url
        self._domain = reply_domain
        self._bot = bot_username
        self._renderer = renderer or MailRenderer()
        # The invoice attached to the buyer's "awaiting payment" mail (E3), when the shop
        # asks for it; otherwise the mail's invoice link is the invoice.
        self._documents = documents or DocumentService(sessions, SystemClock())

    async def read(self, row: OutboxMessage, now: datetime) -> Mail | None:
        """The mail of an e-mail outbox row; None when there is nobody to send it to.
        Raises UnknownTopic for a topic that has no e-mail (the pump should fail the row)."""
        if row.topic not in TOPICS:
            raise UnknownTopic(row.topic)
        if row.order_id is None:
            return None
        # The order, its buyer, items and shop in one statement on a read-only connection,
        # as plain rows (order_read: the ORM's loading was most of a mail's cost).
        async with self._reads.connect() as connection:
            found = await read_order(connection, row.order_id)
        if found is None:
            return None
        order, shop = found
        dialog, files = None, []
        workflow = self._known_workflows.get(order.workflow_id)
        if row.topic == "dialog_to_buyer" or workflow is None:
            async with reading(self._sessions) as session:
                if row.topic == "dialog_to_buyer":
                    dialog_id = (row.payload or {}).get("dialog_message_id")
                    dialog = await session.get(DialogMessage, dialog_id) if dialog_id else None
                    if dialog is None or dialog.order_id != order.id:
                        return None
                    files = list(
                        await session.scalars(
                            select(DialogFile)
                            .where(DialogFile.dialog_message_id == dialog.id)
                            .order_by(DialogFile.id)
                        )
                    )
                if workflow is None:
                    workflow = await self._workflows.get(session, order.workflow_id)
                    self._known_workflows[order.workflow_id] = workflow
        mail = self._mail(row, order, shop, workflow, dialog, files, now)
        attach = attaches_invoice(shop)
        return await self._with_invoice(row, order, mail, now) if attach else mail

    async def _with_invoice(
        self, row: OutboxMessage, order: Order, mail: Mail | None, now: datetime
    ) -> Mail | None:
        """The buyer's news that the order awaits payment carries the invoice as a PDF, for
        shops that ask for it (services.messaging.email.invoice); every other mail has only
        the link to it."""
        status = (row.payload or {}).get("status") or order.status
        if mail is None or row.topic != "status_changed" or status not in INVOICE_STATUSES:
            return mail
        invoice = await self._documents.invoice_for_buyer(order.id, mail.language, now)
        if invoice is None:
            return mail
        attachment = (invoice.name, "application/pdf", invoice.pdf)
        return replace(mail, attachments=[*mail.attachments, attachment])

    # -- building --------------------------------------------------------------------------

    def _mail(
        self,
        row: OutboxMessage,
        order: Order,
        shop: Shop,
        workflow: Workflow,
        dialog: DialogMessage | None,
        files: list[DialogFile],
        now: datetime,
    ) -> Mail | None:
        buyer = order.buyer
        for_shop = row.topic in SHOP_TOPICS
        if for_shop:
            address, name = (shop.email or "").strip(), shop.name
            language = language_of(shop.language)
        else:
            address, name = (buyer.email or "").strip(), buyer.name
            language = language_of(buyer.language or shop.language)
        if not address:
            return None
        context = self._context(row, order, shop, workflow, language, dialog, files, now)
        content = self._renderer.render(row.topic, context, language)
        if for_shop:
            reply_to = (buyer.email or "").strip() or None
        else:
            reply_to = self._signer.reply_address(order.id, self._domain)
        return Mail(
            to_address=address,
            to_name=_line(name),
            language=language,
            subject=content.subject,
            text=content.text,
            html=content.html,
            reply_to=reply_to,
            message_id=message_id(row, self._domain),
            references=[order_reference(order.id, self._domain)],
            attachments=[(f.name, f.content_type, f.data) for f in files],
            from_name=self._renderer.sender_name(shop.name, language),
            date=now,
            topic=row.topic,
        )

    def _context(
        self,
        row: OutboxMessage,
        order: Order,
        shop: Shop,
        workflow: Workflow,
        language: str,
        dialog: DialogMessage | None,
        files: list[DialogFile],
        now: datetime,
    ) -> dict[str, Any]:
        for_shop = row.topic in SHOP_TOPICS
        payload = row.payload or {}
        buyer = order.buyer
        status = _status(workflow, order.status)
        context: dict[str, Any] = {
            "audience": "shop" if for_shop else "buyer",
            "shop_name": _line(shop.name),
            "order": _order(order, shop, language),
            "status": _title(workflow, order.status, language),
            "event_status": _title(workflow, payload.get("status") or order.status, language),
            "next_step": "open",
            "track": None,
            "payment": None,
            "actions": [],
            "link_days": LINK_LIFETIME.days,
            "telegram_url": f"https://t.me/{self._bot}" if self._bot else None,
            "invoice_url": None,
            "buyer": {
                "name": _line(buyer.name),
                "phone": _line(phone(buyer.phone)),
                "email": _line(buyer.email),
            },
            "message": _message(dialog, files),
            "change": payload.get("action") if row.topic == "order_changed" else None,
            "from_number": payload.get("from_number") if row.topic == "order_split" else None,
            "reminder": payload.get("message") if row.topic == "reminder" else None,
            "reason": _reason(row, workflow, language),
            "reply_note": "buyer" if buyer.email else "none",
            # A return's step or a review's answer.
            "feedback": _feedback(row.topic, payload, order.currency, language),
            # the day agreed with the buyer to send the goods (issue 18)
            "sending_date": (
                order.delivery_date.strftime("%d.%m.%Y") if order.delivery_date else None
            ),
            "courier": (
                {"window": _line(order.courier_window), "phone": order.courier_phone or "—"}
                if order.courier_window
                else None
            ),
        }
        if for_shop:
            return context
        final = status is not None and status.is_final
        if order.track_code and not final:
            context["track"] = {
                "code": _line(order.track_code),
                "carrier": _line(order.carrier),
                "url": link_of(order),  # the carrier's own page (issue 18)
            }
        if order.status in PAYMENT_STATUSES:
            instructions = payment_text(shop.settings, language, shop.language)
            context["payment"] = {
                "total": money(order.total, order.currency, language),
                "instructions": instructions[:MAX_INSTRUCTIONS],
                "pay_url": None,
            }
            if takes_yookassa(shop.settings):
                # A signed link of the bot's that opens YooKassa's page (handlers.http.payments).
                token = self._signer.action_token(order.id, order.buyer_id, PAY_BY_CARD, now)
                context["payment"]["pay_url"] = f"{self._public_url}/payments/pay/{token}"
        actions = self._actions(order, workflow, language, now)
        context["actions"] = actions
        if context["payment"] is not None:
            next_step = "pay"
        elif final:
            next_step = "done" if status.kind is StatusKind.FINAL_SUCCESS else "closed"
        elif actions:
            next_step = "act"
        else:
            next_step = "wait"
        context["next_step"] = next_step
        context["telegram_url"] = (
            f"https://t.me/{self._bot}?start={order.buyer_token}" if self._bot else None
        )
        # Seed 002: the invoice is the buyer's from the moment the order is placed.
        invoice = self._signer.action_token(order.id, order.buyer_id, DOWNLOAD_INVOICE, now)
        context["invoice_url"] = f"{self._public_url}/l/{invoice}"
        context["reply_note"] = "shop"
        return context

    def _actions(
        self, order: Order, workflow: Workflow, language: str, now: datetime
    ) -> list[dict[str, Any]]:
        """A link for each action the buyer may take now, as their card's buttons; a
        cancellation only when there is a reason the buyer may give (the page asks for it)."""
        links = []
        for option in available_actions(workflow, facts(order), Actor.buyer()):
            danger = _is_cancellation(option, workflow)
            if Input.REASON in option.inputs and not reasons_for(
                workflow, order.status, ActorKind.BUYER
            ):
                continue
            token = self._signer.action_token(order.id, order.buyer_id, option.code, now)
            links.append(
                {
                    "code": option.code,
                    "title": _pick(option.title, language) or option.code,
                    "url": f"{self._public_url}/l/{token}",
                    "danger": danger,
                }
            )
        return sorted(links, key=lambda link: link["danger"])  # stable: the workflow's order


def _order(order: Order, shop: Shop, language: str) -> dict[str, Any]:
    def amount(value: int) -> str:
        return money(value, order.currency, language)

    items = list(order.items)
    return {
        "number": order.number,
        # The storefront's own number ("#1001"), what its buyer knows the order by.
        "storefront_number": _line(order.storefront_number),
        "created": when(order.created_at, shop.timezone, language),
        "lines": [
            {
                "name": _line(item.name),
                "sku": _line(item.sku),
                "quantity": item.quantity,
                "unit_price": amount(item.unit_price),
                "discount": amount(item.discount) if item.discount else "",
                "amount": amount(item.line_total),
            }
            for item in items[:MAX_LINES]
        ],
        "more": max(0, len(items) - MAX_LINES),
        "items_total": amount(order.items_total),
        "discount": amount(order.discount) if order.discount else "",
        "delivery_method": order.delivery_method,
        "delivery_cost": amount(order.delivery_cost),
        "delivery_address": _line(order.delivery_address),
        "payment_method": order.payment_method,
        "total": amount(order.total),
        "comment": order.buyer_comment or "",
        # Once paid (issue 14): what was paid, and what an edit left open either way.
        "paid": amount(order.amount_paid) if order.amount_paid else "",
        "due": amount(order.balance_due) if order.balance_due > 0 else "",
        "refund_due": amount(-order.balance_due) if order.balance_due < 0 else "",
    }


def _reason(row: OutboxMessage, workflow: Workflow, language: str) -> dict[str, str] | None:
    """Why the order was cancelled, when the status change says (seed 003: the shop gives a
    reason from the list, "other" with a comment, and tells the buyer)."""
    payload = row.payload or {}
    code, comment = payload.get("reason"), payload.get("comment")
    if row.topic != "status_changed" or not (code or comment):
        return None
    reason = workflow.reason(code) if code else None
    title = _pick(reason.title, language) if reason is not None else ""
    return {"title": _line(title or code or ""), "comment": _line(comment or "")}


def _message(dialog: DialogMessage | None, files: list[DialogFile]) -> dict[str, Any] | None:
    """The shop's message; files sent from Telegram cannot travel by mail: they are named.
    (Files kept in the database, DialogFile, are attached instead.)"""
    if dialog is None:
        return None
    listed = [
        {"name": _line(a.get("name")), "kind": str(a.get("kind") or "document")}
        for a in (dialog.attachments or [])
        if not files or a.get("file_id")
    ]
    return {"text": dialog.text or "", "files": listed}


def _line(text: Any) -> str:
    """A name or a code from shops and buyers, as one line (multi-line texts keep theirs)."""
    return one_line(str(text or ""), MAX_FIELD)


def _status(workflow: Workflow, code: str):
    try:
        return workflow.status(code)
    except KeyError:
        return None


def _title(workflow: Workflow, code: str, language: str) -> str:
    status = _status(workflow, code)
    return (_pick(status.title, language) if status is not None else "") or code


def _pick(titles, language: str) -> str:
    return titles.get(language) or titles.get(DEFAULT_LANGUAGE) or next(iter(titles.values()), "")


def _is_cancellation(option: ActionOption, workflow: Workflow) -> bool:
    if Input.REASON in option.inputs:
        return True
    target = _status(workflow, option.target)
    return target is not None and target.kind is StatusKind.FINAL_FAILURE


def _feedback(topic: str, payload: dict, currency: str, language: str) -> dict | None:
    """What a return's or a review's e-mail says beyond the order."""
    if topic == "return_to_buyer":
        # A refund says what was paid back; what came off a debt is said apart.
        amount = int(payload.get("refunded", payload.get("amount")) or 0)
        return {
            "step": payload.get("step"),
            "return_id": payload.get("return_id"),
            "lines": [{"name": name, "quantity": n} for name, n in payload.get("lines") or []],
            "amount": money(amount, currency, language),
            "paid_back": amount > 0,
            "off_due": (
                money(int(payload["off_due"]), currency, language) if payload.get("off_due") else ""
            ),
            "reject_reason": payload.get("reject_reason") or "",
        }
    if topic == "review_answer":
        return {"answer": payload.get("answer") or ""}
    return None
