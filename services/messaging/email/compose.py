"""A `Mail` as the bytes handed to the SMTP server, with its envelope (SPEC D1).

multipart/alternative (the text part, then the HTML part), inside multipart/mixed when files
are attached. Headers: From ("Shop via ShopBot" <MAIL_FROM>), To, Reply-To, Subject, Date,
Message-ID, References and In-Reply-To (an order's mails thread together), Auto-Submitted
(RFC 3834: auto-replies must not answer it), X-Auto-Response-Suppress (Exchange's
out-of-office replies), MIME-Version, Content-Language.

The message is written out here and in services.messaging.email.mime rather than built as an
`email.message.EmailMessage` (issue 15: the standard library's object tree, header parsing
and generator were most of a mail's cost); it parses back with the standard library to the
same headers and parts (tests/unit/test_email_mime.py compares the two).

Names and subjects come from shops and buyers, so no header can be injected through them:
control characters (CR, LF, NUL, the C1 range, Unicode line separators, bidi overrides) become
spaces; what is not plain printable ASCII, or would read as address syntax, goes as RFC 2047
encoded words (base64, so no character of the text stands in the header as itself); addresses
are checked to be bare `local@domain`. An address that is not one raises ValueError naming
the header.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.utils import format_datetime
from functools import lru_cache

from services.messaging.email.content import Mail
from services.messaging.email.formatting import CONTROL, one_line
from services.messaging.email.mime import attachment_part, multipart, text_part

PRODUCT = "ShopBot"
MAX_NAME = 100
MAX_SUBJECT = 200
MAX_FILE_NAME = 255
MAX_ADDRESS = 254
DEFAULT_TYPE = ("application", "octet-stream")

_SPACES = re.compile(r"\s+")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_MESSAGE_ID = re.compile(rf"^<{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*>$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}"
_CONTENT_TYPE = re.compile(rf"^({_TOKEN})/({_TOKEN})$")
# RFC 5322's specials: a display name with one of them would need quotes (email.headerregistry)
_SPECIALS = frozenset('()<>@,:;.\\"[]')


@dataclass(frozen=True)
class OutgoingMail:
    """A composed mail as the SMTP server gets it."""

    sender: str  # MAIL FROM: the From address
    recipient: str  # RCPT TO: the To address
    data: bytes  # the message: 7-bit, CRLF line endings


def compose(mail: Mail, *, from_address: str, from_name: str | None = None) -> OutgoingMail:
    """The message to send. `from_name`: the From display name; None: the mail's own
    ("Shop via ShopBot", in the reader's language). Raises ValueError for an address that
    is not a plain e-mail address (From, To, Reply-To) or a malformed Message-ID."""
    sender = checked_address(from_address, "From")
    recipient = checked_address(mail.to_address, "To")
    from_name = clean_text(from_name or mail.from_name or PRODUCT, MAX_NAME)
    lines = [
        *address_lines("From", from_name, sender),
        *address_lines("To", clean_text(mail.to_name, MAX_NAME), recipient),
    ]
    if mail.reply_to:
        lines.append(f"Reply-To: {checked_address(mail.reply_to, 'Reply-To')}")
    lines += subject_lines("Subject", clean_text(mail.subject, MAX_SUBJECT) or PRODUCT)
    lines.append(f"Date: {format_datetime((mail.date or datetime.now(UTC)).astimezone(UTC))}")
    lines.append(f"Message-ID: {checked_message_id(mail.message_id, 'Message-ID')}")
    references = [checked_message_id(r, "References") for r in mail.references]
    if references:
        lines += _fold("References", references)
        lines.append(f"In-Reply-To: {references[-1]}")
    lines.append("Auto-Submitted: auto-generated")
    lines.append("X-Auto-Response-Suppress: OOF, AutoReply")
    lines.append("MIME-Version: 1.0")
    if _LANGUAGE.match(mail.language or ""):
        lines.append(f"Content-Language: {mail.language}")
    body = multipart("alternative", [text_part(mail.text, "plain"), text_part(mail.html, "html")])
    if mail.attachments:
        files = [
            attachment_part(bytes(data), "/".join(_content_type(kind)), clean_file_name(name))
            for name, kind, data in mail.attachments
        ]
        body = multipart("mixed", [body, *files])
    head = ("\r\n".join(lines) + "\r\n").encode("ascii")
    return OutgoingMail(sender=sender, recipient=recipient, data=head + body)


# -- headers with text from people ---------------------------------------------------------
#
# The standard library's folder can lose the space at a fold between two RFC 2047 encoded
# words (the space becomes the folding whitespace, which decoders must ignore there), so a
# long Cyrillic subject may read "…лучший—Чайная". Subjects and display names are encoded
# and folded here: every space of the text inside an encoded word, each word at most 75
# characters, lines within 78.


def subject_lines(name: str, text: str) -> list[str]:
    """An unstructured header (Subject) of one cleaned line of text, folded."""
    tokens = text.split(" ") if _plain(text) else _encoded_words(text, _first_room(name))
    return _fold(name, tokens)


def address_lines(name: str, display_name: str, addr_spec: str) -> list[str]:
    """A one-address header, folded: the display name as encoded words when it needs them.
    A name that would need quotes ("a@b; c") is encoded too: some parsers (Python's compat32
    among them) misread a quoted string folded across lines, and encoded, its specials never
    stand in the header as address syntax. `addr_spec` is a checked address."""
    if not display_name:
        tokens = [addr_spec]
    elif _plain(display_name) and _SPECIALS.isdisjoint(display_name):
        tokens = [*display_name.split(" "), f"<{addr_spec}>"]  # a phrase of atoms
    else:
        tokens = [*_encoded_words(display_name, _first_room(name)), f"<{addr_spec}>"]
    return _fold(name, tokens)


MAX_LINE = 78  # RFC 5322's "should"
MAX_ENCODED_WORD = 75  # RFC 2047
_EW_OVERHEAD = len("=?utf-8?b??=")


def _plain(text: str) -> bool:
    """Text that may stand in a header as it is: printable ASCII, no "=?" (it would read as
    an encoded word), and no word too long to fold."""
    return (
        text.isascii()
        and text.isprintable()
        and "=?" not in text
        and all(len(word) <= MAX_LINE - 8 for word in text.split(" "))
    )


def _first_room(name: str) -> int:
    """Characters left for the first encoded word on the line "Name: ..."."""
    return MAX_LINE - len(name) - 2


def _encoded_words(text: str, first_room: int = MAX_ENCODED_WORD) -> list[str]:
    """UTF-8 base64 encoded words, each ending after a space where it can (a decoder that
    wrongly adds a space between encoded words then shows two, not a word cut in two).
    The first is at most `first_room` characters long, the others MAX_ENCODED_WORD."""

    def capacity(length: int) -> int:  # bytes in an encoded word of `length` characters
        return max(3, (min(length, MAX_ENCODED_WORD) - _EW_OVERHEAD) // 4 * 3)

    room = capacity(first_room)
    chunks: list[bytes] = []
    chunk = b""
    for word in re.findall(r"[^ ]+ ?| ", text):
        data = word.encode()
        if len(chunk) + len(data) <= room:
            chunk += data
            continue
        if chunk:
            chunks.append(chunk)
            chunk, room = b"", capacity(MAX_ENCODED_WORD)
            if len(data) <= room:
                chunk = data
                continue
        for char in word:  # a word longer than one encoded word: cut between characters
            data = char.encode()
            if chunk and len(chunk) + len(data) > room:
                chunks.append(chunk)
                chunk, room = b"", capacity(MAX_ENCODED_WORD)
            chunk += data
    if chunk:
        chunks.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(c).decode('ascii')}?=" for c in chunks]


def _fold(name: str, tokens: list[str]) -> list[str]:
    """The header's lines: tokens separated by a space, a line broken before a token that
    would pass MAX_LINE (the break stands for that space)."""
    lines = [f"{name}:"]
    for token in tokens:
        if len(lines[-1]) + 1 + len(token) > MAX_LINE and lines[-1] != f"{name}:":
            lines.append(" " + token)
        else:
            lines[-1] += " " + token
    return lines


# -- cleaning ----------------------------------------------------------------------------


def clean_text(text: str | None, limit: int) -> str:
    """One line for a header: control characters and runs of whitespace become one space;
    cut to `limit` characters."""
    return one_line(text, limit)


def clean_file_name(name: str | None) -> str:
    name = clean_text(name, MAX_FILE_NAME).replace("/", "_").replace("\\", "_")
    return name.strip(". ") or "attachment"


@lru_cache(maxsize=1024)
def checked_address(address: str | None, header: str) -> str:
    """`local@domain`, ASCII, nothing around it; an internationalised domain as IDNA.
    Kept per address (a refused one raises again each time): the sender's is in every mail,
    and the standard library's address parser was a third of composing (issue 15)."""
    value = str(address or "").strip()
    problem = _address_problem(value)
    if problem:
        raise ValueError(f"{header}: {value!r} is not an e-mail address ({problem})")
    local, _, domain = value.rpartition("@")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(
                f"{header}: {value!r} is not an e-mail address (a bad domain)"
            ) from None
    if not _DOMAIN.match(domain):
        raise ValueError(f"{header}: {value!r} is not an e-mail address (a bad domain)")
    spec = f"{local}@{domain}"
    try:
        Address(addr_spec=spec)
    except (ValueError, IndexError) as error:
        raise ValueError(f"{header}: {value!r} is not an e-mail address ({error})") from None
    return spec


def _address_problem(value: str) -> str | None:
    if not value:
        return "empty"
    if len(value) > MAX_ADDRESS:
        return f"longer than {MAX_ADDRESS} characters"
    if CONTROL.search(value) or _SPACES.search(value):
        return "it contains spaces or control characters"
    if value.count("@") != 1:
        return "it needs exactly one @"
    local, _, domain = value.partition("@")
    if not local or not domain:
        return "a part is missing around the @"
    if not local.isascii():
        return "a non-ASCII mailbox name needs SMTPUTF8, which is not used"
    if not _LOCAL.match(local) or len(local) > 64:
        return "a bad mailbox name"
    return None


def checked_message_id(value: str, header: str) -> str:
    value = str(value or "").strip()
    if not _MESSAGE_ID.match(value) or len(value) > 250:
        raise ValueError(f"{header}: {value!r} is not a message id")
    return value


def _content_type(content_type: str | None) -> tuple[str, str]:
    match = _CONTENT_TYPE.match(str(content_type or "").strip().lower())
    if match is None or match.group(1) in ("multipart", "message"):
        return DEFAULT_TYPE
    return match.group(1), match.group(2)
