"""What is new in a buyer's e-mail reply (D3): its text without the quoted history, and its files.

Pure functions over a parsed `email.message.EmailMessage` (`BytesParser(policy=default)`):

- `reply_text(message)`: the text/plain body (else the HTML body as text), cut where the quoted
  history starts: a reply header ("On … wrote:", "… пишет:", "… пише:", Gmail's header broken
  over two lines, Yandex's and Mail.ru's "date, name <address>:"), Outlook's
  "-----Original Message-----" and "From: … Sent: …" blocks, a "-- " signature; lines quoted
  with ">" dropped (so answers written between quoted lines stay); whitespace normalised. An
  empty string when nothing new was written.
- `attachments(message)`: the parts with a file name, and non-text parts (inline images), as
  `Attachment(name, content_type, data)`, names made safe (no paths, no control characters,
  at most 255 characters). Signatures (PGP, S/MIME) and empty files are left out.

Nothing here raises on strange mail: an unknown charset is read as UTF-8, then Windows-1251.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from email.message import EmailMessage, Message
from html import unescape
from html.parser import HTMLParser
from typing import NamedTuple

MAX_NAME = 255
MAX_CONTENT_TYPE = 127
DEFAULT_TYPE = "application/octet-stream"
# Parts that are not something the buyer meant to send.
SKIPPED_TYPES = frozenset(
    {
        "application/pgp-signature",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
        "application/pgp-keys",
        "message/delivery-status",
        "message/disposition-notification",
    }
)
_CUT = "\x00cut\x00"  # where an HTML body's quoted history starts (a known container)


class Attachment(NamedTuple):
    name: str
    content_type: str
    data: bytes


class Reply(NamedTuple):
    text: str
    attachments: list[Attachment]


def read_reply(message: EmailMessage) -> Reply:
    return Reply(reply_text(message), attachments(message))


# -- the text -------------------------------------------------------------------------------


def reply_text(message: EmailMessage) -> str:
    """The new text of a reply: the body without quotes and signature ('' if none)."""
    return strip_quotes(body_text(message))


def body_text(message: EmailMessage) -> str:
    """The message's body as plain text: its text/plain part, else its HTML part as text."""
    plain = _body(message, "plain")
    if plain is not None:
        text = _decoded(plain)
        if plain.get_param("format", "", header="content-type").lower() == "flowed":
            delsp = plain.get_param("delsp", "", header="content-type").lower() == "yes"
            text = unflow(text, delsp=delsp)
        if text.strip():
            return text
    html = _body(message, "html")
    return html_to_text(_decoded(html)) if html is not None else ""


def _body(message: EmailMessage, subtype: str) -> Message | None:
    try:
        part = message.get_body(preferencelist=(subtype,))
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    if part is None or part.get_content_type() != f"text/{subtype}":
        return None
    return part


def _decoded(part: Message) -> str:
    """A text part's content, in its charset if it is one Python knows; else a good guess."""
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    declared = (part.get_content_charset() or "").strip().lower()
    candidates = [c for c in (declared, "utf-8", "windows-1251") if c]
    for charset in candidates:
        try:
            return raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("utf-8", errors="replace")


def unflow(text: str, *, delsp: bool = False) -> str:
    """RFC 3676 format=flowed: a line ending in a space goes on in the next line."""
    out: list[str] = []
    pending = ""
    for line in text.split("\n"):
        line = line.rstrip("\r")
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):  # space-stuffing
            body = body[1:]
        if body == "-- ":  # the signature separator is never flowed
            out.append(pending + ">" * depth + body) if pending else out.append(line)
            pending = ""
            continue
        if body.endswith(" ") and body.strip():
            pending += (">" * depth if not pending else "") + (body[:-1] if delsp else body)
            continue
        out.append(pending + (">" * depth if not pending else "") + body)
        pending = ""
    if pending:
        out.append(pending)
    return "\n".join(out)


# Reply headers. A header may be broken over up to three lines (Gmail wraps at ~78
# characters, often inside the address), so lines are also tried joined with the next ones.
_VERBS = (
    r"wrote|writes|"
    r"пишет|написал|написала|написал\(а\)|написал\(-а\)|"
    r"пише|написав|написала|написав\(ла\)|"
    r"schrieb|a écrit|escribió|ha scritto"
)
_VERB_HEADER = re.compile(rf"^.{{0,300}}\b(?:{_VERBS})\s*:\s*$", re.IGNORECASE | re.DOTALL)
_ON_HEADER = re.compile(r"^(?:on|в|во|у|am|le|el|il)\s", re.IGNORECASE)
# "23.11.2026, 10:00, "Shop" <shop@example.com>:" (Yandex), "Понедельник, 23 ноября 2026,
# 10:00 +03:00 от Shop <shop@example.com>:" (Mail.ru), "пн, 23 нояб. 2026 г. в 10:00,
# Shop <shop@example.com>:" (Gmail in Russian): a date or time and an address, ending in ":".
_ADDRESS_HEADER = re.compile(r"^.{0,300}<[^<>\s]+@[^<>\s]+>\s*:\s*$", re.DOTALL)
_DATE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\b(?:19|20)\d{2}\b")
_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:original message|forwarded message|исходное сообщение|"
    r"пересылаемое сообщение|пересланное сообщение|оригінальне повідомлення|"
    r"початкове повідомлення|переслане повідомлення|ursprüngliche nachricht)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_FROM = re.compile(r"^\s*\**\s*(?:from|от|від|von)\s*:\**\s*\S", re.IGNORECASE)
