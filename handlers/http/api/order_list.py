"""The storefront lists its orders (H4): `GET /v1/orders`, filtered, in cursor pages.

Query parameters, each at most once, any other refused (422): `status` (codes, comma
separated), `updated_since`, `created_from`, `created_to` (ISO 8601 with a time zone),
`external_id`, `limit` (1-100, default 50) and `cursor` (from the previous page's
`next_cursor`, opaque). Newest first; `next_cursor` is null on the last page.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime

from aiohttp import web

from handlers.http.api import codes
from handlers.http.api.answers import order_summary
from handlers.http.api.errors import error_response
from handlers.http.api.gate import Gate
from handlers.http.api.requests import json_answer
from services.storefront.listing import DEFAULT_LIMIT, MAX_LIMIT, OrderFilter, StorefrontListing
from services.storefront.tokens import Storefront

PARAMETERS = (
    "status",
    "updated_since",
    "created_from",
    "created_to",
    "external_id",
    "limit",
    "cursor",
)
_STATUS = re.compile(r"^[a-z0-9_]{1,40}$")
_CURSOR = re.compile(r"^n:([1-9][0-9]{0,9})$")
MAX_STATUSES = 20


class Invalid(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def encode_cursor(number: int) -> str:
    return base64.urlsafe_b64encode(f"n:{number}".encode()).decode().rstrip("=")


def decode_cursor(text: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Invalid("cursor", "not a cursor this API gave") from None
    match = _CURSOR.match(raw)
    if match is None:
        raise Invalid("cursor", "not a cursor this API gave")
    return int(match.group(1))


def _instant(name: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text) if len(text) <= 40 else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise Invalid(name, "an ISO 8601 time with a time zone, like 2026-11-24T07:00:00Z")
    return value


def parse_query(query) -> tuple[OrderFilter, int | None, int]:
    """The filter, the cursor's number and the page size; Invalid names the parameter."""
    for name in query:
        if name not in PARAMETERS:
            raise Invalid(name, "unknown parameter")
        if len(query.getall(name)) > 1:
            raise Invalid(name, "give it once")
    statuses: tuple[str, ...] = ()
    if "status" in query:
        statuses = tuple(part for part in query["status"].split(",") if part)
        if not statuses or len(statuses) > MAX_STATUSES or not all(map(_STATUS.match, statuses)):
            raise Invalid("status", "status codes separated by commas")
    external_id = query.get("external_id")
    if external_id is not None and not (1 <= len(external_id) <= 64 and "\x00" not in external_id):
        # As an order's external_id is given on creation; PostgreSQL text cannot hold NUL.
        raise Invalid("external_id", "from 1 to 64 characters, no NUL")
    limit = DEFAULT_LIMIT
    if "limit" in query:
        text = query["limit"]
        if not (text.isascii() and text.isdigit() and 1 <= int(text[:4]) <= MAX_LIMIT):
            raise Invalid("limit", f"a whole number from 1 to {MAX_LIMIT}")
        limit = int(text)
    below = decode_cursor(query["cursor"]) if "cursor" in query else None
    where = OrderFilter(
        statuses=statuses,
        updated_since=_instant("updated_since", query["updated_since"])
        if "updated_since" in query
        else None,
        created_from=_instant("created_from", query["created_from"])
        if "created_from" in query
        else None,
        created_to=_instant("created_to", query["created_to"]) if "created_to" in query else None,
        external_id=external_id,
    )
    return where, below, limit


class OrderListApi:
    def __init__(self, *, gate: Gate, listing: StorefrontListing):
        self._gate = gate
        self._listing = listing

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v1/orders", self.list)]

    async def list(self, request: web.Request) -> web.Response:
        storefront = await self._gate.storefront(request)
        if not isinstance(storefront, Storefront):
            return storefront
        try:
            where, below, limit = parse_query(request.query)
        except Invalid as error:
            return error_response(422, codes.INVALID, error.message, error.field)
        page = await self._listing.page(storefront.shop_id, where, below=below, limit=limit)
        orders = [
            order_summary(order, page.workflows[order.workflow_id], page.language)
            for order in page.orders
        ]
        cursor = encode_cursor(page.next_below) if page.next_below is not None else None
        return json_answer(200, {"orders": orders, "next_cursor": cursor})
