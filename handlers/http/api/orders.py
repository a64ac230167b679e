"""The storefront's orders (G1): create orders, read one back.

`POST /v1/orders` in the order its checks run: the token (401) and its rate limit (429),
the media type (415), the size (413), JSON (400), the shape and values (422, naming the
field), then the Idempotency-Key (replay, 409 while the first runs, 422 with another body),
then the order service, which checks the rest (phone, e-mail) and splits by availability.
"""

from __future__ import annotations

import logging

from aiohttp import web

from handlers.http.api import codes
from handlers.http.api.answers import created_order, order_state
from handlers.http.api.errors import error_response
from handlers.http.api.gate import Gate
from handlers.http.api.requests import (
    Refusal,
    idempotency_key,
    json_answer,
    json_object,
    keyed_answer,
    order_number,
    refusal,
)
from handlers.http.api.schema import RequestInvalid, parse_request, to_draft
from services.refusals import OrderRefused
from services.storefront.idempotency import fingerprint
from services.storefront.orders import Answered, Created, StorefrontOrders
from services.storefront.queries import StorefrontQueries
from services.storefront.tokens import Storefront

log = logging.getLogger(__name__)


class StorefrontApi:
    def __init__(
        self,
        *,
        gate: Gate,
        orders: StorefrontOrders,
        queries: StorefrontQueries,
        bot_username: str | None,
        max_body_bytes: int,
    ):
        self._gate = gate
        self._orders = orders
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
        storefront = await self._gate.storefront(request)
        if not isinstance(storefront, Storefront):
            return storefront
        try:
            key = idempotency_key(request)
            data = await json_object(request, self._max_body)
        except Refusal as refused:
            return refused.response
        try:
            draft = to_draft(parse_request(data), storefront.currency)
        except RequestInvalid as error:
            return error_response(422, codes.INVALID, error.message, error.field)

        def answer(outcome: Created | OrderRefused) -> Answered:
            if isinstance(outcome, OrderRefused):
                return refusal(outcome)
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
        return keyed_answer(outcome)

    # -- GET /v1/orders/{number} -----------------------------------------------------------

    async def read(self, request: web.Request) -> web.Response:
        storefront = await self._gate.storefront(request)
        if not isinstance(storefront, Storefront):
            return storefront
        state = await self._queries.order(storefront.shop_id, order_number(request))
        if state is None:
            return error_response(404, codes.NOT_FOUND, "no such order in this shop")
        return json_answer(200, order_state(state))