_SENT = re.compile(r"^\s*\**\s*(?:sent|date|отправлено|дата|надіслано|gesendet)\s*:", re.IGNORECASE)
_ONE_LINE_OUTLOOK = re.compile(
    r"^\s*\**\s*(?:from|от|від)\s*:.+\b(?:sent|отправлено|надіслано)\s*:", re.IGNORECASE
)
_RULE = re.compile(r"^\s*(?:_{5,}|-{5,}|={5,})\s*$")
_SIGNATURE = re.compile(r"^--\s?$")
_MOBILE = re.compile(
    r"^\s*(?:sent from my \S+.*|sent from (?:mail|yahoo mail|outlook) for .*|"
    r"get outlook for \S+|отправлено (?:с|из) .*|надіслано (?:з|із) .*)$",
    re.IGNORECASE,
)
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


def strip_quotes(text: str) -> str:
    """The new part of a reply's text: cut at the quoted history, quotes and signature out."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_ZERO_WIDTH)
    lines = text.split("\n")
    cut = _history_start(lines)
    kept = [line for line in lines[:cut] if not line.lstrip().startswith(">")]
    while kept and (not kept[-1].strip() or _MOBILE.match(kept[-1])):
        kept.pop()  # "Sent from my iPhone" and the like, at the end only
    return normalise("\n".join(kept))


def _history_start(lines: list[str]) -> int:
    """The index of the first line of the quoted history or signature (len(lines): none)."""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if _CUT in line or _SIGNATURE.match(line):
            return index
        if stripped.startswith(">"):
            continue
        if _ORIGINAL.match(stripped) or _ONE_LINE_OUTLOOK.match(stripped):
            return _before_rule(lines, index)
        if _FROM.match(stripped) and any(_SENT.match(lines[i]) for i in _next(lines, index, 4)):
            return _before_rule(lines, index)
        if stripped and _reply_header(lines, index):
            return index
    return len(lines)


def _next(lines: list[str], index: int, count: int) -> range:
    return range(index + 1, min(len(lines), index + 1 + count))


def _before_rule(lines: list[str], index: int) -> int:
    """Outlook draws a line of underscores above its header block: cut from there."""
    above = index - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    return above if above >= 0 and _RULE.match(lines[above]) else index


def _reply_header(lines: list[str], index: int) -> bool:
    """Whether a reply header ("On … wrote:") starts at this line, on up to three lines."""
    joined = ""
    for offset in range(3):
        if index + offset >= len(lines):
            return False
        line = lines[index + offset].strip()
        if not line or line.startswith(">"):
            return False
        joined = f"{joined} {line}".strip() if offset else line
        if _is_header(joined):
            return True
        if len(joined) > 300:
            return False
    return False


def _is_header(candidate: str) -> bool:
    if not candidate.endswith(":"):
        return False
    dated = bool(_DATE.search(candidate))
    if _VERB_HEADER.match(candidate):
        # "My friend wrote:" is not a header: a header has a date, an address, or starts so.
        return dated or "@" in candidate or bool(_ON_HEADER.match(candidate))
    timed = dated or bool(_TIME.search(candidate))
    return timed and bool(_ADDRESS_HEADER.match(candidate))


def normalise(text: str) -> str:
    """One space between words, no trailing spaces, at most one empty line in a row."""
    lines = []
    for line in text.split("\n"):
        line = re.sub(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+", " ", line).strip()
        lines.append(line)
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


# -- HTML as text -----------------------------------------------------------------------------

_PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "pre"})
_BLOCKS = _PARAGRAPHS | frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt",
        "fieldset", "figure", "footer", "form", "header", "li", "main", "nav", "section",
        "tr",
    }
)  # fmt: skip
_HIDDEN = frozenset({"head", "style", "script", "title", "template", "noscript"})
_VOID = frozenset(
    {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source"}
)
# Containers mail programs put the quoted history (or the signature) in.
_QUOTE_CLASSES = ("gmail_quote", "moz-cite-prefix", "yahoo_quoted", "protonmail_quote")
_QUOTE_IDS = ("appendonsend", "divrplyfwdmsg", "mail-editor-reference-message-container")
_SIGNATURE_CLASSES = ("gmail_signature", "moz-signature")


class _TextOf(HTMLParser):
    """HTML as the text a reader sees: blocks on their own lines, paragraphs apart, list items
    as "- ", <blockquote> lines quoted with "> ", hidden parts and signatures left out, and a
    cut mark where a mail program's quoted-history container starts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._stack: list[tuple[str, str]] = []  # open elements: (tag, role)
        self._newlines = 0  # owed before the next text
        self._line_start = True
        self._quote = 0  # <blockquote> depth
        self._hidden = 0
        self._pre = 0
        self._cut = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag == "br":
                self._newlines += 1
            elif tag == "hr":
                self._block(1)
            return
        values = {name: (value or "") for name, value in attrs}
        classes = values.get("class", "").lower()
        ident = values.get("id", "").lower()
        role = ""
        if tag in _HIDDEN or any(c in classes for c in _SIGNATURE_CLASSES):
            role = "hidden"
        elif any(c in classes for c in _QUOTE_CLASSES) or ident in _QUOTE_IDS:
            role = "cut"
        elif tag == "blockquote":
            role = "quote"
        self._stack.append((tag, role))
        self._block(2 if tag in _PARAGRAPHS else 1 if tag in _BLOCKS else 0)
        if role == "hidden":
            self._hidden += 1
        elif role == "cut" and not self._hidden and not self._cut:
            self.out.append(f"\n{_CUT}\n")
            self._cut = True
        elif role == "quote":
            self._quote += 1
        if tag == "pre":
            self._pre += 1
        if tag == "li":
            self._emit("- ", keep_space=True)
        elif tag in ("td", "th"):
            self._emit(" ", keep_space=True)

    def handle_endtag(self, tag: str) -> None:
        if not any(open_tag == tag for open_tag, _ in self._stack):
            return  # a stray end tag
        while self._stack:
            open_tag, role = self._stack.pop()
            if role == "hidden":
                self._hidden -= 1
            elif role == "quote":
                self._quote -= 1
            if open_tag == "pre":
                self._pre -= 1
            self._block(2 if open_tag in _PARAGRAPHS else 1 if open_tag in _BLOCKS else 0)
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        self._emit(data)

    def _block(self, newlines: int) -> None:
        self._newlines = max(self._newlines, newlines)

    def _emit(self, data: str, *, keep_space: bool = False) -> None:
        if self._hidden or self._cut:
            return
        if not self._pre and not keep_space:
            data = re.sub(r"[ \t\r\n\f]+", " ", data)
            if self._line_start or self._newlines:
                data = data.lstrip(" ")
            if not data:
                return
        if self._newlines and self.out:
            self.out.append("\n" * self._newlines)
            self._line_start = True
        self._newlines = 0
        if self._quote:
            lines = data.split("\n")
            data = "\n".join(
                ("> " + line) if i or self._line_start else line for i, line in enumerate(lines)
            )
        self.out.append(data)
        self._line_start = data.endswith("\n")


