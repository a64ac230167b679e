"""A chat as a person would read it, one line per message, keyboards underneath:

    [12:00] Ivan: /start
    [12:00] Bot: Welcome!
       [Orders] [Settings]
    [12:01] Bot: Order #12 shipped (edited)
    [12:02] Bot: [invoice Order #12: 1500.00 RUB] Two mugs
       [Pay 1500.00 RUB]
       (Ivan's payment refused: Out of stock)
       (paid by Ivan)
    [12:03] Ivan paid 1500.00 RUB for Order #12

Edited messages show their final text; deleted ones stay, marked "(deleted)". An invoice lists
every try to pay it underneath.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from bot.sandbox.invoices import CheckoutAttempt, money
from bot.sandbox.state import SandboxChat, SandboxMessage

INDENT = "   "


def render_chat(chat: SandboxChat, tz: tzinfo, *, taps: bool = False) -> str:
    """With `taps`: the buttons people tapped, in order among the messages, and a line where
    an hour or more passed ("— 2 days later —")."""
    lines: list[str] = []
    last: int | None = None

    def passing(date: int) -> None:
        nonlocal last
        if taps and last is not None and date - last >= HOUR:
            lines.append(time_passed(date - last))
        last = date

    tapped = sorted(chat.taps, key=lambda tap: tap.after) if taps else []
    for index, message in enumerate([*chat.messages, None]):
        while tapped and tapped[0].after <= index:
            tap = tapped.pop(0)
            passing(tap.date)
            time = datetime.fromtimestamp(tap.date, tz).strftime("%H:%M")
            lines.append(f"[{time}] ▶ {tap.user.first_name} taps «{tap.label}»")
        if message is not None:
            passing(message.date)
            lines.extend(render_message(message, tz))
    return "\n".join(lines)


HOUR, DAY = 3600, 86400


def time_passed(seconds: int) -> str:
    """Rounded to the nearest day or hour: the seconds the bot took on the way don't count."""
    days = round(seconds / DAY)
    if seconds >= DAY - HOUR:
        return f"— {days} day{'s' if days > 1 else ''} later —"
    hours = round(seconds / HOUR)
    return f"— {hours} hour{'s' if hours > 1 else ''} later —"


def render_message(message: SandboxMessage, tz: tzinfo) -> list[str]:
    time = datetime.fromtimestamp(message.date, tz).strftime("%H:%M")
    author = "Bot" if message.outgoing else message.sender.first_name
    service = _service_text(message)
    if service is not None:
        return [f"[{time}] {author} {service}"]
    parts = [_body(message)]
    if message.edit_date:
        parts.append("(edited)")  # the text shown is the final one
    if message.deleted:
        parts.append("(deleted)")
    head, *rest = " ".join(part for part in parts if part).split("\n")
    lines = [f"[{time}] {author}: {head}"]
    lines.extend(f"{INDENT}{line}" for line in rest)
    lines.extend(INDENT + " ".join(f"[{text}]" for text in row) for row in button_rows(message))
    if message.invoice is not None:
        lines.extend(f"{INDENT}({_attempt(attempt)})" for attempt in message.invoice.attempts)
    return lines


def button_rows(message: SandboxMessage) -> list[list[str]]:
    markup = message.reply_markup or {}
    return [[button["text"] for button in row] for row in markup.get("inline_keyboard", [])]


def _service_text(message: SandboxMessage) -> str | None:
    if message.new_chat_members:
        names = ", ".join(_name(user.first_name, user.is_bot) for user in message.new_chat_members)
        return f"added {names}"
    if message.left_chat_member is not None:
        user = message.left_chat_member
        return f"removed {_name(user.first_name, user.is_bot)}"
    payment = message.successful_payment
    if payment is not None:
        return f"paid {money(payment.total_amount, payment.currency)} for {payment.title}"
    return None


def _attempt(attempt: CheckoutAttempt) -> str:
    payer = attempt.payer.first_name
    if attempt.outcome == "paid":
        return f"paid by {payer}"
    if attempt.outcome == "refused":
        return f"{payer}'s payment refused: {attempt.error_message}"
    return f"{payer}'s payment failed: {attempt.error_message}"


def _name(first_name: str, is_bot: bool) -> str:
    return "Bot" if is_bot else first_name


def _body(message: SandboxMessage) -> str:
    parts: list[str] = []
    if message.forward_from is not None:
        parts.append(f"(forwarded from {_name(message.forward_from.first_name, False)})")
    if message.document is not None:
        document = message.document
        parts.append(f"[document {document.name or 'file'}, {document.size} bytes]")
    if message.photo is not None:
        parts.append(f"[photo {message.photo.width}x{message.photo.height}]")
    if message.invoice is not None:
        invoice = message.invoice
        total = money(invoice.total_amount, invoice.currency)
        parts.append(f"[invoice {invoice.title}: {total}] {invoice.description}")
    if message.contact is not None:
        contact = message.contact
        parts.append(f"[contact {contact.get('first_name', '')} {contact.get('phone_number', '')}]")
    if message.content:
        parts.append(message.content)
    return " ".join(parts)
