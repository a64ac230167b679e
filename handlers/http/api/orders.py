"""The storefront's order endpoints (G1): create orders, read one back.

`POST /v1/orders` in the order its checks run: the token (401), the media type (415), the
size (413), JSON (400), the shape and values (422, naming the field), then the
Idempotency-Key (replay, 409 while the first runs, 422 with another body), then the order
service, which checks the rest (phone, e-mail) and splits by availability.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from handlers.http.api import codes
from handlers.http.api.answers import created_order, order_state
from handlers.http.api.errors import error_body, error_response
from handlers.http.api.schema import RequestInvalid, parse_request, to_draft
from services.refusals import OrderRefused, Problem
from services.storefront.idempotency import (
    MAX_KEY_LENGTH,
    InProgress,
    Mismatch,
    Replay,
    fingerprint,
)
from services.storefront.orders import Answered, Created, StorefrontOrders
from services.storefront.queries import StorefrontQueries
from services.storefront.tokens import ApiTokenService, Storefront

log = logging.getLogger(__name__)

NOT_AUTHORIZED = "a valid API token is needed: Authorization: Bearer <token>"
SUSPENDED = "the shop is suspended by the operator of this service; nothing was changed"


class BodyTooLarge(Exception):
    pass


class StorefrontApi:
    def __init__(
        self,
        *,
        orders: StorefrontOrders,
        tokens: ApiTokenService,
        queries: StorefrontQueries,
        bot_username: str | None,
        max_body_bytes: int,
    ):
        self._orders = orders
        self._tokens = tokens
        self._queries = queries
        self._bot_username = bot_username.lstrip("@") if bot_username else None
        self._max_body = max_body_bytes

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/orders", self.create),
            web.get("/v1/orders/{number}", self.read),
        ]

    # -- POST /v1/orders -------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.Response:
        storefront = await self._storefront(request)
        if storefront is None:
            return error_response(401, codes.UNAUTHORIZED, NOT_AUTHORIZED, headers=_BEARER)
        if storefront.suspended:
            return error_response(403, codes.SHOP_SUSPENDED, SUSPENDED)
        if request.content_type != "application/json":
            return error_response(
                415, codes.UNSUPPORTED_MEDIA_TYPE, "send the order as application/json"
            )
        key = request.headers.get("Idempotency-Key")
        if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
            return error_response(
                400,
                codes.INVALID_IDEMPOTENCY_KEY,
                f"an Idempotency-Key of 1 to {MAX_KEY_LENGTH} characters is needed",
            )
        try:
            raw = await self._read_body(request)
        except BodyTooLarge:
            return error_response(
                413, codes.BODY_TOO_LARGE, f"the body is over {self._max_body} bytes"
            )
        try:
            data = json.loads(raw, parse_constant=_no_constants)
        except (ValueError, RecursionError):
            return error_response(400, codes.MALFORMED_JSON, "the body is not valid JSON")
        if not isinstance(data, dict):
            return error_response(400, codes.MALFORMED_JSON, "the body must be a JSON object")
        try:
            draft = to_draft(parse_request(data), storefront.currency)
        except RequestInvalid as error:
            return error_response(422, codes.INVALID, error.message, error.field)

        def answer(outcome: Created | OrderRefused) -> Answered:
            if isinstance(outcome, OrderRefused):
                return _refusal(outcome)
            orders = [
                created_order(
                    order,
                    outcome.workflows[order.workflow_id],
                    storefront.language,
                    self._bot_username,
                )
                for order in outcome.orders
            ]
            return Answered(201, {"external_id": draft.external_id, "orders": orders})

        outcome = await self._orders.create(
            storefront.shop_id, draft, key=key, request_print=fingerprint(data), answer=answer
        )
        if isinstance(outcome, Replay):
            return _json(outcome.status, outcome.body, replayed=True)
        if isinstance(outcome, Mismatch):
            return error_response(
                422,
                codes.IDEMPOTENCY_KEY_REUSED,
                "this Idempotency-Key was used with another request body",
            )
        if isinstance(outcome, InProgress):
            return error_response(
                409,
                codes.IDEMPOTENCY_IN_PROGRESS,
                "a request with this Idempotency-Key is being handled; retry shortly",
                headers={"Retry-After": "1"},
            )
        return _json(outcome.status, outcome.body)

    # -- GET /v1/orders/{number} -----------------------------------------------------------

    async def read(self, request: web.Request) -> web.Response:
        storefront = await self._storefront(request)
        if storefront is None:
            return error_response(401, codes.UNAUTHORIZED, NOT_AUTHORIZED, headers=_BEARER)
        if storefront.suspended:
            return error_response(403, codes.SHOP_SUSPENDED, SUSPENDED)
        text = request.match_info["number"]
        number = int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else 0
        state = await self._queries.order(storefront.shop_id, number)
        if state is None:
            return error_response(404, codes.NOT_FOUND, "no such order in this shop")
        return _json(200, order_state(state))

    # -- helpers ---------------------------------------------------------------------------

    async def _storefront(self, request: web.Request) -> Storefront | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            token = ""
        return await self._tokens.authenticate(token.strip())

    async def _read_body(self, request: web.Request) -> bytes:
        """The body, refused past the limit before more than the limit is read."""
        if request.content_length is not None and request.content_length > self._max_body:
            raise BodyTooLarge
        body = bytearray()
        while len(body) <= self._max_body:
            chunk = await request.content.read(self._max_body + 1 - len(body))
            if not chunk:
                return bytes(body)
            body += chunk
        raise BodyTooLarge


_BEARER = {"WWW-Authenticate": "Bearer"}


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _json(status: int, body: dict[str, Any], *, replayed: bool = False) -> web.Response:
    headers = {"Cache-Control": "no-store"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(body, status=status, headers=headers)


def _refusal(refusal: OrderRefused) -> Answered:
    """The order service's refusal with its problem's status and code (codes.PROBLEM_STATUS)."""
    field = refusal.params.get("field")
    if refusal.code is Problem.DUPLICATE:
        field = field or "external_id"
    return Answered(
        codes.PROBLEM_STATUS[refusal.code], error_body(str(refusal.code), refusal.message, field)
    )