def html_to_text(html: str) -> str:
    parser = _TextOf()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        return normalise(unescape(re.sub(r"<[^>]*>", " ", html)))
    text = "".join(parser.out)
    return "\n".join(line.rstrip() for line in text.split("\n"))


# -- the files --------------------------------------------------------------------------------


def attachments(message: EmailMessage) -> list[Attachment]:
    """The files of a message: parts with a name, and parts that are not text (inline images),
    in the order they come; the body's text parts are not files."""
    bodies = {id(part) for part in (_body(message, "plain"), _body(message, "html")) if part}
    found: list[Attachment] = []
    _collect(message, bodies, found, top=True)
    return found


def _collect(part: Message, bodies: set[int], found: list[Attachment], *, top: bool) -> None:
    content_type = part.get_content_type()
    if content_type == "message/rfc822" and not top:
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if isinstance(inner, Message):
            subject = str(inner.get("subject", "") or "")
            data = inner.as_bytes()
            if data:
                name = safe_name(part.get_filename() or f"{subject or 'message'}.eml", content_type)
                found.append(Attachment(name, content_type, data))
        return
    if part.is_multipart():
        for sub in part.get_payload():
            _collect(sub, bodies, found, top=False)
        return
    if id(part) in bodies or content_type in SKIPPED_TYPES:
        return
    try:
        filename = part.get_filename()
    except (AttributeError, IndexError, TypeError, ValueError):
        filename = None
    if not filename and part.get_content_maintype() in ("text", "multipart"):
        return  # a second text part of the body (Apple Mail splits it around inline files)
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes) or not data:
        return
    if len(content_type) > MAX_CONTENT_TYPE:
        content_type = DEFAULT_TYPE
    found.append(Attachment(safe_name(filename, content_type, len(found) + 1), content_type, data))


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')


def safe_name(name: str | None, content_type: str = DEFAULT_TYPE, number: int = 1) -> str:
    """A file name as the sender meant it, made safe to show and to save: the last path
    segment, no control or reserved characters, at most 255 characters with its extension."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name.translate(_ZERO_WIDTH))
    name = re.sub(r"\s+", " ", name).strip(" .")
    if not name:
        extension = mimetypes.guess_extension(content_type) or ".bin"
        name = f"attachment-{number}{extension}"
    if len(name) > MAX_NAME:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: MAX_NAME - len(extension) - 1].rstrip(" .") + "." + extension
        else:
            name = name[:MAX_NAME].rstrip(" .")
    return name
