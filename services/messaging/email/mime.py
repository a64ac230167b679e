"""MIME parts written straight as bytes (RFC 2045, 2046, 2231) for the mails ShopBot sends.

The standard library's `EmailMessage` builds a tree of objects, parses every header it is
given and writes it all out again through its generator: that was most of what composing a
mail cost (issue 15). ShopBot's mails have one shape (a text and an HTML alternative, files
after them), so their parts are written here instead. What comes out is what the standard
library would send, byte-level encoding aside: CRLF line endings; 7-bit only (text that is
not short-lined ASCII goes as quoted-printable or base64, whichever is shorter, as
`email.contentmanager` chooses), so no 8BITMIME is needed on the way; no line longer than 76
octets in an encoded body and 998 in any other. tests/unit/test_email_mime.py parses the
results back with the standard library's parser and compares them with `EmailMessage`'s.

Nothing here looks at who the mail is for: the caller gives cleaned file names and checked
content types (services.messaging.email.compose).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from urllib.parse import quote

CRLF = b"\r\n"
MAX_LINE = 998  # RFC 5322: octets in a line, CRLF not counted
_PARAMETER_ROOM = 60  # characters of an RFC 2231 value on one continuation line
# RFC 2231 attribute-char: what goes unescaped in an extended parameter value.
_ATTRIBUTE_CHARS = "!#$&+-.^_`|~"


def text_part(text: str, subtype: str) -> bytes:
    """A text/<subtype> part in UTF-8, lines ending in CRLF (a missing last one added)."""
    lines = text.encode("utf-8").splitlines()
    body = CRLF.join(lines) + CRLF
    if body.isascii() and max(map(len, lines), default=0) <= MAX_LINE:
        encoding, data = "7bit", body
    else:
        quoted = binascii.b2a_qp(body, istext=True)  # keeps CRLF as the line break
        based = base64_lines(body)
        encoding, data = (
            ("quoted-printable", quoted) if len(quoted) <= len(based) else ("base64", based)
        )
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    )
    return head.encode("ascii") + data


def attachment_part(data: bytes, content_type: str, file_name: str) -> bytes:
    """A file, base64: `content_type` is "type/subtype", checked by the caller."""
    head = (
        f"Content-Type: {content_type}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        f"Content-Disposition: attachment;{_file_name_parameter(file_name)}\r\n\r\n"
    )
    return head.encode("ascii") + base64_lines(data)


def multipart(subtype: str, parts: list[bytes]) -> bytes:
    """A multipart/<subtype> part (its Content-Type header, a blank line, the parts)."""
    boundary = _boundary(parts)
    delimiter = b"--" + boundary
    body = b"".join(delimiter + CRLF + part + CRLF for part in parts)
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary.decode()}"\r\n\r\n'
    return head.encode("ascii") + body + delimiter + b"--" + CRLF


def base64_lines(data: bytes) -> bytes:
    """base64 in lines of 76 characters, each ending in CRLF."""
    return base64.encodebytes(data).replace(b"\n", CRLF)


def _boundary(parts: list[bytes]) -> bytes:
    # "=_" cannot appear in base64 or quoted-printable text; a 7-bit body is checked.
    while True:
        boundary = f"=_{secrets.token_hex(12)}".encode("ascii")
        if not any(boundary in part for part in parts):
            return boundary


def _file_name_parameter(name: str) -> str:
    """`filename=...` of Content-Disposition, on lines of its own: a quoted string for a
    printable ASCII name, else RFC 2231's UTF-8 percent-encoding, cut into numbered
    continuations so that no line grows long (a name is up to 255 characters)."""
    if name.isascii() and name.isprintable():
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'\r\n filename="{escaped}"'
    encoded = quote(name, safe=_ATTRIBUTE_CHARS, encoding="utf-8")
    if len(encoded) <= _PARAMETER_ROOM:
        return f"\r\n filename*=utf-8''{encoded}"
    pieces, start = [], 0
    while start < len(encoded):
        end = min(start + _PARAMETER_ROOM, len(encoded))
        # never cut a %XX escape in two
        if end < len(encoded) and "%" in encoded[end - 2 : end]:
            end = encoded.rindex("%", start, end)
        pieces.append(encoded[start:end])
        start = end
    pieces[0] = "utf-8''" + pieces[0]
    return ";".join(f"\r\n filename*{n}*={piece}" for n, piece in enumerate(pieces))
