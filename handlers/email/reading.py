"""A buyer's e-mail read into the plain values the reply inbox stores, the same way whichever
door it came in by: the SMTP receiver (handlers/email/replies.py) or the IMAP poller
(handlers/email/mailbox.py). One reading, so both doors keep the same dialog semantics:
auto-replies, bounces and lists dropped, the quoted history cut, files kept, the From
address as the sender.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from services.messaging.email.replies import InboundReply
from services.messaging.email.reply_text import Reply, read_reply

BULK = frozenset({"bulk", "junk", "list"})
AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-mailru-autoreply")
# Where a delivered message says whom it was for: the mailbox's own delivery headers first
# (they carry the address the sending server used), then what the buyer's client wrote.
RECIPIENT_HEADERS = (
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "x-envelope-to",
    "to",
    "cc",
)
MAX_ADDRESSES = 100  # a header listing more is not a reply to an order


@dataclass(frozen=True)
class ReadMail:
    automatic: str | None  # why a program sent it (an auto-reply, a bounce, a list), or None
    sender: str  # the From address ('' when there is none)
    reply: Reply  # the new text (without the quoted history) and the files
    recipients: tuple[str, ...] = ()  # addresses in its delivery headers (IMAP: no envelope)


def read_mail(content: bytes, *, delivered: bool = False) -> ReadMail:
    """`delivered`: the message sits in a mailbox (IMAP), so its Return-Path tells a bounce
    and its delivery headers tell whom it was for; in SMTP the envelope says both."""
    message: Any = BytesParser(policy=policy.default).parsebytes(content)
    automatic = _automatic(message)
    if automatic is None and delivered and _return_path(message) == "":
        automatic = "a bounce (Return-Path: <>)"
    recipients = _recipients(message) if delivered else ()
    if automatic:
        return ReadMail(automatic, "", Reply("", []), recipients)
    return ReadMail(None, _sender(message), read_reply(message), recipients)


def inbound_reply(
    mail: ReadMail, order_ids: Sequence[int], *, envelope_sender: str = "", receipt=None
) -> InboundReply:
    """What the reply inbox stores, from either door."""
    return InboundReply(
        order_ids,
        mail.sender or envelope_sender,
        mail.reply.text,
        mail.reply.attachments,
        receipt=receipt,
    )


def _sender(message: EmailMessage) -> str:
    """The address in From (the envelope's may be a forwarder's rewritten one)."""
    try:
        values = message.get_all("from") or []
        addresses = [address for _name, address in getaddresses([str(v) for v in values])]
    except (IndexError, TypeError, ValueError):
        return ""
    return next((a.strip() for a in addresses if "@" in a), "")


def _recipients(message: EmailMessage) -> tuple[str, ...]:
    found: list[str] = []
    for header in RECIPIENT_HEADERS:
        try:
            values = [str(v) for v in message.get_all(header) or []]
            found += [a.strip() for _name, a in getaddresses(values) if "@" in a]
        except (IndexError, TypeError, ValueError):
            continue
        if len(found) > MAX_ADDRESSES:
            break
    return tuple(dict.fromkeys(found))[:MAX_ADDRESSES]


def _return_path(message: EmailMessage) -> str | None:
    value = message.get("return-path")
    if value is None:
        return None
    return str(value).strip().strip("<>").strip()


def _automatic(message: EmailMessage) -> str | None:
    """Why a mail was sent by a program (an auto-reply, a list), or None if a person wrote it."""
    submitted = str(message.get("auto-submitted", "") or "").strip().lower()
    if submitted and submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {submitted}"
    precedence = str(message.get("precedence", "") or "").strip().lower()
    if precedence in BULK:
        return f"Precedence: {precedence}"
    for header in AUTOREPLY_HEADERS:
        if message.get(header) is not None:
            return header
    if message.get_content_type() == "multipart/report":
        return "a delivery report"
    return None
