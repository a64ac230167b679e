"""What the order table is asked for (K1): filters, sorting and a cursor, read from the
request's query string. Everything here is client input: each value is checked and a bad
one is refused naming its field, before any query runs.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from services.refusals import invalid
from services.vocabulary import DELIVERY_METHODS, PAYMENT_METHODS

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_SEARCH = 100
MAX_STATUSES = 30
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class View(StrEnum):
    OPEN = "open"  # still under way (the default: what needs work)
    CLOSED = "closed"  # in a final status
    ALL = "all"


class Sort(StrEnum):
    CREATED = "created"
    NUMBER = "number"
    TOTAL = "total"
    STATUS = "status"
    TIME_LEFT = "time_left"  # the status's time limit, soonest first


@dataclass(frozen=True)
class TableQuery:
    shop_id: int | None = None  # one shop, or all of the person's
    view: View = View.OPEN
    statuses: tuple[str, ...] = ()
    problem: bool = False
    mine: bool = False
    payment: str | None = None
    delivery: str | None = None
    created_from: date | None = None  # in the shop's time zone, inclusive
    created_to: date | None = None  # inclusive
    amount_min: int | None = None  # minor units
    amount_max: int | None = None
    search: str | None = None
    sort: Sort = Sort.CREATED
    descending: bool = True
    after: tuple[Any, int] | None = None  # the last row of the previous page: (key, id)
    limit: int = DEFAULT_LIMIT

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> TableQuery:
        query = cls(
            shop_id=_integer(params, "shop"),
            view=_choice(params, "view", View, View.OPEN),
            statuses=_statuses(params.get("status", "")),
            problem=_flag(params, "problem"),
            mine=_flag(params, "mine"),
            payment=_member(params, "payment", PAYMENT_METHODS),
            delivery=_member(params, "delivery", DELIVERY_METHODS),
            created_from=_date(params, "from"),
            created_to=_date(params, "to"),
            amount_min=_amount(params, "min"),
            amount_max=_amount(params, "max"),
            search=_search(params.get("q", "")),
            sort=_choice(params, "sort", Sort, Sort.CREATED),
            descending=_choice(params, "dir", _Direction, _Direction.DESC) is _Direction.DESC,
            limit=_integer(params, "limit") or DEFAULT_LIMIT,
        )
        if not 1 <= query.limit <= MAX_LIMIT:
            raise invalid("limit", f"a page holds 1 to {MAX_LIMIT} orders")
        cursor = params.get("cursor")
        if cursor:
            query = replace(query, after=decode_cursor(cursor, query))
        return query

    def without_page(self) -> TableQuery:
        return replace(self, after=None)


class _Direction(StrEnum):
    ASC = "asc"
    DESC = "desc"


def encode_cursor(query: TableQuery, key: Any, order_id: int) -> str:
    value = key.isoformat() if isinstance(key, datetime) else key
    raw = json.dumps([str(query.sort), query.descending, value, order_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, query: TableQuery) -> tuple[Any, int]:
    """The (key, id) a cursor carries, for the same sorting it was made for."""
    if len(cursor) > 200:
        raise invalid("cursor", "not a cursor of this table")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sort, descending, value, order_id = json.loads(raw)
    except (ValueError, TypeError):
        raise invalid("cursor", "not a cursor of this table") from None
    if sort != str(query.sort) or descending is not query.descending:
        raise invalid("cursor", "the cursor belongs to another sorting")
    if isinstance(order_id, bool) or not isinstance(order_id, int):
        raise invalid("cursor", "not a cursor of this table")
    expected = str if query.sort is Sort.STATUS else int
    if query.sort in (Sort.CREATED, Sort.TIME_LEFT):
        try:
            value = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise invalid("cursor", "not a cursor of this table") from None
        if value.tzinfo is None:
            raise invalid("cursor", "not a cursor of this table")
    elif isinstance(value, bool) or not isinstance(value, expected):
        raise invalid("cursor", "not a cursor of this table")
    return value, order_id


def _integer(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 9:
        raise invalid(name, "a whole number is needed")
    return int(value)


def _flag(params: Mapping[str, str], name: str) -> bool:
    value = params.get(name, "")
    if value not in ("", "0", "1", "true", "false"):
        raise invalid(name, "1 or 0")
    return value in ("1", "true")


def _choice(params: Mapping[str, str], name: str, kind, default):
    value = params.get(name, "")
    if not value:
        return default
    try:
        return kind(value)
    except ValueError:
        raise invalid(name, f"one of: {', '.join(kind)}") from None


def _member(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(name, "")
    if not value:
        return None
    if value not in allowed:
        raise invalid(name, f"one of: {', '.join(allowed)}")
    return value


def _statuses(value: str) -> tuple[str, ...]:
    codes = tuple(code for code in value.split(",") if code)
    if len(codes) > MAX_STATUSES or not all(_CODE.match(code) for code in codes):
        raise invalid("status", "status codes separated by commas")
    return codes


def _date(params: Mapping[str, str], name: str) -> date | None:
    value = params.get(name, "")
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10]) if len(value) == 10 else date.fromisoformat("")
    except ValueError:
        raise invalid(name, "a date as YYYY-MM-DD") from None


def _amount(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name, "").strip().replace(",", ".")
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise invalid(name, "an amount such as 1500 or 1500.50") from None
    if not amount.is_finite() or amount < 0 or amount > 10**12 or amount.as_tuple().exponent < -2:
        raise invalid(name, "an amount such as 1500 or 1500.50")
    return int(amount * 100)


def _search(value: str) -> str | None:
    value = " ".join(value.split())
    if len(value) > MAX_SEARCH:
        raise invalid("q", f"search for at most {MAX_SEARCH} characters")
    return value or None
