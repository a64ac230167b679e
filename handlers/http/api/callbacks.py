"""One-click buy from the storefront (seed 002): `POST /v1/callback-requests`.

The buyer left a phone on a product's page; the shop's staff get a ping in Telegram whose
button opens the manual-order form prefilled (handlers/telegram/callback_requests.py).
Idempotency-Key as on every POST: a retried request pings the staff once.
"""

from __future__ import annotations

from aiohttp import web

from handlers.http.api import codes
from handlers.http.api.change_schema import CallbackRequestIn, to_callback
from handlers.http.api.errors import error_response
from handlers.http.api.gate import Gate
from handlers.http.api.requests import (
    Refusal,
    idempotency_key,
    json_object,
    keyed_answer,
    refusal,
)
from handlers.http.api.schema import RequestInvalid, parse_model
from services.refusals import OrderRefused
from services.storefront.callbacks import CallbackRequests
from services.storefront.keyed import Answered, KeyedRequests, request_print
from services.storefront.tokens import Storefront


class CallbacksApi:
    def __init__(
        self,
        *,
        gate: Gate,
        callbacks: CallbackRequests,
        keyed: KeyedRequests,
        max_body_bytes: int,
    ):
        self._gate = gate
        self._callbacks = callbacks
        self._keyed = keyed
        self._max_body = max_body_bytes

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/callback-requests", self.create)]

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
            draft = to_callback(parse_model(CallbackRequestIn, data), storefront.currency)
        except RequestInvalid as error:
            return error_response(422, codes.INVALID, error.message, error.field)

        async def work(_taken_over: bool) -> Answered:
            try:
                made = await self._callbacks.create(storefront.shop_id, draft)
            except OrderRefused as refused:
                return refusal(refused)
            return Answered(201, {"id": made, "status": "new"})

        endpoint = f"{request.method} {request.path}"
        outcome = await self._keyed.run(
            storefront.shop_id, key, request_print(endpoint, data), work
        )
        return keyed_answer(outcome)
