"""Reading a platform's webhook body, which may be forged, huge, malformed or hostile.

Everything here fails with ConnectorRefused naming the field, and with nothing else: a
connector built on these readers cannot leak a KeyError or a TypeError to the edge.
Bodies are size-capped before parsing; JSON numbers become Decimal (no float ever touches
money) and NaN/Infinity are refused; forms are capped in their number of fields.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from services.orders.drafts import MAX_PRICE, MAX_QUANTITY
from services.orders.money import to_minor
from services.storefront.connectors.base import MAX_BODY_BYTES, ConnectorRefused

MAX_FORM_FIELDS = 2000
MAX_LIST_INDEX = 999  # "payment[products][N]": no cart has a thousand lines
# Far above any real order, far below what a 64-bit column holds (as the storefront API).
MAX_AMOUNT = 10**15  # minor units
# An amount as a platform writes it: ASCII digits only ("١٢٣" is a number to Decimal, not
# to us), an optional sign where the caller allows one, at most 6 decimals (WooCommerce's
# `dp` can ask for that many; the currency then decides how many may be non-zero).
_AMOUNT = re.compile(r"^-?[0-9]{1,16}(\.[0-9]{1,6})?$")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_NUMERIC_ID = re.compile(r"^[1-9][0-9]{0,19}$")
_BRACKETS = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
# C0 controls but tab and newline, DEL, and the lone surrogates a hostile body can carry.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def check_size(body: bytes) -> None:
    if not isinstance(body, bytes | bytearray):
        raise ConnectorRefused("the body is not bytes")
    if len(body) > MAX_BODY_BYTES:
        raise ConnectorRefused(f"the body is over {MAX_BODY_BYTES // 1024} KiB")


def _utf8(body: bytes) -> str:
    check_size(body)
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConnectorRefused("the body is not UTF-8 text") from error


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def load_json(body: bytes) -> Any:
    """The JSON document in a body; numbers with a point or exponent come as Decimal."""
    text = _utf8(body)
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        # ValueError covers broken JSON and integers too long to convert.
        raise ConnectorRefused("the body is not JSON") from error


def load_form(body: bytes) -> dict[str, Any]:
    """An application/x-www-form-urlencoded body, with PHP-style keys (`payment[orderid]`,
    `payment[products][0][name]`) rebuilt into objects and lists, as platforms built on PHP
    send them. A key given twice keeps its last value, as PHP does."""
    text = _utf8(body)
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict"
        )
    except (ValueError, UnicodeDecodeError) as error:
        raise ConnectorRefused("the body is not a readable form") from error
    tree: dict[str, Any] = {}
    for key, value in pairs:
        _place(tree, key, value)
    return _lists(tree)


def looks_like_json(body: bytes) -> bool:
    return bytes(body[:64]).lstrip()[:1] in (b"{", b"[")


def _place(tree: dict[str, Any], key: str, value: str) -> None:
    match = _BRACKETS.match(key)
    if match is None:
        raise ConnectorRefused("a form field has a malformed name", key[:80])
    parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
    if len(parts) > 6:
        raise ConnectorRefused("a form field is nested too deep", key[:80])
    node = tree
    for depth, part in enumerate(parts):
        if part == "":  # "a[]": the next free index
            part = str(len(node))
        if part.isdigit() and (not part.isascii() or int(part) > MAX_LIST_INDEX):
            raise ConnectorRefused("a form list index is out of range", key[:80])
        last = depth == len(parts) - 1
        if last:
            node[part] = value
        else:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child


def _lists(node: Any) -> Any:
    """Objects whose keys are all list indexes become lists, in index order."""
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isascii() and key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def clean_text(value: str, max_length: int) -> str:
    """Free text from a buyer, fit to keep: control characters dropped, cut to length (a
    long comment is cut, not a reason to lose the order)."""
    text = _CONTROL.sub("", value).strip()
    if len(text) > max_length:
        text = text[: max_length - 1].rstrip() + "…"
    return text


def money(value: Any, currency: str, field: str, *, negative: bool = False) -> int:
    """An amount in the platform's notation ("29.35", 29.35 read as Decimal, 2935 as an
    integer of whole units) as minor units of `currency`, refusing anything inexact."""
    if isinstance(value, bool) or value is None:
        raise ConnectorRefused("an amount is needed", field)
    if isinstance(value, Decimal):
        # Sized by its exponent, before any arithmetic: 1e+999999999 overflows the decimal
        # context, and 1e-999999999 would print as a billion zeros.
        if not value.is_finite() or value.as_tuple().exponent < -6:  # type: ignore[operator]
            raise ConnectorRefused("not an amount", field)
        if value and value.adjusted() >= 16:
            raise ConnectorRefused("the amount is too large", field)
        text = format(value, "f")
    elif isinstance(value, int):
        if abs(value) >= 10**16:
            raise ConnectorRefused("the amount is too large", field)
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ConnectorRefused("an amount is needed", field)
    if not _AMOUNT.match(text):
        raise ConnectorRefused(f"not an amount: {text[:24]!r}", field)
    try:
        minor = to_minor(text, currency)
    except (ValueError, InvalidOperation) as error:
        raise ConnectorRefused(f"{text} has more decimals than {currency} allows", field) from error
    if minor < 0 and not negative:
        raise ConnectorRefused("the amount is negative", field)
    if abs(minor) > MAX_AMOUNT:
        raise ConnectorRefused("the amount is too large", field)
    return minor


def split_line(before: int, after: int, quantity: int, field: str) -> tuple[int, int]:
    """A line's unit price and line discount from its totals before and after discounts.

    A total that does not divide by the quantity (3 × 3.225 once tax is added in) gets the
    unit price rounded up and the few minor units over booked as the line's discount, so
    the line still costs exactly what the platform charged."""
    if after < 0 or after > before:
        raise ConnectorRefused("the line's total is above its price or negative", field)
    unit = -(-before // quantity)  # ceiling: unit * quantity >= before
    if unit > MAX_PRICE:
        raise ConnectorRefused("the unit price is too large", field)
    return unit, unit * quantity - after


class Node:
    """An object from an outside payload, read field by field. `path` is where it sits
    ("line_items[2]"), so every refusal names the exact field."""

    def __init__(self, data: Any, path: str = ""):
        if not isinstance(data, dict):
            raise ConnectorRefused("an object is needed", path or None)
        self.data = data
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def node(self, key: str) -> Node | None:
        """A nested object; None when absent or null."""
        value = self.data.get(key)
        return None if value is None else Node(value, self.at(key))

    def nodes(self, key: str, *, limit: int) -> list[Node]:
        """A list of objects; empty when absent or null."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ConnectorRefused("a list is needed", self.at(key))
        if len(value) > limit:
            raise ConnectorRefused(f"more than {limit} entries", self.at(key))
        return [Node(item, f"{self.at(key)}[{index}]") for index, item in enumerate(value)]

    def text(self, key: str, max_length: int = 1000) -> str:
        """A free-text field, cleaned; "" when absent or null. Numbers are taken as text (a
        postcode sent as 94103 is still a postcode)."""
        value = self.data.get(key)
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise ConnectorRefused("text is needed", self.at(key))
        return clean_text(str(value), max_length)

    def identifier(self, key: str) -> str:
        """An id (a string or a whole number): 1 to 64 plain characters, required."""
        value = self.data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**20:
            return str(value)
        if isinstance(value, str) and _IDENTIFIER.match(value):
            return value
        raise ConnectorRefused("an id of 1 to 64 letters, digits or _.:- is needed", self.at(key))

    def numeric_id(self, key: str) -> str:
        """A platform's numeric id (WooCommerce's and Shopify's are whole numbers), as text;
        it goes into the platform's API paths, so nothing else passes."""
        value = self.data.get(key)
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if isinstance(text, str) and _NUMERIC_ID.match(text):
            return text
        raise ConnectorRefused("a whole-number id is needed", self.at(key))

    def quantity(self, key: str) -> int:
        value = self.data.get(key)
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10:
            value = int(value)  # forms send every number as text
        if isinstance(value, Decimal) and value.is_finite() and value.adjusted() < 9:
            # 2.0 is 2; the exponent is checked first, so nothing overflows the context.
            if value == value.to_integral_value():
                value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConnectorRefused("a whole number is needed", self.at(key))
        if not 1 <= value <= MAX_QUANTITY:
            raise ConnectorRefused(f"a quantity from 1 to {MAX_QUANTITY} is needed", self.at(key))
        return value

    def money(self, key: str, currency: str, *, negative: bool = False) -> int:
        return money(self.data.get(key), currency, self.at(key), negative=negative)

    def money_or_zero(self, key: str, currency: str, *, negative: bool = False) -> int:
        value = self.data.get(key)
        if value is None or value == "":
            return 0
        return money(value, currency, self.at(key), negative=negative)

    def flag(self, key: str) -> bool:
        value = self.data.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise ConnectorRefused("true or false is needed", self.at(key))
        return value


def positive_int(value: Any) -> int | None:
    """A platform's numeric id (product, variant, location), or None when it is not one."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**20:
        return value
    return None


def currency_code(value: Any, field: str) -> str:
    if isinstance(value, str) and re.fullmatch(r"[A-Z]{3}", value):
        return value
    raise ConnectorRefused("a three-letter ISO 4217 currency code is needed", field)
