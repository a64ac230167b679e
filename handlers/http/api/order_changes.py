"""The storefront changes an order (H4): `POST /v1/orders/{number}/cancel`,
`PATCH /v1/orders/{number}`, `POST /v1/orders/{number}/shipment`.

Each in the order its checks run: the token and its rate limit, the Idempotency-Key's
form, the body (415, 413, 400, 422 naming the field), then the Idempotency-Key protocol
around the one service call (services.storefront.changes). An answer is the order as it
is after the change (as `GET /v1/orders/{number}` gives it); a refusal is the order
service's problem with its status (codes.PROBLEM_STATUS) and the field or input at fault.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from handlers.http.api import codes
from handlers.http.api.answers import order_state
from handlers.http.api.change_schema import (
    CancelRequest,
    OrderPatchRequest,
    PaymentRequest,
    ShipmentRequest,
    to_patch,
)
from handlers.http.api.errors import error_response
from handlers.http.api.gate import Gate
from handlers.http.api.requests import (
    Refusal,
    idempotency_key,
    json_object,
    keyed_answer,
    order_number,
    refusal,
)
from handlers.http.api.schema import RequestInvalid, parse_model, to_minor_field
from services.refusals import OrderRefused
from services.storefront.changes import StorefrontChanges
from services.storefront.keyed import Answered, KeyedRequests, request_print
from services.storefront.payments import StorefrontPayments
from services.storefront.queries import OrderState
from services.storefront.tokens import Storefront

Change = Callable[[Storefront, int, Any], Awaitable[OrderState]]


class OrderChangesApi:
    def __init__(
        self,
        *,
        gate: Gate,
        changes: StorefrontChanges,
        keyed: KeyedRequests,
        max_body_bytes: int,
        payments: StorefrontPayments | None = None,
    ):
        self._payments = payments
        self._gate = gate
        self._changes = changes
        self._keyed = keyed
        self._max_body = max_body_bytes

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/orders/{number}/cancel", self.cancel),
            web.patch("/v1/orders/{number}", self.update),
            web.post("/v1/orders/{number}/shipment", self.ship),
            web.post("/v1/orders/{number}/payments", self.pay),
        ]

    async def cancel(self, request: web.Request) -> web.Response:
        async def change(storefront: Storefront, number: int, body: CancelRequest):
            return await self._changes.cancel(storefront.shop_id, number, body.reason, body.comment)

        return await self._keyed_change(request, CancelRequest, change)

    async def ship(self, request: web.Request) -> web.Response:
        async def change(storefront: Storefront, number: int, body: ShipmentRequest):
            return await self._changes.ship(
                storefront.shop_id, number, body.carrier, body.track_code, body.comment
            )

        return await self._keyed_change(request, ShipmentRequest, change)

    async def pay(self, request: web.Request) -> web.Response:
        paid: dict[str, Any] = {}

        async def change(storefront: Storefront, number: int, body: PaymentRequest):
            amount = to_minor_field(body.amount, storefront.currency, "amount")
            result = await self._payments.pay(
                storefront.shop_id, number, amount, storefront.currency, body.reference
            )
            paid.update(outcome=result.outcome.value, problem=result.problem)
            return result.state

        return await self._keyed_change(request, PaymentRequest, change, extra=paid)

    async def update(self, request: web.Request) -> web.Response:
        async def change(storefront: Storefront, number: int, body: OrderPatchRequest):
            patch = to_patch(body, storefront.currency)
            return await self._changes.update(storefront.shop_id, number, patch)

        return await self._keyed_change(request, OrderPatchRequest, change)

    async def _keyed_change(
        self,
        request: web.Request,
        model: type[BaseModel],
        change: Change,
        extra: dict[str, Any] | None = None,
    ) -> web.Response:
        storefront = await self._gate.storefront(request)
        if not isinstance(storefront, Storefront):
            return storefront
        try:
            key = idempotency_key(request)
            data = await json_object(request, self._max_body)
        except Refusal as refused:
            return refused.response
        try:
            body = parse_model(model, data)
        except RequestInvalid as error:
            return error_response(422, codes.INVALID, error.message, error.field)
        number = order_number(request)

        async def work(_taken_over: bool) -> Answered:
            try:
                state = await change(storefront, number, body)
            except RequestInvalid as error:
                return Answered(
                    422,
                    {
                        "error": {
                            "code": codes.INVALID,
                            "message": error.message,
                            "field": error.field,
                        }
                    },
                )
            except OrderRefused as refused:
                return refusal(refused)
            answer = order_state(state)
            if extra:  # what a payment did, beside the order it did it to
                answer = {**answer, "payment": dict(extra)}
            return Answered(200, answer)

        endpoint = f"{request.method} {request.path}"
        outcome = await self._keyed.run(
            storefront.shop_id, key, request_print(endpoint, data), work
        )
        return keyed_answer(outcome)
