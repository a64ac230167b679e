"""The composer as it was before issue 15's third round: the standard library's
`EmailMessage` (policy SMTP, 7-bit), with the same cleaned and prefolded headers. Kept as
the reference that services.messaging.email.compose's hand-written MIME is compared with:
both must parse back to the same headers, texts and files."""

from __future__ import annotations

from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP

from services.messaging.email.compose import (
    _LANGUAGE,
    MAX_NAME,
    MAX_SUBJECT,
    PRODUCT,
    _content_type,
    address_lines,
    checked_address,
    checked_message_id,
    clean_file_name,
    clean_text,
    subject_lines,
)
from services.messaging.email.content import Mail

POLICY = SMTP.clone(cte_type="7bit")
_PREFOLDED: dict[str, type] = {}


def reference_message(
    mail: Mail, *, from_address: str, from_name: str | None = None
) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    sender = checked_address(from_address, "From")
    name = clean_text(from_name or mail.from_name or PRODUCT, MAX_NAME)
    message["From"] = _prefolded(
        "From", Address(display_name=name, addr_spec=sender), address_lines("From", name, sender)
    )
    recipient = checked_address(mail.to_address, "To")
    name = clean_text(mail.to_name, MAX_NAME)
    message["To"] = _prefolded(
        "To", Address(display_name=name, addr_spec=recipient), address_lines("To", name, recipient)
    )
    if mail.reply_to:
        message["Reply-To"] = Address(addr_spec=checked_address(mail.reply_to, "Reply-To"))
    subject = clean_text(mail.subject, MAX_SUBJECT) or PRODUCT
    message["Subject"] = _prefolded("Subject", subject, subject_lines("Subject", subject))
    message["Date"] = (mail.date or datetime.now(UTC)).astimezone(UTC)
    message["Message-ID"] = checked_message_id(mail.message_id, "Message-ID")
    references = [checked_message_id(r, "References") for r in mail.references]
    if references:
        message["References"] = " ".join(references)
        message["In-Reply-To"] = references[-1]
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    message.set_content(mail.text, subtype="plain", charset="utf-8")
    message.add_alternative(mail.html, subtype="html", charset="utf-8")
    for file_name, content_type, data in mail.attachments:
        maintype, subtype = _content_type(content_type)
        message.add_attachment(
            bytes(data), maintype=maintype, subtype=subtype, filename=clean_file_name(file_name)
        )
    if _LANGUAGE.match(mail.language or ""):
        message["Content-Language"] = mail.language
    return message


def reference_bytes(mail: Mail, **options) -> bytes:
    return reference_message(mail, **options).as_bytes(policy=POLICY)


def _prefolded(name: str, value, lines: list[str]):
    folded_kind = _PREFOLDED.get(name.lower())
    if folded_kind is None:
        kind = type(POLICY.header_factory(name, value))
        folded_kind = type(f"Prefolded{kind.__name__}", (kind,), {"fold": _write_prefolded})
        _PREFOLDED[name.lower()] = folded_kind
    header = folded_kind(name, value)
    header.prefolded = tuple(lines)
    return header


def _write_prefolded(header, *, policy) -> str:
    return policy.linesep.join(header.prefolded) + policy.linesep
